"""A directory (an overlay upperdir, or a layer built by COPY) -> an OCI layer tar.

Overlay's own whiteout forms become OCI whiteouts:

    upperdir                                     layer tar
    name  (char device 0/0)                 ->   .wh.name          (empty regular file)
    dir   (xattr trusted.overlay.opaque=y   ->   dir/ then dir/.wh..wh..opq
           or user.overlay.opaque=y)

and everything else is kept as it is: modes (incl. set-id and sticky bits),
numeric owners, mtimes (or one clamped time, for reproducible builds),
symlinks, hardlinks (the second and later paths of an inode become link
entries to the first), fifos and device nodes, and xattrs (``user.*``,
``security.capability``...; never ``trusted.overlay.*``, which is overlay's
bookkeeping). Sockets are skipped, as Docker does. The walk is sorted, so the
same tree always gives the same bytes, hence the same diff ID.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import IO

from stackctl.engine.images.tarsafe import WHITEOUT_OPAQUE, WHITEOUT_PREFIX, XATTR_PAX_PREFIX

_OPAQUE_XATTRS = ("trusted.overlay.opaque", "user.overlay.opaque")
_SKIP_XATTR_PREFIXES = ("trusted.overlay.", "user.overlay.", "security.selinux")


Skip = Callable[[str, os.stat_result], bool]


def write_layer(src: Path, out: IO[bytes], *, mtime: int | None = None,
                skip: Skip | None = None) -> int:
    """Write the layer tar of directory ``src`` to ``out``; return the entry count.

    ``skip(relative_path, lstat)`` leaves an entry (and, for a dir, its subtree) out.
    """
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        w = _Walker(tar, mtime, skip)
        w.walk(src, "")
        return w.count


class _Walker:
    def __init__(self, tar: tarfile.TarFile, mtime: int | None, skip: Skip | None) -> None:
        self.tar = tar
        self.mtime = mtime
        self.skip = skip
        self.count = 0
        self.inodes: dict[tuple[int, int], str] = {}

    def walk(self, path: Path, rel: str) -> None:
        with os.scandir(path) as it:
            entries = sorted(it, key=lambda e: e.name)
        for entry in entries:
            name = f"{rel}{entry.name}"
            st = entry.stat(follow_symlinks=False)
            full = Path(entry.path)
            if self.skip is not None and self.skip(name, st):
                continue
            if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
                self._add(self._info(f"{rel}{WHITEOUT_PREFIX}{entry.name}", st,
                                     tarfile.REGTYPE, mode=0))
                continue
            if stat.S_ISDIR(st.st_mode):
                self._add(self._info(name, st, tarfile.DIRTYPE), xattrs_of=full)
                if _is_opaque(full):
                    self._add(self._info(f"{name}/{WHITEOUT_OPAQUE}", st, tarfile.REGTYPE,
                                         mode=0))
                self.walk(full, f"{name}/")
            elif stat.S_ISREG(st.st_mode):
                key = (st.st_dev, st.st_ino)
                if st.st_nlink > 1 and key in self.inodes:
                    info = self._info(name, st, tarfile.LNKTYPE)
                    info.linkname = self.inodes[key]
                    self._add(info)
                    continue
                if st.st_nlink > 1:
                    self.inodes[key] = name
                info = self._info(name, st, tarfile.REGTYPE)
                info.size = st.st_size
                with open(full, "rb") as fh:
                    self._add(info, fh, xattrs_of=full)
            elif stat.S_ISLNK(st.st_mode):
                info = self._info(name, st, tarfile.SYMTYPE)
                info.linkname = os.readlink(full)
                self._add(info)
            elif stat.S_ISFIFO(st.st_mode):
                self._add(self._info(name, st, tarfile.FIFOTYPE))
            elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
                kind = tarfile.CHRTYPE if stat.S_ISCHR(st.st_mode) else tarfile.BLKTYPE
                info = self._info(name, st, kind)
                info.devmajor, info.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
                self._add(info)
            # sockets: skipped, they cannot be carried in an image

    def _info(self, name: str, st: os.stat_result, kind: bytes, *,
              mode: int | None = None) -> tarfile.TarInfo:
        info = tarfile.TarInfo(name)
        info.type = kind
        info.mode = stat.S_IMODE(st.st_mode) if mode is None else mode
        info.uid, info.gid = st.st_uid, st.st_gid
        info.uname = info.gname = ""
        info.mtime = self.mtime if self.mtime is not None else int(st.st_mtime)
        return info

    def _add(self, info: tarfile.TarInfo, data: IO[bytes] | None = None, *,
             xattrs_of: Path | None = None) -> None:
        if xattrs_of is not None:
            pax = dict(info.pax_headers)
            for key, value in _xattrs(xattrs_of).items():
                pax[XATTR_PAX_PREFIX + key] = value.decode("utf-8", "surrogateescape")
            info.pax_headers = pax
        self.tar.addfile(info, data)
        self.count += 1


def _is_opaque(path: Path) -> bool:
    for name in _OPAQUE_XATTRS:
        with contextlib.suppress(OSError):
            if os.getxattr(path, name, follow_symlinks=False) == b"y":
                return True
    return False


def _xattrs(path: Path) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return out
    for name in sorted(names):
        if name.startswith(_SKIP_XATTR_PREFIXES):
            continue
        with contextlib.suppress(OSError):
            out[name] = os.getxattr(path, name, follow_symlinks=False)
    return out


__all__ = ["write_layer"]
