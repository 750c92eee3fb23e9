"""Networks: Linux bridges with a subnet, a gateway and nftables rules.

``Networks`` is the network half of NetworkManager (manager.py adds the
container half): create / get / remove / inspect, the default ``bridge``
network, and ``ensure_bridge``, which brings back a bridge lost to a crash
or a reboot.

The default network is made on first use and then stays, as Docker's
docker0 does: making it costs a bridge and four nftables transactions
(~250 ms of ``nft`` processes), which a ``run --rm`` paid twice over when
the network went with its last container. The CLI refuses ``network rm
bridge`` as Docker does; ``remove`` here allows it when nothing uses it (the
tests use that to leave the host clean), and the next use makes it again.

A network row is written before its bridge exists (the row's transaction is
where overlapping subnets are refused), and the kernel side follows; a
failure there removes the row again, and a crash between the two is healed by
the next ``ensure_bridge``.
"""

from __future__ import annotations

import ipaddress
import json
import os
import sys
from pathlib import Path

from stackctl.engine.state import StateStore
from stackctl.errors import AlreadyExists, Conflict, NotFound, UsageError
from stackctl.net import ipam, names
from stackctl.net.firewall import Firewall, FirewallUnavailable
from stackctl.net.model import Endpoint, NetworkInfo

TYPE_CHECKING = False  # typing: ~3 ms of every bridge run; annotations only
if TYPE_CHECKING:
    from typing import Any, Self

DEFAULT_ROOT = Path("/var/lib/stackctl")
_BRIDGE_OPTS = ("com.docker.network.bridge.name", "bridge.name")
_MTU_OPTS = ("com.docker.network.driver.mtu", "mtu")


_warned: set[str] = set()


def _warn_once(text: str) -> None:
    """A warning on stderr, once per process (as Docker prints the daemon's)."""
    if text not in _warned:
        _warned.add(text)
        sys.stderr.write(f"WARNING: {text}\n")


def _now() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def row_to_info(row: Any) -> NetworkInfo:
    return NetworkInfo(
        id=row["id"], name=row["name"], bridge=row["bridge"],
        subnet=ipaddress.IPv4Network(row["subnet"]),
        gateway=ipaddress.IPv4Address(row["gateway"]), internal=bool(row["internal"]),
        mtu=int(row["mtu"]), labels=json.loads(row["labels"]),
        options=json.loads(row["options"]), created=row["created"],
    )


class Networks:
    def __init__(self, root: Path, run_root: Path, state: StateStore | None = None, *,
                 pool: tuple[ipam.PoolRange, ...] | None = None) -> None:
        self.root = Path(root)
        self.run_root = Path(run_root)
        self._own_state = state is None
        self.state = state if state is not None else StateStore(self.root)
        env_pool = os.environ.get("STACKCTL_SUBNET_POOL")
        self.pool = pool or (ipam.parse_pool(env_pool) if env_pool else ipam.DEFAULT_POOL)
        self.firewall = Firewall.for_root(self.root)

    def close(self) -> None:
        if self._own_state:
            self.state.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def networks(self) -> list[NetworkInfo]:
        rows = self.state.db.execute("SELECT * FROM networks ORDER BY name").fetchall()
        return [row_to_info(r) for r in rows]

    def get(self, ref: str) -> NetworkInfo:
        """By exact name, exact id, or unique id prefix (like Docker)."""
        db = self.state.db
        row = db.execute("SELECT * FROM networks WHERE name = ? OR id = ?", (ref, ref)).fetchone()
        if row is None and len(ref) >= 3:
            rows = db.execute("SELECT * FROM networks WHERE id LIKE ?", (ref + "%",)).fetchall()
            if len(rows) > 1:
                raise Conflict(f"network id prefix {ref!r} is ambiguous ({len(rows)} match)",
                               hint="give more characters of the id, or the name")
            row = rows[0] if rows else None
        if row is None:
            if ref == names.DEFAULT_NETWORK:
                return self.ensure_default()
            raise NotFound(f"network {ref!r} not found",
                           hint="see `stackctl network ls`, or create it with "
                                f"`stackctl network create {ref}`")
        return row_to_info(row)

    def ensure_default(self) -> NetworkInfo:
        """The default ``bridge`` network, made on first use."""
        row = self.state.db.execute("SELECT * FROM networks WHERE name = ?",
                                    (names.DEFAULT_NETWORK,)).fetchone()
        if row is not None:
            return row_to_info(row)  # a lost bridge is made again by _plug
        # the default root gets Docker's look (stackctl0); any other root a
        # derived name, so several roots on one host never fight over it
        opts = {}
        if self.root.resolve() == DEFAULT_ROOT:
            opts["com.docker.network.bridge.name"] = names.DEFAULT_BRIDGE
        try:
            return self.create(names.DEFAULT_NETWORK, options=opts, _allow_default=True)
        except AlreadyExists:
            return self.get(names.DEFAULT_NETWORK)

    def create(self, name: str, *, subnet: str | None = None, gateway: str | None = None,
               internal: bool = False, labels: dict[str, str] | None = None,
               mtu: int | None = None, options: dict[str, str] | None = None,
               _allow_default: bool = False) -> NetworkInfo:
        names.check_network_name(name)
        if name in ("host", "none") or (name == names.DEFAULT_NETWORK and not _allow_default):
            raise Conflict(f"network name {name!r} is reserved for a predefined network",
                           hint="choose another name")
        options = dict(options or {})
        bridge_opt = next((options[k] for k in _BRIDGE_OPTS if k in options), None)
        mtu_opt = next((options[k] for k in _MTU_OPTS if k in options), None)
        if mtu is None and mtu_opt is not None:
            if not mtu_opt.isdigit():
                raise UsageError(f"--opt mtu={mtu_opt}: not a number")
            mtu = int(mtu_opt)
        mtu = 1500 if mtu is None else mtu
        if not 68 <= mtu <= 65535:
            raise UsageError(f"mtu {mtu} is out of range 68..65535")
        net_wanted = ipam.parse_subnet(subnet) if subnet else None
        if gateway and net_wanted is None:
            raise UsageError("--gateway needs --subnet", hint="give both, or neither")
        gw_wanted = ipam.parse_address(gateway, flag="--gateway") if gateway else None
        if bridge_opt is not None:
            names.check_ifname(bridge_opt)
        net_id = os.urandom(32).hex()
        bridge = bridge_opt or names.bridge_name(net_id)
        with self.state.transaction() as db:
            if db.execute("SELECT 1 FROM networks WHERE name = ?", (name,)).fetchone():
                raise AlreadyExists(f"network with name {name!r} already exists",
                                    hint="choose another name, or remove it first")
            if db.execute("SELECT 1 FROM networks WHERE bridge = ?", (bridge,)).fetchone():
                raise AlreadyExists(f"bridge {bridge!r} is already used by another network")
            existing = {r["name"]: ipaddress.IPv4Network(r["subnet"])
                        for r in db.execute("SELECT name, subnet FROM networks")}
            routes = ipam.host_routes()
            if net_wanted is not None:
                ipam.check_subnet(net_wanted, existing, routes)
                net = net_wanted
            else:
                net = ipam.allocate_subnet(existing.values(), routes, self.pool)
            gw = ipam.check_gateway(net, gw_wanted) if gw_wanted else ipam.default_gateway(net)
            info = NetworkInfo(net_id, name, bridge, net, gw, internal, mtu,
                               dict(labels or {}), options, _now())
            db.execute(
                "INSERT INTO networks (id, name, bridge, subnet, gateway, internal, mtu, labels,"
                " options, created) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (info.id, name, bridge, str(net), str(gw), int(internal), mtu,
                 json.dumps(info.labels), json.dumps(options), info.created))
        try:
            self.ensure_bridge(info, fresh=True)
        except BaseException:
            self._destroy_network(info)
            raise
        return info

    def ensure_bridge(self, info: NetworkInfo, *, fresh: bool = False) -> None:
        """Make the bridge of ``info`` exist, addressed and up (idempotent)."""
        from stackctl.net.netlink import Netlink

        with Netlink() as nl:
            kind = nl.link_kind(info.bridge)
            if kind is not None and kind != "bridge":
                raise AlreadyExists(f"interface {info.bridge!r} exists and is not a bridge",
                                    hint="choose another bridge name (-o bridge.name=...)")
            if kind is None:
                nl.create_bridge(info.bridge, mtu=info.mtu)
            elif fresh:
                raise AlreadyExists(f"bridge {info.bridge!r} already exists on this host",
                                    hint="choose another bridge name (-o bridge.name=...)")
            want = ipaddress.IPv4Interface(f"{info.gateway}/{info.subnet.prefixlen}")
            if want not in nl.addresses(info.bridge):
                nl.add_address(info.bridge, want)
            nl.set_up(info.bridge)
        try:
            self.firewall.add_network(info.bridge, info.subnet, internal=info.internal)
            Firewall.prepare_bridge(info.bridge, internal=info.internal)
        except FirewallUnavailable as exc:
            # optional: the network works, with neither outbound NAT nor
            # isolation; publishing a port is an error (manager.py) instead
            _warn_once(f"network {info.name!r} has no outbound NAT and is not isolated from "
                       f"other networks: {exc.message}; {exc.hint}")

    def _destroy_network(self, info: NetworkInfo) -> None:
        with self.state.transaction() as db:
            db.execute("DELETE FROM networks WHERE id = ?", (info.id,))
            # quarantined addresses of the network (net/manager.py): their veths
            # leave with the bridge or with their namespaces
            db.execute("DELETE FROM draining WHERE network_id = ?", (info.id,))
            last = db.execute("SELECT COUNT(*) FROM networks").fetchone()[0] == 0
        self._remove_kernel_side(info, drop_table=last)

    def _remove_kernel_side(self, info: NetworkInfo, *, drop_table: bool) -> None:
        from stackctl.net.netlink import Netlink

        self.firewall.remove_network(info.bridge, info.subnet)
        with Netlink() as nl:
            if nl.link_kind(info.bridge) == "bridge":
                nl.delete_link(info.bridge)
        if drop_table:
            self.firewall.drop()

    def remove(self, ref: str) -> NetworkInfo:
        if ref == names.DEFAULT_NETWORK and not self.state.db.execute(
                "SELECT 1 FROM networks WHERE name = ?", (ref,)).fetchone():
            raise NotFound(f"network {ref!r} not found",
                           hint="the default network is made when a container first uses it")
        info = self.get(ref)
        users = self._users(info.id)
        if users:
            raise Conflict(
                f"network {info.name!r} is in use by {len(users)} container(s): "
                + ", ".join(u[:12] for u in users[:5]),
                hint="stop and remove those containers, or `network disconnect` them",
            )
        self._destroy_network(info)
        return info

    def _users(self, network_id: str) -> list[str]:
        rows = self.state.db.execute(
            "SELECT container_id FROM endpoints WHERE network_id = ?", (network_id,))
        return [r[0] for r in rows]

    def endpoints(self, *, container_id: str | None = None,
                  network_id: str | None = None) -> list[Endpoint]:
        sql = ("SELECT e.*, n.name AS nname, n.subnet, n.gateway FROM endpoints e "
               "JOIN networks n ON n.id = e.network_id WHERE 1=1")
        args: list[str] = []
        if container_id is not None:
            sql += " AND e.container_id = ?"
            args.append(container_id)
        if network_id is not None:
            sql += " AND e.network_id = ?"
            args.append(network_id)
        out = []
        for r in self.state.db.execute(sql + " ORDER BY e.ifname", args):
            prefix = ipaddress.IPv4Network(r["subnet"]).prefixlen
            out.append(Endpoint(
                r["container_id"], r["network_id"], r["nname"], r["ifname"], r["host_veth"],
                ipaddress.IPv4Interface(f"{r['ip']}/{prefix}"),
                ipaddress.IPv4Address(r["gateway"]), r["mac"], tuple(json.loads(r["aliases"]))))
        return out

    def inspect(self, ref: str) -> dict[str, Any]:
        info = self.get(ref)
        containers = {}
        for ep in self.endpoints(network_id=info.id):
            row = self.state.db.execute("SELECT name FROM containers WHERE id = ?",
                                        (ep.container_id,)).fetchone()
            containers[ep.container_id] = {
                "Name": row[0] if row else (ep.aliases[0] if ep.aliases else ""),
                "EndpointID": ep.host_veth,
                "MacAddress": ep.mac,
                "IPv4Address": str(ep.address),
                "IPv6Address": "",
            }
        return info.docker_shape(containers)


__all__ = ["Networks", "row_to_info"]
