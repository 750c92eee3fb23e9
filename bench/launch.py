"""Latency of starting a container: the built-in launcher vs runc, same bundle.

Runs `true` in a bundle over the busybox rootfs (all namespaces, a cgroup with
limits, Docker's default mounts, masked paths, capabilities) N times each with:
  runc run                     (Go, the reference)
  launch, python -m            (the launcher as a module, with site)
  launch, launcher_argv()      (python -S, what the engine should use)
and, as the floor, util-linux `unshare` creating the namespaces and exec'ing
`true` (no rootfs, no cgroup). Then `exec true` into a running container
(`runc exec` vs `launch exec --pid`). Prints min / median / max in ms. Byte-compile
first when PYTHONDONTWRITEBYTECODE is set (an installed package has its .pyc):
  env -u PYTHONDONTWRITEBYTECODE .venv/bin/python -m compileall -q stackctl
Usage: .venv/bin/python bench/launch.py [N]   (root; ~N*4 container starts)
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from stackctl.engine.runtime.launch import launcher_argv  # noqa: E402
from stackctl.engine.runtime.spec import BundleRequest, Resources, write_bundle  # noqa: E402
from tests.images import busybox_rootfs_tar  # noqa: E402


def timed(cmd: list[str], n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        res = subprocess.run(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             check=False)
        out.append((time.perf_counter() - t0) * 1000)
        if res.returncode != 0:
            raise SystemExit(f"{cmd[0]} failed: {res.stderr.decode()}")
    return out


def bench_exec(base: Path, bundle: str, n: int) -> None:
    runc = ["runc", "--root", str(base / "runc")]
    launch = [*launcher_argv(), "--root", str(base / "l3")]
    for suffix, runtime in (("r", runc), ("l", launch)):
        # One cgroup per container: they run side by side.
        write_bundle(bundle, BundleRequest(
            rootfs="rootfs", args=("sleep", "600"), hostname="bench",
            cgroups_path=f"/stackctl-bench-{suffix}",
            resources=Resources(memory=64 << 20, pids_limit=100)))
        subprocess.run([*runtime, "run", "--detach", "--bundle", bundle,
                        f"stackctl-bench-{suffix}"], check=True, stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        state = (base / "l3" / "stackctl-bench-l" / "state.json").read_text()
        pid = state.split('"pid": ')[1].split(",")[0]
        cases = {"runc exec true": [*runc, "exec", "stackctl-bench-r", "true"],
                 "launch exec --pid true": [*launch, "exec", "--pid", pid, "--", "true"]}
        results: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(n):
            for name, cmd in cases.items():
                results[name] += timed(cmd, 1)
        for name, ms in results.items():
            print(f"{name:<28} min {min(ms):6.1f} ms  median {statistics.median(ms):6.1f} ms"
                  f"  max {max(ms):6.1f} ms  (n={n})", flush=True)
    finally:
        subprocess.run([*runc, "delete", "--force", "stackctl-bench-r"], check=False)
        subprocess.run([*launch, "delete", "--force", "stackctl-bench-l"], check=False)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    base = Path(tempfile.mkdtemp(prefix="stackctl-bench-"))
    try:
        rootfs = base / "bundle" / "rootfs"
        rootfs.mkdir(parents=True)
        with tarfile.open(busybox_rootfs_tar()) as tar:
            tar.extractall(rootfs, filter="fully_trusted")
        write_bundle(base / "bundle", BundleRequest(
            rootfs="rootfs", args=("true",), hostname="bench",
            cgroups_path="/stackctl-bench", resources=Resources(memory=64 << 20, pids_limit=100)))
        bundle = str(base / "bundle")
        cases = {
            "runc run": ["runc", "--root", str(base / "runc"), "run", "--bundle", bundle,
                         "stackctl-bench"],
            "launch run (python -m)": [sys.executable, "-m", "stackctl.engine.runtime.launch",
                                       "--root", str(base / "l1"), "run", "--bundle", bundle,
                                       "stackctl-bench"],
            "launch run (launcher_argv)": [*launcher_argv(), "--root", str(base / "l2"), "run",
                                           "--bundle", bundle, "stackctl-bench"],
        }
        if shutil.which("unshare"):
            cases["floor: unshare -fmpuin true"] = ["unshare", "-f", "-m", "-p", "-u", "-i",
                                                   "-n", "true"]
        timed(cases["runc run"], 2)  # warm caches
        for cmd in cases.values():
            timed(cmd, 1)
        # Round-robin, so that load from other processes hits every case alike.
        results: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(n):
            for name, cmd in cases.items():
                results[name] += timed(cmd, 1)
        for name, ms in results.items():
            print(f"{name:<28} min {min(ms):6.1f} ms  median {statistics.median(ms):6.1f} ms"
                  f"  max {max(ms):6.1f} ms  (n={n})", flush=True)
        bench_exec(base, bundle, n)
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
