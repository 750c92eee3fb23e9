"""IPC namespaces: Docker's ``--ipc`` modes (compose's ``ipc:``).

    private      a new IPC namespace and /dev/shm of its own (the default)
    shareable    the same, and other containers may join it
    host         the host's IPC namespace and /dev/shm
    none         a new IPC namespace and no /dev/shm at all, as Docker
    container:X  X's IPC namespace and /dev/shm; X must run and be shareable, as
                 Docker requires ("non-shareable IPC")

SysV shared memory, semaphores and POSIX message queues belong to the namespace;
POSIX shared memory is files in /dev/shm, so sharing it takes one /dev/shm too.
Docker mounts a tmpfs on the host for each shareable container. Here a shareable
container's /dev/shm is a directory of its state dir, bind-mounted into it and
into its joiners: a bind lives and dies with the containers' mount namespaces,
so no teardown path can leave a host mount behind. The cost: that /dev/shm is on
the state root's disk rather than in memory.

``container:REF`` is stored as ``container:<full id>`` at create (what compose
shows in ``HostConfig.IpcMode``), so a rename of the donor changes nothing.
The bundle names the donor's namespace by its pid (``/proc/PID/ns/ipc``); a
restart policy's restart of the joiner looks the donor up again
(``Monitor._rejoin``), as Docker does.
"""

from __future__ import annotations

import os
from pathlib import Path

from stackctl.engine import names, oci
from stackctl.engine.containers import ContainerConfig
from stackctl.errors import Conflict, UsageError
from stackctl.lightdc import dataclass

TYPE_CHECKING = False  # typing costs ~3 ms at start-up; annotations only
if TYPE_CHECKING:
    from typing import Any

MODES = ("private", "shareable", "host", "none")
SHM = "shm"  # the shareable /dev/shm under the container's state dir


@dataclass(frozen=True)
class IpcSetup:
    """What the bundle gets: the namespace ("new", "host" or a namespace file) and
    the directory bound on /dev/shm (None: the runtime's own tmpfs, unless
    ``no_shm``: no /dev/shm at all, ``--ipc none``)."""

    namespace: str = "new"
    shm: Path | None = None
    no_shm: bool = False


def parse(value: str, *, flag: str = "--ipc") -> str:
    """A mode as given by a user; "" is the default (private)."""
    mode = value.strip()
    if not mode:
        return "private"
    if mode in MODES:
        return mode
    if mode.startswith("container:") and mode.split(":", 1)[1]:
        return mode
    raise UsageError(f"{flag} {value!r}: invalid IPC mode",
                     hint="use private, shareable, host, none or container:NAME")


def resolve(store: Any, config: ContainerConfig) -> ContainerConfig:
    """At create: ``container:REF`` -> ``container:<id>`` (NotFound when there is none)."""
    if not config.ipc.startswith("container:"):
        return config
    ref = config.ipc.split(":", 1)[1]
    cid, _name = _lookup(store, ref)
    return config.with_(ipc=f"container:{cid}")


def setup(store: Any, paths: oci.ContainerPaths, config: ContainerConfig) -> IpcSetup:
    """At start: the namespace to create or join, and the /dev/shm to bind."""
    mode = config.ipc
    if mode == "host":
        return IpcSetup("host", Path("/dev/shm"))
    if mode == "none":
        return IpcSetup(no_shm=True)
    if mode == "shareable":
        shm = paths.state_dir / SHM
        shm.mkdir(mode=0o1777, exist_ok=True)
        os.chmod(shm, 0o1777)  # mkdir's mode is masked by the umask
        return IpcSetup("new", shm)
    if not mode.startswith("container:"):
        return IpcSetup()
    ref = mode.split(":", 1)[1]
    cid, name = _lookup(store, ref)
    row = store.db.execute("SELECT status, pid, pid_start, config FROM containers WHERE id=?",
                           (cid,)).fetchone()
    if row["status"] not in ("running", "paused") or not oci.alive(row["pid"],
                                                                     row["pid_start"]):
        raise Conflict(f"--ipc container:{ref}: container {name} is not running",
                       hint=f"start {name} first")
    donor = ContainerConfig.from_json(row["config"])
    if donor.ipc == "host":  # joining a container on the host's namespace is joining the host
        return IpcSetup("host", Path("/dev/shm"))
    shm = paths.state_dir.parent / cid / SHM
    if donor.ipc != "shareable" or not shm.is_dir():
        raise Conflict(f"--ipc container:{ref}: container {name}: non-shareable IPC",
                       hint="use IpcMode:shareable for the donor container (--ipc shareable)")
    return IpcSetup(f"/proc/{row['pid']}/ns/ipc", shm)


def _lookup(store: Any, ref: str) -> tuple[str, str]:
    return names.lookup(store.db, ref, flag=f"--ipc container:{ref}")


__all__ = ["MODES", "IpcSetup", "parse", "resolve", "setup"]
