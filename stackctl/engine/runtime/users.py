"""Resolve `--user` (`name`, `uid`, `name:group`, `uid:gid`) against an image's rootfs.

The rules are runc's (libcontainer/user.GetExecUser), which Docker uses:
  * a name must exist in <rootfs>/etc/passwd; a number need not (gid then 0);
  * without an explicit group, the primary gid comes from passwd and the
    supplementary gids from every /etc/group entry listing the user;
  * with an explicit group (name or number), that is the gid and there are no
    supplementary groups (`--group-add` adds them).
Files are read without following symlinks out of the rootfs: an image's
/etc/passwd pointing at the host's /etc/passwd must not leak the host's users.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from stackctl.engine.runtime.securejoin import secure_join
from stackctl.errors import NotFound, UsageError
from stackctl.lightdc import dataclass

__all__ = ["ExecUser", "resolve_user"]


@dataclass(frozen=True)
class ExecUser:
    uid: int
    gid: int
    additional_gids: tuple[int, ...] = ()
    home: str = "/"
    name: str | None = None


def _read_in_root(rootfs: Path, rel: str) -> str:
    """Read rootfs/rel with symlinks resolved inside the rootfs (at most 40 hops)."""
    try:
        return Path(secure_join(str(rootfs), rel, max_links=40)).read_text(errors="replace")
    except OSError:
        return ""  # no file (or a symlink loop): numeric users still work, names fail


def _entries(text: str) -> Iterator[list[str]]:
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            yield line.split(":")


def _find_group(groups: Iterable[list[str]], arg: str) -> list[str] | None:
    for g in groups:
        if len(g) >= 3 and (g[0] == arg or (arg.isdigit() and g[2] == arg)):
            return g
    return None


def resolve_user(rootfs: str | os.PathLike[str], spec: str, *,
                 group_add: Iterable[str] = ()) -> ExecUser:
    """Resolve `spec` (empty = root) plus `--group-add` values against the rootfs."""
    root = Path(rootfs)
    user_arg, _, group_arg = (spec or "0").partition(":")
    if not user_arg:
        user_arg = "0"
    passwd = list(_entries(_read_in_root(root, "etc/passwd")))
    groups = list(_entries(_read_in_root(root, "etc/group")))

    entry = next((p for p in passwd if len(p) >= 4 and (
        p[0] == user_arg or (user_arg.isdigit() and p[2] == user_arg))), None)
    if entry is None:
        if not user_arg.isdigit():
            raise NotFound(
                f"unable to find user {user_arg}: no matching entries in passwd file",
                hint="use a numeric uid, or a user that the image's /etc/passwd defines",
            )
        uid, gid, home, name = int(user_arg), 0, "/", None
    else:
        try:
            uid, gid = int(entry[2]), int(entry[3])
        except ValueError as exc:
            raise UsageError(f"--user {spec}: malformed passwd entry for {entry[0]}") from exc
        home = entry[5] if len(entry) > 5 and entry[5] else "/"
        name = entry[0]

    additional: list[int] = []
    if group_arg:
        g = _find_group(groups, group_arg)
        if g is not None:
            gid = int(g[2])
        elif group_arg.isdigit():
            gid = int(group_arg)
        else:
            raise NotFound(
                f"unable to find group {group_arg}: no matching entries in group file",
                hint="use a numeric gid, or a group that the image's /etc/group defines",
            )
    elif name is not None:
        for g in groups:
            if len(g) >= 4 and name in g[3].split(",") and g[2].isdigit():
                additional.append(int(g[2]))

    for extra in group_add:
        g = _find_group(groups, extra)
        if g is not None:
            additional.append(int(g[2]))
        elif extra.isdigit():
            additional.append(int(extra))
        else:
            raise NotFound(f"--group-add {extra}: no such group in the image's /etc/group")
    # Keep order, drop duplicates and the primary gid (it is implied).
    seen: list[int] = []
    for g_id in additional:
        if g_id not in seen and g_id != gid:
            seen.append(g_id)
    return ExecUser(uid, gid, tuple(seen), home, name)
