"""The embedded DNS responder's relay: names it does not know, asked of the host's
resolvers without a thread (memory: a monitor's threads each cost a stack and
a glibc arena; bench/monitor_memory.py).

One non-blocking UDP socket in the host namespace carries every query in flight
for one responder; it is registered in the owner's selector (the monitor's loop,
or the responder's own in thread mode) and closed as soon as nothing is in
flight, so an idle container holds no socket for it, and each burst of queries
leaves from a fresh random port. A query travels like this::

    client --(query, id I)--> responder --(same bytes, random id R)--> upstream 1
           <--(reply, id I)--           <--(reply, id R)------------
                                         (no reply by the deadline: upstream 2, ...;
                                          none left: SERVFAIL to the client)

Ids are rewritten because the clients of one responder choose theirs
independently; a reply is taken only from a configured upstream, for a pending
id, with the question we asked (what a blind off-path forger must guess: the
port, the id and the name). At most ``max_in_flight`` queries are pending; more
are dropped, as a busy resolver does, and the client asks again. A client's
retransmission of a query still pending is dropped too (the first answer will do).

UDP: a reply with TC set passes through unchanged, and the client asks again over
TCP, which dns_tcp.py relays on a connection of its own per query.

stdlib only, no wire parsing beyond the id: the responder hands over the
question bytes and the SERVFAIL reply to send if every upstream fails.
"""

from __future__ import annotations

import os
import selectors
import socket
import sys
from collections.abc import Callable, Sequence

TYPE_CHECKING = False
if TYPE_CHECKING:
    Peer = tuple[str, int]

_READ_BURST = 64  # datagrams read per wake-up: a full queue cannot starve the loop


class _Pending:
    __slots__ = ("client_id", "deadline", "next_upstream", "peer", "query", "question",
                 "servfail")

    def __init__(self, query: bytes, client_id: bytes, question: bytes, peer: Peer,
                 servfail: bytes) -> None:
        self.query = query  # as sent upstream: with our id
        self.client_id = client_id
        self.question = question.lower()
        self.peer = peer
        self.servfail = servfail
        self.next_upstream = 0
        self.deadline = 0.0


class Relay:
    """Queries in flight to the upstream resolvers of one responder."""

    def __init__(self, upstreams: Sequence[tuple[str, int]],
                 deliver: Callable[[bytes, Peer], None], *, clock: Callable[[], float],
                 timeout: float, max_in_flight: int) -> None:
        self.upstreams = list(upstreams)
        self._known = set(self.upstreams)
        self.deliver = deliver  # sends a reply to a client (from the namespace socket)
        self.clock = clock
        self.timeout = timeout
        self.max_in_flight = max_in_flight
        self.sock: socket.socket | None = None
        self.dropped = 0  # queries refused because max_in_flight were pending
        self._busy = False  # said so once; quiet until the table has drained
        self._pending: dict[int, _Pending] = {}  # by our id
        self._clients: set[tuple[Peer, bytes]] = set()  # (peer, client id) pending
        self._sel: selectors.BaseSelector | None = None

    @property
    def in_flight(self) -> int:
        return len(self._pending)

    def attach(self, sel: selectors.BaseSelector) -> None:
        """Serve replies from ``sel``'s loop; its owner calls ``next_at``/``tick``."""
        self._sel = sel
        if self.sock is not None:
            sel.register(self.sock, selectors.EVENT_READ, self._reader(self.sock))

    def close(self) -> None:
        """Forget every pending query (their clients ask again) and free the socket."""
        self._pending.clear()
        self._clients.clear()
        self._busy = False
        self._close_socket()
        self._sel = None

    def forward(self, query: bytes, question: bytes, peer: Peer, servfail: bytes) -> None:
        """Relay ``query`` (whose question section is ``question``) for ``peer``;
        ``servfail`` goes back if no upstream answers."""
        client = (peer, query[:2])
        if client in self._clients:
            return
        if len(self._pending) >= self.max_in_flight:
            self.dropped += 1
            if not self._busy:  # the monitor's log: once per busy spell, not per query
                self._busy = True
                sys.stderr.write(f"dns relay: {self.max_in_flight} queries in flight to "
                                 f"{self.upstreams}; dropping more until they are done\n")
            return
        while True:
            qid = int.from_bytes(os.urandom(2), "big")
            if qid not in self._pending:
                break
        p = _Pending(qid.to_bytes(2, "big") + query[2:], query[:2], question, peer, servfail)
        self._pending[qid] = p
        self._clients.add(client)
        self._send_next(qid, p)

    def next_at(self) -> float | None:
        """The earliest deadline of a pending query (for the loop's select timeout)."""
        return min((p.deadline for p in self._pending.values()), default=None)

    def tick(self, now: float) -> None:
        """Move queries past their deadline on to the next upstream, or fail them."""
        for qid, p in list(self._pending.items()):
            if now >= p.deadline and self._pending.get(qid) is p:
                self._send_next(qid, p)

    # ---- internals -------------------------------------------------------------------
    def _send_next(self, qid: int, p: _Pending) -> None:
        """Ask the next upstream; with none left (or none that takes it), fail."""
        while p.next_upstream < len(self.upstreams):
            sock = self._socket()
            if sock is None:
                break
            upstream = self.upstreams[p.next_upstream]
            p.next_upstream += 1
            try:
                sock.sendto(p.query, upstream)
            except OSError:  # unroutable from here, say: the next one may do
                continue
            p.deadline = self.clock() + self.timeout
            return
        self._finish(qid, p, p.servfail)

    def _finish(self, qid: int, p: _Pending, reply: bytes) -> None:
        del self._pending[qid]
        self._clients.discard((p.peer, p.client_id))
        self.deliver(reply, p.peer)
        if not self._pending:
            self._busy = False
            self._close_socket()  # idle: hold nothing; the next burst gets a new port

    def _socket(self) -> socket.socket | None:
        if self.sock is None:
            try:
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            except OSError:  # out of fds: answer SERVFAIL rather than stall
                return None
            s.setblocking(False)
            self.sock = s
            if self._sel is not None:
                self._sel.register(s, selectors.EVENT_READ, self._reader(s))
        return self.sock

    def _close_socket(self) -> None:
        s, self.sock = self.sock, None
        if s is None:
            return
        if self._sel is not None:
            try:
                self._sel.unregister(s)
            except (KeyError, ValueError):
                pass
        s.close()

    def _reader(self, sock: socket.socket) -> Callable[[int], None]:
        # bound to this socket object, not its fd number: a select round may report
        # a socket we closed earlier in the same round, whose number is reused
        return lambda events: self._read_replies(sock)

    def _read_replies(self, sock: socket.socket) -> None:
        for _ in range(_READ_BURST):
            if sock is not self.sock:
                return
            try:
                reply, source = sock.recvfrom(65535)
            except OSError:  # drained (BlockingIOError), or closed under us
                return
            self._take(reply, source)

    def _take(self, reply: bytes, source: Peer) -> None:
        if len(reply) < 12 or source not in self._known:
            return
        qid = int.from_bytes(reply[:2], "big")
        p = self._pending.get(qid)
        if p is None or reply[12: 12 + len(p.question)].lower() != p.question:
            return  # late (answered or failed already), or not for what we asked
        self._finish(qid, p, p.client_id + reply[2:])


__all__ = ["Relay"]
