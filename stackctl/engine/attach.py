"""The attach client: connects a terminal (or plain stdio) to a container's monitor.

Speaks the monitor's attach protocol (see monitor.py): one JSON request, then
frames ``>BxxxI`` from the monitor (1 stdout, 2 stderr, 3 exit code) and raw
stdin bytes to it; closing our write side closes the container's stdin.

With a tty the local terminal goes to raw mode for the session (restored on
every exit path), its size is sent first and again on every SIGWINCH; Ctrl-D
is just a byte that the container's shell reads as end of input.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import socket
import struct
import sys
from collections.abc import Callable
from pathlib import Path

TYPE_CHECKING = False  # typing costs ~3 ms at start-up; annotations only
if TYPE_CHECKING:
    from typing import Any, BinaryIO

FRAME = struct.Struct(">BxxxI")
EXIT = 3
DETACH_KEYS = b"\x10\x11"  # Ctrl-P Ctrl-Q, Docker's default --detach-keys
DETACHED = -1  # attach()'s result when the user detached with DETACH_KEYS


def split_detach(pending: bytes, data: bytes) -> tuple[bytes, bytes, bool]:
    """Find DETACH_KEYS across reads: (bytes to send, bytes held back, detached?).

    ``pending`` is a held-back Ctrl-P from the previous read; a lone Ctrl-P not
    followed by Ctrl-Q is passed through, as Docker does.
    """
    buf = pending + data
    at = buf.find(DETACH_KEYS)
    if at >= 0:
        return buf[:at], b"", True
    if buf.endswith(DETACH_KEYS[:1]):
        return buf[:-1], buf[-1:], False
    return buf, b"", False


def terminal_size(fd: int) -> tuple[int, int] | None:
    try:
        size = os.get_terminal_size(fd)
    except OSError:
        return None
    return size.lines, size.columns


def resize(sock_path: Path, rows: int, cols: int) -> None:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.settimeout(2)
        s.connect(str(sock_path))
        s.sendall(json.dumps({"op": "resize", "rows": rows, "cols": cols}).encode() + b"\n")
        s.recv(100)
    except OSError:
        pass
    finally:
        s.close()


class _RawTerminal:
    """Raw mode on ``fd`` for the duration of a with-block (no-op if not a tty)."""

    def __init__(self, fd: int, enabled: bool) -> None:
        self.fd = fd
        self.saved: list[object] | None = None
        self.enabled = enabled and os.isatty(fd)

    def __enter__(self) -> _RawTerminal:
        if self.enabled:
            import termios
            import tty

            self.saved = termios.tcgetattr(self.fd)
            tty.setraw(self.fd)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.saved is not None:
            import termios

            termios.tcsetattr(self.fd, termios.TCSADRAIN, self.saved)  # type: ignore[arg-type]


def raw_terminal(fd: int, enabled: bool) -> _RawTerminal:
    """A context manager: ``fd`` in raw mode inside it when ``enabled`` and a tty."""
    return _RawTerminal(fd, enabled)


def attach(sock: socket.socket, *, stdin: bool, tty: bool, sock_path: Path | None = None,
           replay: bool = True, stdin_fd: int | None = None,
           stdout: BinaryIO | None = None, stderr: BinaryIO | None = None,
           on_signal: Callable[[int], None] | None = None) -> int | None:
    """Stream until the container ends; return its exit code (None if the monitor vanished,
    DETACHED when the user typed Ctrl-P Ctrl-Q with a tty: the container keeps running).

    ``on_signal`` (non-tty): SIGINT/SIGTERM received here are handed to it, e.g. to
    forward them to the container, as ``docker run`` does with --sig-proxy.
    """
    in_fd = sys.stdin.fileno() if stdin_fd is None else stdin_fd
    out = stdout or sys.stdout.buffer
    err = stderr or sys.stderr.buffer
    req: dict[str, object] = {"op": "attach", "stdin": stdin, "replay": replay}
    size = terminal_size(in_fd) if tty else None
    if size:
        req["rows"], req["cols"] = size
    sock.sendall(json.dumps(req).encode() + b"\n")
    sel = selectors.DefaultSelector()
    sel.register(sock, selectors.EVENT_READ, "sock")
    if stdin:
        sel.register(in_fd, selectors.EVENT_READ, "stdin")
    old_handlers: dict[int, Any] = {}
    if tty and sock_path is not None and size is not None:
        def on_winch(signum: int, frame: object) -> None:
            new = terminal_size(in_fd)
            if new:
                resize(sock_path, *new)
        old_handlers[signal.SIGWINCH] = signal.signal(signal.SIGWINCH, on_winch)
    if on_signal is not None and not tty:
        for sig in (signal.SIGINT, signal.SIGTERM):
            old_handlers[sig] = signal.signal(sig, lambda s, f: on_signal(s))
    buf = b""
    held = b""
    code: int | None = None
    try:
        with _RawTerminal(in_fd, tty and stdin):
            while code is None:
                try:
                    ready = sel.select()
                except InterruptedError:
                    continue
                for key, _ in ready:
                    if key.data == "stdin":
                        data = os.read(in_fd, 65536)
                        if data and tty:
                            data, held, detached = split_detach(held, data)
                            if data:
                                sock.sendall(data)
                            if detached:
                                err.write(b"\r\nread escape sequence\r\n")
                                err.flush()
                                return DETACHED
                        elif data:
                            sock.sendall(data)
                        else:
                            sel.unregister(in_fd)
                            sock.shutdown(socket.SHUT_WR)
                        continue
                    chunk = sock.recv(65536)
                    if not chunk:
                        return None
                    buf += chunk
                    while len(buf) >= FRAME.size:
                        stream, length = FRAME.unpack_from(buf)
                        if len(buf) < FRAME.size + length:
                            break
                        payload = buf[FRAME.size:FRAME.size + length]
                        buf = buf[FRAME.size + length:]
                        if stream == EXIT:
                            code = int(payload or b"0")
                            break
                        target = err if stream == 2 else out
                        target.write(payload)
                        target.flush()
    finally:
        for signum, handler in old_handlers.items():
            signal.signal(signum, handler)
        sel.close()
    return code


__all__ = ["DETACHED", "DETACH_KEYS", "attach", "raw_terminal", "resize", "split_detach",
           "terminal_size"]
