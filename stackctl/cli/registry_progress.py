"""Pull progress as docker prints it: one line per layer.

Plain (not a terminal, or ``--progress plain`` users piping output): one line
per finished step, ``<id>: Pull complete`` / ``Already exists`` / ``Retrying``.
On a terminal the layer lines are redrawn in place (cursor up, clear line) as
bytes arrive: ``<id>: Downloading [=====>      ]  1.2MB/20MB``, then
``Extracting``, then ``Pull complete``. Events come from download threads, so
every write holds one lock. Standard library only (imported by the CLI).
"""

from __future__ import annotations

import sys
import threading
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from stackctl.engine.registry.pull import PullEvent

LOCK = threading.Lock()
_BAR = 30


def say(line: str, out: TextIO | None = None) -> None:
    stream = out or sys.stdout
    with LOCK:
        stream.write(line + "\n")
        stream.flush()


def warn(text: str) -> None:
    with LOCK:
        sys.stderr.write(f"WARNING: {text}\n")


def human(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.3g}{unit}" if unit != "B" else f"{int(n)}B"
        n /= 1000
    return f"{n}"


def bar(done: int, total: int) -> str:
    """``[=====>     ]  1.2MB/20MB``."""
    filled = min(_BAR, _BAR * done // total) if total else _BAR
    arrow = ">" if filled < _BAR else "="
    inner = ("=" * max(0, filled - 1) + arrow) if filled else ""
    return f"[{inner.ljust(_BAR)}] {human(done):>7}/{human(total)}"


class PlainPull:
    """A line per finished step."""

    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out

    def __call__(self, ev: PullEvent) -> None:
        if ev.kind == "warning":
            warn(ev.detail)
        elif ev.kind == "exists":
            say(f"{ev.id}: Already exists", self.out)
        elif ev.kind == "complete":
            say(f"{ev.id}: Pull complete", self.out)
        elif ev.kind == "retrying":
            say(f"{ev.id}: Retrying (connection lost after {ev.detail})", self.out)


class TtyPull:
    """Layer lines redrawn in place."""

    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out or sys.stdout
        self.rows: dict[str, str] = {}
        self.drawn = 0

    def __call__(self, ev: PullEvent) -> None:
        if ev.kind == "warning":
            warn(ev.detail)
            return
        text = {"exists": "Already exists", "downloading": "Waiting",
                "extracting": "Extracting", "complete": "Pull complete",
                "retrying": "Retrying"}.get(ev.kind)
        if ev.kind == "progress":
            done, _, total = ev.detail.partition("/")
            text = "Downloading " + bar(int(done), int(total or 0))
        if text is None or not ev.id:
            return
        with LOCK:
            self.rows[ev.id] = text
            up = f"\x1b[{self.drawn}A" if self.drawn else ""
            lines = "".join(f"\r\x1b[2K{i}: {t}\n" for i, t in self.rows.items())
            self.out.write(up + lines)
            self.out.flush()
            self.drawn = len(self.rows)


__all__ = ["LOCK", "PlainPull", "TtyPull", "bar", "human", "say", "warn"]
