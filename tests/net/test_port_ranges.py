"""A host port range for one container port (``8000-8010:80``): one free port of
the range per container, as Docker chooses it (pure parts, plus a bind() probe)."""

from __future__ import annotations

import socket

import pytest

from stackctl.errors import NetError, UsageError
from stackctl.net.ports import PortMapping, parse_publish, resolve


def test_parse_keeps_the_range_for_later() -> None:
    assert parse_publish("127.0.0.1:6005-6015:80/udp") == [
        PortMapping(80, "udp", parse_publish("127.0.0.1::1")[0].host_ip, 0, (6005, 6015))]
    # equal lengths still pair up one to one
    assert [m.host_port for m in parse_publish("7000-7001:80-81")] == [7000, 7001]
    with pytest.raises(UsageError, match="differ in length"):
        parse_publish("7000-7002:80-81")


def _free_range(n: int) -> int:
    """The start of ``n`` consecutive ports that nothing on loopback holds now."""
    for start in range(46000, 47000, n):
        try:
            for p in range(start, start + n):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", p))
        except OSError:
            continue
        return start
    pytest.skip("no free port range")


def test_each_mapping_takes_the_next_free_port() -> None:
    lo = _free_range(4)
    spec = f"127.0.0.1:{lo}-{lo + 3}:80"
    existing = [PortMapping(80, "tcp", parse_publish(spec)[0].host_ip, lo)]  # published
    with socket.socket() as held:  # and a host process holds the next one
        held.bind(("127.0.0.1", lo + 1))
        held.listen()
        got = resolve(parse_publish(spec) * 2, existing)
        assert [m.host_port for m in got] == [lo + 2, lo + 3]
        assert all(m.host_range is None for m in got)
        with pytest.raises(NetError, match=f"no free host port in 127.0.0.1:{lo}-{lo + 1}/"):
            resolve(parse_publish(f"127.0.0.1:{lo}-{lo + 1}:80"), existing)
