"""Fixtures for the runtime tests: a busybox root (overlay per test) and a bundle runner.

Every bundle gets its own overlay (the busybox tree, extracted once per
session, as the lower layer), its own container id `stackctl-test-<token>`,
cgroup `/stackctl-test-<token>` and launcher state root; the finalizer removes
the container, its cgroup and the overlay mount even when the test failed.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from stackctl.engine.runtime import mounts
from stackctl.engine.runtime.cgroups import Cgroup
from stackctl.engine.runtime.spec import BundleRequest, write_bundle
from stackctl.engine.runtime.syscalls import LinuxSyscalls
from stackctl.lightdc import replace
from tests.images import busybox_rootfs_tar

REPO = Path(__file__).resolve().parents[2]
LAUNCH = [sys.executable, "-m", "stackctl.engine.runtime.launch"]
REAPER = [sys.executable, str(Path(__file__).with_name("reaper.py"))]


@pytest.fixture(scope="session")
def busybox_lower() -> Iterator[Path]:
    base = Path(tempfile.mkdtemp(prefix="stackctl-test-lower-"))
    with tarfile.open(busybox_rootfs_tar()) as tar:
        tar.extractall(base, filter="fully_trusted")
    yield base
    shutil.rmtree(base, ignore_errors=True)


@dataclass
class Bundle:
    dir: Path
    rootfs: Path
    id: str
    cgroup: str
    state_root: Path

    def request(self, *args: str, **kw: Any) -> BundleRequest:
        kw.setdefault("cgroups_path", self.cgroup)
        kw.setdefault("hostname", "box")
        return BundleRequest(rootfs=str(self.rootfs), args=args, **kw)

    def write(self, req: BundleRequest) -> Path:
        return write_bundle(self.dir, req)

    def command(self, runtime: str, *extra: str) -> list[str]:
        if runtime == "runc":
            return ["runc", "--root", str(self.state_root / "runc"), "run", "--bundle",
                    str(self.dir), *extra, self.id]
        return [*LAUNCH, "--root", str(self.state_root / "launch"), "run", "--bundle",
                str(self.dir), *extra, self.id]

    def run(self, req: BundleRequest, runtime: str = "launch", *, timeout: float = 30,
            stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run attached; returns the exit status and output, like `runc run`."""
        self.write(req)
        return subprocess.run(self.command(runtime), capture_output=True, text=True,
                              timeout=timeout, cwd=REPO, input=stdin,
                              stdin=None if stdin is not None else subprocess.DEVNULL)

    def launch(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*LAUNCH, "--root", str(self.state_root / "launch"), *args],
                              capture_output=True, text=True, timeout=30, cwd=REPO,
                              check=check)

    def state(self) -> dict[str, Any]:
        out: dict[str, Any] = json.loads(self.launch("state", self.id).stdout)
        return out


@pytest.fixture
def bundle(tmp_path: Path, busybox_lower: Path, unique: str) -> Iterator[Bundle]:
    sys_ = LinuxSyscalls()
    root = tmp_path / "bundle"
    rootfs, upper, work = root / "rootfs", tmp_path / "upper", tmp_path / "work"
    for d in (rootfs, upper, work):
        d.mkdir(parents=True)
    plan = mounts.prepare_rootfs([str(busybox_lower)], str(upper), str(work), str(rootfs))
    mounts.mount_all(plan, sys_)
    b = Bundle(root, rootfs, f"stackctl-test-{unique}", f"/stackctl-test-{unique}",
               tmp_path / "state")
    try:
        yield b
    finally:
        with contextlib.suppress(Exception):
            b.launch("delete", "--force", b.id, check=False)
        with contextlib.suppress(Exception):
            subprocess.run(["runc", "--root", str(b.state_root / "runc"), "delete", "--force",
                            b.id], capture_output=True, timeout=30, check=False)
        cg = Cgroup(b.cgroup)
        if cg.exists():
            cg.kill_all()
            cg.remove()
        mounts.unmount_all(plan, sys_)


def with_(req: BundleRequest, **kw: Any) -> BundleRequest:
    return replace(req, **kw)


def cap_eff(output: str) -> int:
    for line in output.splitlines():
        if line.startswith("CapEff:"):
            return int(line.split()[1], 16)
    raise AssertionError(f"no CapEff in {output!r}")


__all__ = ["LAUNCH", "REAPER", "REPO", "Bundle", "cap_eff", "with_"]

