"""IP address management: pure arithmetic over ``ipaddress``.

Nothing here touches the kernel or the database. The manager reads what is
taken (host routes, other networks' subnets, leases on a network) inside one
state-store transaction and asks these functions what to hand out; the lease
itself is the ``endpoints`` row whose UNIQUE(network_id, ip) guarantees that
two concurrent starts can never hold the same address.

Subnet pool: like Docker, /16s from 172.17.0.0/12, then /20s from
192.168.0.0/16. A candidate is skipped when it overlaps any host route (other
than the default route) or any existing network.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator

from stackctl.errors import NetError, UsageError
from stackctl.lightdc import dataclass

IPv4Network = ipaddress.IPv4Network
IPv4Address = ipaddress.IPv4Address


@dataclass(frozen=True)
class PoolRange:
    """A block to carve subnets of ``prefixlen`` from."""

    base: IPv4Network
    prefixlen: int

    def candidates(self) -> Iterator[IPv4Network]:
        return self.base.subnets(new_prefix=self.prefixlen)


DEFAULT_POOL: tuple[PoolRange, ...] = (
    # 172.17.0.0 - 172.31.255.255 in /16s, as Docker hands them out
    PoolRange(IPv4Network("172.17.0.0/16"), 16),
    PoolRange(IPv4Network("172.18.0.0/15"), 16),
    PoolRange(IPv4Network("172.20.0.0/14"), 16),
    PoolRange(IPv4Network("172.24.0.0/13"), 16),
    PoolRange(IPv4Network("192.168.0.0/16"), 20),
)


def parse_pool(text: str) -> tuple[PoolRange, ...]:
    """``"10.99.0.0/16:24,172.30.0.0/16"`` (base[:prefixlen], default /24)."""
    out = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        base_s, _, size_s = part.partition(":")
        base = parse_subnet(base_s, flag="subnet pool")
        size = int(size_s) if size_s.isdigit() else max(base.prefixlen, 24)
        if not base.prefixlen <= size <= 30:
            raise UsageError(f"subnet pool entry {part!r}: size /{size} must be within "
                             f"/{base.prefixlen}../30")
        out.append(PoolRange(base, size))
    return tuple(out)


def parse_subnet(text: str, *, flag: str = "--subnet") -> IPv4Network:
    """A CIDR such as ``10.20.0.0/24``; host bits must be zero, IPv4 only."""
    try:
        net = ipaddress.ip_network(text.strip(), strict=True)
    except ValueError as exc:
        hint = "write a network address and prefix, e.g. 10.20.0.0/24"
        try:
            loose = ipaddress.ip_network(text.strip(), strict=False)
            hint = f"did you mean {loose}?"
        except ValueError:
            pass
        raise UsageError(f"{flag}: invalid CIDR {text!r}: {exc}", hint=hint) from exc
    if not isinstance(net, IPv4Network):
        raise UsageError(f"{flag}: {text!r} is IPv6; only IPv4 networks are supported")
    if net.prefixlen > 30:
        raise UsageError(f"{flag}: {text} is too small: it leaves no room for containers",
                         hint="use a prefix of /30 or shorter, e.g. /24")
    return net


def parse_address(text: str, *, flag: str) -> IPv4Address:
    try:
        addr = ipaddress.ip_address(text.strip())
    except ValueError as exc:
        raise UsageError(f"{flag}: invalid IP address {text!r}") from exc
    if not isinstance(addr, IPv4Address):
        raise UsageError(f"{flag}: {text!r} is IPv6; only IPv4 is supported")
    return addr


def parse_proc_route(text: str) -> list[IPv4Network]:
    """Destinations of the host's IPv4 routes from ``/proc/net/route``.

    Read from procfs rather than netlink so that allocation needs no pyroute2
    import (it costs ~300 ms). Fields are little-endian hex.
    """
    out = []
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 8:
            continue
        try:
            dest = IPv4Address(int.from_bytes(bytes.fromhex(fields[1]), "little"))
            mask = IPv4Address(int.from_bytes(bytes.fromhex(fields[7]), "little"))
            out.append(IPv4Network(f"{dest}/{mask}", strict=False))
        except ValueError:
            continue
    return out


def host_routes() -> list[IPv4Network]:
    try:
        with open("/proc/net/route") as f:
            return parse_proc_route(f.read())
    except OSError:
        return []


def overlapping(net: IPv4Network, others: Iterable[IPv4Network]) -> IPv4Network | None:
    """The first of ``others`` that overlaps ``net`` (the default route never counts)."""
    for other in others:
        if other.prefixlen == 0:
            continue
        if net.overlaps(other):
            return other
    return None


def allocate_subnet(
    taken: Iterable[IPv4Network],
    host_routes: Iterable[IPv4Network],
    pool: tuple[PoolRange, ...] = DEFAULT_POOL,
) -> IPv4Network:
    """The first pool subnet that overlaps neither a network nor a host route."""
    blocked = [n for n in [*taken, *host_routes] if n.prefixlen > 0]
    for rng in pool:
        for cand in rng.candidates():
            if overlapping(cand, blocked) is None:
                return cand
    raise NetError(
        "no free subnet is left in the address pool",
        hint="remove unused networks (`stackctl network prune`) or pass --subnet",
    )


def check_subnet(
    net: IPv4Network,
    networks: dict[str, IPv4Network],
    host_routes: Iterable[IPv4Network],
) -> None:
    """Refuse a user subnet that overlaps another network or a host route."""
    for name, other in networks.items():
        if net.overlaps(other):
            raise NetError(
                f"--subnet {net} overlaps network {name!r} ({other})",
                hint="choose a subnet that no other network uses",
            )
    clash = overlapping(net, host_routes)
    if clash is not None:
        raise NetError(
            f"--subnet {net} overlaps the host's route to {clash}",
            hint="choose a subnet the host does not already route (see `ip route`)",
        )


def default_gateway(net: IPv4Network) -> IPv4Address:
    return net.network_address + 1


def check_gateway(net: IPv4Network, gateway: IPv4Address) -> IPv4Address:
    if gateway not in net or gateway in (net.network_address, net.broadcast_address):
        raise UsageError(
            f"--gateway {gateway} is not a usable host address of {net}",
            hint=f"pick an address between {net.network_address + 1} "
                 f"and {net.broadcast_address - 1}",
        )
    return gateway


def allocate_address(
    net: IPv4Network, gateway: IPv4Address, taken: Iterable[IPv4Address]
) -> IPv4Address:
    """The lowest free host address: not network, broadcast, gateway or leased."""
    used = set(taken)
    used.add(gateway)
    for addr in net.hosts():
        if addr not in used:
            return addr
    raise NetError(
        f"network {net} has no free address left ({len(used)} in use)",
        hint="remove containers from it, or create a network with a larger --subnet",
    )


def check_static_address(
    net: IPv4Network, gateway: IPv4Address, addr: IPv4Address,
    taken: Iterable[IPv4Address], *, network_name: str,
) -> IPv4Address:
    """A user's ``--ip``: inside the subnet, a host address, not the gateway, free."""
    if addr not in net:
        raise UsageError(f"--ip {addr} is outside network {network_name!r} ({net})",
                         hint=f"pick an address inside {net}")
    if addr in (net.network_address, net.broadcast_address):
        raise UsageError(f"--ip {addr} is the network or broadcast address of {net}")
    if addr == gateway:
        raise UsageError(f"--ip {addr} is the gateway of network {network_name!r}")
    if addr in set(taken):
        raise NetError(f"--ip {addr} is already in use on network {network_name!r}",
                       hint="pick another address, or let stackctl choose one")
    return addr


__all__ = [
    "DEFAULT_POOL",
    "PoolRange",
    "allocate_address",
    "allocate_subnet",
    "check_gateway",
    "check_static_address",
    "check_subnet",
    "default_gateway",
    "host_routes",
    "overlapping",
    "parse_address",
    "parse_pool",
    "parse_proc_route",
    "parse_subnet",
]
