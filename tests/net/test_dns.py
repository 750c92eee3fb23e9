"""The DNS responder's wire format and relay, over loopback only (no root)."""

from __future__ import annotations

import socket
import threading

from stackctl.net import dns


def test_query_answer_round_trip() -> None:
    q = dns.parse_query(dns.build_query("web.", qid=42))
    assert q is not None and q.name == "web" and q.qtype == dns.QTYPE_A and q.id == 42
    reply = dns.build_answer(q, ["10.0.0.2", "10.0.0.3"])
    assert reply[:2] == b"\x00\x2a"
    assert dns.parse_answer_addresses(reply) == (0, ["10.0.0.2", "10.0.0.3"])
    assert dns.parse_query(b"\x00" * 5) is None
    assert dns.parse_query(reply) is None  # a response is not a query


def test_known_names_answered_unknown_relayed_to_upstream(tmp_path) -> None:
    # a stand-in upstream on loopback that answers every A query with 192.0.2.77
    up = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    up.bind(("127.0.0.1", 0))
    port = up.getsockname()[1]

    def upstream() -> None:
        data, peer = up.recvfrom(512)
        q = dns.parse_query(data)
        assert q is not None
        up.sendto(dns.build_answer(q, ["192.0.2.77"]), peer)

    threading.Thread(target=upstream, daemon=True).start()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    table = {"web": ["10.0.0.2"]}
    r = dns.Responder(sock, lambda n: table.get(n, []), ["127.0.0.1"], upstream_port=port)
    t = threading.Thread(target=r.serve, daemon=True)
    t.start()
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as c:
            c.settimeout(5)
            c.sendto(dns.build_query("web"), sock.getsockname())
            assert dns.parse_answer_addresses(c.recv(512)) == (0, ["10.0.0.2"])
            c.sendto(dns.build_query("example.org"), sock.getsockname())
            assert dns.parse_answer_addresses(c.recv(512)) == (0, ["192.0.2.77"])
    finally:
        r.stop()
        t.join(5)
        r.close()
        up.close()


def test_no_upstream_gives_nxdomain_for_short_names() -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    r = dns.Responder(sock, lambda n: [], [])
    reply = r.answer(dns.build_query("nothing"))
    assert reply is not None and dns.parse_answer_addresses(reply) == (3, [])
    r.close()


def test_host_upstreams(tmp_path) -> None:
    p = tmp_path / "resolv.conf"
    p.write_text("# c\nnameserver 127.0.0.53\nnameserver fd00::1\nsearch x\n")
    assert dns.host_upstreams(p) == ["127.0.0.53"]
