"""The embedded DNS responder: container names that are always current.

Each container's resolv.conf says ``nameserver 127.0.0.11``; a UDP socket
bound there *inside the container's network namespace* (made by a thread that
setns()es in; the socket keeps that namespace for life) is served by a loop
in the container's monitor. Every query is answered from the state store as
it is at that moment:

* A records for container names, short ids, service names and aliases of
  every endpoint that shares a network with the asking container, all of
  them (replicas under one name all resolve, in shuffled order);
* anything else is relayed to the host's resolvers (or ``$STACKCTL_DNS``),
  from a socket in the host namespace, and the answer is passed back with the
  client's id. The relay (dns_relay.py) is event-driven: queries in flight are
  entries in a table, served by the same loop, with deadlines it folds into the
  loop's timers; no thread (each would cost the monitor a stack and an arena).

Over UDP and TCP both, as Docker's: an answer too big for the client's UDP limit
(512 bytes, or its EDNS size: 40 replicas under one name) goes back truncated,
and the client asks again over TCP (dns_tcp.py, loaded on the first connection).

Why DNS first, and hosts files only beside it: a hosts file bind-mounted
into a container cannot be replaced atomically (a rename breaks the bind
mount, an in-place rewrite can be read half-written), every endpoint change
rewrites the file of every container on the network (O(n^2) writes for an
``up`` of n services), and clients that speak DNS themselves never read it.
The responder reads the store per query (~0.1 ms): always current, all
replicas, nothing to rewrite. The hosts files (hostsfile.py) are kept current
too, as the fallback for libc clients while no responder runs.

stdlib only (the monitor imports the standard library only).
"""

from __future__ import annotations

import _thread
import os
import selectors
import socket
import sqlite3
import struct
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from stackctl.lightdc import dataclass

TYPE_CHECKING = False
if TYPE_CHECKING:
    import threading

    from stackctl.net.dns_relay import Relay
    from stackctl.net.dns_tcp import TcpServer

DNS_ADDRESS = "127.0.0.11"
DNS_PORT = 53
TTL = 0  # answers must not be cached: a recreated peer has a new address
QTYPE_A, QTYPE_AAAA, QCLASS_IN = 1, 28, 1
RCODE_SERVFAIL, RCODE_NXDOMAIN = 2, 3
RELAY_TIMEOUT = 3.0  # per upstream tried; glibc's own timeout is 5 s
MAX_IN_FLIGHT = 128  # relayed UDP queries per responder; Docker's resolver allows 1024


@dataclass(frozen=True)
class Question:
    id: int
    flags: int
    name: str
    qtype: int
    qclass: int
    raw_question: bytes  # the question section, echoed back in answers


def parse_query(data: bytes) -> Question | None:
    """The first question of a query, or None when it is not one we can read."""
    if len(data) < 12:
        return None
    qid, flags, qdcount = struct.unpack("!HHH", data[:6])
    if flags & 0x8000 or qdcount < 1:
        return None
    labels, pos = [], 12
    while True:
        if pos >= len(data):
            return None
        n = data[pos]
        if n == 0:
            pos += 1
            break
        if n & 0xC0 or pos + 1 + n > len(data):
            return None
        labels.append(data[pos + 1: pos + 1 + n].decode("ascii", "replace"))
        pos += 1 + n
    if pos + 4 > len(data):
        return None
    qtype, qclass = struct.unpack("!HH", data[pos: pos + 4])
    return Question(qid, flags, ".".join(labels), qtype, qclass, data[12: pos + 4])


def build_answer(q: Question, addresses: Sequence[str], *, rcode: int = 0,
                 truncated: bool = False) -> bytes:
    """A response with one A record per address (name compressed to the question);
    ``truncated``: none, and TC set (the client asks again over TCP)."""
    # QR, opcode copied, AA, TC, RD copied, RA
    flags = 0x8000 | (q.flags & 0x7900) | 0x0400 | 0x0080 | rcode
    if truncated:
        flags, addresses = flags | 0x0200, ()
    head = struct.pack("!HHHHHH", q.id, flags, 1, len(addresses), 0, 0)
    body = b"".join(
        struct.pack("!HHHIH", 0xC00C, QTYPE_A, QCLASS_IN, TTL, 4) + socket.inet_aton(a)
        for a in addresses
    )
    return head + q.raw_question + body


def udp_limit(data: bytes, q: Question) -> int:
    """The largest UDP answer the client of query ``data`` takes: 512 bytes, or the
    payload size of its EDNS OPT record (RFC 6891), which stub resolvers put first
    among the additional records."""
    end = 12 + len(q.raw_question)
    if data[10:12] != b"\x00\x00" and data[end: end + 3] == b"\x00\x00\x29" \
            and len(data) >= end + 5:
        return max(512, int.from_bytes(data[end + 3: end + 5], "big"))
    return 512


def build_query(name: str, qtype: int = QTYPE_A, qid: int | None = None) -> bytes:
    """A recursive query for ``name`` (used by tests and the bench)."""
    qid = int.from_bytes(os.urandom(2), "big") if qid is None else qid
    labels = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".") if p)
    return struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + labels + b"\0" + \
        struct.pack("!HH", qtype, QCLASS_IN)


def parse_answer_addresses(data: bytes) -> tuple[int, list[str]]:
    """(rcode, A addresses) of a response: enough for tests and the bench."""
    rcode = data[3] & 0x0F
    ancount = struct.unpack("!H", data[6:8])[0]
    pos = 12
    while data[pos] != 0:  # skip question name (never compressed in questions)
        pos += 1 + data[pos]
    pos += 5
    out = []
    for _ in range(ancount):
        if data[pos] & 0xC0:
            pos += 2
        else:
            while data[pos] != 0:
                pos += 1 + data[pos]
            pos += 1
        rtype, _cls, _ttl, rdlen = struct.unpack("!HHIH", data[pos: pos + 10])
        pos += 10
        if rtype == QTYPE_A and rdlen == 4:
            out.append(socket.inet_ntoa(data[pos: pos + 4]))
        pos += rdlen
    return rcode, out


class StoreLookup:
    """Names visible to one container, read from the state store per query."""

    _SQL = """
        SELECT DISTINCT e.ip FROM endpoints e
        LEFT JOIN containers c ON c.id = e.container_id
        WHERE e.network_id IN (SELECT network_id FROM endpoints WHERE container_id = :me)
          AND (lower(c.name) = :name OR substr(e.container_id, 1, 12) = :name
               OR EXISTS (SELECT 1 FROM json_each(e.aliases) a WHERE lower(a.value) = :name))
    """

    def __init__(self, db_path: Path, container_id: str,
                 db: sqlite3.Connection | None = None) -> None:
        self.db_path = db_path
        self.container_id = container_id
        self._db = db  # the monitor's own connection, when given: one page cache

    # the asking container's links (``NAME:ALIAS``, ContainerConfig.links): an alias is
    # visible to the container that declares it only, as with Docker's links
    _LINKS = """
        SELECT l.value FROM containers c, json_each(json_extract(c.config, '$.links')) l
        WHERE c.id = :me
    """

    def __call__(self, name: str) -> list[str]:
        if self._db is None:
            self._db = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True,
                                       timeout=2, check_same_thread=False)
        name = name.lower().rstrip(".")
        for (link,) in self._db.execute(self._LINKS, {"me": self.container_id}):
            target, _, alias = str(link).rpartition(":")
            if alias.lower() == name and target:
                name = target.lower()
                break
        rows = self._db.execute(self._SQL, {"me": self.container_id,
                                            "name": name}).fetchall()
        ips = [r[0] for r in rows]
        ips.sort(key=lambda _ip: os.urandom(4))  # shuffled: spreads clients over replicas
        return ips


UPSTREAMS_ENV = "STACKCTL_DNS"


def host_upstreams(resolv_conf: Path = Path("/etc/resolv.conf")) -> list[str]:
    """The resolvers names are relayed to: ``$STACKCTL_DNS`` when set (``ADDR[:PORT]``,
    comma- or space-separated: what dockerd's ``--dns`` is to Docker's embedded DNS),
    else the host's nameservers (loopback ones are unreachable from a container but
    reachable from the relay socket, which lives in the host namespace). IPv4 only."""
    env = os.environ.get(UPSTREAMS_ENV, "").replace(",", " ").split()
    if env:
        return env
    out = []
    try:
        for line in resolv_conf.read_text().splitlines():
            parts = line.split()
            if len(parts) >= 2 and parts[0] == "nameserver" and ":" not in parts[1]:
                out.append(parts[1])
    except OSError:
        pass
    return out


def _addresses(upstreams: Sequence[str], default_port: int) -> list[tuple[str, int]]:
    """``ADDR`` or ``ADDR:PORT`` -> (ADDR, PORT); IPv4 literals only, the rest skipped
    (a host name would need a blocking lookup, on the loop that serves lookups)."""
    out = []
    for upstream in upstreams:
        host, sep, port = upstream.rpartition(":")
        if not sep:
            host, port = upstream, str(default_port)
        try:
            socket.inet_pton(socket.AF_INET, host)
        except OSError:
            continue
        if port.isdigit() and 0 < int(port) < 65536:
            out.append((host, int(port)))
    return out


def bind_in_netns(netns: Path, address: str = DNS_ADDRESS, port: int = DNS_PORT
                  ) -> socket.socket:
    """A UDP socket bound to ``address:port`` inside ``netns``."""
    from stackctl.net.netns import run_in_netns

    def make() -> socket.socket:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((address, port))
        return s

    return run_in_netns(netns, make)


def bind_both_in_netns(netns: Path, address: str = DNS_ADDRESS, port: int = DNS_PORT
                       ) -> tuple[socket.socket, socket.socket]:
    """UDP and listening TCP sockets on ``address:port`` inside ``netns`` (one setns)."""
    from stackctl.net.netns import run_in_netns

    def make() -> tuple[socket.socket, socket.socket]:
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            udp.bind((address, port))
            # bindable while an earlier responder's connections linger in TIME_WAIT
            tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            tcp.bind((address, port))
            tcp.listen(8)
        except OSError:
            udp.close()
            tcp.close()
            raise
        return udp, tcp

    return run_in_netns(netns, make)


class Responder:
    """Answers the queries that reach one bound UDP socket (and, when given, a
    listening TCP socket: dns_tcp.py), relaying what it does not know
    (dns_relay.py). Event-driven, threads of its own: none.

    In a selector loop (the monitor): ``attach(sel)``, fold ``next_at()`` into the
    select timeout and call ``tick(now)`` after each round; ``close()`` at the end.
    Alone: ``serve()`` in a thread runs such a loop until ``stop()``.
    """

    def __init__(self, sock: socket.socket, lookup: Callable[[str], list[str]],
                 upstreams: Sequence[str], *, upstream_port: int = 53,
                 timeout: float = RELAY_TIMEOUT, max_in_flight: int = MAX_IN_FLIGHT,
                 clock: Callable[[], float] = time.monotonic,
                 tcp: socket.socket | None = None) -> None:
        self.sock = sock
        sock.setblocking(False)  # read until drained, in whatever loop serves it
        self.tcp = tcp
        if tcp is not None:
            tcp.setblocking(False)
        self.lookup = lookup
        self.clock = clock
        self.timeout = timeout
        self.upstreams = _addresses(upstreams, upstream_port)
        self.max_in_flight = max_in_flight
        self._relay: Relay | None = None  # made at the first name we do not know
        self._connections: TcpServer | None = None  # made at the first connection
        self._sel: selectors.BaseSelector | None = None
        # serve()'s wake-up pair, made on first use: a monitor serving many containers
        # from its own loop needs none (2 fds each); _thread: builtin, costs nothing
        self._stop: tuple[socket.socket, socket.socket] | None = None
        self._stop_lock = _thread.allocate_lock()

    # ---- in a loop -------------------------------------------------------------------
    def attach(self, sel: selectors.BaseSelector) -> None:
        """Serve from ``sel``, whose callbacks are ``key.data(events)``."""
        self._sel = sel
        sel.register(self.sock, selectors.EVENT_READ, lambda events: self.handle_waiting())
        if self.tcp is not None:
            sel.register(self.tcp, selectors.EVENT_READ, lambda events: self._accept())
        if self._relay is not None:
            self._relay.attach(sel)

    def next_at(self) -> float | None:
        """When ``tick`` has work: the first deadline of a relayed query or connection."""
        times = [self._relay.next_at() if self._relay else None,
                 self._connections.next_at() if self._connections else None]
        return min((t for t in times if t is not None), default=None)

    def tick(self, now: float) -> None:
        if self._relay is not None:
            self._relay.tick(now)
        if self._connections is not None:
            self._connections.tick(now)

    def close(self) -> None:
        """Leave the loop and free every socket, the relay's and connections' included."""
        self._detach()
        self.sock.close()
        if self.tcp is not None:
            self.tcp.close()
        if self._stop is not None:
            for s in self._stop:
                s.close()

    # ---- alone, in a thread ------------------------------------------------------------
    def serve(self) -> None:
        """A loop of its own until ``stop()``."""
        sel = selectors.DefaultSelector()
        stop_r = self._stop_pair()[0]
        sel.register(stop_r, selectors.EVENT_READ)
        self.attach(sel)
        try:
            while True:
                at = self.next_at()
                ready = sel.select(None if at is None else max(0.0, at - self.clock()))
                for key, events in ready:
                    if key.fileobj is stop_r:
                        return
                    key.data(events)
                self.tick(self.clock())
        finally:
            self._detach()  # queries in flight are forgotten: their clients ask again
            sel.close()

    def stop(self) -> None:
        self._stop_pair()[1].send(b"x")  # before serve() began: it returns at once

    def _stop_pair(self) -> tuple[socket.socket, socket.socket]:
        with self._stop_lock:  # stop() and serve() run in different threads
            if self._stop is None:
                self._stop = socket.socketpair()
            return self._stop

    def _detach(self) -> None:
        sel, self._sel = self._sel, None
        if self._connections is not None:
            self._connections.close()
            self._connections = None
        if self._relay is not None:
            self._relay.close()
        if sel is not None:
            for s in (self.sock, self.tcp):
                try:
                    if s is not None:
                        sel.unregister(s)
                except (KeyError, ValueError):  # its loop closed first
                    pass

    # ---- queries ---------------------------------------------------------------------
    @property
    def relay(self) -> Relay:
        """The UDP relay (dns_relay.py), made on first use: a container that only asks
        for its peers never imports it (~0.4 ms on the start path of every monitor)."""
        if self._relay is None:
            from stackctl.net import dns_relay

            self._relay = dns_relay.Relay(self.upstreams, self._send, clock=self.clock,
                                          timeout=self.timeout,
                                          max_in_flight=self.max_in_flight)
            if self._sel is not None:
                self._relay.attach(self._sel)
        return self._relay

    def _accept(self) -> None:
        if self._sel is None or self.tcp is None:
            return
        if self._connections is None:
            from stackctl.net import dns_tcp  # TCP is the rare path: loaded when used

            self._connections = dns_tcp.TcpServer(self.resolve, self.upstreams,
                                                  self._sel, clock=self.clock,
                                                  timeout=self.timeout)
        self._connections.accept(self.tcp)

    def resolve(self, data: bytes) -> tuple[bytes | None, bytes | None]:
        """(our reply, None), or (None, the SERVFAIL to send if relaying fails), or
        (None, None) for what is not a query we can read."""
        q = parse_query(data)
        if q is None:
            return None, None
        reply = self.answer(data, q)
        if reply is not None:
            return reply, None
        return None, build_answer(q, [], rcode=RCODE_SERVFAIL)

    def handle_waiting(self) -> None:
        """Answer the waiting queries (a burst at most: the loop has more to serve)."""
        for _ in range(64):
            try:
                data, peer = self.sock.recvfrom(4096)
            except OSError:  # drained (BlockingIOError), or a closed socket
                return
            q = parse_query(data)
            if q is None:
                continue  # not a query we can read: neither answered nor relayed
            reply = self.answer(data, q)
            if reply is not None:
                if len(reply) > udp_limit(data, q):  # many replicas under one name
                    reply = build_answer(q, [], truncated=True)
                self._send(reply, peer)
            else:
                self.relay.forward(data, q.raw_question, peer,
                                   build_answer(q, [], rcode=RCODE_SERVFAIL))

    def answer(self, data: bytes, q: Question | None = None) -> bytes | None:
        """Our reply, or None when the query must go to the host's resolvers."""
        q = parse_query(data) if q is None else q
        if q is None or q.qclass != QCLASS_IN:
            return None
        try:
            ips = self.lookup(q.name)
        except sqlite3.Error:
            return build_answer(q, [], rcode=RCODE_SERVFAIL)
        if not ips:
            if "." not in q.name.rstrip(".") and not self.upstreams:
                return build_answer(q, [], rcode=RCODE_NXDOMAIN)
            return None
        # a known name: A records, and an empty NOERROR for AAAA and the rest
        return build_answer(q, ips if q.qtype == QTYPE_A else [])

    def _send(self, reply: bytes, peer: tuple[str, int]) -> None:
        try:
            self.sock.sendto(reply, peer)
        except OSError:  # the client went, or its buffer is full: UDP may drop
            pass


def for_container(netns: Path, db_path: Path, container_id: str,
                  upstreams: Sequence[str] | None = None,
                  db: sqlite3.Connection | None = None,
                  clock: Callable[[], float] = time.monotonic) -> Responder:
    """A responder on 127.0.0.11:53 in the container's namespace.

    For a selector loop (the monitor)::

        r = dns.for_container(netns, store.path, cid, clock=loop_clock)
        r.attach(sel)
        ... timeout = min(..., r.next_at()); sel.select(timeout); r.tick(loop_clock())
        r.close()
    """
    udp, tcp = bind_both_in_netns(netns)
    return Responder(udp, StoreLookup(db_path, container_id, db),
                     host_upstreams() if upstreams is None else upstreams, clock=clock,
                     tcp=tcp)


def start_for_container(netns: Path, db_path: Path, container_id: str,
                        upstreams: Sequence[str] | None = None) -> tuple[Responder,
                                                                        threading.Thread]:
    """Bind 127.0.0.11:53 in the container's namespace and serve it in a thread
    (tests and benches; the monitor serves it from its own loop).

    ``responder.stop()`` then ``thread.join()`` and ``responder.close()`` end it.
    """
    import threading

    r = for_container(netns, db_path, container_id, upstreams)
    t = threading.Thread(target=r.serve, name=f"dns-{container_id[:12]}", daemon=True)
    t.start()
    return r, t


__all__ = [
    "DNS_ADDRESS",
    "MAX_IN_FLIGHT",
    "RELAY_TIMEOUT",
    "Responder",
    "StoreLookup",
    "bind_both_in_netns",
    "bind_in_netns",
    "build_answer",
    "build_query",
    "for_container",
    "host_upstreams",
    "parse_answer_addresses",
    "parse_query",
    "start_for_container",
    "udp_limit",
]
