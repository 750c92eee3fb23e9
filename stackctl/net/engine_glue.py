"""From the engine's ContainerConfig to NetworkManager calls.

The engine's seam (stackctl/engine/netseam.py) hands a container's config
here for every network mode other than ``none`` and ``host``:

    --network bridge | NAME     one endpoint on that network (``bridge`` is made
                                on first use), named by the container's name, its
                                stack service (label ``stackctl.service``) and
                                ``--network-alias``es
    -p SPEC...                  published on the first network's address

hosts and resolv.conf are written into the container's state dir, where the
engine bind-mounts them; resolv.conf names the embedded DNS responder, which
the container's monitor serves (``dns.start_for_container``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from stackctl.net.manager import NetworkManager
from stackctl.net.model import ContainerNetwork, EndpointRequest
from stackctl.net.ports import PortMapping, parse_publish

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
    req = EndpointRequest(config.network, aliases=tuple(config.network_aliases or ()))
    return manager.setup_container(
        container_id, [req],
        names_=container_names(name, dict(getattr(config, "labels", {}) or {})),
        hostname=config.hostname or container_id[:12],
        ports=ports, files_dir=files_dir)


__all__ = ["container_names", "setup_for_config"]
