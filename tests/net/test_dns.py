"""The DNS responder's wire format and relay over loopback, and a real monitor
relaying from its loop (kernel). The "upstream" is always a stand-in resolver on
127.0.0.1 that the test runs: no query leaves the host's loopback.

Most relay tests drive the responder by hand (one selector round at a time,
``tick`` with a clock moved by the test): no thread, no sleep, nothing timed.
"""

from __future__ import annotations

import os
import selectors
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from stackctl.net import dns
from tests.fixtures_images import busybox_image  # noqa: F401
from tests.net.conftest import Clock

Peer = tuple[str, int]


def udp(timeout: float = 5) -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(timeout)
    return s


class Driven:
    """A responder on loopback, turned by hand: ``step()`` is one loop round."""

    def __init__(self, upstreams: list[str], **kw: object) -> None:
        self.clock = Clock()
        self.sock = udp()
        self.r = dns.Responder(self.sock, lambda n: ["10.0.0.2"] if n == "web" else [],
                               upstreams, clock=self.clock, **kw)  # type: ignore[arg-type]
        self.sel = selectors.DefaultSelector()
        self.r.attach(self.sel)
        self.client = udp()

    @property
    def address(self) -> Peer:
        return self.sock.getsockname()  # type: ignore[no-any-return]

    def ask(self, name: str, qid: int, client: socket.socket | None = None) -> None:
        (client or self.client).sendto(dns.build_query(name, qid=qid), self.address)

    def step(self, *, later: float = 0.0) -> None:
        """One loop round; ``later``: first move the clock on by that much."""
        self.clock.now += later
        for key, events in self.sel.select(0.5):
            key.data(events)
        self.r.tick(self.clock.now)

    def close(self) -> None:
        self.r.close()
        self.sel.close()
        self.client.close()


@pytest.fixture
def driven() -> Iterator[list[Driven]]:
    made: list[Driven] = []
    yield made
    for d in made:
        d.close()


def answer_from(up: socket.socket, addresses: list[str]) -> tuple[bytes, Peer]:
    """Read one relayed query at the stand-in ``up`` and answer it."""
    data, peer = up.recvfrom(512)
    q = dns.parse_query(data)
    assert q is not None
    up.sendto(dns.build_answer(q, addresses), peer)
    return data, peer


def test_query_answer_round_trip() -> None:
    q = dns.parse_query(dns.build_query("web.", qid=42))
    assert q is not None and q.name == "web" and q.qtype == dns.QTYPE_A and q.id == 42
    reply = dns.build_answer(q, ["10.0.0.2", "10.0.0.3"])
    assert reply[:2] == b"\x00\x2a"
    assert dns.parse_answer_addresses(reply) == (0, ["10.0.0.2", "10.0.0.3"])
    assert dns.parse_query(b"\x00" * 5) is None
    assert dns.parse_query(reply) is None  # a response is not a query


def test_known_names_answered_unknown_relayed_to_upstream() -> None:
    """In a thread of its own (``serve``), as tests/net/conftest.py runs it."""
    up = udp()
    threading.Thread(target=answer_from, args=(up, ["192.0.2.77"]), daemon=True).start()
    sock = udp()
    table = {"web": ["10.0.0.2"]}
    r = dns.Responder(sock, lambda n: table.get(n, []), ["127.0.0.1"],
                      upstream_port=up.getsockname()[1])
    t = threading.Thread(target=r.serve, daemon=True)
    t.start()
    try:
        with udp() as c:
            c.sendto(dns.build_query("web"), sock.getsockname())
            assert dns.parse_answer_addresses(c.recv(512)) == (0, ["10.0.0.2"])
            c.sendto(dns.build_query("example.org", qid=9), sock.getsockname())
            reply = c.recv(512)
            assert reply[:2] == b"\x00\x09"  # the client's id, whatever went upstream
            assert dns.parse_answer_addresses(reply) == (0, ["192.0.2.77"])
    finally:
        r.stop()
        t.join(5)
        r.close()
        up.close()
    assert not t.is_alive()


def test_stop_before_serve_begins_still_stops_it() -> None:
    with udp() as sock:
        r = dns.Responder(sock, lambda n: [], [])
        r.stop()
        r.serve()  # returns at once
        r.close()


def test_many_queries_in_flight_at_once_are_all_answered() -> None:
    """60 queries from two clients (reusing each other's ids) wait at the upstream
    together; its answers, in reverse order, each reach the right client."""
    n = 60
    up = udp()
    seen_ids: set[bytes] = set()

    def upstream() -> None:
        held = []
        while len(held) < n:
            data, peer = up.recvfrom(512)
            seen_ids.add(data[:2])
            held.append((data, peer))
        for data, peer in reversed(held):
            q = dns.parse_query(data)
            assert q is not None
            i = int(q.name.split(".")[0][1:])
            up.sendto(dns.build_answer(q, [f"192.0.2.{i}"]), peer)

    threading.Thread(target=upstream, daemon=True).start()
    sock = udp()
    r = dns.Responder(sock, lambda n: [], [f"127.0.0.1:{up.getsockname()[1]}"])
    t = threading.Thread(target=r.serve, daemon=True)
    t.start()
    clients = [udp(), udp()]
    try:
        for i in range(n):  # client i % 2 asks with id i // 2: each id used twice
            clients[i % 2].sendto(dns.build_query(f"n{i}.example.org", qid=i // 2),
                                  sock.getsockname())
        got = {}
        for k, c in enumerate(clients):
            for _ in range(n // 2):
                reply = c.recv(512)
                qid = int.from_bytes(reply[:2], "big")
                got[2 * qid + k] = dns.parse_answer_addresses(reply)
        assert got == {i: (0, [f"192.0.2.{i}"]) for i in range(n)}
        assert len(seen_ids) == n  # rewritten: no two in flight under one id
    finally:
        r.stop()
        t.join(5)
        r.close()
        up.close()
        for c in clients:
            c.close()


def test_a_busy_relay_drops_queries_beyond_its_bound(driven: list[Driven],
                                                     capsys: pytest.CaptureFixture[str]
                                                     ) -> None:
    up = udp()
    d = Driven([f"127.0.0.1:{up.getsockname()[1]}"], max_in_flight=4)
    driven.append(d)
    for i in range(6):
        d.ask(f"n{i}.example.org", qid=i)
    d.ask("n0.example.org", qid=0)  # a client's retransmission: still in flight
    d.step()
    assert (d.r.relay.in_flight, d.r.relay.dropped) == (4, 2)
    assert capsys.readouterr().err.count("dns relay: 4 queries in flight") == 1  # once
    relayed = [answer_from(up, ["192.0.2.1"]) for _ in range(4)]
    up.settimeout(0)
    with pytest.raises(BlockingIOError):
        up.recvfrom(512)  # neither the dropped ones nor the retransmission went up
    d.step()
    assert sorted(int.from_bytes(d.client.recv(512)[:2], "big") for _ in relayed) == \
        [0, 1, 2, 3]
    assert d.r.relay.in_flight == 0 and d.r.relay.sock is None
    up.close()


def test_an_upstream_that_never_answers_times_out_and_frees_its_socket(
        driven: list[Driven]) -> None:
    silent, answering = udp(), udp()
    d = Driven([f"127.0.0.1:{silent.getsockname()[1]}",
                f"127.0.0.1:{answering.getsockname()[1]}"], timeout=3.0)
    driven.append(d)
    # the first upstream says nothing: after its timeout the second is asked
    d.ask("example.org", qid=1)
    d.step()
    silent.recvfrom(512)
    relay_sock = d.r.relay.sock
    assert relay_sock is not None and d.r.next_at() == d.clock.now + 3.0
    d.step(later=3.0)
    answer_from(answering, ["192.0.2.5"])
    d.step()
    assert dns.parse_answer_addresses(d.client.recv(512)) == (0, ["192.0.2.5"])
    assert d.r.relay.sock is None and relay_sock.fileno() == -1  # closed when idle
    # neither answers: SERVFAIL once both had their time, and the socket is freed
    d.ask("example.net", qid=2)
    d.step()
    relay_sock = d.r.relay.sock
    assert relay_sock is not None
    d.step(later=3.0)
    d.step(later=3.0)
    reply = d.client.recv(512)
    assert reply[:2] == b"\x00\x02" and dns.parse_answer_addresses(reply) == (2, [])
    assert d.r.next_at() is None and d.r.relay.in_flight == 0
    assert d.r.relay.sock is None and relay_sock.fileno() == -1
    silent.close()
    answering.close()


def test_replies_not_from_an_upstream_or_not_to_the_question_are_ignored(
        driven: list[Driven]) -> None:
    up, forger = udp(), udp()
    d = Driven([f"127.0.0.1:{up.getsockname()[1]}"])
    driven.append(d)
    d.ask("example.org", qid=3)
    d.step()
    data, relay = up.recvfrom(512)
    q = dns.parse_query(data)
    assert q is not None
    forger.sendto(dns.build_answer(q, ["203.0.113.66"]), relay)  # right id, wrong source
    other = dns.parse_query(dns.build_query("evil.org", qid=q.id))
    assert other is not None
    up.sendto(dns.build_answer(other, ["203.0.113.67"]), relay)  # another question
    up.sendto(dns.build_answer(q, ["192.0.2.8"]), relay)
    d.step()
    assert dns.parse_answer_addresses(d.client.recv(512)) == (0, ["192.0.2.8"])
    d.client.settimeout(0)
    with pytest.raises(BlockingIOError):
        d.client.recv(512)
    up.close()
    forger.close()


def test_no_upstream_gives_nxdomain_for_short_names_servfail_for_others(
        driven: list[Driven]) -> None:
    d = Driven([])
    driven.append(d)
    reply = d.r.answer(dns.build_query("nothing"))
    assert reply is not None and dns.parse_answer_addresses(reply) == (3, [])
    d.ask("example.org", qid=4)
    d.step()
    assert dns.parse_answer_addresses(d.client.recv(512)) == (2, [])
    assert d.r.relay.sock is None


def test_host_upstreams(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p = tmp_path / "resolv.conf"
    p.write_text("# c\nnameserver 127.0.0.53\nnameserver fd00::1\nsearch x\n")
    monkeypatch.delenv(dns.UPSTREAMS_ENV, raising=False)
    assert dns.host_upstreams(p) == ["127.0.0.53"]
    monkeypatch.setenv(dns.UPSTREAMS_ENV, "127.0.0.1:5353, 10.0.0.1 dns.example:53 fd00::1")
    assert dns.host_upstreams(p) == ["127.0.0.1:5353", "10.0.0.1", "dns.example:53",
                                     "fd00::1"]
    with udp() as s:
        r = dns.Responder(s, lambda n: [], dns.host_upstreams(p))
        # names would need a lookup on the loop, IPv6 a socket of its own: skipped
        assert r.upstreams == [("127.0.0.1", 5353), ("10.0.0.1", 53)]
        r.close()


# ---- a real monitor ------------------------------------------------------------------------
def udp_socket_inode(port: int) -> str:
    """The inode of the UDP socket on local ``port`` in our network namespace."""
    for line in Path("/proc/net/udp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].rsplit(":", 1)[1], 16) == port:
            return fields[9]
    raise AssertionError(f"no UDP socket on port {port}")


def socket_inodes(pid: int) -> set[str]:
    out = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except FileNotFoundError:  # closed meanwhile
            continue
        if target.startswith("socket:["):
            out.add(target[8:-1])
    return out


@pytest.mark.kernel
def test_a_monitor_relays_from_its_loop_without_a_thread(
        busybox_image: tuple[Path, str], roots: tuple[Path, Path],  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    """20 relayed queries in flight at once, and one its upstream ignores: the
    monitor keeps one thread throughout, answers all 20, fails the ignored one
    once its time is up, and then holds no relay socket."""
    from stackctl.engine.api import Engine
    from stackctl.engine.containers import ContainerConfig
    from stackctl.net.netns import run_in_netns

    n = 20
    up = udp(timeout=15)
    tasks: list[list[str]] = []
    relay_ports: set[int] = set()
    monitor_pid: list[int] = []
    all_held = threading.Event()

    def upstream() -> None:
        held = []
        while len(held) < n:
            data, peer = up.recvfrom(512)
            q = dns.parse_query(data)
            assert q is not None
            relay_ports.add(peer[1])
            if q.name != "silent.example.org":
                held.append((q, peer))
        # every query is in flight in the monitor now
        tasks.append(os.listdir(f"/proc/{monitor_pid[0]}/task"))
        all_held.set()
        for q, peer in held:
            up.sendto(dns.build_answer(q, ["192.0.2." + q.name.split(".")[0][1:]]), peer)

    monkeypatch.setenv(dns.UPSTREAMS_ENV, f"127.0.0.1:{up.getsockname()[1]}")
    root, run_root = roots
    engine = Engine(root, run_root)
    clients: list[socket.socket] = []
    try:
        rec = engine.start(engine.create(ContainerConfig(
            image="busybox", command=("sleep", "60"), network="bridge")).id)
        assert rec.monitor_pid
        monitor_pid.append(rec.monitor_pid)
        netns = run_root / "netns" / rec.id

        def client() -> socket.socket:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.settimeout(10)
            return s

        clients = [run_in_netns(netns, client) for _ in range(n + 1)]
        feeder = threading.Thread(target=upstream, daemon=True)
        feeder.start()
        silent = clients[n]
        silent.sendto(dns.build_query("silent.example.org"), (dns.DNS_ADDRESS, 53))
        for i, c in enumerate(clients[:n]):
            c.sendto(dns.build_query(f"n{i}.example.org"), (dns.DNS_ADDRESS, 53))
        for i, c in enumerate(clients[:n]):
            assert dns.parse_answer_addresses(c.recv(512)) == (0, [f"192.0.2.{i}"])
        assert all_held.is_set() and len(tasks[0]) == 1, tasks
        assert len(relay_ports) == 1  # one socket carries them all
        relay = udp_socket_inode(relay_ports.pop())
        assert relay in socket_inodes(rec.monitor_pid)
        # the ignored query: SERVFAIL once its upstream's time is up (3 s)
        assert dns.parse_answer_addresses(silent.recv(512)) == (2, [])
        for _ in range(50):  # the relay socket closes right after that last reply
            if relay not in socket_inodes(rec.monitor_pid):
                break
            threading.Event().wait(0.1)
        assert relay not in socket_inodes(rec.monitor_pid)
        assert len(os.listdir(f"/proc/{rec.monitor_pid}/task")) == 1

        # over TCP too (where clients ask again after a truncated answer)
        def ask_tcp() -> bytes:
            from stackctl.net.dns_tcp import frame

            with socket.create_connection((dns.DNS_ADDRESS, 53), timeout=10) as s:
                s.sendall(frame(dns.build_query(rec.id[:12])))
                data = b""
                while len(data) < 2 or len(data) < 2 + int.from_bytes(data[:2], "big"):
                    chunk = s.recv(4096)
                    assert chunk
                    data += chunk
                return data[2:]

        rcode, addresses = dns.parse_answer_addresses(run_in_netns(netns, ask_tcp))
        assert rcode == 0 and len(addresses) == 1
        assert len(os.listdir(f"/proc/{rec.monitor_pid}/task")) == 1
    finally:
        for c in clients:
            c.close()
        for r in engine.list(all_=True):
            engine.remove(r.id, force=True, volumes=True)
        engine.close()
        up.close()


@pytest.mark.kernel
def test_a_container_resolves_relayed_names_with_its_own_resolver(
        busybox_image: tuple[Path, str], roots: tuple[Path, Path],  # noqa: F811
        unique: str) -> None:
    """busybox's nslookup in a container (resolv.conf: 127.0.0.11) gets the stand-in's
    answer for a name no container has, and a peer's address for a name one has."""
    import subprocess
    import sys

    up = udp(timeout=0.1)
    stop = threading.Event()

    def upstream() -> None:
        while not stop.is_set():
            try:
                data, peer = up.recvfrom(512)
            except TimeoutError:
                continue
            q = dns.parse_query(data)
            if q is not None:  # A: an address; AAAA: none
                up.sendto(dns.build_answer(q, ["192.0.2.42"] if q.qtype == dns.QTYPE_A
                                           else []), peer)

    feeder = threading.Thread(target=upstream, daemon=True)
    feeder.start()
    root, run_root = roots
    env = {**os.environ, dns.UPSTREAMS_ENV: f"127.0.0.1:{up.getsockname()[1]}"}

    def stackctl(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "stackctl", "--root", str(root),
                               "--run-root", str(run_root), *args], env=env,
                              capture_output=True, text=True, timeout=60, check=False)

    try:
        r = stackctl("run", "-d", "--name", f"peer{unique}", "busybox", "sleep", "60")
        assert r.returncode == 0, r.stderr
        ip = stackctl("inspect", "-f", "{{.NetworkSettings.IPAddress}}", f"peer{unique}")
        assert ip.returncode == 0 and ip.stdout.strip(), ip.stderr
        r = stackctl("run", "--rm", "busybox", "sh", "-c",
                     f"nslookup example.org && nslookup peer{unique}")
        assert r.returncode == 0, r.stdout + r.stderr
        relayed, local = r.stdout.split("Name:")[1:3]
        assert "Address: 192.0.2.42" in relayed, r.stdout
        assert f"Address: {ip.stdout.strip()}" in local, r.stdout
    finally:
        stackctl("rm", "-f", f"peer{unique}")
        stop.set()
        feeder.join(5)
        up.close()
