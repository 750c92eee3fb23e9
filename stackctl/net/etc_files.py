"""What goes into a container's /etc/hosts and /etc/resolv.conf beyond the network
layer's own lines: ``--add-host`` (compose ``extra_hosts``), ``--dns``,
``--dns-search`` and ``--dns-option`` (``dns``, ``dns_search``, ``dns_opt``).

Pure: the callers (engine/prepare.py for ``none``/``host``, manager.py for
bridge networks) read the host's files and write the container's.
"""

from __future__ import annotations

from stackctl.errors import UsageError
from stackctl.lightdc import dataclass

HOST_GATEWAY = "host-gateway"  # --add-host NAME:host-gateway, Docker's magic address


@dataclass(frozen=True)
class EtcRequest:
    """A container's own /etc/hosts and resolv.conf lines (ContainerConfig's)."""

    extra_hosts: tuple[str, ...] = ()
    dns_search: tuple[str, ...] = ()
    dns_options: tuple[str, ...] = ()


def parse_extra_host(spec: str, *, flag: str = "--add-host") -> tuple[str, str]:
    """``NAME:IP`` (or ``NAME=IP``; an IPv6 address may follow the first colon, and
    may be in brackets) as (name, address); the address may be ``host-gateway``."""
    import ipaddress

    sep = "=" if "=" in spec else ":"
    name, found, addr = spec.partition(sep)
    addr = addr.strip()
    if addr.startswith("[") and addr.endswith("]"):
        addr = addr[1:-1]
    if not found or not name.strip() or any(c.isspace() for c in name.strip()):
        raise UsageError(f"{flag} {spec!r}: invalid argument, expected HOST:IP",
                         hint="e.g. --add-host db.local:10.0.0.5 or "
                              f"--add-host host.docker.internal:{HOST_GATEWAY}")
    if addr != HOST_GATEWAY:
        try:
            addr = str(ipaddress.ip_address(addr))
        except ValueError:
            raise UsageError(f"{flag} {spec!r}: invalid IP address {addr!r}",
                             hint=f"an IPv4 or IPv6 address, or {HOST_GATEWAY}") from None
    return name.strip(), addr


def check_nameservers(servers: tuple[str, ...], *, flag: str = "--dns") -> tuple[str, ...]:
    """The addresses, normalised; a bad one is the flag's error."""
    import ipaddress

    out = []
    for s in servers:
        try:
            out.append(str(ipaddress.ip_address(s.strip())))
        except ValueError:
            raise UsageError(f"{flag} {s!r}: not an IP address",
                             hint="e.g. --dns 9.9.9.9") from None
    return tuple(out)


def hosts_lines(extra_hosts: tuple[str, ...], gateway: str | None) -> list[str]:
    """``IP\\tNAME`` lines for ``extra_hosts``; ``host-gateway`` is ``gateway`` (the
    container's bridge gateway: the host, seen from the container)."""
    out = []
    for spec in extra_hosts:
        name, addr = parse_extra_host(spec)
        if addr == HOST_GATEWAY:
            if gateway is None:
                raise UsageError(f"--add-host {spec}: {HOST_GATEWAY} needs a bridge network",
                                 hint="give the address instead")
            addr = gateway
        out.append(f"{addr}\t{name}")
    return out


def resolv_conf(host_text: str, *, nameservers: tuple[str, ...] = (),
                search: tuple[str, ...] = (), options: tuple[str, ...] = ()) -> str:
    """The host's resolv.conf with each part the container sets replaced, as Docker
    builds it: --dns replaces the nameserver lines, --dns-search the search (and
    domain) lines, --dns-option the options lines. ``search`` of ``.`` clears it."""
    lines = host_text.splitlines()
    kept = [ln for ln in lines if not (
        (nameservers and ln.split()[:1] == ["nameserver"])
        or (search and ln.split()[:1] in (["search"], ["domain"]))
        or (options and ln.split()[:1] == ["options"]))]
    kept += [f"nameserver {n}" for n in nameservers]
    domains = [d for d in search if d != "."]
    if domains:
        kept.append("search " + " ".join(domains))
    if options:
        kept.append("options " + " ".join(options))
    return "".join(ln + "\n" for ln in kept)


__all__ = ["HOST_GATEWAY", "EtcRequest", "check_nameservers", "hosts_lines", "parse_extra_host",
           "resolv_conf"]
