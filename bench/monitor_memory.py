"""Resident memory of the monitor per container (budget: < 15 MiB each).

Starts N detached containers (`sleep`) with and without a healthcheck and a
bridge network, each under its own monitor (`run -d`), then N under one shared
monitor (a stack's, as `up` starts them), and reads each monitor's
/proc/<pid>/smaps_rollup: RSS, and
PSS (proportional: shared pages divided among the processes sharing them, the
fair per-container cost). Also prints a bare `python -c pass`-style process for
the floor. Uses a throwaway state root; removes everything afterwards.

Usage: .venv/bin/python bench/monitor_memory.py [N]
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def rollup(pid: int) -> tuple[float, float]:
    """(RSS, PSS) in MiB."""
    vals = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        parts = line.split()
        if parts[0] in ("Rss:", "Pss:"):
            vals[parts[0]] = int(parts[1]) / 1024
    return vals["Rss:"], vals["Pss:"]


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    from stackctl.engine.api import Engine
    from stackctl.engine.containers import ContainerConfig, Healthcheck
    from tests.fixtures_images import import_busybox
    from tests.netclean import release_networks

    base = Path(tempfile.mkdtemp(prefix="stackctl-bench-"))
    root, run_root = base / "root", base / "run"
    import_busybox(root)
    engine = Engine(root, run_root)
    bare = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        cases = {
            "network none": {"network": "none"},
            "network none + healthcheck": {
                "network": "none",
                "healthcheck": Healthcheck(("CMD-SHELL", "true"), interval=0.5)},
            "bridge (+ DNS responder)": {"network": "bridge"},
        }
        time.sleep(0.5)
        rss, pss = rollup(bare.pid)
        print(f"{'bare python process (floor)':32s} RSS {rss:5.1f} MiB  PSS {pss:5.1f} MiB")
        for label, kw in cases.items():
            recs = [engine.start(engine.create(ContainerConfig(
                image="busybox", command=("sleep", "60"), **kw)).id)  # type: ignore[arg-type]
                for _ in range(n)]
            time.sleep(1.5)  # let healthchecks run a few times
            samples = [rollup(r.monitor_pid) for r in recs if r.monitor_pid]
            print(f"{label:32s} RSS {statistics.median(s[0] for s in samples):5.1f} MiB  "
                  f"PSS {statistics.median(s[1] for s in samples):5.1f} MiB  "
                  f"(median of {len(samples)} monitors; budget 15 MiB)")
            for r in recs:
                engine.remove(r.id, force=True, volumes=True)
        # one monitor per stack (what `up` does): its cost divided among its containers
        for label, kw in (("stack, network none", {"network": "none"}),
                          ("stack, bridge (+ DNS responder)", {"network": "bridge"})):
            recs = [engine.start(engine.create(ContainerConfig(
                image="busybox", command=("sleep", "60"), **kw)).id,  # type: ignore[arg-type]
                group=f"bench:{label}") for _ in range(n)]
            time.sleep(0.5)
            pids = {r.monitor_pid for r in recs if r.monitor_pid}
            rss, pss = (sum(v) for v in zip(*(rollup(pid) for pid in pids), strict=True))
            print(f"{label:32s} RSS {rss / n:5.1f} MiB  PSS {pss / n:5.1f} MiB  per container "
                  f"({len(pids)} monitor for {n}: RSS {rss:5.1f} MiB)")
            for r in recs:
                engine.remove(r.id, force=True, volumes=True)
    finally:
        bare.kill()
        bare.wait()
        for r in engine.list(all_=True):
            engine.remove(r.id, force=True, volumes=True)
        engine.close()
        release_networks(root, run_root)
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
