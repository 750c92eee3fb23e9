"""Cold-start latency of the CLI: `stackctl --help`, `stackctl version`, `stackctl ps`.

Prints min / median / max over N runs of a fresh process each. Budget (DESIGN.md):
150 ms for `--help` and `ps`. `ps` lists a throwaway state root holding three
containers (created, not started: listing reads only the store).
Usage: .venv/bin/python bench/cold_start.py [N]
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

BIN = str(Path(sys.executable).with_name("stackctl"))
REPO = Path(__file__).resolve().parent.parent
CASES = [["--help"], ["version"], ["ps"], ["ps", "-a"]]


def measure(args: list[str], n: int, env: dict[str, str]) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        subprocess.run([BIN, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       env=env, check=False)
        out.append((time.perf_counter() - t0) * 1000)
    return out


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    import compileall

    compileall.compile_dir(str(REPO / "stackctl"), quiet=1)  # see bench/stack_up.py
    sys.path.insert(0, str(REPO))
    from tests.fixtures_images import import_busybox

    base = Path(tempfile.mkdtemp(prefix="stackctl-bench-"))
    env = {**os.environ, "STACKCTL_ROOT": str(base / "root"),
           "STACKCTL_RUN_ROOT": str(base / "run")}
    try:
        import_busybox(base / "root")
        for i in range(3):
            subprocess.run([BIN, "create", "--network", "none", "--name", f"c{i}", "busybox",
                            "true"], env=env, stdout=subprocess.DEVNULL, check=True)
        for args in CASES:
            ms = measure(args, n, env)
            print(f"stackctl {' '.join(args):<12} min {min(ms):6.1f} ms  "
                  f"median {statistics.median(ms):6.1f} ms  max {max(ms):6.1f} ms  (n={n})")
    finally:
        subprocess.run([BIN, "rm", "-f", "c0", "c1", "c2"], env=env, capture_output=True,
                       check=False)
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
