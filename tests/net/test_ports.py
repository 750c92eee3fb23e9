"""Published ports: the -p grammar (pure) and DNAT on the real kernel."""

from __future__ import annotations

import ipaddress
import secrets
import socket

import pytest

from stackctl.errors import NetError, UsageError
from stackctl.net.manager import NetworkManager
from stackctl.net.model import EndpointRequest
from stackctl.net.ports import (
    PortMapping,
    check_collisions,
    parse_expose,
    parse_publish,
    publish_all,
)
from tests.net.conftest import Procs
from tests.net.test_networks import ECHO_TCP, ECHO_UDP, wait_ready

LOCAL = ipaddress.IPv4Address("127.0.0.1")


def test_publish_grammar() -> None:
    assert parse_publish("80") == [PortMapping(80)]
    assert parse_publish("8080:80") == [PortMapping(80, host_port=8080)]
    assert parse_publish("127.0.0.1:8080:80/udp") == [PortMapping(80, "udp", LOCAL, 8080)]
    assert parse_publish("127.0.0.1::80") == [PortMapping(80, "tcp", LOCAL, 0)]
    assert parse_publish("9000-9002:7000-7002/tcp") == [
        PortMapping(7000 + i, host_port=9000 + i) for i in range(3)]
    assert parse_publish("7000-7001") == [PortMapping(7000), PortMapping(7001)]
    assert parse_expose("53/udp") == [(53, "udp")]
    assert publish_all([(80, "tcp"), (53, "udp"), (80, "tcp")]) == [
        PortMapping(53, "udp"), PortMapping(80, "tcp")]


@pytest.mark.parametrize(("spec", "match"), [
    ("70000", "invalid port"), ("80/sctp", "unknown protocol"), ("a:80", "invalid port"),
    ("1.2.3:80:80", "invalid host IP"), ("9000-9001:80-82", "differ in length"),
    ("90-80:90-80", "backwards"), ("", "invalid port"),
])
def test_publish_grammar_errors(spec: str, match: str) -> None:
    with pytest.raises(UsageError, match=match):
        parse_publish(spec)


def test_collisions() -> None:
    with pytest.raises(NetError, match="already published"):
        check_collisions(parse_publish("8080:80") + parse_publish("8080:81"), [])
    # same port on two protocols, or two distinct host addresses, is fine
    check_collisions(parse_publish("8080:80") + parse_publish("8080:80/udp"), [])
    check_collisions(parse_publish("127.0.0.1:8080:80"), parse_publish("127.0.0.2:8080:80"))
    with pytest.raises(NetError):
        check_collisions(parse_publish("127.0.0.1:8080:80"), parse_publish("8080:81"))


def host_address() -> str:
    """A non-loopback address of this host (traffic to it stays on the host)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect(("192.0.2.123", 9))  # no packet is sent: this only picks a route
        return str(s.getsockname()[0])


@pytest.mark.kernel
def test_published_ports_answer_on_loopback_and_host_address(
        nm: NetworkManager, procs: Procs, unique: str) -> None:
    net = nm.create(f"pub{unique}")
    c = secrets.token_hex(32)
    cn = nm.setup_container(c, [EndpointRequest(net.name)], ports=[
        *parse_publish("80"), *parse_publish("5300:53/udp")])
    tcp = next(m for m in cn.ports if m.protocol == "tcp")
    assert tcp.host_port > 0 and tcp.container_port == 80
    assert nm.published_ports(c) == sorted(cn.ports)
    wait_ready(procs.python_in(cn.netns, ECHO_TCP.format(port=80)))
    wait_ready(procs.python_in(cn.netns, ECHO_UDP.format(port=53)))
    for addr in ("127.0.0.1", host_address()):
        with socket.create_connection((addr, tcp.host_port), timeout=5) as s:
            s.sendall(b"host")
            assert s.recv(100) == b"hello from host"
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.settimeout(5)
            u.sendto(b"q", (addr, 5300))
            assert u.recv(100) == b"udp q"
    # a second container cannot take the same host port, and nothing is made
    other = secrets.token_hex(32)
    with pytest.raises(NetError, match="already published"):
        nm.setup_container(other, [EndpointRequest(net.name)], ports=parse_publish("5300:53/udp"))
    assert not nm.netns_path(other).exists() and nm.endpoints(container_id=other) == []
    nm.teardown_container(c)
    assert nm.published_ports(c) == []
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", tcp.host_port),
                                                           timeout=2):
        pass


@pytest.mark.kernel
def test_host_port_in_use_is_refused_before_anything_exists(nm: NetworkManager,
                                                              unique: str) -> None:
    net = nm.create(f"busy{unique}")
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        c = secrets.token_hex(32)
        with pytest.raises(NetError, match="already in use"):
            nm.setup_container(c, [EndpointRequest(net.name)],
                               ports=parse_publish(f"127.0.0.1:{port}:80"))
        assert not nm.netns_path(c).exists()
        assert nm.endpoints(container_id=c) == []


@pytest.mark.kernel
def test_orphaned_published_ports_are_pruned(nm: NetworkManager, unique: str) -> None:
    import shutil

    from stackctl.net.netns import remove_netns

    net = nm.create(f"orph{unique}")
    c = secrets.token_hex(32)
    cn = nm.setup_container(c, [EndpointRequest(net.name)], ports=parse_publish("80"))
    assert nm.published_ports(c) == list(cn.ports)
    # a crash that lost the container's runtime files: namespace and marker gone
    remove_netns(cn.netns)
    shutil.rmtree(nm.files_dir(c))
    nm.prune(keep=[net.name])
    assert nm.endpoints(container_id=c) == []
    assert nm.firewall.exists() and nm.firewall.published() == []


@pytest.mark.kernel
def test_published_port_from_another_container_hairpin(nm: NetworkManager, procs: Procs,
                                                      unique: str) -> None:
    """B -> gateway:hostPort -> DNAT -> A on the same bridge (prerouting + hairpin)."""
    from tests.net.conftest import run_python

    net = nm.create(f"hp{unique}")
    a = nm.setup_container(secrets.token_hex(32), [EndpointRequest(net.name)],
                           ports=parse_publish("80"))
    b = nm.setup_container(secrets.token_hex(32), [EndpointRequest(net.name)])
    wait_ready(procs.python_in(a.netns, ECHO_TCP.format(port=80)))
    out = run_python(b.netns, f"""
import socket
c = socket.create_connection(("{net.gateway}", {a.ports[0].host_port}), timeout=5)
c.sendall(b"b"); print(c.recv(100).decode())
""")
    assert out.stdout.strip() == "hello from b", out.stderr
