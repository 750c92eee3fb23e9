"""NetworkManager: networks as Linux bridges, containers' namespaces and veths.

The seam the engine calls (all synchronous; async callers use a worker thread):

    nm = NetworkManager(root, run_root)
    cn = nm.setup_container(cid, [EndpointRequest("bridge")], names_=("web",),
                            hostname="web", ports=[...])   # -> ContainerNetwork
    ... bundle: cn.netns, cn.hosts, cn.resolv_conf; monitor: dns.for_container
    nm.connect(cid, EndpointRequest("backend")) / nm.disconnect(cid, "backend")
    nm.teardown_container(cid)                               # idempotent

Order of effects, and why it is safe to crash anywhere:

1. everything that can be refused is checked first (network names, --ip,
   host ports), so bad input creates nothing;
2. the lease (an ``endpoints`` row) is taken in one transaction with the
   read of what is taken: concurrent starts never share an address;
3. kernel objects get names derived from ids (names.py), so teardown finds
   them without any record; a failure half-way runs the same teardown.

Endpoint rows whose namespace is gone (a crash) are removed by ``repair``,
which every setup runs first. The network half lives in networks.py.

A released namespace's veths are destroyed by the kernel 10-30 ms later. An
address is leased again only once its old veth is gone. ``teardown_container``
waits for that; a foreground ``run --rm`` does not (``finish_teardown(wait=
False)``): its addresses go into quarantine (net/draining.py).
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import json
import os
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from stackctl.errors import AlreadyExists, Conflict, NetError, NotFound, UsageError
from stackctl.fsutil import rmtree
from stackctl.net import draining, etc_files, ipam, names
from stackctl.net.draining import UNPLUG_WAIT
from stackctl.net.etc_files import EtcRequest
from stackctl.net.firewall import Firewall
from stackctl.net.model import ContainerNetwork, Endpoint, EndpointRequest, NetworkInfo
from stackctl.net.netns import create_netns, is_netns, remove_netns
from stackctl.net.networks import Networks
from stackctl.net.ports import PortMapping, resolve


class _NetworkGone(NotFound):
    pass


class NetworkManager(Networks):
    """Networks plus what containers do on them (see the module docstring)."""

    def netns_path(self, container_id: str) -> Path:
        return self.run_root / "netns" / container_id

    def files_dir(self, container_id: str) -> Path:
        return self.run_root / "net" / container_id

    def _hosts_files(self, container_id: str) -> list[Path]:
        # the engine keeps a container's /etc files in its state dir; bare
        # namespaces (tests, the bench) under run_root/net
        return [self.root / "containers" / container_id / "hosts",
                self.files_dir(container_id) / "hosts"]

    def refresh_hosts(self, network_ids: Iterable[str]) -> int:
        from stackctl.net import hostsfile

        return hostsfile.refresh(self.state.db, network_ids, self._hosts_files)

    def remove(self, ref: str) -> NetworkInfo:
        self.repair()  # a crashed container's stale lease must not keep it "in use"
        return super().remove(ref)

    def prune(self, keep: Iterable[str] = ()) -> list[str]:
        """Remove every network that no container uses (the default one stays)."""
        self.repair()
        self._drop_orphan_ports()
        out = []
        spare = {names.DEFAULT_NETWORK, *keep}
        for info in self.networks():
            if info.name not in spare and not self._users(info.id):
                self._destroy_network(info)
                out.append(info.name)
        return out

    def _lease(self, container_id: str, info: NetworkInfo, req: EndpointRequest,
               aliases: Sequence[str], ifname: str) -> Endpoint:
        """Take an address on ``info`` for the container: one transaction."""
        veth = names.host_veth_name(container_id, info.id)
        mac = names.mac_address(container_id, info.id)
        with self.state.transaction() as db:
            if not db.execute("SELECT 1 FROM networks WHERE id = ?", (info.id,)).fetchone():
                raise _NetworkGone(f"network {info.name!r} was removed meanwhile")
            if db.execute("SELECT 1 FROM endpoints WHERE container_id = ? AND network_id = ?",
                          (container_id, info.id)).fetchone():
                raise AlreadyExists(f"container {container_id[:12]} is already connected "
                                    f"to network {info.name!r}")
            taken = [ipaddress.IPv4Address(r[0]) for r in
                     db.execute("SELECT ip FROM endpoints WHERE network_id = ? UNION "
                                "SELECT ip FROM draining WHERE network_id = ?",
                                (info.id, info.id))]
            if req.ip is not None:
                ip = ipam.check_static_address(info.subnet, info.gateway, req.ip, taken,
                                               network_name=info.name)
            else:
                ip = ipam.allocate_address(info.subnet, info.gateway, taken)
            db.execute(
                "INSERT INTO endpoints (container_id, network_id, ip, mac, host_veth, aliases,"
                " ifname) VALUES (?,?,?,?,?,?,?)",
                (container_id, info.id, str(ip), mac, veth, json.dumps(list(aliases)), ifname))
        return Endpoint(container_id, info.id, info.name, ifname, veth,
                        ipaddress.IPv4Interface(f"{ip}/{info.subnet.prefixlen}"),
                        info.gateway, mac, tuple(aliases))

    def _plug(self, ep: Endpoint, info: NetworkInfo, netns: Path, *, default_route: bool) -> None:
        """Kernel side of one endpoint: veth pair, into the netns, addressed, up."""
        from stackctl.net.netlink import Netlink

        with Netlink() as nl:
            if nl.link_kind(info.bridge) != "bridge":
                self.ensure_bridge(info)  # repair: the bridge vanished (reboot, crash)
            nl.delete_link(ep.host_veth)  # a leftover of a crashed attempt
            # the container end is born inside the namespace, already named ethN
            nl.create_veth(ep.host_veth, ep.ifname, mtu=info.mtu, peer_mac=ep.mac,
                           peer_netns=netns)
            nl.set_master(ep.host_veth, info.bridge)
            nl.set_up(ep.host_veth)
        with Netlink(netns) as nl:
            nl.add_address(ep.ifname, ep.address)
            nl.set_up(ep.ifname)
            if default_route and nl.default_gateway() is None:
                nl.add_route(None, info.gateway, ifname=ep.ifname)

    def setup_container(self, container_id: str, requests: Sequence[EndpointRequest], *,
                        names_: Sequence[str] = (), hostname: str | None = None,
                        ports: Sequence[PortMapping] = (),
                        files_dir: Path | None = None,
                        etc: EtcRequest = EtcRequest()) -> ContainerNetwork:
        """Namespace, one veth per network (eth0, eth1...), ports, hosts/resolv.conf.

        ``names_`` are the container's own names (container name, service
        name); each request's aliases are added on that network only.
        hosts and resolv.conf go to ``files_dir`` (default under run_root), with
        ``etc``'s extra hosts, search domains and options.
        An empty ``requests`` gives a namespace with loopback only.
        On any failure everything made so far is removed again. Retried when
        the default network is removed (``network rm bridge``) between
        looking it up and leasing on it.
        """
        for attempt in range(3):
            try:
                return self._setup(container_id, requests, names_=names_, hostname=hostname,
                                   ports=ports, files_dir=files_dir, etc=etc)
            except _NetworkGone:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _setup(self, container_id: str, requests: Sequence[EndpointRequest], *,
               names_: Sequence[str], hostname: str | None, ports: Sequence[PortMapping],
               files_dir: Path | None, etc: EtcRequest) -> ContainerNetwork:
        etc_files.hosts_lines(etc.extra_hosts, "0.0.0.0")  # a bad --add-host: nothing made
        self.repair()  # leases left by a crash (no namespace behind them) go first
        infos = [self.get(r.network) for r in requests]  # NotFound before anything exists
        if len({i.id for i in infos}) != len(infos):
            raise UsageError("a container can join each network only once")
        # a restart (its old veths may still be dying) or an --ip still quarantined
        draining.purge(self.state,
                       mine={names.host_veth_name(container_id, i.id) for i in infos},
                       wanted={(i.id, str(r.ip)) for r, i in zip(requests, infos, strict=True)
                               if r.ip is not None})
        for req, info in zip(requests, infos, strict=True):
            if req.ip is not None and req.ip not in info.subnet:
                raise UsageError(f"--ip {req.ip} is outside network {info.name!r} "
                                 f"({info.subnet})")
        published: list[PortMapping] = []
        if ports:
            if not infos:
                raise UsageError("published ports need a bridge network",
                                 hint="drop -p, or use --network bridge")
            if not Firewall.available():
                raise NetError("cannot publish ports: nftables (`nft`) is not installed",
                               hint="apt-get install nftables")
        netns = self.netns_path(container_id)
        # choosing host ports and publishing them is one critical section per root:
        # replicas started at once must not pick the same port of a range
        with self._ports_lock() if ports else contextlib.nullcontext():
            if ports:
                published = resolve(list(ports), [m for m, _ in self.firewall.published()])
            cn = self._setup_locked(container_id, requests, infos, names_, hostname,
                                    published, files_dir, netns, etc)
        self.refresh_hosts(i.id for i in infos)
        return cn

    def _setup_locked(self, container_id: str, requests: Sequence[EndpointRequest],
                      infos: Sequence[NetworkInfo], names_: Sequence[str],
                      hostname: str | None, published: list[PortMapping],
                      files_dir: Path | None, netns: Path, etc: EtcRequest) -> ContainerNetwork:
        try:
            create_netns(netns)
            eps = []
            routed = False
            for i, (req, info) in enumerate(zip(requests, infos, strict=True)):
                aliases = [*names_, *req.aliases]
                ep = self._lease(container_id, info, req, aliases, names.container_ifname(i))
                eps.append(ep)
                route = not info.internal and not routed
                self._plug(ep, info, netns, default_route=route)
                routed = routed or route
            if published:
                # the marker first: teardown lists nftables only for containers
                # that have it (the listing costs a process start)
                marker = self._ports_marker(container_id)
                marker.parent.mkdir(parents=True, exist_ok=True)
                marker.write_text("".join(f"{m.display()}\n" for m in published))
                self.firewall.publish(published, eps[0].address.ip)
            hosts, resolv = self._write_files(files_dir or self.files_dir(container_id), eps,
                                              hostname or container_id[:12], list(names_),
                                              etc)
        except BaseException:
            self.teardown_container(container_id)
            raise
        return ContainerNetwork(container_id, netns, tuple(eps), hosts, resolv,
                                tuple(published))

    @contextlib.contextmanager
    def _ports_lock(self) -> Iterator[None]:
        path = self.run_root / "net" / "ports.lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the lock

    def connect(self, container_id: str, req: EndpointRequest, *,
                names_: Sequence[str] = ()) -> Endpoint:
        """Join a running container (its namespace exists) to one more network."""
        netns = self.netns_path(container_id)
        if not is_netns(netns):
            raise Conflict(f"container {container_id[:12]} has no network namespace",
                           hint="start the container first")
        info = self.get(req.network)
        draining.purge(self.state, mine={names.host_veth_name(container_id, info.id)},
                       wanted={(info.id, str(req.ip))} if req.ip is not None else ())
        used = {ep.ifname for ep in self.endpoints(container_id=container_id)}
        ifname = next(names.container_ifname(i) for i in range(len(used) + 1)
                      if names.container_ifname(i) not in used)
        ep = self._lease(container_id, info, req, [*names_, *req.aliases], ifname)
        try:
            self._plug(ep, info, netns, default_route=not info.internal)
        except BaseException:
            self._unplug(ep)
            raise
        self.refresh_hosts([info.id])
        return ep

    def disconnect(self, container_id: str, network: str) -> None:
        info = self.get(network)
        eps = [e for e in self.endpoints(container_id=container_id) if e.network_id == info.id]
        if not eps:
            raise NotFound(f"container {container_id[:12]} is not connected to network "
                           f"{info.name!r}")
        if Firewall.available():
            self.firewall.unpublish(eps[0].address.ip)
        self._unplug(eps[0])
        self.refresh_hosts([info.id])

    def _unplug(self, ep: Endpoint) -> None:
        from stackctl.net.netlink import Netlink

        with Netlink() as nl:  # deleting one end of a veth deletes both
            nl.delete_link(ep.host_veth)
        with self.state.transaction() as db:
            db.execute("DELETE FROM endpoints WHERE container_id = ? AND network_id = ?",
                       (ep.container_id, ep.network_id))

    def _await_unplugged(self, eps: Sequence[Endpoint]) -> None:
        """Wait for the kernel to destroy the veths of a released namespace; delete
        what is left after UNPLUG_WAIT (the namespace is still held: a process
        joined it, or a monitor still has its DNS socket open)."""
        if not eps:
            return
        from stackctl.net.netlink import Netlink

        start = time.monotonic()
        with Netlink() as nl:
            left = [ep for ep in eps if nl.link_kind(ep.host_veth) is not None]
            while left and time.monotonic() - start < UNPLUG_WAIT:
                # the kernel usually takes 10-30 ms: poll finely at first (a run --rm waits)
                time.sleep(0.001 if time.monotonic() - start < 0.05 else 0.005)
                left = [ep for ep in left if nl.link_kind(ep.host_veth) is not None]
            for ep in left:  # deleting one end of a veth deletes both
                nl.delete_link(ep.host_veth)

    def teardown_container(self, container_id: str) -> None:
        """Release ports, leases, veths, namespace and files. Idempotent."""
        self.finish_teardown(container_id, self.begin_teardown(container_id))

    def begin_teardown(self, container_id: str) -> list[Endpoint]:
        """The first half of ``teardown_container``: ports and the namespace. The
        kernel then destroys the veths in the background (10-30 ms); the caller may
        do other work before ``finish_teardown`` waits for that."""
        eps = self.endpoints(container_id=container_id)
        if eps and self._ports_marker(container_id).exists() and Firewall.available():
            for ep in eps:
                self.firewall.unpublish(ep.address.ip)
        # The namespace goes first, and the kernel destroys its veth pairs with
        # it in one batched cleanup: ~20 ms for one container, ~65 ms for fifty
        # going at once. Deleting each veth instead waits out an RCU grace
        # period under the global rtnl lock, ~26 ms apiece and serialised
        # (1.3 s of a 50-service down). The leases go only once the veths are
        # gone, so a reused address never meets its old owner on the bridge.
        remove_netns(self.netns_path(container_id))
        return eps

    def finish_teardown(self, container_id: str, eps: list[Endpoint], *,
                        wait: bool = True) -> None:
        """The second half: wait for the veths to go, then leases and files. Without
        ``wait``, the address of a veth still there goes into quarantine instead
        (see the module docstring)."""
        if wait:
            self._await_unplugged(eps)
        left = [] if wait else draining.plugged(eps)
        # leases of networks whose row vanished cannot be joined; drop them directly
        with self.state.transaction() as db:
            draining.quarantine(db, left)
            db.execute("DELETE FROM endpoints WHERE container_id = ?", (container_id,))
        rmtree(self.files_dir(container_id))
        if eps:
            self.refresh_hosts(ep.network_id for ep in eps)

    def release_all(self) -> None:
        """Everything of this state root on the host: every container's endpoints
        and namespace, every network (the default one too) and the nftables
        table. For throwaway roots (tests, benches) and a full reset; containers'
        processes are the engine's business and must be gone first."""
        ids = {r[0] for r in self.state.db.execute("SELECT container_id FROM endpoints")}
        netns_dir = self.run_root / "netns"
        ids |= set(os.listdir(netns_dir)) if netns_dir.is_dir() else set()
        for cid in ids:
            self.teardown_container(cid)
        for info in self.networks():
            self._destroy_network(info)
        self.firewall.drop()

    def repair(self, live: Iterable[str] | None = None) -> list[str]:
        """Tear down endpoints of containers whose namespace is gone (or not in
        ``live``, when the engine says which containers are running)."""
        draining.purge(self.state)
        keep = set(live) if live is not None else None
        ids = {r[0] for r in self.state.db.execute("SELECT DISTINCT container_id FROM endpoints")}
        dead = sorted(c for c in ids if (keep is not None and c not in keep)
                      or not is_netns(self.netns_path(c)))
        for cid in dead:
            self.teardown_container(cid)
        return dead

    def _ports_marker(self, container_id: str) -> Path:
        """``run_root/net/<id>/ports``: one line per published port in Docker's ps
        form (``127.0.0.1:32768->80/tcp``), for listings that must not run nft."""
        return self.files_dir(container_id) / "ports"

    def _drop_orphan_ports(self) -> None:
        """Published ports whose target address no endpoint holds (a crash, or a
        lost marker) are removed."""
        if not Firewall.available():
            return
        held = {r[0] for r in self.state.db.execute("SELECT ip FROM endpoints")}
        for ip in {ip for _, ip in self.firewall.published() if str(ip) not in held}:
            self.firewall.unpublish(ip)

    def published_ports(self, container_id: str) -> list[PortMapping]:
        if not Firewall.available():
            return []
        mine = {ep.address.ip for ep in self.endpoints(container_id=container_id)}
        return sorted(m for m, ip in self.firewall.published() if ip in mine)

    def _write_files(self, d: Path, eps: Sequence[Endpoint], hostname: str,
                     own_names: list[str], etc: EtcRequest) -> tuple[Path, Path]:
        """hosts (localhost, its own address, ``etc``'s extra hosts; the peers go
        below hostsfile.MARKER) and resolv.conf: the embedded DNS, the host's search
        domains unless ``etc`` gives its own, ndots:0 and ``etc``'s options."""
        d.mkdir(parents=True, exist_ok=True)
        lines = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback"]
        if eps:
            extra = " ".join(dict.fromkeys(n for n in own_names if n != hostname))
            lines.append(f"{eps[0].address.ip}\t{hostname} {extra}".rstrip())
        lines += etc_files.hosts_lines(etc.extra_hosts,
                                       str(eps[0].gateway) if eps else None)
        hosts = d / "hosts"
        _write(hosts, "\n".join(lines) + "\n")
        resolv = d / "resolv.conf"
        from stackctl.net.dns import DNS_ADDRESS

        search = [ln for ln in _read_lines(Path("/etc/resolv.conf")) if ln.startswith("search")]
        text = "\n".join([f"nameserver {DNS_ADDRESS}", *search, "options ndots:0"]) + "\n"
        _write(resolv, etc_files.resolv_conf(text, search=etc.dns_search,
                                             options=("ndots:0", *etc.dns_options)
                                             if etc.dns_options else ()))
        return hosts, resolv


def _read_lines(p: Path) -> list[str]:
    try:
        return p.read_text().splitlines()
    except OSError:
        return []


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


__all__ = ["NetworkManager"]
