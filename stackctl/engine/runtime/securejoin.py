"""Resolve a path inside a root directory as if that root were ``/``.

Images and build contexts are untrusted: a symlink in them may point at
``/etc/shadow`` or ``../../..``. Every symlink met on the way is followed
against the root, never the host, and ``..`` stops at the root, so the result
always lies under it (what runc and moby call ``SecureJoin``). Stdlib only and
cheap to import: the launcher uses it.
"""

from __future__ import annotations

import errno
import os
import stat


def secure_join(root: str, path: str, *, max_links: int = 255) -> str:
    """root + path with every symlink resolved as if root were "/" (never escapes it).

    Components that do not exist are kept as they are. More than ``max_links``
    symlinks (a loop, most likely) raise OSError(ELOOP).
    """
    parts = [p for p in path.split("/") if p]
    resolved: list[str] = []
    hops = 0
    while parts:
        part = parts.pop(0)
        if part == ".":
            continue
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = os.path.join(root, *resolved, part)
        try:
            st = os.lstat(candidate)
        except OSError:
            resolved.append(part)
            continue
        if stat.S_ISLNK(st.st_mode):
            hops += 1
            if hops > max_links:
                raise OSError(errno.ELOOP, f"too many symlinks resolving {path}")
            target = os.readlink(candidate)
            if target.startswith("/"):
                resolved = []
            parts = [p for p in target.split("/") if p] + parts
            continue
        resolved.append(part)
    return os.path.join(root, *resolved)


__all__ = ["secure_join"]
