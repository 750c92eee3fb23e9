"""Undoing a container: shared by the monitor (when a container ends for good) and
the engine (``rm``, failed starts, repair after a killed monitor).

Every step is idempotent, so a crash half-way is repaired by running it again.
Stdlib only at import time (the monitor imports it); the network layer is
imported lazily and only for modes that made something to release.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from stackctl.engine import oci
from stackctl.engine.containers import ContainerConfig
from stackctl.engine.state import StateStore
from stackctl.fsutil import rmtree

HOST_MODES = ("none", "host")


def release_network(store: StateStore, paths: oci.ContainerPaths,
                    config: ContainerConfig) -> None:
    """Give back the container's netns, veths, addresses and published ports."""
    begin_network_release(store, paths, config)()


def begin_network_release(store: StateStore, paths: oci.ContainerPaths,
                          config: ContainerConfig, *, wait: bool = True
                          ) -> Callable[[], None]:
    """``release_network`` in two halves: the namespace goes now, and the returned
    call waits for the kernel to drop its veths and gives the leases back. Other
    cleanup in between overlaps that wait (10-30 ms of every bridge container's end).
    Without ``wait``, the addresses of veths not gone yet are quarantined instead
    of waited for (net/manager.py)."""
    if config.network in HOST_MODES or config.network.startswith("container:"):
        return _nothing
    try:
        from stackctl.engine import netseam
    except ImportError:  # the network layer is optional for none/host containers
        return _nothing

    def report(exc: Exception) -> None:  # teardown must go on: report, don't stop
        sys.stderr.write(f"stackctl: network teardown of {paths.id[:12]} failed: {exc}\n")

    try:
        finish = netseam.begin_teardown(store, paths, config, wait=wait)
    except Exception as exc:
        report(exc)
        return _nothing
    if finish is None:
        return _nothing

    def finish_safely() -> None:
        try:
            finish()
        except Exception as exc:
            report(exc)

    return finish_safely


def _nothing() -> None:
    pass


def stop_runtime(paths: oci.ContainerPaths, config: ContainerConfig) -> None:
    """Drop the runtime's state, the cgroup, and the rootfs mount."""
    oci.runtime_delete(config.runtime, paths)
    oci.remove_cgroup(paths.cgroup_name)
    oci.umount(paths.rootfs)


def remove_files(paths: oci.ContainerPaths) -> None:
    rmtree(paths.run_dir)
    rmtree(paths.state_dir)


def remove_anonymous_volumes(store: StateStore, config: ContainerConfig) -> None:
    names = [m.source for m in config.mounts if m.kind == "anonymous" and m.source]
    if not names:
        return
    from stackctl.engine.volumes import VolumeStore

    vols = VolumeStore(store.root, store)
    for name in names:
        vols.remove_if_unused(name)


def release(store: StateStore, paths: oci.ContainerPaths, config: ContainerConfig, *,
            remove: bool, unmount: bool = False,
            network: Callable[[], None] | None = None) -> None:
    """The container has stopped for good: release what it held; ``remove`` deletes
    it, ``unmount`` unmounts its root first. The network namespace goes first, and
    the rest is done while the kernel drops its veths; ``network`` is the second
    half of a ``begin_network_release`` the caller has made already."""
    finish_network = network or begin_network_release(store, paths, config)
    if unmount:
        try:
            oci.umount(paths.rootfs)
        except OSError as exc:
            sys.stderr.write(f"stackctl: cannot unmount {paths.rootfs}: {exc}\n")
    if remove:
        with store.transaction() as db:
            db.execute("DELETE FROM containers WHERE id=?", (paths.id,))
        remove_anonymous_volumes(store, config)
        remove_files(paths)
    finish_network()


__all__ = ["release", "release_network", "remove_anonymous_volumes", "remove_files",
           "stop_runtime"]
