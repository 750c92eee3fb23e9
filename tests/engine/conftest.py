"""Fixtures for engine tests on the real kernel: an Engine over a fresh state root
with busybox imported, a CLI runner bound to the same roots, and a teardown that
force-removes every container the test made (so the leak check stays clean even
when a test fails half-way)."""

from __future__ import annotations

import contextlib
import os
import pty
import select
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from stackctl.engine.api import Engine
from tests.fixtures_images import busybox_image  # noqa: F401
from tests.scheduler.stackenv import stack  # noqa: F401 - for test_run_*.py

Cli = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def engine(busybox_image: tuple[Path, str], roots: tuple[Path, Path]  # noqa: F811
           ) -> Iterator[Engine]:
    root, run_root = roots
    eng = Engine(root, run_root)
    try:
        yield eng
    finally:
        cleanup(eng)
        eng.close()


def cleanup(eng: Engine) -> None:
    for rec in eng.list(all_=True):
        try:
            eng.remove(rec.id, force=True, volumes=True)
        except Exception as exc:  # keep going: the leak check reports what is left
            print(f"cleanup of {rec.name} failed: {exc}")
    for vol in eng.volumes.list():
        eng.volumes.remove(vol.name, force=True)


def cli_env(engine: Engine) -> dict[str, str]:
    """The environment of a ``stackctl`` process working on the test's roots."""
    return {**os.environ, "STACKCTL_ROOT": str(engine.root),
            "STACKCTL_RUN_ROOT": str(engine.run_root)}


@pytest.fixture
def cli(engine: Engine) -> Cli:
    """Run ``stackctl ARGS`` in a fresh process against the test's roots."""
    env = cli_env(engine)

    def run(*args: str, input: str | None = None, timeout: float = 60,
            check: bool = False) -> subprocess.CompletedProcess[str]:
        res = subprocess.run([sys.executable, "-m", "stackctl", *args], env=env, input=input,
                             capture_output=True, text=True, timeout=timeout, check=False)
        if check and res.returncode != 0:
            raise AssertionError(f"stackctl {' '.join(args)} -> {res.returncode}\n{res.stderr}")
        return res

    return run


def eventually(cond: Callable[[], object], timeout: float = 10.0, what: str = "") -> None:
    """Wait for ``cond()`` to be truthy (a condition, not a timing assertion)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what or cond}")


def mounts_under(path: Path) -> list[str]:
    with open("/proc/self/mounts") as f:
        return [ln.split()[1] for ln in f if ln.split()[1].startswith(str(path))]


@contextlib.contextmanager
def pty_cli(engine: Engine, *args: str, winsize: tuple[int, int] | None = None,
            ) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """``stackctl ARGS`` on a new pseudo-terminal, as a user at a terminal runs it:
    yields the process and the terminal's master fd (``winsize``: rows, columns).
    On exit the process is killed if it still runs, and the terminal closed."""
    master, slave = pty.openpty()
    if winsize is not None:
        import fcntl
        import struct
        import termios

        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", *winsize, 0, 0))
    proc = subprocess.Popen([sys.executable, "-m", "stackctl", *args], stdin=slave,
                            stdout=slave, stderr=slave, env=cli_env(engine),
                            start_new_session=True)
    os.close(slave)
    try:
        yield proc, master
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)


def read_until(fd: int, needle: bytes, timeout: float = 20) -> bytes:
    """What the terminal printed until ``needle`` showed (or ``timeout`` or EOF)."""
    out = b""
    deadline = time.monotonic() + timeout
    while needle not in out and time.monotonic() < deadline:
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
    return out
