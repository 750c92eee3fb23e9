"""The engine's one seam to the network layer (stackctl/net).

``setup`` returns what goes into the bundle's network namespace entry: "new"
(``none``: a fresh namespace with only loopback), "host", or the path of a
persistent netns that the network layer made and wired (bridge networks).
``teardown`` releases it. Both are called only for containers whose mode needs
them; the network layer is imported lazily, so none/host containers never
load pyroute2.
"""

from __future__ import annotations

from typing import Any

from stackctl.engine import oci
from stackctl.engine.containers import ContainerConfig
from stackctl.engine.state import StateStore
from stackctl.errors import UsageError


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
    manager = _manager(store, paths)
    if manager is not None:
        manager.teardown_container(paths.id)


def _manager(store: StateStore, paths: oci.ContainerPaths) -> Any:
    try:
        from stackctl.net.manager import NetworkManager
    except ImportError:
        return None
    return NetworkManager(paths.root, paths.run_root, store)


__all__ = ["setup", "teardown"]
