"""Published ports: the ``-p`` / ``-P`` grammar, host-port checks, and the plan.

Pure parts (parse, expand ranges, check collisions) are separate from the two
effects: probing the host for a port in use (a bind() test, made before
anything is created) and installing the mapping (``firewall.py``: nftables
DNAT, see its docstring for why DNAT rather than a userland proxy).

Grammar (Docker's): ``[ip:][hostPort:]containerPort[/tcp|udp]`` where each
port may be a range ``a-b``; an empty hostPort (``ip::80``) or a missing one
(``80``) means a random free host port. A host range for one container port
(``8000-8010:80``) means one free port of that range, chosen at start (so the
replicas of a service each take their own, as with Docker).
"""

from __future__ import annotations

import errno
import ipaddress
import socket
from collections.abc import Iterable

from stackctl.errors import NetError, UsageError
from stackctl.lightdc import dataclass

ANY = ipaddress.IPv4Address("0.0.0.0")
PROTOCOLS = ("tcp", "udp")


@dataclass(frozen=True, order=True)
class PortMapping:
    """One published port. ``host_port == 0`` until a port is chosen: a random one,
    or the first free one of ``host_range`` (inclusive) when it is set."""

    container_port: int
    protocol: str = "tcp"
    host_ip: ipaddress.IPv4Address = ANY
    host_port: int = 0
    host_range: tuple[int, int] | None = None

    def __str__(self) -> str:
        return f"{self.container_port}/{self.protocol} -> {self.host_ip}:{self.host_port}"

    def display(self) -> str:
        """Docker's ``ps`` PORTS form."""
        return f"{self.host_ip}:{self.host_port}->{self.container_port}/{self.protocol}"


def _port(text: str, spec: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise UsageError(f"-p {spec}: invalid port {text!r}",
                         hint="ports are numbers from 1 to 65535")
    return int(text)


def _range(text: str, spec: str) -> list[int]:
    lo, sep, hi = text.partition("-")
    if not sep:
        return [_port(lo, spec)]
    a, b = _port(lo, spec), _port(hi, spec)
    if b < a:
        raise UsageError(f"-p {spec}: range {text} runs backwards")
    return list(range(a, b + 1))


def parse_publish(spec: str) -> list[PortMapping]:
    """One ``-p`` value -> its mappings (ranges expanded)."""
    body, _, proto = spec.strip().partition("/")
    proto = proto.lower() or "tcp"
    if proto not in PROTOCOLS:
        raise UsageError(f"-p {spec}: unknown protocol {proto!r}", hint="use tcp or udp")
    parts = body.rsplit(":", 2)
    host_ip_s, host_s, cont_s = "", "", parts[-1]
    if len(parts) == 2:
        host_s = parts[0]
    elif len(parts) == 3:
        host_ip_s, host_s = parts[0], parts[1]
    host_ip = ANY
    if host_ip_s:
        try:
            host_ip = ipaddress.IPv4Address(host_ip_s.strip("[]"))
        except ValueError as exc:
            raise UsageError(f"-p {spec}: invalid host IP {host_ip_s!r}",
                             hint="use an IPv4 address of this host, e.g. 127.0.0.1") from exc
    conts = _range(cont_s, spec)
    hosts = _range(host_s, spec) if host_s else [0] * len(conts)
    if len(hosts) != len(conts):
        if host_s and len(conts) == 1:
            # Docker: "8000-8010:80" means one host port from the range, chosen at start
            return [PortMapping(conts[0], proto, host_ip, 0, (hosts[0], hosts[-1]))]
        raise UsageError(f"-p {spec}: host range ({len(hosts)} ports) and container range "
                         f"({len(conts)} ports) differ in length")
    return [PortMapping(c, proto, host_ip, h) for h, c in zip(hosts, conts, strict=True)]


def parse_expose(spec: str) -> list[tuple[int, str]]:
    """An image's/``--expose`` entry like ``80/tcp`` or ``7000-7002``."""
    body, _, proto = spec.partition("/")
    proto = proto.lower() or "tcp"
    if proto not in PROTOCOLS:
        raise UsageError(f"expose {spec}: unknown protocol {proto!r}")
    return [(p, proto) for p in _range(body, spec)]


def publish_all(exposed: Iterable[tuple[int, str]]) -> list[PortMapping]:
    """``-P``: every exposed port on a random host port."""
    return [PortMapping(port, proto) for port, proto in sorted(set(exposed))]


def check_collisions(wanted: list[PortMapping], existing: Iterable[PortMapping]) -> None:
    """Refuse two mappings of one host port (within ``wanted``, or against ``existing``)."""
    seen: dict[tuple[str, int], PortMapping] = {}
    for m in existing:
        seen[(m.protocol, m.host_port)] = m
    for m in wanted:
        if m.host_port == 0:
            continue
        other = seen.get((m.protocol, m.host_port))
        if other is not None and (ANY in (m.host_ip, other.host_ip)
                                  or m.host_ip == other.host_ip):
            raise NetError(
                f"host port {m.host_ip}:{m.host_port}/{m.protocol} is already published "
                f"(for container port {other.container_port})",
                hint="choose another host port, or leave it out for a random one",
            )
        seen[(m.protocol, m.host_port)] = m


def probe_free(m: PortMapping) -> None:
    """Fail now, before anything is created, if a host process holds the port."""
    kind = socket.SOCK_STREAM if m.protocol == "tcp" else socket.SOCK_DGRAM
    with socket.socket(socket.AF_INET, kind) as s:
        try:
            s.bind((str(m.host_ip), m.host_port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise NetError(
                    f"host port {m.host_ip}:{m.host_port}/{m.protocol} is already in use",
                    hint="stop what listens there (see `ss -lntup`), or choose another port",
                ) from exc
            if exc.errno == errno.EADDRNOTAVAIL:
                raise NetError(f"-p: {m.host_ip} is not an address of this host",
                               hint="use 127.0.0.1, 0.0.0.0 or one of `ip -4 addr`") from exc
            raise NetError(f"cannot check host port {m.host_port}/{m.protocol}: {exc}") from exc


def random_free_port(m: PortMapping, avoid: set[tuple[str, int]]) -> int:
    """A free host port from the kernel's ephemeral range, not one we already publish."""
    kind = socket.SOCK_STREAM if m.protocol == "tcp" else socket.SOCK_DGRAM
    for _ in range(64):
        with socket.socket(socket.AF_INET, kind) as s:
            s.bind((str(m.host_ip), 0))
            port = int(s.getsockname()[1])
        if (m.protocol, port) not in avoid:
            return port
    raise NetError("could not find a free host port", hint="free some ports and retry")


def free_port_in_range(m: PortMapping, ports: tuple[int, int],
                       avoid: set[tuple[str, int]]) -> int:
    """The first port of ``ports`` that no mapping of ours and no host process holds."""
    for port in range(ports[0], ports[1] + 1):
        if (m.protocol, port) in avoid:
            continue
        try:
            probe_free(PortMapping(m.container_port, m.protocol, m.host_ip, port))
        except NetError as exc:
            cause = exc.__cause__
            if isinstance(cause, OSError) and cause.errno == errno.EADDRINUSE:
                continue
            raise
        return port
    raise NetError(f"no free host port in {m.host_ip}:{ports[0]}-{ports[1]}/{m.protocol} "
                   f"for container port {m.container_port}",
                   hint="widen the range, or stop what holds its ports")


def resolve(wanted: list[PortMapping], existing: Iterable[PortMapping]) -> list[PortMapping]:
    """Check every fixed host port and choose the random ones; nothing is installed."""
    existing = list(existing)
    check_collisions(wanted, existing)
    avoid = {(m.protocol, m.host_port) for m in [*existing, *wanted]}
    out = []
    for m in wanted:
        if m.host_port == 0 and m.host_range is not None:
            port = free_port_in_range(m, m.host_range, avoid)
            avoid.add((m.protocol, port))
            m = PortMapping(m.container_port, m.protocol, m.host_ip, port)
        elif m.host_port == 0:
            port = random_free_port(m, avoid)
            avoid.add((m.protocol, port))
            m = PortMapping(m.container_port, m.protocol, m.host_ip, port)
        else:
            probe_free(m)
        out.append(m)
    return out


__all__ = [
    "PortMapping",
    "check_collisions",
    "free_port_in_range",
    "parse_expose",
    "parse_publish",
    "probe_free",
    "publish_all",
    "random_free_port",
    "resolve",
]
