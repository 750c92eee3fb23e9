"""Bridge networks on the real kernel: namespaces, veths, names, isolation.

Each test makes its own namespaces through NetworkManager (the containers of
the engine will use the same calls) and sends real traffic between them.
"""

from __future__ import annotations

import ipaddress
import json
import secrets
import select
import subprocess
import time
from pathlib import Path

import pytest

from stackctl.errors import AlreadyExists, Conflict, NetError, NotFound, UsageError
from stackctl.net import names
from stackctl.net.manager import NetworkManager
from stackctl.net.model import EndpointRequest
from stackctl.net.netlink import Netlink
from stackctl.net.netns import is_netns
from tests.net.conftest import Procs, query, run_python

pytestmark = pytest.mark.kernel

ECHO_TCP = """
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", {port})); s.listen(64); print("ready", flush=True)
while True:
    c, _ = s.accept(); c.sendall(b"hello from " + c.recv(100)); c.close()
"""
ECHO_UDP = """
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("0.0.0.0", {port}))
print("ready", flush=True)
while True:
    d, a = s.recvfrom(100); s.sendto(b"udp " + d, a)
"""
CLIENT_TCP = """
import socket
c = socket.create_connection(("{host}", {port}), timeout=5)
c.sendall(b"{me}"); print(c.recv(100).decode())
"""


def cid() -> str:
    return secrets.token_hex(32)


def wait_ready(p: subprocess.Popen[str]) -> None:
    assert p.stdout is not None
    assert p.stdout.readline().strip() == "ready", p.stderr.read() if p.stderr else ""


def links() -> set[str]:
    with Netlink() as nl:
        return set(nl.links())


def addressed_in(*subnets: str) -> set[str]:
    """Links holding an address inside ``subnets``: only this test can make those
    (other suites run beside this one on the same host, so a plain diff of all
    links would see their bridges come and go)."""
    nets = [ipaddress.IPv4Network(s) for s in subnets]
    out = set()
    with Netlink() as nl:
        for name in nl.links():
            try:
                addrs = nl.addresses(name)
            except NotFound:  # gone meanwhile
                continue
            if any(a.ip in n for a in addrs for n in nets):
                out.add(name)
    return out


def test_two_namespaces_talk_tcp_by_name(nm: NetworkManager, procs: Procs, resolvers,
                                         unique: str) -> None:
    net = nm.create(f"app{unique}")
    web, client = cid(), cid()
    w = nm.setup_container(web, [EndpointRequest(net.name)], names_=("web",), hostname="web")
    c = nm.setup_container(client, [EndpointRequest(net.name)], names_=("client",))
    assert w.endpoints[0].ifname == "eth0" and w.primary_ip in net.subnet
    resolvers(nm, client)
    wait_ready(procs.python_in(w.netns, ECHO_TCP.format(port=8080)))
    # the real libc resolver of the client, reading the resolv.conf we wrote
    out = run_python(c.netns, CLIENT_TCP.format(host="web", port=8080, me="client"),
                     files=(c.hosts, c.resolv_conf))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "hello from client"
    # its own name comes from /etc/hosts, the short id too
    out = run_python(c.netns, "import socket; print(socket.gethostbyname('client'))",
                     files=(c.hosts, c.resolv_conf))
    assert out.stdout.strip() == str(c.primary_ip)
    assert query(c.netns, web[:12]) == (0, [str(w.primary_ip)])


def test_recreated_peer_keeps_resolving_and_replicas_all_resolve(
        nm: NetworkManager, resolvers, unique: str) -> None:
    net = nm.create(f"rr{unique}")
    client = cid()
    c = nm.setup_container(client, [EndpointRequest(net.name)], names_=("client",))
    resolvers(nm, client)
    first = cid()
    old = nm.setup_container(first, [EndpointRequest(net.name, aliases=("db",))],
                             names_=("proj-db-1",))
    assert query(c.netns, "db") == (0, [str(old.primary_ip)])
    assert query(c.netns, "PROJ-DB-1") == (0, [str(old.primary_ip)])
    nm.teardown_container(first)
    assert query(c.netns, "db")[1] == []
    # something else takes the old address; the recreated db gets a new one
    squatter = nm.setup_container(cid(), [EndpointRequest(net.name)])
    assert squatter.primary_ip == old.primary_ip
    new = nm.setup_container(cid(), [EndpointRequest(net.name, aliases=("db",))],
                             names_=("proj-db-1",))
    assert new.primary_ip != old.primary_ip
    assert query(c.netns, "db") == (0, [str(new.primary_ip)])
    # two replicas under one service name: both addresses
    rep = nm.setup_container(cid(), [EndpointRequest(net.name, aliases=("db",))],
                             names_=("proj-db-2",))
    rcode, ips = query(c.netns, "db")
    assert rcode == 0 and sorted(ips) == sorted([str(new.primary_ip), str(rep.primary_ip)])
    # AAAA for a known name: empty NOERROR, so resolvers do not wait or fall over
    assert query(c.netns, "db", qtype=28) == (0, [])
    # a name on a network the client does not share is not visible
    other = nm.create(f"rro{unique}")
    nm.setup_container(cid(), [EndpointRequest(other.name, aliases=("hidden",))])
    assert query(c.netns, "hidden") == (3, [])


def test_udp_between_namespaces(nm: NetworkManager, procs: Procs, unique: str) -> None:
    net = nm.create(f"udp{unique}")
    a = nm.setup_container(cid(), [EndpointRequest(net.name)])
    b = nm.setup_container(cid(), [EndpointRequest(net.name)])
    wait_ready(procs.python_in(a.netns, ECHO_UDP.format(port=5353)))
    out = run_python(b.netns, f"""
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(5)
s.sendto(b"ping", ("{a.primary_ip}", 5353)); print(s.recv(100).decode())
""")
    assert out.stdout.strip() == "udp ping", out.stderr


def test_isolation_between_networks_and_internal_has_no_route(
        nm: NetworkManager, procs: Procs, unique: str) -> None:
    n1, n2 = nm.create(f"iso1{unique}"), nm.create(f"iso2{unique}")
    internal = nm.create(f"int{unique}", internal=True)
    a = nm.setup_container(cid(), [EndpointRequest(n1.name)])
    b = nm.setup_container(cid(), [EndpointRequest(n2.name)])
    both = nm.setup_container(cid(), [EndpointRequest(n1.name), EndpointRequest(n2.name)])
    i = nm.setup_container(cid(), [EndpointRequest(internal.name)])
    wait_ready(procs.python_in(a.netns, ECHO_TCP.format(port=7000)))
    probe = """
import socket
try:
    socket.create_connection(("{ip}", 7000), timeout=1.5); print("reached")
except OSError as e:
    print("blocked", e)
"""
    assert run_python(b.netns, probe.format(ip=a.primary_ip)).stdout.startswith("blocked")
    assert run_python(i.netns, probe.format(ip=a.primary_ip)).stdout.startswith("blocked")
    assert run_python(both.netns, probe.format(ip=a.primary_ip)).stdout.startswith("reached")
    assert [e.ifname for e in both.endpoints] == ["eth0", "eth1"]
    route = subprocess.run(["nsenter", f"--net={i.netns}", "ip", "-4", "route"],
                           capture_output=True, text=True).stdout
    assert "default" not in route
    route = subprocess.run(["nsenter", f"--net={a.netns}", "ip", "-4", "route"],
                           capture_output=True, text=True).stdout
    assert f"default via {n1.gateway}" in route


def test_fifty_endpoints_on_one_bridge_reach_each_other(nm: NetworkManager, resolvers,
                                                        unique: str) -> None:
    import socket

    from stackctl.net.netns import run_in_netns

    net = nm.create(f"big{unique}")
    cns = [nm.setup_container(cid(), [EndpointRequest(net.name)], names_=(f"svc{k}",))
           for k in range(50)]
    assert len({c.primary_ip for c in cns}) == 50
    socks = [run_in_netns(c.netns, lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
             for c in cns]
    try:
        for s, c in zip(socks, cns, strict=True):
            s.bind((str(c.primary_ip), 9999))
            s.setblocking(False)
        owner = {s.fileno(): j for j, s in enumerate(socks)}
        # every namespace sends to every other one, ten senders at a time.
        # The kernel's ARP table is ONE table for all namespaces (gc_thresh3 =
        # 1024 entries here), and 50 x 49 neighbours overflow it, as they would
        # for 50 Docker containers talking all-pairs at once; so each batch's
        # neighbours are flushed before the next. Lost first packets (ARP
        # floods to 50 ports) are resent, as any real client would.
        missing = {(k, j) for k in range(50) for j in range(50) if k != j}
        for batch in range(0, 50, 10):
            for _ in range(10):
                todo = sorted(p for p in missing if batch <= p[0] < batch + 10)
                if not todo:
                    break
                for k, j in todo:
                    socks[k].sendto(f"{k}".encode(), (str(cns[j].primary_ip), 9999))
                while True:
                    ready, _, _ = select.select(socks, [], [], 0.3)
                    if not ready:
                        break
                    for s in ready:
                        missing.discard((int(s.recv(16)), owner[s.fileno()]))
            for c in cns:
                subprocess.run(["nsenter", f"--net={c.netns}", "ip", "neigh", "flush", "all"],
                               check=True, capture_output=True)
        assert not missing
    finally:
        for s in socks:
            s.close()
    # and by name: the first and last see everyone through DNS
    for c in (cns[0], cns[-1]):
        resolvers(nm, c.container_id)
        for k, other in enumerate(cns):
            assert query(c.netns, f"svc{k}") == (0, [str(other.primary_ip)])


def test_bad_input_creates_nothing(nm: NetworkManager, unique: str) -> None:
    tried = ("172.31.250.0/23", "172.31.252.0/24")
    net = nm.create(f"ok{unique}", subnet="172.31.250.0/24")
    cases = [
        (lambda: nm.create(f"ov{unique}", subnet="172.31.250.128/25"), NetError, "overlaps"),
        (lambda: nm.create(f"bc{unique}", subnet="172.31.300.0/24"), UsageError, "invalid CIDR"),
        (lambda: nm.create(f"hr{unique}", subnet="192.0.2.0/25"), NetError, "host's route"),
        (lambda: nm.create("x" * 70), UsageError, "characters long"),
        (lambda: nm.create(f"br{unique}", options={"bridge.name": "much-too-long-bridge"}),
         UsageError, "at most 15"),
        (lambda: nm.create(f"ok{unique}"), AlreadyExists, "already exists"),
        (lambda: nm.create(f"gw{unique}", subnet="172.31.251.0/24", gateway="172.31.252.1"),
         UsageError, "not a usable host"),
    ]
    for fn, exc, match in cases:
        with pytest.raises(exc, match=match):
            fn()
    assert [n.name for n in nm.networks()] == [net.name]
    c = cid()
    bad_setups = [
        ([EndpointRequest(net.name), EndpointRequest(f"nope{unique}")], NotFound),
        ([EndpointRequest(net.name, ip=ipaddress.IPv4Address("10.9.9.9"))], UsageError),
        ([EndpointRequest(net.name, ip=net.gateway)], UsageError),
    ]
    for reqs, exc in bad_setups:
        with pytest.raises(exc):
            nm.setup_container(c, reqs)
        assert not nm.netns_path(c).exists()
        assert nm.endpoints(container_id=c) == []
    assert addressed_in(*tried) == {net.bridge}
    assert names.host_veth_name(c, net.id) not in links()
    nm.remove(net.name)
    assert addressed_in(*tried) == set()


def test_static_ip_remove_in_use_prune_and_inspect(nm: NetworkManager, unique: str) -> None:
    net = nm.create(f"st{unique}", subnet="172.31.249.0/24", gateway="172.31.249.254",
                    labels={"stackctl.project": "p"}, mtu=1400)
    c = cid()
    cn = nm.setup_container(c, [EndpointRequest(net.name, ip=ipaddress.IPv4Address(
        "172.31.249.7"))], names_=("static",))
    assert str(cn.primary_ip) == "172.31.249.7"
    with pytest.raises(NetError, match="already in use"):
        nm.setup_container(cid(), [EndpointRequest(net.name, ip=cn.primary_ip)])
    mtu = subprocess.run(["nsenter", f"--net={cn.netns}", "cat",
                          "/sys/class/net/eth0/mtu"], capture_output=True, text=True).stdout
    assert mtu.strip() == "1400"
    doc = nm.inspect(net.name)
    assert doc["IPAM"]["Config"] == [{"Subnet": "172.31.249.0/24", "Gateway": "172.31.249.254"}]
    assert doc["Containers"][c]["IPv4Address"] == "172.31.249.7/24"
    assert doc["Labels"] == {"stackctl.project": "p"}
    json.dumps(doc)
    assert nm.get(net.id[:8]).name == net.name
    with pytest.raises(Conflict, match="in use"):
        nm.remove(net.name)
    unused = nm.create(f"un{unique}")
    assert nm.prune() == [unused.name]
    nm.teardown_container(c)
    nm.teardown_container(c)  # idempotent
    assert nm.prune() == [net.name]


def test_connect_disconnect_live(nm: NetworkManager, unique: str) -> None:
    n1, n2 = nm.create(f"c1{unique}"), nm.create(f"c2{unique}")
    c = cid()
    cn = nm.setup_container(c, [EndpointRequest(n1.name)])
    ep = nm.connect(c, EndpointRequest(n2.name, aliases=("extra",)))
    assert ep.ifname == "eth1"
    with pytest.raises(AlreadyExists):
        nm.connect(c, EndpointRequest(n2.name))
    addrs = subprocess.run(["nsenter", f"--net={cn.netns}", "ip", "-4", "-o", "addr"],
                           capture_output=True, text=True).stdout
    assert str(ep.address.ip) in addrs
    nm.disconnect(c, n2.name)
    with pytest.raises(NotFound):
        nm.disconnect(c, n2.name)
    assert [e.network_name for e in nm.endpoints(container_id=c)] == [n1.name]
    nm.remove(n2.name)


def test_crash_repair(nm: NetworkManager, unique: str) -> None:
    net = nm.create(f"cr{unique}")
    c = cid()
    cn = nm.setup_container(c, [EndpointRequest(net.name)])
    host_veth = cn.endpoints[0].host_veth
    # the bridge vanished (host reboot, someone ran ip link del): next use rebuilds it
    with Netlink() as nl:
        nl.delete_link(net.bridge)
    nm.ensure_bridge(net)
    assert net.bridge in links()
    # a container whose namespace is gone is cleaned up by repair()
    from stackctl.net.netns import remove_netns

    remove_netns(cn.netns)
    with pytest.raises(Conflict):  # the stale lease still counts, until repaired
        super(NetworkManager, nm).remove(net.name)
    assert nm.repair() == [c]
    assert host_veth not in links() and not is_netns(Path(cn.netns))
    assert nm.endpoints(container_id=c) == []
    # and `network rm` repairs first: a second crashed container does not block it
    c2 = cid()
    remove_netns(nm.setup_container(c2, [EndpointRequest(net.name)]).netns)
    nm.remove(net.name)
    assert nm.endpoints(container_id=c2) == [] and net.bridge not in links()


def test_hosts_files_follow_peers_without_a_responder(nm: NetworkManager, procs: Procs,
                                                      unique: str) -> None:
    from stackctl.net.hostsfile import MARKER

    net = nm.create(f"hf{unique}")
    c = nm.setup_container(cid(), [EndpointRequest(net.name)], names_=("client",))
    old = nm.setup_container(cid(), [EndpointRequest(net.name, aliases=("db",))],
                             names_=("proj-db-1",))
    text = c.hosts.read_text()
    assert MARKER in text and f"{old.primary_ip}\tproj-db-1 db" in text
    inode = c.hosts.stat().st_ino
    nm.teardown_container(old.container_id)
    assert "proj-db-1" not in c.hosts.read_text()
    nm.setup_container(cid(), [EndpointRequest(net.name)])  # takes the old address
    new = nm.setup_container(cid(), [EndpointRequest(net.name, aliases=("db",))],
                             names_=("proj-db-1",))
    assert c.hosts.stat().st_ino == inode  # rewritten in place: bind mounts stay valid
    wait_ready(procs.python_in(new.netns, ECHO_TCP.format(port=6379)))
    out = run_python(c.netns, CLIENT_TCP.format(host="db", port=6379, me="c"),
                     files=(c.hosts, c.resolv_conf))
    assert out.stdout.strip() == "hello from c", out.stderr


def test_default_network_made_on_first_use_and_kept_like_docker0(
        nm: NetworkManager) -> None:
    a = nm.setup_container(cid(), [EndpointRequest("bridge")], names_=("a",))
    b = nm.setup_container(cid(), [EndpointRequest("bridge")], names_=("b",))
    (default,) = nm.networks()
    made = {default.bridge, a.endpoints[0].host_veth, b.endpoints[0].host_veth}
    assert default.name == "bridge" and made <= links()
    assert a.hosts.read_text().count("\tb ") == 1  # names work on the default network too
    nm.teardown_container(a.container_id)
    with pytest.raises(Conflict, match="in use"):
        nm.remove("bridge")
    nm.teardown_container(b.container_id)
    assert [n.name for n in nm.networks()] == ["bridge"] and default.bridge in links()
    assert nm.prune() == [] and nm.firewall.exists()  # prune keeps it, as Docker's
    c = nm.setup_container(cid(), [EndpointRequest("bridge")])  # no nft, no bridge made
    assert c.endpoints[0].network_id == default.id
    nm.teardown_container(c.container_id)
    nm.remove("bridge")  # unused: the user's way to leave the host clean
    assert nm.networks() == [] and not made & links() and not nm.firewall.exists()
    with pytest.raises(NotFound, match="not found"):
        nm.remove("bridge")  # not made again just to be removed
    assert not nm.firewall.exists()


def test_concurrent_starts_never_share_an_address(nm: NetworkManager, unique: str) -> None:
    from concurrent.futures import ThreadPoolExecutor

    net = nm.create(f"cc{unique}", subnet="172.31.248.0/27")  # 29 usable addresses

    def start(k: int) -> str:
        # a manager (and state connection) per worker, as separate commands would have
        with NetworkManager(nm.root, nm.run_root) as mine:
            return str(mine.setup_container(cid(), [EndpointRequest(net.name)]).primary_ip)

    with ThreadPoolExecutor(max_workers=8) as pool:
        ips = list(pool.map(start, range(24)))
    assert len(set(ips)) == 24


def test_outbound_is_masqueraded_and_internal_has_no_way_out(
        nm: NetworkManager, procs: Procs, unique: str) -> None:
    """An 'outside' host made of our own namespace behind a host veth: a container
    reaches it through the host, seen from the host's address (masquerade); a
    container on an --internal network does not. No packet leaves the machine."""
    from stackctl.net.netns import create_netns, remove_netns

    outside = nm.run_root / "netns" / f"outside{unique}"
    host_end, far_end = f"scx{unique}", f"scy{unique}"
    create_netns(outside)
    try:
        with Netlink() as nl:
            nl.create_veth(host_end, far_end, peer_netns=outside)
            nl.add_address(host_end, ipaddress.IPv4Interface("172.31.254.1/30"))
            nl.set_up(host_end)
        with Netlink(outside) as nl:
            nl.add_address(far_end, ipaddress.IPv4Interface("172.31.254.2/30"))
            nl.set_up(far_end)
            nl.add_route(None, ipaddress.IPv4Address("172.31.254.1"))
        peer_seen = """
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 9000)); s.listen(8); print("ready", flush=True)
while True:
    c, addr = s.accept(); c.sendall(addr[0].encode()); c.close()
"""
        wait_ready(procs.python_in(outside, peer_seen))
        net = nm.create(f"out{unique}")
        internal = nm.create(f"in{unique}", internal=True)
        a = nm.setup_container(cid(), [EndpointRequest(net.name)])
        i = nm.setup_container(cid(), [EndpointRequest(internal.name)])
        ask = """
import socket
try:
    c = socket.create_connection(("172.31.254.2", 9000), timeout=2); print(c.recv(64).decode())
except OSError as e:
    print("blocked", e)
"""
        assert run_python(a.netns, ask).stdout.strip() == "172.31.254.1"  # masqueraded
        assert run_python(i.netns, ask).stdout.startswith("blocked")
    finally:
        with Netlink() as nl:
            nl.delete_link(host_end)
        remove_netns(outside)


def test_other_names_are_relayed_to_the_hosts_resolver(nm: NetworkManager,
                                                       unique: str) -> None:
    """The relay socket lives in the host namespace, so even a resolver on the host's
    loopback (unreachable from the container) answers. A stand-in resolver here."""
    import socket
    import threading

    from stackctl.net import dns

    up = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    up.bind(("127.0.0.1", 0))

    def upstream() -> None:
        data, peer = up.recvfrom(512)
        q = dns.parse_query(data)
        assert q is not None
        up.sendto(dns.build_answer(q, ["192.0.2.99"]), peer)

    threading.Thread(target=upstream, daemon=True).start()
    net = nm.create(f"rel{unique}")
    c = nm.setup_container(cid(), [EndpointRequest(net.name)], names_=("me",))
    r = dns.Responder(dns.bind_in_netns(c.netns), dns.StoreLookup(nm.state.path, c.container_id),
                      ["127.0.0.1"], upstream_port=up.getsockname()[1])
    t = threading.Thread(target=r.serve, daemon=True)
    t.start()
    try:
        assert query(c.netns, "example.org") == (0, ["192.0.2.99"])
        assert query(c.netns, "me") == (0, [str(c.primary_ip)])
    finally:
        r.stop()
        t.join(5)
        r.close()
        up.close()


def test_networks_of_different_state_roots_are_isolated(
        nm: NetworkManager, procs: Procs, unique: str, tmp_path: Path) -> None:
    from tests.net.conftest import TEST_POOL

    other = NetworkManager(tmp_path / "root", tmp_path / "run", pool=TEST_POOL)
    try:
        a = nm.setup_container(cid(), [EndpointRequest(nm.create(f"ra{unique}").name)])
        b = other.setup_container(cid(), [EndpointRequest(other.create(f"rb{unique}").name)])
        wait_ready(procs.python_in(a.netns, ECHO_TCP.format(port=7001)))
        out = run_python(b.netns, f"""
import socket
try:
    socket.create_connection(("{a.primary_ip}", 7001), timeout=1.5); print("reached")
except OSError as e:
    print("blocked", e)
""")
        assert out.stdout.startswith("blocked"), out.stdout + out.stderr
    finally:
        other.release_all()
        other.close()


def test_rules_go_with_the_network_when_path_lacks_sbin(
        nm: NetworkManager, unique: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """nft lives in /usr/sbin; a PATH without it (``su`` without ``-``, an emptied
    environment) once made the table look absent and its rules were left behind."""
    net = nm.create(f"pa{unique}")
    assert nm.firewall.exists()
    monkeypatch.setenv("PATH", "/nonexistent")
    nm.remove(net.name)
    monkeypatch.undo()
    assert not nm.firewall.exists()


def test_without_nftables_networks_work_and_say_what_is_missing(
        nm: NetworkManager, unique: str, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """nftables is optional: a network is made (bridge, addresses) with a warning that
    it has no NAT and no isolation, and publishing a port is a clear error."""
    from stackctl.net import firewall
    from stackctl.net.ports import parse_publish

    monkeypatch.setattr(firewall, "_nft", lambda: None)
    net = nm.create(f"nf{unique}")
    assert net.bridge in links() and not nm.firewall.exists()
    err = capsys.readouterr().err
    assert "no outbound NAT" in err and "apt-get install nftables" in err
    c = nm.setup_container(cid(), [EndpointRequest(net.name)])
    assert c.primary_ip in net.subnet
    with pytest.raises(NetError, match="nftables") as exc:
        nm.setup_container(cid(), [EndpointRequest(net.name)],
                           ports=parse_publish("18099:80"))
    assert "apt-get install nftables" in (exc.value.hint or "")
    nm.teardown_container(c.container_id)
    nm.remove(net.name)


def _draining(nm: NetworkManager) -> list[tuple[str, str]]:
    return [(r[0], r[1]) for r in nm.state.db.execute("SELECT network_id, ip FROM draining")]


def _release_without_waiting(nm: NetworkManager, c: str) -> None:
    nm.finish_teardown(c, nm.begin_teardown(c), wait=False)


def _gone(link: str, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while link in links():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_an_address_is_not_leased_again_while_its_old_veth_lingers(
        nm: NetworkManager, unique: str) -> None:
    """finish_teardown(wait=False) (a foreground run --rm) returns before the kernel
    drops the veth: the address waits in quarantine until it has."""
    net = nm.create(f"dr{unique}")
    a = cid()
    cn = nm.setup_container(a, [EndpointRequest(net.name)])
    old_ip, old_veth = str(cn.primary_ip), cn.endpoints[0].host_veth
    held = open(cn.netns)  # noqa: SIM115 - keeps the namespace (and its veth) alive
    try:
        _release_without_waiting(nm, a)
        assert nm.endpoints(container_id=a) == []
        assert _draining(nm) == [(net.id, old_ip)] and old_veth in links()
        b = cid()
        assert str(nm.setup_container(b, [EndpointRequest(net.name)]).primary_ip) != old_ip
        assert nm.inspect(net.name)["Containers"].keys() == {b}
    finally:
        held.close()  # the namespace dies, and the kernel destroys the veth
    assert _gone(old_veth)
    c = cid()
    assert str(nm.setup_container(c, [EndpointRequest(net.name)]).primary_ip) == old_ip
    assert _draining(nm) == []
    nm.teardown_container(b)
    nm.teardown_container(c)


def test_a_veth_held_past_the_wait_is_deleted_and_its_address_freed(
        nm: NetworkManager, unique: str) -> None:
    net = nm.create(f"dh{unique}")
    a = cid()
    cn = nm.setup_container(a, [EndpointRequest(net.name)])
    old_ip, old_veth = str(cn.primary_ip), cn.endpoints[0].host_veth
    with open(cn.netns):  # a process that joined the namespace holds it so
        _release_without_waiting(nm, a)
        nm.repair()  # within the wait: left alone
        assert _draining(nm) == [(net.id, old_ip)] and old_veth in links()
        with nm.state.transaction() as db:
            db.execute("UPDATE draining SET since = since - 60")
        nm.repair()
        assert _draining(nm) == [] and old_veth not in links()
    # a quarantined address does not keep its network in use
    b = cid()
    cn_b = nm.setup_container(b, [EndpointRequest(net.name)])
    assert str(cn_b.primary_ip) == old_ip
    with open(cn_b.netns):
        _release_without_waiting(nm, b)
        assert _draining(nm) == [(net.id, old_ip)]
        nm.remove(net.name)
        assert _draining(nm) == []


def test_a_restart_or_an_ip_asked_for_does_not_trip_on_the_quarantine(
        nm: NetworkManager, unique: str) -> None:
    """Stop then start at once (docker restart) keeps a static --ip, and a container
    starting again gets its own old address back: its dying veth is deleted."""
    net = nm.create(f"dq{unique}")
    a, b = cid(), cid()
    static = ipaddress.IPv4Address(int(net.gateway) + 7)
    cn = nm.setup_container(a, [EndpointRequest(net.name, ip=static)])
    held = open(cn.netns)  # noqa: SIM115 - the kernel is slow to drop the veth
    _release_without_waiting(nm, a)
    assert _draining(nm) == [(net.id, str(static))]
    held.close()
    again = nm.setup_container(a, [EndpointRequest(net.name, ip=static)])
    assert again.primary_ip == static and _draining(nm) == []
    cn_b = nm.setup_container(b, [EndpointRequest(net.name)])
    old_b = cn_b.primary_ip
    with open(cn_b.netns):  # held: only deleting it frees the address now
        _release_without_waiting(nm, b)
        assert nm.setup_container(b, [EndpointRequest(net.name)]).primary_ip == old_b
    assert _draining(nm) == []
    nm.teardown_container(a)
    nm.teardown_container(b)
