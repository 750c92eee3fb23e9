"""From the engine's ContainerConfig to NetworkManager calls.

The engine's seam (stackctl/engine/netseam.py) hands a container's config
here for every network mode other than ``none`` and ``host``:

    --network bridge | NAME     one endpoint on that network (``bridge`` is made
                                on first use), named by the container's name, its
                                stack service (label ``stackctl.service``) and
                                ``--network-alias``es
    -p SPEC...                  published on the first network's address
    -P                          every exposed port (--expose, the image's
                                ExposedPorts) on a random free host port

hosts and resolv.conf are written into the container's state dir, where the
engine bind-mounts them; resolv.conf names the embedded DNS responder, which
the container's monitor serves from its loop (``dns.for_container``).
"""

from __future__ import annotations

from pathlib import Path

from stackctl.net.manager import NetworkManager
from stackctl.net.model import ContainerNetwork, EndpointRequest
from stackctl.net.ports import PortMapping, parse_expose, parse_publish, publish_all

TYPE_CHECKING = False  # typing: ~3 ms of every bridge run; annotations only
if TYPE_CHECKING:
    from typing import Any

SERVICE_LABEL = "stackctl.service"


def container_names(name: str | None, labels: dict[str, str]) -> tuple[str, ...]:
    out = [n.lstrip("/") for n in (name,) if n]
    service = labels.get(SERVICE_LABEL)
    if service and service not in out:
        out.append(service)
    return tuple(out)


def setup_for_config(manager: NetworkManager, container_id: str, config: Any, *,
                     name: str | None, files_dir: Path) -> ContainerNetwork:
    ports: list[PortMapping] = []
    for spec in getattr(config, "publish", ()) or ():
        ports.extend(parse_publish(spec))
    if getattr(config, "publish_all", False):
        # -P: every exposed port not already published, on a random host port
        done = {(m.container_port, m.protocol) for m in ports}
        exposed = [pp for e in (getattr(config, "expose", ()) or ()) for pp in parse_expose(e)]
        ports.extend(publish_all(pp for pp in exposed if pp not in done))
    requests = endpoint_requests(config)
    if not requests:  # disconnected from every network: loopback only, nothing to publish
        ports = []
    from stackctl.net.etc_files import EtcRequest

    return manager.setup_container(
        container_id, requests,
        names_=container_names(name, dict(getattr(config, "labels", {}) or {})),
        hostname=config.hostname or container_id[:12],
        ports=ports, files_dir=files_dir,
        etc=EtcRequest(tuple(getattr(config, "extra_hosts", ()) or ()),
                       tuple(getattr(config, "dns_search", ()) or ()),
                       tuple(getattr(config, "dns_options", ()) or ())))




def endpoint_requests(config: Any) -> list[EndpointRequest]:
    """Every network of the config (ContainerConfig.attachments), primary first."""
    return [endpoint_request(a) for a in config.attachments()]


def endpoint_request(attachment: Any) -> EndpointRequest:
    """One ``NetworkAttachment`` (engine/containers.py) as the manager takes it."""
    from stackctl.net.ipam import parse_address

    a = attachment
    return EndpointRequest(a.name, aliases=tuple(a.aliases),
                           ip=parse_address(a.ipv4_address, flag=f"--ip (network {a.name})")
                           if a.ipv4_address else None)


def join_container(store: Any, root: Path, run_root: Path, state_dir: Path, ref: str) -> Path:
    """``--network container:REF``: the netns path of a running bridge container.

    The joining container shares its namespace (and so its addresses, ports and
    DNS responder) and gets a copy of its hosts and resolv.conf.
    """
    import shutil

    from stackctl.engine.names import lookup
    from stackctl.errors import Conflict
    from stackctl.net.netns import is_netns

    other_id, other_name = lookup(store.db, ref, flag=f"--network container:{ref}")
    path = Path(run_root) / "netns" / str(other_id)
    if not is_netns(path):
        raise Conflict(f"--network container:{ref}: {other_name} has no network namespace "
                       "to share", hint=f"start {other_name} on a bridge network first")
    for name in ("hosts", "resolv.conf"):
        src = root / "containers" / other_id / name
        if src.exists():
            shutil.copyfile(src, state_dir / name)
    return path




def network_settings(root: Path, run_root: Path, container_id: str) -> dict[str, Any]:
    """Docker's ``NetworkSettings`` for a container on bridge networks (inspect)."""
    with NetworkManager(root, run_root) as nm:
        eps = nm.endpoints(container_id=container_id)
        ports = nm.published_ports(container_id) if nm._ports_marker(container_id).exists() \
            else []
        netns = nm.netns_path(container_id)
    networks = {
        ep.network_name: {
            "Aliases": list(ep.aliases) or None, "NetworkID": ep.network_id,
            "EndpointID": ep.host_veth, "Gateway": str(ep.gateway),
            "IPAddress": str(ep.address.ip), "IPPrefixLen": ep.address.network.prefixlen,
            "MacAddress": ep.mac, "IPv6Gateway": "", "GlobalIPv6Address": "",
        } for ep in eps
    }
    published: dict[str, list[dict[str, str]]] = {}
    for m in ports:
        published.setdefault(f"{m.container_port}/{m.protocol}", []).append(
            {"HostIp": str(m.host_ip), "HostPort": str(m.host_port)})
    first = eps[0] if eps else None
    return {
        "SandboxKey": str(netns) if eps else "",
        "Ports": published,
        "IPAddress": str(first.address.ip) if first else "",
        "IPPrefixLen": first.address.network.prefixlen if first else 0,
        "Gateway": str(first.gateway) if first else "",
        "MacAddress": first.mac if first else "",
        "Networks": networks,
    }


__all__ = ["container_names", "endpoint_request", "endpoint_requests", "join_container",
           "network_settings", "setup_for_config"]
