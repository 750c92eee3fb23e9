"""PID and UTS namespaces: Docker's ``--pid`` and ``--uts`` modes (compose's
``pid:`` and ``uts:``).

    --pid ""           a new PID namespace: the container's first process is PID 1
    --pid host         the host's: the container sees (and may signal) every process
    --pid container:X  X's: each sees the other's processes; X must be running
    --uts ""           a new UTS namespace, with the container's hostname
    --uts host         the host's hostname and domain name (so no --hostname, as
                       Docker refuses it; nor --domainname, which would be lost)

``container:REF`` is stored as ``container:<full id>`` at create (Docker's
HostConfig.PidMode), so a rename of the donor changes nothing. The bundle names
the donor's namespace by its pid (``/proc/PID/ns/pid``); a restart of the joiner
looks the donor up again (``Monitor._rejoin``), as for ``--ipc container:X``.
A PID namespace dies with its first process: when X stops, the kernel kills
the joiner's processes too, as with Docker.
"""

from __future__ import annotations

from stackctl.engine import names, oci
from stackctl.engine.containers import ContainerConfig
from stackctl.errors import Conflict, UsageError

TYPE_CHECKING = False  # typing costs ~3 ms at start-up; annotations only
if TYPE_CHECKING:
    from typing import Any


def parse_pid(value: str | None, *, flag: str = "--pid") -> str:
    """A PID mode as given by a user: "" (private), "host" or "container:NAME"."""
    mode = (value or "").strip()
    if mode in ("", "host"):
        return mode
    if mode.startswith("container:") and mode.split(":", 1)[1]:
        return mode
    raise UsageError(f"{flag} {value!r}: invalid PID mode",
                     hint="use host or container:NAME (the default is a namespace of its own)")


def parse_uts(value: str | None, *, flag: str = "--uts") -> str:
    """A UTS mode: "" (private) or "host"."""
    mode = (value or "").strip()
    if mode in ("", "host"):
        return mode
    raise UsageError(f"{flag} {value!r}: invalid UTS mode",
                     hint="use host (the default is a namespace of its own)")


def uts_conflict(uts: str, hostname: str | None, domainname: str | None) -> str | None:
    """Why ``uts`` cannot go with these names (Docker: "Conflicting options:
    hostname and the UTS mode"), or None."""
    if uts != "host":
        return None
    if hostname:
        return "a hostname cannot be set in the host's UTS namespace"
    if domainname:
        return "a domain name cannot be set in the host's UTS namespace"
    return None


def resolve(store: Any, config: ContainerConfig) -> ContainerConfig:
    """At create: ``--pid container:REF`` -> ``container:<id>`` (NotFound when none)."""
    if not config.pid.startswith("container:"):
        return config
    ref = config.pid.split(":", 1)[1]
    cid, _name = names.lookup(store.db, ref, flag=f"--pid container:{ref}")
    return config.with_(pid=f"container:{cid}")


def donor_namespace(store: Any, donor: str, kind: str) -> str:
    """The namespace file of running container ``donor`` (an id) for ``--KIND
    container:``; "host" when the donor is on the host's. Conflict when it does not
    run (Docker: "cannot join PID of a non running container")."""
    row = store.db.execute("SELECT name, status, pid, pid_start, config FROM containers "
                           "WHERE id=?", (donor,)).fetchone()
    name = row["name"] if row is not None else donor[:12]
    if row is None or row["status"] not in ("running", "paused") or not oci.alive(
            row["pid"], row["pid_start"]):
        raise Conflict(f"--{kind} container:{name}: container {name} is not running",
                       hint=f"start {name} first")
    if getattr(ContainerConfig.from_json(row["config"]), kind) == "host":
        return "host"  # joining a container on the host's namespace is joining the host
    return f"/proc/{row['pid']}/ns/{kind}"


def setup(store: Any, config: ContainerConfig) -> str:
    """At start: the PID namespace to give the bundle ("new", "host" or a path)."""
    if config.pid == "host":
        return "host"
    if config.pid.startswith("container:"):
        return donor_namespace(store, config.pid.split(":", 1)[1], "pid")
    return "new"


__all__ = ["donor_namespace", "parse_pid", "parse_uts", "resolve", "setup", "uts_conflict"]
