"""Cold-start latency of the CLI: `stackctl --help`, `stackctl version`.

Prints min / median / max over N runs of a fresh process each. Budget: 150 ms.
Usage: .venv/bin/python bench/cold_start.py [N]
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

BIN = str(Path(sys.executable).with_name("stackctl"))
CASES = [["--help"], ["version"]]


def measure(args: list[str], n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        subprocess.run([BIN, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       check=False)
        out.append((time.perf_counter() - t0) * 1000)
    return out


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    for args in CASES:
        ms = measure(args, n)
        print(f"stackctl {' '.join(args):<12} min {min(ms):6.1f} ms  "
              f"median {statistics.median(ms):6.1f} ms  max {max(ms):6.1f} ms  (n={n})")


if __name__ == "__main__":
    main()
