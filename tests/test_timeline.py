"""STACKCTL_TIMELINE: every process of a real run marks its phases in one file
(bench/run_latency.py reads it)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures_images import busybox_image  # noqa: F401 - a fixture

pytestmark = pytest.mark.kernel


def _run(roots: tuple[Path, Path], env: dict[str, str], *args: str) -> None:
    root, run_root = roots
    r = subprocess.run([sys.executable, "-m", "stackctl", "--root", str(root), "--run-root",
                        str(run_root), *args], env=env, capture_output=True, text=True,
                       timeout=60, check=False)
    assert r.returncode == 0, r.stderr


def test_a_run_marks_the_phases_of_every_process(roots: tuple[Path, Path],
                                                 busybox_image: tuple[Path, str],  # noqa: F811
                                                 tmp_path: Path) -> None:
    log = tmp_path / "timeline"
    _run(roots, {**os.environ, "STACKCTL_TIMELINE": str(log)},
         "run", "--rm", "--network", "none", busybox_image[1], "true")
    lines = [ln.split(" ", 2) for ln in log.read_text().splitlines()]
    events = [e for _, _, e in lines]
    for want in ("cli: start", "cli: imported", "engine: created", "engine: bundle written",
                 "launcher: cgroup created", "launcher: child in cgroup", "init: exec",
                 "monitor: process ended", "monitor: released", "cli: done"):
        assert want in events, events
    pids = {e: int(pid) for _, pid, e in lines}
    assert len({pids["cli: start"], pids["launcher: cgroup created"], pids["init: exec"]}) == 3
    for pid in set(pids.values()):  # each process's marks in order, on one clock
        times = [float(ms) for ms, p, _ in lines if int(p) == pid]
        assert times == sorted(times)
    assert float(lines[-1][0]) - float(lines[0][0]) < 60_000

