"""``--device HOST[:CONTAINER[:PERMS]]`` (compose's ``devices``): a host device node
made in the container's /dev, and a cgroup rule that lets the container open it
with PERMS (``r`` read, ``w`` write, ``m`` mknod; Docker's default ``rwm``).

``parse`` checks the grammar (pure, Docker's parseDevice); ``nodes`` looks the
host path up at start: a character or block device, or a directory whose
device nodes all come along, under CONTAINER, as Docker does for
``--device /dev/snd``. Anything else is a ``UsageError`` naming the flag.
"""

from __future__ import annotations

import os
import stat

from stackctl.errors import UsageError

_PERMS = frozenset("rwm")


def _is_perms(text: str) -> bool:
    return bool(text) and set(text) <= _PERMS


def parse(spec: str, flag: str = "--device") -> str:
    """``HOST[:CONTAINER[:PERMS]]`` -> ``HOST:CONTAINER:PERMS``; a second field made of
    r, w and m only is the permissions (``/dev/fuse:rw``), as Docker reads it."""
    parts = spec.strip().split(":")
    if len(parts) > 3 or not parts[0]:
        raise UsageError(f"{flag} {spec!r}: expected HOST[:CONTAINER[:PERMISSIONS]]",
                         hint="e.g. --device /dev/fuse or --device /dev/sda:/dev/xvdc:r")
    host = parts[0]
    container, perms = host, "rwm"
    if len(parts) == 2:
        if _is_perms(parts[1]):
            perms = parts[1]
        else:
            container = parts[1]
    elif len(parts) == 3:
        container, perms = parts[1] or host, parts[2]
    if not _is_perms(perms):
        raise UsageError(f"{flag} {spec!r}: invalid permissions {perms!r}",
                         hint="a combination of r (read), w (write) and m (mknod)")
    for path, what in ((host, "host"), (container, "container")):
        if not path.startswith("/"):
            raise UsageError(f"{flag} {spec!r}: the {what} path {path!r} must be absolute")
    return f"{host}:{container}:{perms}"


class DeviceNode:
    """One node to make: where in the container, its kind ("c" or "b"), numbers,
    mode and owner (the host node's), and the access the cgroup allows."""

    __slots__ = ("access", "gid", "kind", "major", "minor", "mode", "path", "uid")

    def __init__(self, path: str, kind: str, major: int, minor: int, mode: int, uid: int,
                 gid: int, access: str) -> None:
        self.path, self.kind, self.major, self.minor = path, kind, major, minor
        self.mode, self.uid, self.gid, self.access = mode, uid, gid, access

    def __repr__(self) -> str:
        return f"DeviceNode({self.path!r}, {self.kind} {self.major}:{self.minor} {self.access})"


def _node(host: str, container: str, perms: str) -> DeviceNode | None:
    st = os.stat(host)
    if not (stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)):
        return None
    return DeviceNode(container, "c" if stat.S_ISCHR(st.st_mode) else "b",
                      os.major(st.st_rdev), os.minor(st.st_rdev), stat.S_IMODE(st.st_mode),
                      st.st_uid, st.st_gid, perms)


def nodes(normalized: str, flag: str = "--device") -> list[DeviceNode]:
    """The device nodes ``HOST:CONTAINER:PERMS`` (from ``parse``) stands for."""
    host, container, perms = normalized.rsplit(":", 2)
    try:
        if os.path.isdir(host):
            found = []
            for top, _dirs, files in os.walk(host):
                for name in sorted(files):
                    src = os.path.join(top, name)
                    dst = os.path.join(container, os.path.relpath(src, host))
                    node = None if os.path.islink(src) else _node(src, dst, perms)
                    if node is not None:
                        found.append(node)
            return found
        node = _node(host, container, perms)
    except OSError as exc:
        raise UsageError(f"{flag} {host}: error gathering device information: "
                         f"{exc.strerror.lower() if exc.strerror else exc}",
                         hint="name a device node of this host, e.g. /dev/fuse") from None
    if node is None:
        raise UsageError(f"{flag} {host}: not a device node",
                         hint="a character or block device, or a directory of them")
    return [node]


_RULE_TYPES = ("a", "b", "c")


def parse_rule(text: str, flag: str = "--device-cgroup-rule") -> str:
    """``TYPE MAJOR:MINOR PERMS`` (``c 13:* rwm``; ``a`` is every device): a cgroup
    rule allowing devices the container makes itself (mknod), or that appear
    after it starts. Checked as Docker's regexp does; returned with single spaces."""
    parts = text.split()
    numbers = parts[1].split(":") if len(parts) == 3 else []
    if (len(parts) != 3 or parts[0] not in _RULE_TYPES or len(numbers) != 2
            or not all(n == "*" or n.isdigit() for n in numbers)
            or not _is_perms(parts[2]) or len(parts[2]) > 3):
        raise UsageError(f"{flag} {text!r}: invalid device cgroup rule",
                         hint="TYPE MAJOR:MINOR PERMS, e.g. 'c 13:* rwm' (TYPE a, b or c; "
                              "* for any number; PERMS of r, w, m)")
    return " ".join(parts)


def rule_to_oci(rule: str) -> dict[str, object]:
    """A ``parse_rule`` rule as an OCI ``linux.resources.devices`` allow entry."""
    kind, numbers, access = rule.split()
    major, minor = numbers.split(":")
    out: dict[str, object] = {"allow": True, "type": kind, "access": access}
    if major != "*":
        out["major"] = int(major)
    if minor != "*":
        out["minor"] = int(minor)
    return out


__all__ = ["DeviceNode", "nodes", "parse", "parse_rule", "rule_to_oci"]
