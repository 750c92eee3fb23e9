"""IPAM and interface names: pure, no root."""

from __future__ import annotations

import ipaddress

import pytest

from stackctl.errors import NetError, UsageError
from stackctl.net import ipam, names

N = ipaddress.IPv4Network
A = ipaddress.IPv4Address


def test_first_subnet_is_dockers_default() -> None:
    assert ipam.allocate_subnet([], []) == N("172.17.0.0/16")


def test_subnet_skips_networks_and_host_routes_but_not_default_route() -> None:
    taken = [N("172.17.0.0/16")]
    routes = [N("0.0.0.0/0"), N("172.18.5.0/24"), N("192.0.2.0/24")]
    assert ipam.allocate_subnet(taken, routes) == N("172.19.0.0/16")


def test_pool_exhaustion_is_a_clear_error() -> None:
    pool = ipam.parse_pool("10.99.0.0/23:24")
    assert ipam.allocate_subnet([], [], pool) == N("10.99.0.0/24")
    with pytest.raises(NetError, match="no free subnet"):
        ipam.allocate_subnet([N("10.99.0.0/24")], [N("10.99.1.0/25")], pool)


def test_proc_route_parsing() -> None:
    text = (
        "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
        "eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n"
        "eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"
    )
    assert ipam.parse_proc_route(text) == [N("0.0.0.0/0"), N("192.0.2.0/24")]


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("10.0.0.1/24", "did you mean 10.0.0.0/24"),
        ("banana", "invalid CIDR"),
        ("10.0.0.0/33", "invalid CIDR"),
        ("fd00::/64", "IPv6"),
        ("10.0.0.0/31", "too small"),
    ],
)
def test_bad_subnets(text: str, match: str) -> None:
    with pytest.raises(UsageError) as err:
        ipam.parse_subnet(text)
    assert match in str(err.value) + str(err.value.hint)


def test_overlap_with_network_and_route_named() -> None:
    nets = {"front": N("10.30.0.0/16")}
    with pytest.raises(NetError, match="overlaps network 'front'"):
        ipam.check_subnet(N("10.30.4.0/24"), nets, [])
    with pytest.raises(NetError, match=r"host.s route to 192\.0\.2\.0/24"):
        ipam.check_subnet(N("192.0.0.0/16"), nets, [N("0.0.0.0/0"), N("192.0.2.0/24")])
    ipam.check_subnet(N("10.31.0.0/16"), nets, [N("0.0.0.0/0")])


def test_address_allocation_excludes_gateway_network_broadcast() -> None:
    net = N("10.1.0.0/29")  # hosts .1 - .6
    gw = ipam.default_gateway(net)
    assert gw == A("10.1.0.1")
    taken: list[ipaddress.IPv4Address] = []
    for _ in range(5):
        taken.append(ipam.allocate_address(net, gw, taken))
    assert taken == [A(f"10.1.0.{i}") for i in range(2, 7)]
    with pytest.raises(NetError, match="no free address"):
        ipam.allocate_address(net, gw, taken)
    # a released address is handed out again
    assert ipam.allocate_address(net, gw, taken[1:]) == A("10.1.0.2")


def test_gateway_elsewhere_in_subnet() -> None:
    net = N("10.1.0.0/29")
    gw = ipam.check_gateway(net, A("10.1.0.6"))
    assert ipam.allocate_address(net, gw, []) == A("10.1.0.1")
    for bad in ("10.1.0.0", "10.1.0.7", "10.2.0.1"):
        with pytest.raises(UsageError, match="not a usable host"):
            ipam.check_gateway(net, A(bad))


def test_static_address_checks() -> None:
    net, gw = N("10.1.0.0/24"), A("10.1.0.1")
    ok = ipam.check_static_address(net, gw, A("10.1.0.50"), [], network_name="n")
    assert ok == A("10.1.0.50")
    cases = [("10.2.0.5", "outside"), ("10.1.0.255", "broadcast"), ("10.1.0.1", "gateway"),
             ("10.1.0.9", "already in use")]
    for addr, match in cases:
        with pytest.raises((UsageError, NetError), match=match):
            ipam.check_static_address(net, gw, A(addr), [A("10.1.0.9")], network_name="n")


def test_interface_names_fit_and_are_stable() -> None:
    cid, nid = "a" * 64, "b" * 64
    for name in (names.bridge_name(nid), names.host_veth_name(cid, nid)):
        assert len(name) <= names.IFNAMSIZ
    assert names.host_veth_name(cid, nid) == names.host_veth_name(cid, nid)
    assert names.host_veth_name(cid, nid) != names.host_veth_name(cid, "c" * 64)
    mac = names.mac_address(cid, nid)
    assert mac.startswith("02:") and len(mac) == 17


def test_user_names_checked() -> None:
    names.check_network_name("my_net-1.x")
    with pytest.raises(UsageError, match="characters long"):
        names.check_network_name("n" * 65)
    with pytest.raises(UsageError, match="invalid network name"):
        names.check_network_name("-bad")
    names.check_ifname("br-ok")
    with pytest.raises(UsageError, match="at most 15"):
        names.check_ifname("this-is-too-long-for-linux")
