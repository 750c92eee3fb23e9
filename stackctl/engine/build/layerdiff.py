"""An overlay upper directory -> an OCI layer tar.

Overlay records deletions its own way; OCI layers another:

    overlay upper                          OCI layer tar
    char device 0/0 named ``x``      ->    empty file ``.wh.x``
    dir with xattr overlay.opaque=y  ->    the dir + ``dir/.wh..wh..opq``

Modes, owners, symlinks, hardlinks (by inode) and xattrs are kept; overlay's
own ``trusted.overlay.*`` xattrs are not. Entries are written in sorted order
with empty user/group names, so the same changes give the same tar bytes.
"""

from __future__ import annotations

import os
import stat
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

__all__ = ["changes", "write_layer"]

_OPAQUE = ("trusted.overlay.opaque", "user.overlay.opaque")


def _xattrs(path: str) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return out
    for name in names:
        if name.startswith(("trusted.overlay.", "user.overlay.")):
            continue
        try:
            out[name] = os.getxattr(path, name, follow_symlinks=False)
        except OSError:
            continue
    return out


def _opaque(path: str) -> bool:
    for name in _OPAQUE:
        try:
            if os.getxattr(path, name, follow_symlinks=False) == b"y":
                return True
        except OSError:
            continue
    return False


def changes(upper: Path) -> Iterator[tuple[str, str]]:
    """(relative path, real path) of every entry of ``upper``, parents first."""
    def walk(real: str, rel: str) -> Iterator[tuple[str, str]]:
        for name in sorted(os.listdir(real)):
            child_real = os.path.join(real, name)
            child_rel = f"{rel}/{name}" if rel else name
            yield child_rel, child_real
            if os.path.isdir(child_real) and not os.path.islink(child_real):
                yield from walk(child_real, child_rel)

    yield from walk(str(upper), "")


def write_layer(upper: Path, out: BinaryIO) -> int:
    """Write the layer tar of ``upper`` to ``out``; return the number of entries."""
    count = 0
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for rel, real in changes(upper):
            st = os.lstat(real)
            parent, name = os.path.split(rel)
            if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
                info = tarfile.TarInfo(os.path.join(parent, ".wh." + name))
                info.mode, info.mtime = 0o600, int(st.st_mtime)
                tar.addfile(info)
                count += 1
                continue
            info = tar.gettarinfo(real, arcname=rel)
            info.uname = info.gname = ""
            attrs = _xattrs(real)
            if attrs:
                info.pax_headers = {
                    "SCHILY.xattr." + k: v.decode("utf-8", "surrogateescape")
                    for k, v in attrs.items()
                }
            if info.isreg():
                with open(real, "rb") as fh:
                    tar.addfile(info, fh)
            else:
                tar.addfile(info)
            count += 1
            if stat.S_ISDIR(st.st_mode) and _opaque(real):
                opq = tarfile.TarInfo(os.path.join(rel, ".wh..wh..opq"))
                opq.mode, opq.mtime = 0o600, int(st.st_mtime)
                tar.addfile(opq)
                count += 1
    return count
