"""Fixtures for engine tests on the real kernel: an Engine over a fresh state root
with busybox imported, a CLI runner bound to the same roots, and a teardown that
force-removes every container the test made (so the leak check stays clean even
when a test fails half-way)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from stackctl.engine.api import Engine
from tests.fixtures_images import busybox_image  # noqa: F401

Cli = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def engine(busybox_image: tuple[Path, str], roots: tuple[Path, Path]  # noqa: F811
           ) -> Iterator[Engine]:
    root, run_root = roots
    eng = Engine(root, run_root)
    try:
        yield eng
    finally:
        cleanup(eng)
        eng.close()


def cleanup(eng: Engine) -> None:
    for rec in eng.list(all_=True):
        try:
            eng.remove(rec.id, force=True, volumes=True)
        except Exception as exc:  # keep going: the leak check reports what is left
            print(f"cleanup of {rec.name} failed: {exc}")
    for vol in eng.volumes.list():
        eng.volumes.remove(vol.name, force=True)


@pytest.fixture
def cli(engine: Engine) -> Cli:
    """Run ``stackctl ARGS`` in a fresh process against the test's roots."""
    env = {**os.environ, "STACKCTL_ROOT": str(engine.root),
           "STACKCTL_RUN_ROOT": str(engine.run_root)}

    def run(*args: str, input: str | None = None, timeout: float = 60,
            check: bool = False) -> subprocess.CompletedProcess[str]:
        res = subprocess.run([sys.executable, "-m", "stackctl", *args], env=env, input=input,
                             capture_output=True, text=True, timeout=timeout, check=False)
        if check and res.returncode != 0:
            raise AssertionError(f"stackctl {' '.join(args)} -> {res.returncode}\n{res.stderr}")
        return res

    return run


def eventually(cond: Callable[[], object], timeout: float = 10.0, what: str = "") -> None:
    """Wait for ``cond()`` to be truthy (a condition, not a timing assertion)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what or cond}")


def mounts_under(path: Path) -> list[str]:
    with open("/proc/self/mounts") as f:
        return [ln.split()[1] for ln in f if ln.split()[1].startswith(str(path))]
