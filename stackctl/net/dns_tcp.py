"""The embedded DNS responder over TCP: where a client asks again when a UDP answer
came back truncated (TC set: too many records, large TXT or DNSSEC answers), as
RFC 7766 wants every DNS server to allow. Imported on the first connection only.

Served from the responder's loop (the monitor's), without threads: each client
connection and each relayed query is a small object whose socket is in the
selector, and whose deadline joins the loop's timers (Responder.next_at/tick)::

    client --(len, query)--> responder: a name it knows: answered at once
                             otherwise: a TCP connection to upstream 1
                                        (non-blocking connect), the query written,
                                        the answer read and passed back unchanged;
                                        refused, closed or silent past the timeout:
                                        upstream 2, ...; none left: SERVFAIL

Queries on one connection are answered in order, one at a time (pipelined ones
wait in its buffer). A connection idle for IDLE seconds is closed; at most
MAX_CONNECTIONS are open per responder, more are closed on accept.

No wire parsing here: ``resolve(query)`` (the responder's) says what to do with a
query: (reply, None) answer it, (None, servfail) relay it, (None, None) unreadable.
"""

from __future__ import annotations

import errno
import selectors
import socket
import struct
from collections.abc import Callable, Sequence

IDLE = 10.0  # seconds a client connection may sit idle (RFC 7766 suggests seconds)
MAX_CONNECTIONS = 16  # per responder: TCP is the rare path
_MAX_BUFFERED = 4 * 65537  # a client sending more than this unanswered is closed

TYPE_CHECKING = False
if TYPE_CHECKING:
    Resolve = Callable[[bytes], tuple[bytes | None, bytes | None]]


def frame(message: bytes) -> bytes:
    return struct.pack("!H", len(message)) + message


class _Client:
    __slots__ = ("deadline", "eof", "events", "rbuf", "sock", "upstream", "wbuf")

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self.sock: socket.socket | None = sock
        self.rbuf = bytearray()
        self.wbuf = bytearray()
        self.deadline = deadline  # idle until then
        self.eof = False  # the client has sent all it will
        self.upstream: _Upstream | None = None  # the query being relayed
        self.events = selectors.EVENT_READ  # what the selector watches for it (0: none)


class _Upstream:
    __slots__ = ("client", "deadline", "next_upstream", "query", "rbuf", "sent",
                 "servfail", "sock")

    def __init__(self, client: _Client, query: bytes, servfail: bytes) -> None:
        self.client = client
        self.query = frame(query)
        self.servfail = servfail
        self.next_upstream = 0
        self.sock: socket.socket | None = None
        self.sent = 0
        self.rbuf = bytearray()
        self.deadline = 0.0


class TcpServer:
    """The TCP connections of one responder (its listener stays the responder's)."""

    def __init__(self, resolve: Resolve, upstreams: Sequence[tuple[str, int]],
                 sel: selectors.BaseSelector, *, clock: Callable[[], float],
                 timeout: float, idle: float = IDLE,
                 max_connections: int = MAX_CONNECTIONS) -> None:
        self.resolve = resolve
        self.upstreams = list(upstreams)
        self.sel = sel
        self.clock = clock
        self.timeout = timeout
        self.idle = idle
        self.max_connections = max_connections
        self.clients: list[_Client] = []

    def accept(self, listener: socket.socket) -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:  # none left (BlockingIOError), or out of fds
                return
            if len(self.clients) >= self.max_connections:
                conn.close()  # busy: the client tries its next server, or again
                continue
            conn.setblocking(False)
            c = _Client(conn, self.clock() + self.idle)
            self.clients.append(c)
            self.sel.register(conn, selectors.EVENT_READ, self._client_events(c))

    def next_at(self) -> float | None:
        return min((c.upstream.deadline if c.upstream is not None else c.deadline
                    for c in self.clients), default=None)

    def tick(self, now: float) -> None:
        for c in list(self.clients):
            if c.upstream is not None:
                if now >= c.upstream.deadline:
                    self._try_next(c.upstream)  # silent: the next upstream, or SERVFAIL
            elif now >= c.deadline:
                self._close(c)

    def close(self) -> None:
        for c in list(self.clients):
            self._close(c)

    # ---- client side -------------------------------------------------------------------
    def _client_events(self, c: _Client) -> Callable[[int], None]:
        return lambda events: self._on_client(c, events)

    def _on_client(self, c: _Client, events: int) -> None:
        if c.sock is None:  # closed earlier in this select round
            return
        if events & selectors.EVENT_WRITE:
            self._flush(c)
        if events & selectors.EVENT_READ and c.sock is not None:
            try:
                data = c.sock.recv(65536)
            except BlockingIOError:
                data = None
            except OSError:  # reset by the client
                self._close(c)
                return
            if data == b"":
                c.eof = True
            elif data:
                c.rbuf += data
                c.deadline = self.clock() + self.idle
                if len(c.rbuf) > _MAX_BUFFERED:
                    self._close(c)
                    return
            self._serve(c)
        self._settle(c)

    def _serve(self, c: _Client) -> None:
        """Answer the complete queries in ``c``'s buffer, until one must be relayed."""
        while c.sock is not None and c.upstream is None and len(c.rbuf) >= 2:
            n = struct.unpack("!H", c.rbuf[:2])[0]
            if len(c.rbuf) < 2 + n:
                return
            query = bytes(c.rbuf[2: 2 + n])
            del c.rbuf[: 2 + n]
            reply, servfail = self.resolve(query)
            if reply is not None:
                c.wbuf += frame(reply)
                self._flush(c)
            elif servfail is not None:
                c.upstream = _Upstream(c, query, servfail)
                self._try_next(c.upstream)
            else:  # not a query we can read: a server may close the connection
                self._close(c)

    def _flush(self, c: _Client) -> None:
        if c.sock is None or not c.wbuf:
            return
        try:
            sent = c.sock.send(c.wbuf)
        except BlockingIOError:
            return
        except OSError:
            self._close(c)
            return
        del c.wbuf[:sent]

    def _settle(self, c: _Client) -> None:
        """Watch what ``c`` waits for; close it once it is done both ways."""
        if c.sock is None:
            return
        if c.eof and c.upstream is None and not c.wbuf:
            self._close(c)  # the client is done, and so are we
            return
        # after EOF, never watch for reading: EOF stays readable and would spin the loop
        want = (0 if c.eof else selectors.EVENT_READ) | (
            selectors.EVENT_WRITE if c.wbuf else 0)
        if want == c.events:
            return
        if c.events == 0:
            self.sel.register(c.sock, want, self._client_events(c))
        elif want == 0:
            self.sel.unregister(c.sock)
        else:
            self.sel.modify(c.sock, want, self._client_events(c))
        c.events = want

    def _close(self, c: _Client) -> None:
        if c.upstream is not None:
            self._drop_upstream(c.upstream)
            c.upstream = None
        if c.sock is not None:
            if c.events:
                _unregister(self.sel, c.sock)
            c.sock.close()
            c.sock = None
        if c in self.clients:
            self.clients.remove(c)

    # ---- upstream side -----------------------------------------------------------------
    def _try_next(self, u: _Upstream) -> None:
        """Connect to the next upstream; with none left, SERVFAIL to the client."""
        self._drop_upstream(u)
        while u.next_upstream < len(self.upstreams):
            address = self.upstreams[u.next_upstream]
            u.next_upstream += 1
            try:
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            except OSError:  # out of fds
                break
            s.setblocking(False)
            err = s.connect_ex(address)
            if err not in (0, errno.EINPROGRESS):
                s.close()
                continue
            u.sock, u.sent, u.rbuf = s, 0, bytearray()
            u.deadline = self.clock() + self.timeout
            self.sel.register(s, selectors.EVENT_WRITE,
                              lambda events, u=u, s=s: self._on_upstream(u, s))
            return
        self._answered(u, u.servfail)

    def _on_upstream(self, u: _Upstream, s: socket.socket) -> None:
        if u.sock is not s:  # given up on earlier in this select round
            return
        if u.sent < len(u.query):  # connecting, then writing the query
            if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                self._try_next(u)  # refused, unreachable
                return
            try:
                u.sent += s.send(u.query[u.sent:])
            except BlockingIOError:
                return
            except OSError:
                self._try_next(u)
                return
            if u.sent == len(u.query):
                self.sel.modify(s, selectors.EVENT_READ,
                                lambda events, u=u, s=s: self._on_upstream(u, s))
            return
        try:
            data = s.recv(65537)
        except BlockingIOError:
            return
        except OSError:
            self._try_next(u)
            return
        if not data:  # closed before answering
            self._try_next(u)
            return
        u.rbuf += data
        if len(u.rbuf) >= 2:
            n = struct.unpack("!H", u.rbuf[:2])[0]
            if len(u.rbuf) >= 2 + n:
                self._answered(u, bytes(u.rbuf[2: 2 + n]))

    def _answered(self, u: _Upstream, reply: bytes) -> None:
        self._drop_upstream(u)
        c = u.client
        c.upstream = None
        if c.sock is None:
            return
        c.wbuf += frame(reply)
        c.deadline = self.clock() + self.idle
        self._flush(c)
        self._serve(c)  # the next query it sent meanwhile
        self._settle(c)

    def _drop_upstream(self, u: _Upstream) -> None:
        s, u.sock = u.sock, None
        if s is not None:
            _unregister(self.sel, s)
            s.close()


def _unregister(sel: selectors.BaseSelector, s: socket.socket) -> None:
    try:
        sel.unregister(s)
    except (KeyError, ValueError):  # the loop closed first
        pass


__all__ = ["IDLE", "MAX_CONNECTIONS", "TcpServer", "frame"]
