"""One monitor for a group of containers (a stack): the adopt socket.

A monitor started with ``--group SOCK`` also listens on ``SOCK``; the engine
asks it to take more containers instead of exec'ing a new monitor per
container (two Python start-ups per container become one per stack):

    {"op": "adopt", "ids": [ID, ...]}
        -> one ready line per container as it starts, in the order they are ready:
           {"id", "ok": true, "pid"} or {"id", "ok": false, "error", "exit_code"}

then the monitor closes the connection. Each adopted container keeps its own
control socket, log, restart policy, healthcheck and cleanup, exactly as under
a monitor of its own. The monitor exits when it supervises nothing; it then
removes ``SOCK``, so a client that finds no socket, or one nobody accepts on,
starts a new monitor (under the engine's lock on ``SOCK.lock``). A connection
that closes without a line for some container means it was not adopted.
Stdlib only.
"""

from __future__ import annotations

import json
import os
import selectors
import socket
from collections.abc import Callable
from pathlib import Path

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs the monitor ~2 MiB resident; annotations only
    from typing import Any

    Ready = Callable[[dict[str, Any]], None]


REQUEST_MAX = 1 << 16


class GroupMixin:
    """The adopt socket of ``Monitor`` (which provides ``sel`` and ``adopt``)."""

    sel: selectors.BaseSelector
    group_sock: socket.socket | None = None
    group_path: Path | None = None
    _group_ino = 0

    def adopt(self, cid: str, *, on_ready: Ready, hold: bool = False) -> None:
        raise NotImplementedError

    def listen_group(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:  # a dead monitor's socket (the engine holds the group's lock while we start)
            path.unlink()
        except FileNotFoundError:
            pass
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(str(path))
        s.listen(64)
        s.setblocking(False)
        self.group_sock, self.group_path = s, path
        self._group_ino = os.stat(path).st_ino
        self.sel.register(s, selectors.EVENT_READ, lambda ev: self._accept_adopt())

    def close_group(self) -> None:
        """Stop taking containers: nobody may connect once we decided to exit."""
        if self.group_sock is None or self.group_path is None:
            return
        try:
            if os.stat(self.group_path).st_ino == self._group_ino:  # still ours
                self.group_path.unlink()
        except FileNotFoundError:
            pass
        self.sel.unregister(self.group_sock)
        self.group_sock.close()
        self.group_sock = None

    def _accept_adopt(self) -> None:
        assert self.group_sock is not None
        try:
            conn, _ = self.group_sock.accept()
        except BlockingIOError:
            return
        conn.setblocking(False)
        buf = bytearray()
        self.sel.register(conn, selectors.EVENT_READ,
                          lambda ev: self._on_adopt_request(conn, buf))

    def _on_adopt_request(self, conn: socket.socket, buf: bytearray) -> None:
        try:
            data = conn.recv(4096)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        buf += data
        if b"\n" not in buf:
            if not data or len(buf) > REQUEST_MAX:
                self.sel.unregister(conn)
                conn.close()
            return
        self.sel.unregister(conn)
        try:
            req = json.loads(bytes(buf).partition(b"\n")[0])
            ids = [str(i) for i in req["ids"]] if req.get("op") == "adopt" else []
        except (ValueError, KeyError, TypeError, AttributeError):
            ids = []
        if not ids:
            _send_line(conn, {"ok": False, "error": "expected {\"op\": \"adopt\", \"ids\": [...]}"})
            conn.close()
            return
        conn.setblocking(True)
        conn.settimeout(5)  # a client that stops reading must not stall the monitor
        left = [len(ids)]

        def ready(msg: dict[str, Any]) -> None:
            _send_line(conn, msg)
            left[0] -= 1
            if left[0] == 0:
                conn.close()

        for cid in ids:
            self.adopt(cid, on_ready=ready)


def _send_line(conn: socket.socket, msg: dict[str, Any]) -> None:
    try:
        conn.sendall(json.dumps(msg).encode() + b"\n")
    except OSError:  # the client went away; the container is supervised regardless
        pass


__all__ = ["GroupMixin"]
