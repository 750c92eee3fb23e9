"""Event sinks: how the executor's progress reaches the user.

``--progress`` picks one: ``tty`` (a live per-resource display redrawn in
place, like Compose v2; the default on a terminal), ``plain`` (one line per
event; the default otherwise, and what tests read), ``json`` (one object per
line, for tools) and ``quiet`` (nothing but errors). A sink is a context
manager: the tty display owns the terminal between enter and exit.
"""

from __future__ import annotations

import json
import sys
import time
from types import TracebackType
from typing import IO, Any

from stackctl.errors import UsageError
from stackctl.scheduler.execute import Event

MODES = ("auto", "tty", "plain", "json", "quiet")


class Sink:
    """Base: a no-op context manager with ``event`` and ``message``."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr

    def event(self, e: Event) -> None:
        pass

    def message(self, text: str) -> None:
        """A line outside the per-resource display (warnings, summaries)."""
        self.stream.write(text + "\n")
        self.stream.flush()

    def __enter__(self) -> Sink:
        return self

    def __exit__(self, t: type[BaseException] | None, v: BaseException | None,
                 tb: TracebackType | None) -> None:
        pass


class QuietSink(Sink):
    def event(self, e: Event) -> None:
        if e.error:
            self.stream.write(f"{e.kind} {e.name} Error {e.text}\n")

    def message(self, text: str) -> None:
        if text.lower().startswith(("error", "warning")):
            super().message(text)


class PlainSink(Sink):
    """Compose's plain writer: ``<id> <text> [details]``, single-spaced (``Service web
    Built``, ``Container p-web-1 Started``), which is what scripts and tests grep for."""

    def event(self, e: Event) -> None:
        line = f"{e.kind} {e.name} {e.status}"
        if e.text:
            line += f" {e.text}"
        self.stream.write(line + "\n")
        self.stream.flush()


class JsonSink(Sink):
    def event(self, e: Event) -> None:
        record = {"kind": e.kind, "name": e.name, "status": e.status, "text": e.text,
                  "done": e.done, "error": e.error, "time": time.time()}
        self.stream.write(json.dumps(record) + "\n")
        self.stream.flush()

    def message(self, text: str) -> None:
        self.stream.write(json.dumps({"message": text}) + "\n")
        self.stream.flush()


class TtySink(Sink):
    """A live table: one row per resource with a spinner, then a tick or a cross."""

    def __init__(self, stream: IO[str] | None = None, title: str = "") -> None:
        super().__init__(stream)
        from rich.console import Console

        self.console = Console(file=self.stream, highlight=False)
        self.title = title
        self.rows: dict[tuple[str, str], dict[str, Any]] = {}
        self.live: Any = None

    def _render(self) -> Any:
        from rich.spinner import Spinner
        from rich.table import Table

        table = Table.grid(padding=(0, 1))
        table.add_column(width=1)
        table.add_column()
        table.add_column()
        table.add_column(justify="right")
        done = sum(1 for r in self.rows.values() if r["done"])
        if self.title:
            table.add_row("", f"[bold]{self.title}[/] {done}/{len(self.rows)}", "", "")
        now = time.monotonic()
        for (kind, name), row in self.rows.items():
            if row["error"]:
                mark: Any = "[red]✘[/]"
            elif row["done"]:
                mark = "[green]✔[/]"
            else:
                mark = Spinner("dots")
            took = (row["end"] or now) - row["start"]
            status = row["status"] + (f" {row['text']}" if row["text"] else "")
            color = "red" if row["error"] else ("green" if row["done"] else "blue")
            table.add_row(mark, f"{kind} {name}", f"[{color}]{status}[/]", f"{took:.1f}s")
        return table

    def event(self, e: Event) -> None:
        key = (e.kind, e.name)
        row = self.rows.get(key)
        # a new step on a finished row starts its clock again; a late verdict
        # (Healthy after Started) only updates it
        if row is None or (row["done"] and not e.done):
            row = {"start": time.monotonic(), "end": None}
            self.rows[key] = row
        row.update(status=e.status, text=e.text, done=e.done, error=e.error)
        if e.done:
            row["end"] = time.monotonic()
        if self.live is not None:
            self.live.update(self._render())

    def message(self, text: str) -> None:
        if self.live is not None:
            self.live.console.print(text, markup=False, highlight=False)
        else:
            super().message(text)

    def __enter__(self) -> Sink:
        from rich.live import Live

        self.live = Live(self._render(), console=self.console, refresh_per_second=10,
                         transient=False)
        self.live.__enter__()
        return self

    def __exit__(self, t: type[BaseException] | None, v: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self.live is not None:
            self.live.update(self._render())
            self.live.__exit__(t, v, tb)
            self.live = None


def make_sink(mode: str, stream: IO[str] | None = None, *, title: str = "") -> Sink:
    """The sink for ``--progress MODE``; ``auto`` = tty on a terminal, else plain."""
    out = stream if stream is not None else sys.stderr
    if mode == "auto":
        mode = "tty" if out.isatty() else "plain"
    if mode == "tty":
        return TtySink(out, title)
    if mode == "plain":
        return PlainSink(out)
    if mode == "json":
        return JsonSink(out)
    if mode == "quiet":
        return QuietSink(out)
    raise UsageError(f"--progress {mode!r}: expected one of {', '.join(MODES)}")


__all__ = ["MODES", "JsonSink", "PlainSink", "QuietSink", "Sink", "TtySink", "make_sink"]
