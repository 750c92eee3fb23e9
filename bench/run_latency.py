"""Latency of `stackctl run --rm busybox true` (budget: 150 ms median), and where it goes.

Each run is a fresh CLI process, as a user types it. Prints min / median / max for
`--network none` and for the default bridge network, under both runtimes, then an
in-process breakdown of one run (import, create, start, attach+exit, removal).
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


def breakdown(root: Path, run_root: Path) -> str:
    code = f"""
import time
t0 = time.perf_counter()
from stackctl.engine.api import Engine
from stackctl.engine.containers import ContainerConfig
t1 = time.perf_counter()
e = Engine({str(root)!r}, {str(run_root)!r})
rec = e.create(ContainerConfig(image="busybox", command=("true",), auto_remove=True,
                               network="none"))
t2 = time.perf_counter()
code = e.run_foreground(rec.id, stdin=False, tty=False)
t3 = time.perf_counter()
print(f"import {{(t1-t0)*1000:.0f}} ms, create {{(t2-t1)*1000:.0f}} ms, "
      f"start+run+exit+remove (in-process monitor) {{(t3-t2)*1000:.0f}} ms, exit {{code}}")
"""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False).stdout.strip()


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
        print("breakdown:", breakdown(root, run_root))
    finally:
        subprocess.run([BIN, "rm", "-f", *subprocess.run(
            [BIN, "ps", "-aq"], env=env, capture_output=True, text=True).stdout.split()],
            env=env, capture_output=True, check=False)
        release_networks(root, run_root)
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
