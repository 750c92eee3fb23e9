"""The engine's one seam to the network layer (stackctl/net).

``setup`` returns what goes into the bundle's network namespace entry: "new"
(``none``: a fresh namespace with only loopback), "host", or the path of a
persistent netns that the network layer made and wired (bridge networks).
``teardown`` releases it. Both are called only for containers whose mode needs
them; the network layer is imported lazily, so none/host containers never
load pyroute2.

``setup`` joins every network of ``ContainerConfig.attachments()`` (eth0 the
primary, then eth1...), so a restart brings them all back. ``connect`` and
``disconnect`` (``network connect/disconnect``) change the stored config, and
the live namespace when there is one, like Docker, which keeps a connected
network across restarts and lets a stopped container be connected.
"""

from __future__ import annotations

from collections.abc import Callable

from stackctl.engine import oci
from stackctl.engine.containers import ContainerConfig, NetworkAttachment
from stackctl.engine.state import StateStore
from stackctl.errors import AlreadyExists, Conflict, NotFound, UsageError

TYPE_CHECKING = False  # typing costs ~3 ms at start-up; annotations only
if TYPE_CHECKING:
    from typing import Any


def setup(store: StateStore, paths: oci.ContainerPaths, config: ContainerConfig) -> str:
    mode = config.network
    if mode == "none":
        return "new"
    if mode == "host":
        return "host"
    if mode.startswith("container:"):  # share a running container's namespace
        from stackctl.net.engine_glue import join_container

        return str(join_container(store, paths.root, paths.run_root, paths.state_dir,
                                  mode.split(":", 1)[1]))
    manager = _manager(store, paths)
    if manager is None:
        raise UsageError(
            f"--network {mode}: bridge networks are not available in this build",
            hint="use --network none or --network host")
    # bridge networks (stackctl/net/engine_glue.py): netns + veth + address +
    # published ports; hosts/resolv.conf are written into the state dir
    from stackctl.net.engine_glue import setup_for_config

    row = store.db.execute("SELECT name FROM containers WHERE id = ?", (paths.id,)).fetchone()
    result = setup_for_config(manager, paths.id, config, name=row[0] if row else None,
                              files_dir=paths.state_dir)
    return str(result.netns)


def teardown(store: StateStore, paths: oci.ContainerPaths, config: ContainerConfig) -> None:
    finish = begin_teardown(store, paths, config)
    if finish is not None:
        finish()


def begin_teardown(store: StateStore, paths: oci.ContainerPaths, config: ContainerConfig,
                   *, wait: bool = True) -> Callable[[], None] | None:
    """Start releasing the container's network (its namespace goes now; the kernel
    drops the veths meanwhile); the returned call finishes it (leases, files),
    waiting for the veths to go, or without ``wait`` quarantining their addresses
    (net/manager.py)."""
    manager = _manager(store, paths)
    if manager is None:
        return None
    eps = manager.begin_teardown(paths.id)
    return lambda: manager.finish_teardown(paths.id, eps, wait=wait)


def connect(store: StateStore, paths: oci.ContainerPaths, attachment: NetworkAttachment
            ) -> NetworkAttachment:
    """Join one more network now (when the namespace exists) and at every later start.

    The attachment is stored under the network's name. Bad input (no such network,
    an address outside its subnet, already connected, a none/host/container: mode)
    changes nothing; a failed store update unplugs again."""
    from stackctl.net.engine_glue import container_names, endpoint_request

    name, config, labels = _load(store, paths.id)
    if not config.bridged:
        raise Conflict(f"container {name} uses --network {config.network}: it cannot be "
                       "connected to other networks",
                       hint="recreate it on a bridge network")
    manager = _need_manager(store, paths)
    info = manager.get(attachment.name)
    attachment = NetworkAttachment(info.name, attachment.aliases, attachment.ipv4_address)
    req = endpoint_request(attachment)  # a bad --ip fails here, before any change
    if any(_network_id(manager, a.name) == info.id for a in config.attachments()):
        raise AlreadyExists(f"container {name} is already connected to network {info.name}")
    if req.ip is not None and req.ip not in info.subnet:
        raise UsageError(f"--ip {req.ip} is outside network {info.name!r} ({info.subnet})")
    from stackctl.net.netns import is_netns

    live = is_netns(manager.netns_path(paths.id))
    if live:
        manager.connect(paths.id, req, names_=container_names(name, labels))
    try:
        _update(store, paths.id, lambda c: (*c.attachments(), attachment))
    except BaseException:
        if live:
            manager.disconnect(paths.id, info.id)
        raise
    return attachment


def disconnect(store: StateStore, paths: oci.ContainerPaths, network: str, *,
               force: bool = False) -> None:
    """Leave a network now and for good. ``force``: a network that no longer exists
    is dropped from the config all the same."""
    name, config, _labels = _load(store, paths.id)
    manager = _need_manager(store, paths)
    try:
        info = manager.get(network)
        net_id, net_name = info.id, info.name
    except NotFound:
        if not force:
            raise
        net_id, net_name = "", network

    def other(a: NetworkAttachment) -> bool:
        return a.name != net_name and (not net_id or _network_id(manager, a.name) != net_id)

    connected = any(e.network_id == net_id for e in manager.endpoints(container_id=paths.id))
    if all(other(a) for a in config.attachments()) and not connected and not force:
        raise NotFound(f"container {name} is not connected to network {net_name}")
    if connected:
        manager.disconnect(paths.id, net_id)
    _update(store, paths.id, lambda c: tuple(a for a in c.attachments() if other(a)))


def _network_id(manager: Any, ref: str) -> str:
    """The id of the network ``ref`` (name, id or id prefix) names, "" when none does.
    Only looks: get("bridge") would make the default network."""
    nets = manager.networks()
    exact = [n.id for n in nets if ref in (n.name, n.id)]
    prefix = [n.id for n in nets if len(ref) >= 3 and n.id.startswith(ref)]
    found = exact or prefix
    return str(found[0]) if len(found) == 1 else ""


def _load(store: StateStore, cid: str) -> tuple[str, ContainerConfig, dict[str, str]]:
    import json

    row = store.db.execute("SELECT name, config, labels FROM containers WHERE id = ?",
                           (cid,)).fetchone()
    if row is None:
        raise NotFound(f"no such container: {cid}")
    return row[0], ContainerConfig.from_json(row[1]), json.loads(row[2] or "{}")


def _update(store: StateStore, cid: str,
            change: Callable[[ContainerConfig], tuple[NetworkAttachment, ...]]) -> None:
    """Rewrite the stored config's networks in one transaction (read, change, write)."""
    with store.transaction() as db:
        row = db.execute("SELECT config FROM containers WHERE id = ?", (cid,)).fetchone()
        if row is None:
            raise NotFound(f"no such container: {cid}")
        config = ContainerConfig.from_json(row[0])
        new = config.with_attachments(tuple(change(config)))
        db.execute("UPDATE containers SET config = ? WHERE id = ?", (new.to_json(), cid))


def _need_manager(store: StateStore, paths: oci.ContainerPaths) -> Any:
    manager = _manager(store, paths)
    if manager is None:
        raise UsageError("bridge networks are not available in this build")
    return manager


def _manager(store: StateStore, paths: oci.ContainerPaths) -> Any:
    try:
        from stackctl.net.manager import NetworkManager
    except ImportError:
        return None
    return NetworkManager(paths.root, paths.run_root, store)


__all__ = ["connect", "disconnect", "setup", "teardown"]
