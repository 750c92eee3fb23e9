"""The DNS responder over TCP (dns_tcp.py), on loopback, turned by hand: one
selector round at a time, ``tick`` with a clock the test moves. The "upstreams"
are stand-ins on 127.0.0.1 that the test plays itself.
"""

from __future__ import annotations

import selectors
import socket
import struct
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from stackctl.net import dns, dns_tcp
from tests.fixtures_images import busybox_image  # noqa: F401
from tests.net.conftest import Clock


def read_frame(s: socket.socket) -> bytes:
    head = b""
    while len(head) < 2:
        chunk = s.recv(2 - len(head))
        assert chunk, "closed before a reply"
        head += chunk
    n = struct.unpack("!H", head)[0]
    body = b""
    while len(body) < n:
        chunk = s.recv(n - len(body))
        assert chunk, "closed in the middle of a reply"
        body += chunk
    return body


class Driven:
    """A responder with UDP and TCP sockets on 127.0.0.1, turned by ``step``."""

    def __init__(self, upstreams: list[tuple[str, int]], **kw: object) -> None:
        self.clock = Clock()
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind(("127.0.0.1", 0))
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        table = {"web": ["10.0.0.2"], "many": [f"10.0.1.{i}" for i in range(1, 41)]}
        self.r = dns.Responder(udp, lambda n: table.get(n, []),
                               [f"{a}:{p}" for a, p in upstreams], clock=self.clock,
                               tcp=self.listener, **kw)  # type: ignore[arg-type]
        self.sel = selectors.DefaultSelector()
        self.r.attach(self.sel)
        self.clients: list[socket.socket] = []

    def connect(self) -> socket.socket:
        c = socket.create_connection(self.listener.getsockname(), timeout=5)
        self.clients.append(c)
        self.step()  # accepted
        return c

    def step(self, *, later: float = 0.0) -> None:
        self.clock.now += later
        for key, events in self.sel.select(0.2):
            key.data(events)
        self.r.tick(self.clock.now)

    def steps_until(self, done: Callable[[], bool]) -> None:
        for _ in range(50):
            if done():
                return
            self.step()
        raise AssertionError("nothing happened")

    @property
    def connections(self) -> dns_tcp.TcpServer:
        server = self.r._connections
        assert server is not None
        return server

    def close(self) -> None:
        self.r.close()
        self.sel.close()
        for c in self.clients:
            c.close()


@pytest.fixture
def made() -> Iterator[list[object]]:
    things: list[object] = []
    yield things
    for t in things:
        t.close()  # type: ignore[attr-defined]


def listening() -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    s.listen(8)
    s.settimeout(5)
    return s


def readable(s: socket.socket) -> Callable[[], bool]:
    def check() -> bool:
        with selectors.DefaultSelector() as sel:
            sel.register(s, selectors.EVENT_READ)
            return bool(sel.select(0))
    return check


def test_known_names_over_tcp_pipelined_queries_in_order(made: list[object]) -> None:
    d = Driven([])
    made.append(d)
    c = d.connect()
    c.sendall(dns_tcp.frame(dns.build_query("web", qid=1)) +
              dns_tcp.frame(dns.build_query("web", qid=2, qtype=dns.QTYPE_AAAA)))
    d.steps_until(readable(c))
    first, second = read_frame(c), read_frame(c)
    assert first[:2] == b"\x00\x01" and dns.parse_answer_addresses(first) == (0, ["10.0.0.2"])
    assert second[:2] == b"\x00\x02" and dns.parse_answer_addresses(second) == (0, [])
    # the client closes its side: so do we, and forget it
    c.shutdown(socket.SHUT_WR)
    d.steps_until(lambda: not d.connections.clients)
    assert c.recv(1) == b""


def test_relayed_over_tcp_past_a_refusing_upstream(made: list[object]) -> None:
    refusing = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    refusing.bind(("127.0.0.1", 0))  # bound, not listening: connections are refused
    up = listening()
    made.extend([refusing, up])
    d = Driven([refusing.getsockname(), up.getsockname()])
    made.append(d)
    c = d.connect()
    c.sendall(dns_tcp.frame(dns.build_query("example.org", qid=7)))
    d.steps_until(readable(up))
    conn, _ = up.accept()
    made.append(conn)
    d.steps_until(readable(conn))
    query = dns.parse_query(read_frame(conn))
    assert query is not None and query.id == 7 and query.name == "example.org"
    big = dns.build_answer(query, [f"192.0.2.{i}" for i in range(1, 101)])  # > 512 bytes
    conn.sendall(dns_tcp.frame(big))
    d.steps_until(readable(c))
    assert read_frame(c) == big  # passed back unchanged
    d.steps_until(lambda: d.connections.clients[0].upstream is None)
    assert d.r.next_at() == d.clock.now + dns_tcp.IDLE  # only the idle timer is left


def test_a_silent_upstream_times_out_to_servfail_and_its_socket_goes(
        made: list[object]) -> None:
    silent = listening()  # accepts (the kernel does), never answers
    made.append(silent)
    d = Driven([silent.getsockname()], timeout=3.0)
    made.append(d)
    c = d.connect()
    c.sendall(dns_tcp.frame(dns.build_query("example.org", qid=9)))
    d.steps_until(lambda: d.connections.clients[0].upstream is not None
                  and d.connections.clients[0].upstream.sent > 0)
    upstream = d.connections.clients[0].upstream
    assert upstream is not None and upstream.sock is not None
    relay_sock = upstream.sock
    d.step(later=3.0)
    reply = read_frame(c)
    assert reply[:2] == b"\x00\x09" and dns.parse_answer_addresses(reply) == (2, [])
    assert relay_sock.fileno() == -1 and d.connections.clients[0].upstream is None
    # the connection stays open for more
    c.sendall(dns_tcp.frame(dns.build_query("web", qid=10)))
    d.steps_until(readable(c))
    assert dns.parse_answer_addresses(read_frame(c)) == (0, ["10.0.0.2"])


def test_idle_connections_are_closed_and_their_number_is_bounded(
        made: list[object]) -> None:
    d = Driven([])
    made.append(d)
    first = d.connect()
    extra = [d.connect() for _ in range(dns_tcp.MAX_CONNECTIONS)]  # one too many
    assert len(d.connections.clients) == dns_tcp.MAX_CONNECTIONS
    assert extra[-1].recv(1) == b""  # closed on accept: busy
    d.step(later=dns_tcp.IDLE)
    assert d.connections.clients == [] and d.r.next_at() is None
    assert first.recv(1) == b""


def test_garbage_closes_the_connection(made: list[object]) -> None:
    d = Driven([])
    made.append(d)
    c = d.connect()
    c.sendall(dns_tcp.frame(b"\x00" * 5))
    d.steps_until(lambda: not d.connections.clients)
    assert c.recv(1) == b""


def test_an_answer_too_big_for_udp_is_truncated_there_whole_over_tcp(
        made: list[object]) -> None:
    """40 replicas under one name: 652 bytes. Without EDNS a client takes 512 over
    UDP: it gets TC and asks again over TCP; with EDNS (4096) it gets them all."""
    d = Driven([])
    made.append(d)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.settimeout(5)
    made.append(udp)
    plain = dns.build_query("many", qid=1)
    udp.sendto(plain, d.r.sock.getsockname())
    d.steps_until(readable(udp))
    reply = udp.recv(4096)
    assert reply[2] & 0x02 and dns.parse_answer_addresses(reply) == (0, [])  # TC
    opt = b"\x00\x00\x29\x10\x00\x00\x00\x00\x00\x00\x00"  # EDNS: 4096 bytes
    edns = plain[:10] + b"\x00\x01" + plain[12:] + opt
    udp.sendto(edns, d.r.sock.getsockname())
    d.steps_until(readable(udp))
    reply = udp.recv(4096)
    assert not reply[2] & 0x02 and len(dns.parse_answer_addresses(reply)[1]) == 40
    c = d.connect()
    c.sendall(dns_tcp.frame(plain))
    d.steps_until(readable(c))
    assert len(dns.parse_answer_addresses(read_frame(c))[1]) == 40


# ---- libc in a real container's namespace --------------------------------------------------
@pytest.mark.kernel
def test_libc_gets_a_big_relayed_answer_over_tcp_after_a_truncated_one(
        busybox_image: tuple[Path, str], roots: tuple[Path, Path],  # noqa: F811
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """glibc's getaddrinfo in a container's namespace: the stand-in upstream answers
    40 addresses, too many for UDP (TC); glibc asks 127.0.0.11 again over TCP, and
    the monitor relays that over TCP too."""
    from stackctl.engine.api import Engine
    from stackctl.engine.containers import ContainerConfig
    from tests.net.conftest import run_python

    addresses = [f"192.0.2.{i}" for i in range(1, 41)]
    tcp_up = listening()
    port = tcp_up.getsockname()[1]
    udp_up = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp_up.bind(("127.0.0.1", port))  # one upstream address, both transports
    udp_up.settimeout(0.1)
    tcp_up.settimeout(0.1)
    stop = threading.Event()
    asked_over_tcp: list[str] = []

    def upstream() -> None:
        while not stop.is_set():
            try:
                data, peer = udp_up.recvfrom(512)
                q = dns.parse_query(data)
                assert q is not None
                udp_up.sendto(dns.build_answer(q, [], truncated=True), peer)
            except TimeoutError:
                pass
            try:
                conn, _ = tcp_up.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(5)
                q = dns.parse_query(read_frame(conn))
                assert q is not None
                asked_over_tcp.append(q.name)
                conn.sendall(dns_tcp.frame(dns.build_answer(q, addresses)))

    feeder = threading.Thread(target=upstream, daemon=True)
    feeder.start()
    monkeypatch.setenv(dns.UPSTREAMS_ENV, f"127.0.0.1:{port}")
    root, run_root = roots
    engine = Engine(root, run_root)
    try:
        rec = engine.start(engine.create(ContainerConfig(
            image="busybox", command=("sleep", "60"), network="bridge")).id)
        (tmp_path / "resolv.conf").write_text("nameserver 127.0.0.11\n")
        (tmp_path / "hosts").write_text("127.0.0.1 localhost\n")
        out = run_python(run_root / "netns" / rec.id, """
import socket
print(" ".join(sorted({a[4][0] for a in socket.getaddrinfo("big.example.org", 80,
                                                            socket.AF_INET)})))
""", files=(tmp_path / "hosts", tmp_path / "resolv.conf"))
        assert out.returncode == 0, out.stderr
        assert sorted(out.stdout.split()) == sorted(addresses)
        assert asked_over_tcp == ["big.example.org"]
    finally:
        stop.set()
        feeder.join(5)
        for r in engine.list(all_=True):
            engine.remove(r.id, force=True, volumes=True)
        engine.close()
        tcp_up.close()
        udp_up.close()
