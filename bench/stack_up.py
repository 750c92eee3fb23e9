"""Figures for the stack budgets: ``up -d``, a no-op ``up -d`` and ``down`` of a
generated 50-service stack on one network (budgets: 3 s, 400 ms, 2 s on 2 cores).

Each command is a cold CLI process, as a user runs it. Prints wall times
(median of --runs rounds) and checks that down leaves no container behind.

Usage: .venv/bin/python bench/stack_up.py [--services 50] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

FOREVER = '["sh", "-c", "trap \'exit 0\' TERM; sleep 3600 & wait"]'


def stack_file(n: int) -> str:
    lines = ["services:"]
    for i in range(n):
        lines += [f"  s{i:02d}:", "    image: busybox", f"    command: {FOREVER}"]
        if i % 10:  # chains of dependencies, like a real stack has
            lines.append(f"    depends_on: [s{i - 1:02d}]")
    return "\n".join(lines) + "\n"


class CpuMeter:
    """CPU of everything a command sets going (the CLI, the stack's monitor, its
    launchers), whatever else loads the machine: this process joins a cpuacct
    cgroup (v1, or the v2 cpu.stat) and its children inherit it. None without one."""

    def __init__(self) -> None:
        name = f"bench-stack-up-{os.getpid()}"
        v1, v2 = Path("/sys/fs/cgroup/cpuacct"), Path("/sys/fs/cgroup")
        self.dir: Path | None = None
        for d in (v1 / name, v2 / name):
            try:
                d.mkdir()
                (d / "cgroup.procs").write_text(str(os.getpid()))
            except OSError:
                continue
            self.dir = d
            break

    def usage(self) -> float | None:
        if self.dir is None:
            return None
        if (self.dir / "cpuacct.usage").exists():
            return int((self.dir / "cpuacct.usage").read_text()) / 1e9
        for line in (self.dir / "cpu.stat").read_text().splitlines():
            if line.startswith("usage_usec"):
                return int(line.split()[1]) / 1e6
        return None

    def close(self) -> None:
        if self.dir is None:
            return
        parent = self.dir.parent / "cgroup.procs"
        parent.write_text(str(os.getpid()))
        for _ in range(100):  # the monitor and its launcher server exit after down
            try:
                self.dir.rmdir()
                return
            except OSError:
                time.sleep(0.05)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--services", type=int, default=50)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    import compileall

    # PYTHONDONTWRITEBYTECODE is set here: without current .pyc files every command
    # recompiles what it imports (+70 ms on a no-op up after an edit)
    compileall.compile_dir(str(REPO / "stackctl"), quiet=1)
    from tests.fixtures_images import import_busybox

    base = Path(tempfile.mkdtemp(prefix="stackctl-bench-"))
    root, run_root, work = base / "root", base / "run", base / "stack"
    work.mkdir(parents=True)
    import_busybox(root)
    (work / "compose.yaml").write_text(stack_file(args.services))
    # as a file written a while ago: the load cache skips files changed in the last 2 s
    old = time.time() - 60
    os.utime(work / "compose.yaml", (old, old))
    cli = [sys.executable, "-m", "stackctl", "--root", str(root), "--run-root", str(run_root)]
    proj = ["-f", str(work / "compose.yaml"), "-p", "bench", "--progress", "quiet"]

    cpu: dict[str, list[float]] = {}
    cpu_all: dict[str, list[float]] = {}
    meter = CpuMeter()

    def timed(label: str, *cmd: str) -> float:
        import resource

        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        all_before = meter.usage()
        t0 = time.perf_counter()
        res = subprocess.run([*cli, *cmd, *proj], capture_output=True, text=True)
        took = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        all_after = meter.usage()
        if res.returncode != 0:
            raise SystemExit(f"{cmd} failed ({res.returncode}):\n{res.stderr}")
        used = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        cpu.setdefault(label, []).append(used)
        if all_before is not None and all_after is not None:
            cpu_all.setdefault(label, []).append(all_after - all_before)
        return took

    ups, noops, downs = [], [], []
    try:
        for _ in range(args.runs):
            ups.append(timed("up -d", "up", "-d"))
            noops.append(timed("up -d (no-op)", "up", "-d"))
            downs.append(timed("down", "down", "-t", "2"))
            left = subprocess.run([*cli, "ps", "-aq"], capture_output=True, text=True).stdout
            if left.strip():
                raise SystemExit(f"down left containers behind:\n{left}")
    finally:
        subprocess.run([*cli, "down", "-t", "1", *proj], capture_output=True)
        meter.close()
        shutil.rmtree(base, ignore_errors=True)
    n = args.services
    print(f"stack of {n} services, one network, {args.runs} rounds (median, cold CLI):")
    print(f"  up -d          {statistics.median(ups):7.2f} s   (budget 3 s)    all: "
          + " ".join(f"{t:.2f}" for t in ups))
    print(f"  up -d (no-op)  {statistics.median(noops) * 1000:7.0f} ms  (budget 400 ms) all: "
          + " ".join(f"{t * 1000:.0f}" for t in noops))
    print(f"  down           {statistics.median(downs):7.2f} s   (budget 2 s)    all: "
          + " ".join(f"{t:.2f}" for t in downs))
    # The CLI process's own CPU (user+sys; the monitors it spawns are not counted):
    # on a loaded machine, a steadier figure than wall time.
    for what, values in cpu.items():
        print(f"  cpu of the CLI, {what:<18} {statistics.median(values):6.2f} s")
    # ...and of everything the command set going (monitor, launchers): the work the
    # 2 cores must do, so wall time on an idle machine is at least half of it
    for what, values in cpu_all.items():
        print(f"  cpu in all, {what:<22} {statistics.median(values):6.2f} s")
    with open("/proc/loadavg") as f:
        print(f"  load average during the run: {f.read().split()[0]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
