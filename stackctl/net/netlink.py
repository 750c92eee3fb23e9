"""pyroute2 behind one typed module: every netlink call of stackctl is here.

pyroute2's string verbs and ``**kwargs`` stay inside this file; callers get
typed functions and our own errors (``NetlinkError`` EEXIST -> AlreadyExists,
ENOENT/ENODEV -> NotFound, the rest -> NetError), each naming the interface.

Threads, not asyncio: pyroute2's async API is asyncio-only, and stackctl's
concurrency is anyio-agnostic, so we use the *sync* ``IPRoute`` and callers
that are async run these functions in a worker thread
(``anyio.to_thread.run_sync``). One ``Netlink`` object is used by one thread.

Namespaces without fork: pyroute2's own ``netns=`` support forks a child to
create the socket, which is unsafe in a process that has threads. Instead a
short-lived thread ``setns()``es into the target namespace, opens the
AF_NETLINK socket there (a socket stays bound to the namespace it was created
in) and hands it to ``IPRoute(use_socket=...)``.

pyroute2 costs ~300 ms to import, so it is imported lazily, only here and
only when a netlink operation is actually made.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from stackctl.errors import AlreadyExists, NetError, NotFound
from stackctl.net.netns import run_in_netns

NETLINK_ROUTE = 0
T = TypeVar("T")


def _map_error(exc: BaseException, what: str) -> Exception:
    code = getattr(exc, "code", None)
    if code is None and isinstance(exc, OSError):
        code = exc.errno
    text = os.strerror(code) if isinstance(code, int) else str(exc)
    if code == errno.EEXIST:
        return AlreadyExists(f"{what}: already exists")
    if code in (errno.ENODEV, errno.ENOENT, errno.ESRCH):
        return NotFound(f"{what}: no such interface or entry ({text})")
    if code == errno.EPERM:
        return NetError(f"{what}: permission denied", hint="network setup needs root")
    return NetError(f"{what}: {text}")


class Netlink:
    """A route-netlink connection, in the current namespace or in ``netns``."""

    def __init__(self, netns: Path | None = None) -> None:
        from pyroute2 import IPRoute
        from pyroute2.netlink.exceptions import NetlinkError

        self._NetlinkError = NetlinkError
        if netns is None:
            sock = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_ROUTE)
        else:
            sock = run_in_netns(
                netns,
                lambda: socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_ROUTE),
            )
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        try:
            # groups=0: we only issue requests; no multicast event stream to drain
            self._ipr = IPRoute(use_socket=sock, groups=0)
        except Exception:
            sock.close()
            raise
        self.netns = netns

    def close(self) -> None:
        self._ipr.close()

    def __enter__(self) -> Netlink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except (self._NetlinkError, OSError) as exc:
            raise _map_error(exc, what) from exc

    # -- links ---------------------------------------------------------------

    def index(self, ifname: str) -> int:
        found = self._ipr.link_lookup(ifname=ifname)
        if not found:
            raise NotFound(f"interface {ifname!r} does not exist")
        return int(found[0])

    def link_exists(self, ifname: str) -> bool:
        return bool(self._ipr.link_lookup(ifname=ifname))

    def link_kind(self, ifname: str) -> str | None:
        """``"bridge"``, ``"veth"``... or None when the link does not exist."""
        found = self._ipr.link_lookup(ifname=ifname)
        if not found:
            return None
        msg = self._ipr.link("get", index=found[0])[0]
        info = msg.get_attr("IFLA_LINKINFO")
        return None if info is None else str(info.get_attr("IFLA_INFO_KIND"))

    def links(self) -> list[str]:
        return [str(m.get_attr("IFLA_IFNAME")) for m in self._ipr.get_links()]

    def create_bridge(self, ifname: str, *, mtu: int = 1500) -> None:
        # forward_delay 0: a new port forwards at once (no STP on these bridges)
        self._call(f"create bridge {ifname}", lambda: self._ipr.link(
            "add", ifname=ifname, kind="bridge", mtu=mtu, br_forward_delay=0, br_stp_state=0))

    def create_veth(self, ifname: str, peer: str, *, mtu: int = 1500,
                    peer_mac: str | None = None) -> None:
        peer_spec: dict[str, Any] = {"ifname": peer, "mtu": mtu}
        if peer_mac:
            peer_spec["address"] = peer_mac
        self._call(f"create veth {ifname}/{peer}", lambda: self._ipr.link(
            "add", ifname=ifname, kind="veth", mtu=mtu, peer=peer_spec))

    def delete_link(self, ifname: str) -> bool:
        """Remove ``ifname``; False when it was already gone (idempotent)."""
        found = self._ipr.link_lookup(ifname=ifname)
        if not found:
            return False
        try:
            self._ipr.link("del", index=found[0])
        except self._NetlinkError as exc:
            if exc.code == errno.ENODEV:
                return False
            raise _map_error(exc, f"delete interface {ifname}") from exc
        return True

    def set_up(self, ifname: str) -> None:
        idx = self.index(ifname)
        self._call(f"set {ifname} up", lambda: self._ipr.link("set", index=idx, state="up"))

    def set_mtu(self, ifname: str, mtu: int) -> None:
        idx = self.index(ifname)
        self._call(f"set mtu {mtu} on {ifname}",
                   lambda: self._ipr.link("set", index=idx, mtu=mtu))

    def set_master(self, ifname: str, bridge: str) -> None:
        idx, br = self.index(ifname), self.index(bridge)
        self._call(f"attach {ifname} to {bridge}",
                   lambda: self._ipr.link("set", index=idx, master=br))

    def move_to_netns(self, ifname: str, netns: Path, *, new_name: str | None = None) -> None:
        """Move ``ifname`` into the namespace bound at ``netns`` (renaming it)."""
        idx = self.index(ifname)
        fd = os.open(netns, os.O_RDONLY | os.O_CLOEXEC)
        try:
            kwargs: dict[str, Any] = {"net_ns_fd": fd}
            if new_name:
                kwargs["ifname"] = new_name
            self._call(f"move {ifname} into {netns}",
                       lambda: self._ipr.link("set", index=idx, **kwargs))
        finally:
            os.close(fd)

    # -- addresses and routes -----------------------------------------------

    def add_address(self, ifname: str, iface: ipaddress.IPv4Interface) -> None:
        idx = self.index(ifname)
        net = iface.network
        self._call(f"add address {iface} to {ifname}", lambda: self._ipr.addr(
            "add", index=idx, address=str(iface.ip), prefixlen=net.prefixlen,
            broadcast=str(net.broadcast_address)))

    def addresses(self, ifname: str) -> list[ipaddress.IPv4Interface]:
        idx = self.index(ifname)
        out = []
        for msg in self._ipr.get_addr(index=idx, family=socket.AF_INET):
            out.append(ipaddress.IPv4Interface(
                f"{msg.get_attr('IFA_ADDRESS')}/{msg['prefixlen']}"))
        return out

    def add_route(self, dst: ipaddress.IPv4Network | None,
                  gateway: ipaddress.IPv4Address, *, ifname: str | None = None) -> None:
        """Add a route (``dst=None`` = the default route) via ``gateway``."""
        kwargs: dict[str, Any] = {"dst": str(dst) if dst else "0.0.0.0/0",
                                  "gateway": str(gateway)}
        if ifname:
            kwargs["oif"] = self.index(ifname)
        self._call(f"add route to {kwargs['dst']} via {gateway}",
                   lambda: self._ipr.route("add", **kwargs))

    def default_gateway(self) -> ipaddress.IPv4Address | None:
        for msg in self._ipr.get_default_routes(family=socket.AF_INET):
            gw = msg.get_attr("RTA_GATEWAY")
            if gw:
                return ipaddress.IPv4Address(gw)
        return None


__all__ = ["Netlink"]
