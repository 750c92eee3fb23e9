"""Run every benchmark script in bench/ and print its figures.

Usage: .venv/bin/python bench/run_all.py [NAME ...]   (names without .py)
Each script prints its own figures; this only runs them in turn.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    wanted = set(sys.argv[1:])
    failed = 0
    for script in sorted(HERE.glob("*.py")):
        if script.name in ("run_all.py",) or script.name.startswith("_"):
            continue
        if wanted and script.stem not in wanted:
            continue
        print(f"== {script.stem}", flush=True)
        res = subprocess.run([sys.executable, str(script)], check=False)
        failed += res.returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
