"""Run the real stackctl CLI in-process on a test's own state roots."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from stackctl.cli.app import main


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str


def run(capsys: pytest.CaptureFixture[str], roots: tuple[Path, Path], *args: str) -> Result:
    """``stackctl --root R --run-root RR ARGS...``; stdin is /dev/null, as from a script."""
    root, run_root = roots
    capsys.readouterr()
    saved = sys.stdin
    sys.stdin = open(os.devnull)  # noqa: SIM115 - closed below
    try:
        main(["--root", str(root), "--run-root", str(run_root), *args])
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        sys.stdin.close()
        sys.stdin = saved
    out, err = capsys.readouterr()
    return Result(code, out, err)
