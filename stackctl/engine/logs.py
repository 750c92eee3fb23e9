"""Container logs in Docker's json-file format: one JSON object per line,

    {"log": "hello\\n", "stream": "stdout", "time": "2026-11-28T01:02:03.123456789Z"}

``LogWriter`` (used by the monitor; stdlib only) splits a stream into lines,
stamps them and rotates the file by size: ``<file>`` is the newest,
``<file>.1`` … ``<file>.<max_file-1>`` older ones. ``read_logs`` reads them
back oldest first, with ``--tail``, ``--since``, ``--until`` and ``--follow``.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from stackctl.lightdc import dataclass

# Docker splits a line longer than this into several records (partial messages).
MAX_LINE = 16 * 1024


def rfc3339_nano(ns: int | None = None) -> str:
    """``time.time_ns()`` as RFC 3339 with nanoseconds, UTC (Docker's log timestamp)."""
    ns = time.time_ns() if ns is None else ns
    secs, frac = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{frac:09d}Z"


def parse_time(text: str) -> float:
    """An RFC 3339 timestamp (nanoseconds allowed) -> Unix seconds."""
    text = text.strip()
    frac = 0.0
    if "." in text:
        head, rest = text.split(".", 1)
        digits = ""
        for ch in rest:
            if not ch.isdigit():
                break
            digits += ch
        frac = float("0." + digits) if digits else 0.0
        text = head + rest[len(digits):]
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    from datetime import UTC, datetime  # only when parsing: a monitor never does

    dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp() + frac


class LogWriter:
    """Appends stream output as JSON lines to ``path``, rotating by size."""

    def __init__(self, path: Path, *, max_size: int | None = None, max_file: int = 1,
                 clock: Callable[[], int] = time.time_ns) -> None:
        self.path = path
        self.max_size = max_size
        self.max_file = max(1, max_file)
        self.clock = clock
        self._partial: dict[str, bytes] = {}
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
        self._size = os.fstat(self._fd).st_size

    def write(self, stream: str, data: bytes) -> None:
        """Log ``data`` from ``stream``; an unfinished last line waits for more."""
        buf = self._partial.pop(stream, b"") + data
        lines = buf.split(b"\n")
        rest = lines.pop()
        out = [line + b"\n" for line in lines]
        while len(rest) >= MAX_LINE:
            out.append(rest[:MAX_LINE])
            rest = rest[MAX_LINE:]
        if rest:
            self._partial[stream] = rest
        for line in out:
            self._emit(stream, line)

    def flush(self) -> None:
        """Write every unfinished line as it is (at process exit)."""
        for stream, rest in list(self._partial.items()):
            self._emit(stream, rest)
        self._partial.clear()

    def close(self) -> None:
        self.flush()
        os.close(self._fd)

    def _emit(self, stream: str, line: bytes) -> None:
        record = json.dumps({"log": line.decode("utf-8", "replace"), "stream": stream,
                             "time": rfc3339_nano(self.clock())}, ensure_ascii=False)
        raw = record.encode() + b"\n"
        if self.max_size is not None and self._size and self._size + len(raw) > self.max_size:
            self._rotate()
        os.write(self._fd, raw)
        self._size += len(raw)

    def _rotate(self) -> None:
        os.close(self._fd)
        if self.max_file > 1:
            for i in range(self.max_file - 1, 0, -1):
                src = self.path if i == 1 else self.path.with_name(f"{self.path.name}.{i - 1}")
                if src.exists():
                    os.replace(src, self.path.with_name(f"{self.path.name}.{i}"))
            flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND
        else:
            flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND
        self._fd = os.open(self.path, flags, 0o640)
        self._size = 0


@dataclass(frozen=True)
class LogEntry:
    stream: str
    time: str
    log: str

    @property
    def timestamp(self) -> float:
        return parse_time(self.time)


def log_files(path: Path) -> list[Path]:
    """The rotated files of ``path``, oldest first."""
    older = []
    i = 1
    while path.with_name(f"{path.name}.{i}").exists():
        older.append(path.with_name(f"{path.name}.{i}"))
        i += 1
    return [*reversed(older), path]


def _parse(line: bytes) -> LogEntry | None:
    try:
        raw = json.loads(line)
        return LogEntry(raw["stream"], raw["time"], raw["log"])
    except (ValueError, KeyError, TypeError):
        return None  # a torn last line while the monitor writes it


def read_logs(
    path: Path,
    *,
    tail: int | None = None,
    since: float | None = None,
    until: float | None = None,
    follow: bool = False,
    still_running: Callable[[], bool] = lambda: False,
    poll: float = 0.1,
) -> Iterator[LogEntry]:
    """Yield the entries of a container log, oldest first.

    With ``follow``, keep reading new entries (across rotations) until
    ``still_running()`` says the container is gone and the file is drained.
    """
    entries: list[LogEntry] = []
    for f in log_files(path):
        try:
            data = f.read_bytes()
        except FileNotFoundError:
            continue
        if f == path:
            offset = len(data) if data.endswith(b"\n") else data.rfind(b"\n") + 1
            data = data[:offset]
        entries.extend(e for e in map(_parse, data.splitlines()) if e is not None)
    entries = [e for e in entries if _in_window(e, since, until)]
    if tail is not None:
        entries = entries[-tail:] if tail > 0 else []
    yield from entries
    if not follow:
        return
    pos = 0
    try:
        pos = path.stat().st_size
        ino = path.stat().st_ino
        # Start after what was already shown (up to the last whole line).
        with open(path, "rb") as fh:
            data = fh.read()
        pos = data.rfind(b"\n") + 1
    except FileNotFoundError:
        ino = -1
    buf = b""
    while True:
        alive = still_running()
        try:
            st = path.stat()
        except FileNotFoundError:
            return
        if st.st_ino != ino:  # rotated: read the new file from its start
            ino, pos, buf = st.st_ino, 0, b""
        if st.st_size > pos:
            with open(path, "rb") as fh:
                fh.seek(pos)
                chunk = fh.read()
            pos += len(chunk)
            buf += chunk
            *lines, buf = buf.split(b"\n")
            for line in lines:
                e = _parse(line)
                if e is not None and _in_window(e, since, until):
                    yield e
            continue
        if not alive:
            return
        time.sleep(poll)


def _in_window(e: LogEntry, since: float | None, until: float | None) -> bool:
    if since is None and until is None:
        return True
    t = e.timestamp
    return (since is None or t >= since) and (until is None or t < until)


__all__ = ["LogEntry", "LogWriter", "log_files", "parse_time", "read_logs", "rfc3339_nano"]
