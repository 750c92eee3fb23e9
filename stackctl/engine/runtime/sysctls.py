"""Which sysctls a container may set: only those its own namespaces scope (runc's rule).

Writing a sysctl inside the container writes /proc/sys as real root: a
non-namespaced one (vm.swappiness, kernel.panic...) would change the HOST. So a
sysctl is allowed only when the namespace that scopes it is the container's own:
IPC ones with a private IPC namespace, net.* with a network namespace other than
the host's, kernel.hostname/domainname with a private UTS namespace.
Stdlib only, no imports: the launcher re-checks what config.json asks for.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

__all__ = ["sysctl_problem"]

_IPC = frozenset({"kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
                  "kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced"})
_UTS = frozenset({"kernel.hostname", "kernel.domainname"})


def sysctl_problem(names: Iterable[str], namespaces: Mapping[str, str]) -> str | None:
    """None if every sysctl is scoped by a namespace of the container, else why not.

    `namespaces` maps an OCI namespace type ("ipc", "network", "uts") to "new",
    a path, or "host" (a type missing from the mapping counts as "host")."""
    def own(kind: str) -> bool:
        return namespaces.get(kind, "host") != "host"

    for name in names:
        if name in _IPC or name.startswith("fs.mqueue."):
            if not own("ipc"):
                return f"sysctl {name} needs the container's own IPC namespace (not --ipc host)"
        elif name.startswith("net."):
            if not own("network"):
                return f"sysctl {name} is not allowed with the host's network namespace"
        elif name in _UTS:
            if not own("uts"):
                return f"sysctl {name} needs the container's own UTS namespace"
        else:
            return (f"sysctl {name} is not in a separate kernel namespace: setting it "
                    "would change the host")
    return None
