"""Cross-check our hand-written rtnetlink encoding against pyroute2.

stackctl speaks rtnetlink directly (stackctl/net/netlink.py: pyroute2's import
cost does not fit the CLI's budgets). pyroute2 stays as an independent
implementation in the tests: what our messages create in the kernel is read
back through pyroute2's own parser, and what pyroute2 creates is read back
through ours. Both directions must agree, on the real kernel.
"""

from __future__ import annotations

import ipaddress
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.kernel

pyroute2 = pytest.importorskip("pyroute2")


def _free_subnet() -> ipaddress.IPv4Network:
    """A /24 that overlaps none of the host's routes (no traffic is sent)."""
    out = subprocess.run(["ip", "-j", "route"], capture_output=True, text=True).stdout
    taken = []
    for r in json.loads(out or "[]"):
        dst = r.get("dst", "")
        if dst and dst != "default":
            taken.append(ipaddress.ip_network(dst if "/" in dst else dst + "/32", strict=False))
    for third in range(200, 250):
        cand = ipaddress.ip_network(f"10.198.{third}.0/24")
        if not any(cand.overlaps(t) for t in taken):
            return cand
    pytest.skip("no free test subnet")


@pytest.fixture
def names(unique: str) -> Iterator[tuple[str, str]]:
    from stackctl.net.netlink import Netlink

    br, veth = f"sco-b{unique}", f"sco-v{unique}"
    yield br, veth
    with Netlink() as nl:
        nl.delete_link(veth)
        nl.delete_link(br)


@pytest.fixture
def netns(tmp_path: Path) -> Iterator[Path]:
    from stackctl.net.netns import create_netns, remove_netns

    path = create_netns(tmp_path / "ns")
    yield path
    remove_netns(path)


def test_what_we_create_pyroute2_reads(names: tuple[str, str], netns: Path) -> None:
    from pyroute2 import IPRoute, NetNS

    from stackctl.net.netlink import Netlink

    br, veth = names
    subnet = _free_subnet()
    gw = ipaddress.IPv4Interface(f"{subnet[1]}/{subnet.prefixlen}")
    peer_ip = ipaddress.IPv4Interface(f"{subnet[2]}/{subnet.prefixlen}")
    with Netlink() as nl:
        nl.create_bridge(br, mtu=1400)
        nl.create_veth(veth, "eth3", mtu=1400, peer_mac="02:42:ac:11:00:09", peer_netns=netns)
        nl.set_master(veth, br)
        nl.set_up(br)
        nl.add_address(br, gw)
    with Netlink(netns) as inner:
        inner.add_address("eth3", peer_ip)
        inner.set_up("eth3")
        inner.add_route(None, gw.ip)

    with IPRoute() as ipr:
        (br_idx,) = ipr.link_lookup(ifname=br)
        link = ipr.get_links(br_idx)[0]
        assert link.get_attr("IFLA_LINKINFO").get_attr("IFLA_INFO_KIND") == "bridge"
        assert link.get_attr("IFLA_MTU") == 1400
        (v_idx,) = ipr.link_lookup(ifname=veth)
        vlink = ipr.get_links(v_idx)[0]
        assert vlink.get_attr("IFLA_LINKINFO").get_attr("IFLA_INFO_KIND") == "veth"
        assert vlink.get_attr("IFLA_MASTER") == br_idx
        addrs = [(a.get_attr("IFA_ADDRESS"), a["prefixlen"]) for a in ipr.get_addr(index=br_idx)]
        assert (str(gw.ip), subnet.prefixlen) in addrs

    with NetNS(str(netns)) as ns:
        links = {lk.get_attr("IFLA_IFNAME"): lk for lk in ns.get_links()}
        assert set(links) == {"lo", "eth3"}
        eth3 = links["eth3"]
        assert eth3.get_attr("IFLA_ADDRESS") == "02:42:ac:11:00:09"
        assert eth3.get_attr("IFLA_MTU") == 1400
        assert eth3["flags"] & 1  # IFF_UP
        assert links["lo"]["flags"] & 1
        addrs = [a.get_attr("IFA_ADDRESS") for a in ns.get_addr(index=eth3["index"])]
        assert addrs == [str(peer_ip.ip)]
        defaults = [r for r in ns.get_routes(family=2) if r["dst_len"] == 0
                    and r.get_attr("RTA_GATEWAY")]
        assert [r.get_attr("RTA_GATEWAY") for r in defaults] == [str(gw.ip)]


def test_what_pyroute2_creates_we_read(names: tuple[str, str]) -> None:
    from pyroute2 import IPRoute

    from stackctl.net.netlink import Netlink

    br, _ = names
    subnet = _free_subnet()
    with IPRoute() as ipr:
        ipr.link("add", ifname=br, kind="bridge", mtu=1380)
        (idx,) = ipr.link_lookup(ifname=br)
        ipr.addr("add", index=idx, address=str(subnet[1]), prefixlen=subnet.prefixlen)
    with Netlink() as nl:
        assert nl.link_exists(br)
        assert nl.link_kind(br) == "bridge"
        assert nl.index(br) == idx
        assert nl.addresses(br) == [ipaddress.IPv4Interface(f"{subnet[1]}/{subnet.prefixlen}")]
        assert br in nl.links()
        assert nl.delete_link(br) is True
        assert nl.delete_link(br) is False  # idempotent
        assert not nl.link_exists(br)
