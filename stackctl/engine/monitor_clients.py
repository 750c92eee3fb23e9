"""The monitor's clients: its control socket, attached terminals, and the frames.

``ClientsMixin`` is the part of ``Monitor`` that speaks the protocol drawn in
monitor.py: accepting connections on each container's ``monitor.sock``,
reading one JSON request, streaming output frames to attached clients (or, in
foreground mode, to this process's own stdio through ``LocalAttach``) and
feeding their bytes to the container's stdin or pty. Stdlib only.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import socket
import struct

from stackctl.engine import oci
from stackctl.engine.containers import ContainerConfig

TYPE_CHECKING = False  # typing costs the monitor ~2 MiB resident; annotations only

if TYPE_CHECKING:
    from typing import Any

    from stackctl.engine.monitor import Container

FRAME = struct.Struct(">BxxxI")
STDOUT, STDERR, EXIT = 1, 2, 3
REPLAY_MAX = 1 << 20


def encode_frame(stream: int, data: bytes) -> bytes:
    return FRAME.pack(stream, len(data)) + data


class Client:
    """One connection on a container's control socket."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.rbuf = b""
        self.wbuf = bytearray()
        self.op = ""
        self.stdin = False
        self.closing = False
        self.read_closed = False
        self.handler: Any = None


class LocalAttach:
    """This process's own stdio as the attached client (foreground mode, see
    Engine.run_foreground): output is written straight to ``stdout``/``stderr``,
    ``stdin_fd`` is read into the container, the exit code lands in ``exit_code``."""

    def __init__(self, *, stdin: bool, tty: bool, stdin_fd: int = 0, stdout_fd: int = 1,
                 stderr_fd: int = 2) -> None:
        self.stdin = stdin
        self.tty = tty
        self.stdin_fd = stdin_fd
        self.stdout_fd = stdout_fd
        self.stderr_fd = stderr_fd
        self.exit_code: int | None = None
        self.broken = False  # our stdout/stderr is gone (e.g. `run --rm ... | head -1`)

    def write(self, stream: int, data: bytes) -> None:
        fd = self.stderr_fd if stream == STDERR else self.stdout_fd
        view = memoryview(data)
        while view:
            try:
                n = os.write(fd, view)
            except BlockingIOError:
                import select

                select.select([], [fd], [])
                continue
            except OSError:  # EPIPE/EIO: nobody reads the output any more
                self.broken = True
                return
            view = view[n:]


def _read_all(fd: int) -> bytes:
    out = b""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except (BlockingIOError, OSError):
            return out
        if not chunk:
            return out
        out += chunk


def _receive_fd(sock: socket.socket) -> int | None:
    sock.settimeout(5)
    try:
        conn, _ = sock.accept()
    except OSError:
        return None
    with conn:
        conn.settimeout(5)
        try:
            _msg, fds, _flags, _addr = socket.recv_fds(conn, 4096, 1)
        except OSError:
            return None
    return fds[0] if fds else None


def _set_winsize(fd: int, rows: int, cols: int) -> None:
    import fcntl
    import termios

    try:
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    except OSError:
        pass


def _stop_signal(config: ContainerConfig) -> int:
    name = (config.stop_signal or "SIGTERM").upper()
    if name.isdigit():
        return int(name)
    return int(getattr(signal, name if name.startswith("SIG") else "SIG" + name))


def _kill(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _thaw(c: Container) -> None:
    for d in oci.cgroup_dirs(c.paths.cgroup_name):
        for name, value in (("freezer.state", "THAWED"), ("cgroup.freeze", "0")):
            try:
                (d / name).write_text(value)
            except OSError:
                pass


class ClientsMixin:
    """Client handling for ``Monitor`` (which provides the attributes declared here)."""

    sel: selectors.BaseSelector
    containers: dict[str, Container]

    def _stop(self, c: Container, sig: int, timeout: float) -> None:
        raise NotImplementedError

    def _end(self, c: Container) -> None:
        raise NotImplementedError

    def _finalize(self, c: Container) -> None:
        raise NotImplementedError

    def _attach_local(self, c: Container, local: LocalAttach) -> None:
        c.attached_once = True
        if local.tty:
            self._resize_from(c, local.stdin_fd)
        if local.stdin:
            os.set_blocking(local.stdin_fd, False)
            self.sel.register(local.stdin_fd, selectors.EVENT_READ,
                              lambda ev: self._on_local_stdin(c, local))

    def _on_local_stdin(self, c: Container, local: LocalAttach) -> None:
        try:
            data = os.read(local.stdin_fd, 65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if data:
            self._to_stdin(c, data)
            return
        self.sel.unregister(local.stdin_fd)
        os.set_blocking(local.stdin_fd, True)
        local.stdin = False
        if not c.config.tty:
            self._close_stdin(c)

    def _resize_from(self, c: Container, fd: int) -> None:
        if c.master is None:
            return
        try:
            size = os.get_terminal_size(fd)
        except OSError:
            return
        _set_winsize(c.master, size.lines, size.columns)

    def _listen(self, c: Container) -> None:
        c.paths.run_dir.mkdir(parents=True, exist_ok=True)
        try:
            c.paths.sock.unlink()
        except FileNotFoundError:
            pass
        lst = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        lst.bind(str(c.paths.sock))
        lst.listen(16)
        lst.setblocking(False)
        c.listener = lst
        self.sel.register(lst, selectors.EVENT_READ, lambda ev: self._accept(c))

    # ---- launching -------------------------------------------------------------------------

    def _broadcast(self, c: Container, frame: bytes) -> None:
        if c.local is not None:
            stream, _ = FRAME.unpack_from(frame)
            if stream == EXIT:
                c.local.exit_code = int(frame[FRAME.size:] or b"0")
            elif not c.local.broken:
                c.local.write(stream, frame[FRAME.size:])
                if c.local.broken and c.pid:  # as a pipeline's writer dies of SIGPIPE
                    self._stop(c, signal.SIGKILL, 0)
        if len(c.replay) < REPLAY_MAX:
            c.replay += frame
        for cl in c.clients:
            if cl.op == "attach":
                self._send(cl, frame)

    def _send(self, cl: Client, data: bytes) -> None:
        if not cl.wbuf:
            try:
                n = cl.sock.send(data)
            except BlockingIOError:
                n = 0
            except OSError:
                self._drop_client(cl)
                return
            data = data[n:]
        if data:
            cl.wbuf += data
            if cl.handler is not None:  # was unregistered after its EOF: watch writes again
                self.sel.register(cl.sock, selectors.EVENT_WRITE, cl.handler)
                cl.handler = None
            self._watch(cl)

    def _watch(self, cl: Client) -> None:
        """Select on what ``cl`` still needs: reading until its EOF, writing while queued."""
        events = (0 if cl.read_closed else selectors.EVENT_READ) | (
            selectors.EVENT_WRITE if cl.wbuf else 0)
        try:
            key = self.sel.get_key(cl.sock)
        except (KeyError, ValueError):
            return
        if events:
            self.sel.modify(cl.sock, events, key.data)
        else:
            self.sel.unregister(cl.sock)
            cl.handler = key.data

    def _accept(self, c: Container) -> None:
        assert c.listener is not None
        try:
            sock, _ = c.listener.accept()
        except BlockingIOError:
            return
        sock.setblocking(False)
        cl = Client(sock)
        c.clients.append(cl)
        self.sel.register(sock, selectors.EVENT_READ, lambda ev: self._on_client(c, cl, ev))

    def _on_client(self, c: Container, cl: Client, events: int) -> None:
        if events & selectors.EVENT_WRITE and cl.wbuf:
            try:
                n = cl.sock.send(cl.wbuf)
                del cl.wbuf[:n]
            except BlockingIOError:
                pass
            except OSError:
                self._drop_client(cl)
                return
            if not cl.wbuf and cl.closing:
                self._drop_client(cl)
                return
            self._watch(cl)
        if not events & selectors.EVENT_READ:
            return
        try:
            data = cl.sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not cl.op:
            cl.rbuf += data
            if b"\n" not in cl.rbuf:
                if not data:
                    self._drop_client(cl)
                return
            line, _, rest = cl.rbuf.partition(b"\n")
            cl.rbuf = b""
            self._request(c, cl, json.loads(line))
            data = rest if rest or data else b""
            if not data and not rest:
                return
        if cl.op == "attach" and cl.stdin:
            if data:
                self._to_stdin(c, data)
            else:
                cl.stdin = False
                if not c.config.tty:
                    self._close_stdin(c)
        if not data:
            cl.read_closed = True
            if cl.op not in ("attach", "wait", "stop") and not cl.wbuf:
                self._drop_client(cl)
            else:
                self._watch(cl)

    def _request(self, c: Container, cl: Client, req: dict[str, Any]) -> None:
        op = req.get("op", "")
        cl.op = op
        if op == "attach":
            cl.stdin = bool(req.get("stdin"))
            c.attached_once = True
            if req.get("rows") and c.master is not None:
                _set_winsize(c.master, int(req["rows"]), int(req["cols"]))
            if req.get("replay", True):
                self._send(cl, bytes(c.replay))
            if c.exit_code is not None and c.finalize_at is not None:
                self._finalize(c)
        elif op == "wait":
            if (c.exit_code is not None and c.pid is None and c.restart_at is None
                    and not c.releasing):  # else: told once the cleanup is done
                self._reply(cl, {"exit_code": c.exit_code})
        elif op == "stop":
            c.keep_record = c.keep_record or bool(req.get("keep"))
            sig = req.get("signal")
            self._stop(c, _stop_signal(c.config) if sig is None else int(sig),
                       float(req.get("timeout", 10)))
        elif op == "kill":
            c.manual_stop = True
            c.keep_record = c.keep_record or bool(req.get("keep"))
            sig = req.get("signal")  # 0 is a signal number (a probe), not "default"
            if c.pid:
                _kill(c.pid, signal.SIGKILL if sig is None else int(sig))
                _thaw(c)  # a frozen process cannot act on the signal
            elif c.restart_at is not None:
                c.restart_at = None
                self._end(c)
            self._reply(cl, {"ok": True})
        elif op == "resize":
            if c.master is not None:
                _set_winsize(c.master, int(req["rows"]), int(req["cols"]))
            self._reply(cl, {"ok": True})
        else:
            self._reply(cl, {"error": f"unknown op {op!r}"})

    def _reply(self, cl: Client, msg: dict[str, Any]) -> None:
        cl.closing = True
        self._send(cl, json.dumps(msg).encode() + b"\n")
        if not cl.wbuf:
            self._drop_client(cl)

    def _drop_client(self, cl: Client) -> None:
        for c in self.containers.values():
            if cl in c.clients:
                c.clients.remove(cl)
        try:
            self.sel.unregister(cl.sock)
        except (KeyError, ValueError):
            pass
        cl.sock.close()

    def _to_stdin(self, c: Container, data: bytes) -> None:
        fd = c.master if c.config.tty else c.stdin_fd
        if fd is None:
            return
        try:
            os.write(fd, data)  # small writes; a pty/pipe buffer holds them
        except BlockingIOError:
            c.stdin_buf += data
        except OSError:
            pass

    def _close_stdin(self, c: Container) -> None:
        if c.stdin_fd is not None:
            os.close(c.stdin_fd)
            c.stdin_fd = None

    # ---- stopping, exiting, restarting ---------------------------------------------------------


__all__ = ["EXIT", "FRAME", "REPLAY_MAX", "STDERR", "STDOUT", "Client", "ClientsMixin",
           "LocalAttach", "encode_frame"]
