"""Values that cross the network layer's boundary (frozen, typed)."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from stackctl.lightdc import dataclass, field
from stackctl.net.ports import PortMapping

TYPE_CHECKING = False  # typing: ~3 ms of every bridge run; annotations only
if TYPE_CHECKING:
    from typing import Any


@dataclass(frozen=True)
class NetworkInfo:
    id: str
    name: str
    bridge: str
    subnet: ipaddress.IPv4Network
    gateway: ipaddress.IPv4Address
    internal: bool = False
    mtu: int = 1500
    labels: dict[str, str] = field(default_factory=dict)
    options: dict[str, str] = field(default_factory=dict)
    created: str = ""

    def docker_shape(self, containers: dict[str, Any] | None = None) -> dict[str, Any]:
        """What ``docker network inspect`` prints for a bridge network."""
        return {
            "Name": self.name,
            "Id": self.id,
            "Created": self.created,
            "Scope": "local",
            "Driver": "bridge",
            "EnableIPv6": False,
            "IPAM": {"Driver": "default", "Options": {},
                     "Config": [{"Subnet": str(self.subnet), "Gateway": str(self.gateway)}]},
            "Internal": self.internal,
            "Attachable": True,
            "Containers": containers or {},
            "Options": {"com.docker.network.bridge.name": self.bridge,
                        "com.docker.network.driver.mtu": str(self.mtu), **self.options},
            "Labels": dict(self.labels),
        }


@dataclass(frozen=True)
class EndpointRequest:
    """One network a container joins: ``--network N --network-alias A --ip X``."""

    network: str
    aliases: tuple[str, ...] = ()
    ip: ipaddress.IPv4Address | None = None


@dataclass(frozen=True)
class Endpoint:
    container_id: str
    network_id: str
    network_name: str
    ifname: str
    host_veth: str
    address: ipaddress.IPv4Interface
    gateway: ipaddress.IPv4Address
    mac: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class ContainerNetwork:
    """What ``setup_container`` made; the engine puts these paths in the bundle:

    ``netns`` as ``linux.namespaces[{"type": "network", "path": netns}]``,
    ``hosts`` / ``resolv_conf`` / ``hostname_file`` bind-mounted on /etc/...
    """

    container_id: str
    netns: Path
    endpoints: tuple[Endpoint, ...]
    hosts: Path
    resolv_conf: Path
    ports: tuple[PortMapping, ...] = ()

    @property
    def primary_ip(self) -> ipaddress.IPv4Address | None:
        return self.endpoints[0].address.ip if self.endpoints else None


__all__ = ["ContainerNetwork", "Endpoint", "EndpointRequest", "NetworkInfo"]
