"""Latency of `stackctl run --rm busybox true` (budget: 150 ms median), and where it goes.

Each run is a fresh CLI process, as a user types it. Prints min / median / max for
`--network none` and for the default bridge network, under both runtimes, then
where the time of a bridge run goes: the medians of each phase's end, from the
timelines (STACKCTL_TIMELINE, stackctl/timeline.py) that the CLI, the launcher
and the container's init write during real runs.
The first line, `python -c pass`, is the floor every figure stands on (a shared
machine's interpreter start-up varies by 2x over a day). Uses a throwaway state
root with busybox imported (offline, from tests/images.py).
Byte-compiles stackctl first: this environment sets PYTHONDONTWRITEBYTECODE, and
without .pyc files every process recompiles each module it imports (an installed
package has them). The load average is printed: on a shared 2-core machine the
figures move with it.

Usage: .venv/bin/python bench/run_latency.py [N]
"""

from __future__ import annotations

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
BIN = str(Path(sys.executable).with_name("stackctl"))


def measure(env: dict[str, str], args: list[str], n: int, *,
            argv0: list[str] | None = None) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        res = subprocess.run([*(argv0 or [BIN]), *args], env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True, check=False)
        out.append((time.perf_counter() - t0) * 1000)
        if res.returncode != 0:
            raise SystemExit(f"stackctl {' '.join(args)} failed: {res.stderr}")
    return out


def timeline(env: dict[str, str], args: list[str], n: int) -> list[str]:
    """Per-phase medians of ``n`` real runs, from STACKCTL_TIMELINE (stackctl/
    timeline.py): each event's time since the CLI process was started, in ms."""
    runs: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory() as d:
        log = Path(d) / "timeline"
        for _ in range(n):
            log.unlink(missing_ok=True)
            t0 = time.monotonic() * 1000
            subprocess.run([BIN, *args], env={**env, "STACKCTL_TIMELINE": str(log)},
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
            end = time.monotonic() * 1000
            events = {"process started": 0.0}
            for line in log.read_text().splitlines():
                ms, _, event = line.split(" ", 2)
                if event.startswith("launcher: container process"):
                    event = "launcher: container process started"
                events.setdefault(event, float(ms) - t0)
            events["process exited"] = end - t0
            runs.append(events)
    names = sorted({e for r in runs for e in r},
                   key=lambda e: statistics.median(r[e] for r in runs if e in r))
    out, last = [], 0.0
    for name in names:
        at = statistics.median(r[name] for r in runs if name in r)
        out.append(f"  {at:7.1f} ms  (+{at - last:5.1f})  {name}")
        last = at
    return out


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    import compileall

    from tests.fixtures_images import import_busybox
    from tests.netclean import release_networks

    compileall.compile_dir(str(REPO / "stackctl"), quiet=1)
    base = Path(tempfile.mkdtemp(prefix="stackctl-bench-"))
    root, run_root = base / "root", base / "run"
    try:
        import_busybox(root)
        env = {**os.environ, "STACKCTL_ROOT": str(root), "STACKCTL_RUN_ROOT": str(run_root)}
        print(f"load average: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
        # the floor: this machine's interpreter start-up (it moves with the host's load)
        ms = measure(env, ["-c", "pass"], n, argv0=[sys.executable])
        print(f"{'python -c pass (the floor)':45s} min {min(ms):6.0f}  median "
              f"{statistics.median(ms):6.0f}  max {max(ms):6.0f} ms   (n={n})")
        for label, args in [
            ("--help (CLI cold start)", ["--help"]),
            ("run --rm --network none busybox true", ["run", "--rm", "--network", "none",
                                                      "busybox", "true"]),
            ("run --rm --network none --runtime runc", ["run", "--rm", "--network", "none",
                                                        "--runtime", "runc", "busybox", "true"]),
            ("run --rm busybox true (bridge)", ["run", "--rm", "busybox", "true"]),
            ("run -d busybox true (detached monitor)", ["run", "-d", "--network", "none",
                                                        "busybox", "true"]),
        ]:
            ms = measure(env, args, n)
            print(f"{label:45s} min {min(ms):6.0f}  median {statistics.median(ms):6.0f}  "
                  f"max {max(ms):6.0f} ms   (n={n})")
        n_tl = max(5, n // 2)
        print(f"where a bridge run --rm goes (medians of {n_tl} runs, STACKCTL_TIMELINE):")
        print("\n".join(timeline(env, ["run", "--rm", "busybox", "true"], n_tl)))
    finally:
        subprocess.run([BIN, "rm", "-f", *subprocess.run(
            [BIN, "ps", "-aq"], env=env, capture_output=True, text=True).stdout.split()],
            env=env, capture_output=True, check=False)
        release_networks(root, run_root)
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
