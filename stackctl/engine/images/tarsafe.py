"""Safe tar extraction: no entry ever lands outside the target, whatever the archive says.

How it holds:
- Names are cleaned lexically (Go's ``filepath.Clean``): ``a/./b`` -> ``a/b``,
  a leading ``/`` is dropped (absolute names land inside the target, as with
  Docker), and any name or hardlink target that climbs above the target with
  ``..`` is refused (``ImageError`` naming the entry).
- Every write goes through directory file descriptors opened one component
  at a time with ``O_NOFOLLOW``: a symlink met as a *parent* is refused, so an
  archive that plants ``a -> /etc`` and then writes ``a/passwd`` cannot escape.
  Files are created with ``O_CREAT|O_EXCL|O_NOFOLLOW`` after removing whatever
  was there, symlinks and hardlinks are created as links and never followed.
  A symlink's *target* is stored as data and may point anywhere: it is only
  ever resolved later inside the container's own root.
- Hardlink targets resolve inside the target with the same rules.
- Device nodes are created, skipped or refused according to ``devices``.
- ``trusted.overlay.*`` xattrs from the archive are dropped: only the
  extractor itself writes overlay metadata.

OCI whiteouts (``.wh.name``, ``.wh..wh..opq``) are handled according to
``whiteouts``:
    "overlay"  layers unpacked separately for overlayfs: ``.wh.name`` becomes a
               0/0 character device, ``.wh..wh..opq`` the ``trusted.overlay.opaque=y``
               xattr on its directory (the kernel's own whiteout form)
    "apply"    layers applied in order onto one directory (flattening): the
               named entry is deleted; an opaque dir loses what earlier layers put in it
    "keep"     ordinary files (plain archives that are not layers)
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
import tarfile
from pathlib import Path
from typing import IO, Literal

from stackctl.errors import ImageError
from stackctl.lightdc import dataclass, field

WHITEOUT_PREFIX = ".wh."
WHITEOUT_OPAQUE = ".wh..wh..opq"
OVERLAY_OPAQUE_XATTR = "trusted.overlay.opaque"
XATTR_PAX_PREFIX = "SCHILY.xattr."

Whiteouts = Literal["overlay", "apply", "keep"]
Devices = Literal["allow", "skip", "error"]

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_IS_ROOT = os.geteuid() == 0


@dataclass
class ExtractStats:
    entries: int = 0
    bytes: int = 0
    whiteouts: int = 0
    skipped: list[str] = field(default_factory=list)


def clean_name(name: str, *, what: str = "entry") -> tuple[str, ...]:
    """Split a tar name into safe components, refusing any climb above the root."""
    parts: list[str] = []
    for comp in name.split("/"):
        if comp in ("", "."):
            continue
        if comp == "..":
            if not parts:
                raise ImageError(
                    f"unsafe archive: {what} {name!r} points outside the extraction root",
                    hint="the archive is malformed or hostile; it was not extracted",
                )
            parts.pop()
            continue
        parts.append(comp)
    return tuple(parts)


def extract(
    src: IO[bytes] | Path,
    dest: Path,
    *,
    whiteouts: Whiteouts = "keep",
    devices: Devices = "allow",
    same_owner: bool = True,
) -> ExtractStats:
    """Extract the tar stream ``src`` (any compression tarfile knows) into ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    with _Extractor(dest, whiteouts, devices, same_owner and _IS_ROOT) as ex:
        try:
            if isinstance(src, Path):
                with tarfile.open(src, mode="r:*") as tar:
                    for member in tar:
                        ex.add_checked(tar, member)
            else:
                with tarfile.open(fileobj=src, mode="r|*") as tar:
                    for member in tar:
                        ex.add_checked(tar, member)
        except (tarfile.TarError, EOFError, UnicodeError) as exc:
            raise ImageError(f"invalid tar archive: {exc}",
                             hint="the file is not a tar archive or it is truncated") from exc
        try:
            ex.finish()
        except OSError as exc:
            raise ImageError(f"cannot extract the archive into {dest}: {exc}") from exc
        return ex.stats


class _Extractor:
    def __init__(self, dest: Path, whiteouts: Whiteouts, devices: Devices, chown: bool) -> None:
        self.root_fd = os.open(dest, _DIR_FLAGS)
        self.whiteouts = whiteouts
        self.devices = devices
        self.chown = chown
        self.stats = ExtractStats()
        self._fds: dict[tuple[str, ...], int] = {(): self.root_fd}
        # directory metadata is applied last, deepest first, so that writing
        # children neither fails on read-only dirs nor bumps their mtimes
        self._dirs: dict[tuple[str, ...], tarfile.TarInfo] = {}
        self._created: set[tuple[str, ...]] = set()

    def __enter__(self) -> _Extractor:
        return self

    def __exit__(self, *exc: object) -> None:
        for fd in self._fds.values():
            with contextlib.suppress(OSError):
                os.close(fd)
        self._fds.clear()

    # -- walking ---------------------------------------------------------------------------

    def _dir_fd(self, parts: tuple[str, ...], entry: str, *, create: bool = True) -> int:
        fd = self._fds.get(parts)
        if fd is not None:
            return fd
        parent = self._dir_fd(parts[:-1], entry, create=create)
        name = parts[-1]
        try:
            fd = os.open(name, _DIR_FLAGS, dir_fd=parent)
        except FileNotFoundError:
            if not create:
                raise ImageError(f"archive entry {entry!r}: {'/'.join(parts)} does not exist",
                                 hint="the archive is malformed") from None
            os.mkdir(name, 0o755, dir_fd=parent)
            fd = os.open(name, _DIR_FLAGS, dir_fd=parent)
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                raise ImageError(
                    f"unsafe archive: entry {entry!r} goes through {'/'.join(parts)!r}, "
                    "which is not a directory (a symlink or a file)",
                    hint="the archive is malformed or hostile; it was not extracted",
                ) from None
            raise
        self._fds[parts] = fd
        return fd

    def _forget(self, parts: tuple[str, ...]) -> None:
        n = len(parts)
        for key in [k for k in self._fds if k[:n] == parts and k]:
            os.close(self._fds.pop(key))
        for key in [k for k in self._dirs if k[:n] == parts]:
            del self._dirs[key]

    def _remove(self, pfd: int, parts: tuple[str, ...]) -> None:
        name = parts[-1]
        try:
            st = os.lstat(name, dir_fd=pfd)
        except FileNotFoundError:
            return
        if stat.S_ISDIR(st.st_mode):
            self._forget(parts)
            shutil.rmtree(name, dir_fd=pfd)
        else:
            os.unlink(name, dir_fd=pfd)

    # -- entries ---------------------------------------------------------------------------

    def add_checked(self, tar: tarfile.TarFile, m: tarfile.TarInfo) -> None:
        """``add``, with the OS's errors named after the entry that caused them."""
        try:
            self.add(tar, m)
        except OSError as exc:
            hint = None
            if exc.errno in (errno.EPERM, errno.EACCES) and not _IS_ROOT:
                hint = "unpacking image layers (devices, owners) needs root"
            elif exc.errno == errno.ENOSPC:
                hint = "free some disk space (stackctl image prune)"
            raise ImageError(f"cannot extract archive entry {m.name!r}: "
                             f"{exc.strerror or exc}", hint=hint) from exc

    def add(self, tar: tarfile.TarFile, m: tarfile.TarInfo) -> None:
        parts = clean_name(m.name)
        self.stats.entries += 1
        if not parts:  # the root itself ("./"): keep its metadata
            if m.isdir():
                self._dirs[()] = m
            return
        base = parts[-1]
        if base.startswith(WHITEOUT_PREFIX) and self.whiteouts != "keep":
            self._whiteout(m, parts)
            return
        pfd = self._dir_fd(parts[:-1], m.name)
        if m.isdir():
            try:
                st = os.lstat(base, dir_fd=pfd)
                if not stat.S_ISDIR(st.st_mode):
                    self._remove(pfd, parts)
                    os.mkdir(base, 0o755, dir_fd=pfd)
            except FileNotFoundError:
                os.mkdir(base, 0o755, dir_fd=pfd)
            self._dirs[parts] = m
            self._created.add(parts)
            return
        self._remove(pfd, parts)
        self._created.add(parts)
        if m.isreg():
            self._file(tar, m, pfd, base)
        elif m.issym():
            os.symlink(m.linkname, base, dir_fd=pfd)
            self._owner_link(m, pfd, base)
        elif m.islnk():
            target = clean_name(m.linkname, what=f"hardlink {m.name!r} ->")
            if not target:
                raise ImageError(f"unsafe archive: hardlink {m.name!r} points at the root",
                                 hint="the archive is malformed or hostile")
            tfd = self._dir_fd(target[:-1], m.name, create=False)
            try:
                os.link(target[-1], base, src_dir_fd=tfd, dst_dir_fd=pfd, follow_symlinks=False)
            except FileNotFoundError:
                raise ImageError(
                    f"archive entry {m.name!r}: hardlink target {m.linkname!r} does not exist",
                    hint="hardlink targets must come earlier in the archive",
                ) from None
        elif m.ischr() or m.isblk():
            self._device(m, pfd, base)
        elif m.isfifo():
            os.mkfifo(base, m.mode & 0o7777, dir_fd=pfd)
            self._owner_link(m, pfd, base)
        else:
            raise ImageError(f"archive entry {m.name!r}: unsupported tar type {m.type!r}",
                             hint="only files, dirs, links, devices and fifos are supported")

    def _file(self, tar: tarfile.TarFile, m: tarfile.TarInfo, pfd: int, base: str) -> None:
        fd = os.open(base, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                     0o600, dir_fd=pfd)
        try:
            data = tar.extractfile(m)
            if data is not None:
                with os.fdopen(os.dup(fd), "wb", closefd=True) as out:
                    shutil.copyfileobj(data, out, 1 << 20)
            self.stats.bytes += m.size
            if self.chown:
                os.fchown(fd, m.uid, m.gid)
            os.fchmod(fd, m.mode & 0o7777)  # after chown, which clears set-id bits
            self._xattrs(m, fd)
            os.utime(fd, ns=(int(m.mtime * 1e9),) * 2)
        finally:
            os.close(fd)

    def _owner_link(self, m: tarfile.TarInfo, pfd: int, base: str) -> None:
        if self.chown:
            os.chown(base, m.uid, m.gid, dir_fd=pfd, follow_symlinks=False)
        with contextlib.suppress(OSError):
            os.utime(base, ns=(int(m.mtime * 1e9),) * 2, dir_fd=pfd, follow_symlinks=False)

    def _device(self, m: tarfile.TarInfo, pfd: int, base: str) -> None:
        if self.devices == "skip":
            self.stats.skipped.append(m.name)
            return
        if self.devices == "error":
            raise ImageError(f"archive entry {m.name!r} is a device node, not allowed here",
                             hint="device nodes are only accepted in image layers")
        kind = stat.S_IFCHR if m.ischr() else stat.S_IFBLK
        os.mknod(base, kind | (m.mode & 0o7777), os.makedev(m.devmajor, m.devminor), dir_fd=pfd)
        self._owner_link(m, pfd, base)

    def _xattrs(self, m: tarfile.TarInfo, fd: int) -> None:
        for key, value in m.pax_headers.items():
            if not key.startswith(XATTR_PAX_PREFIX):
                continue
            name = key[len(XATTR_PAX_PREFIX):]
            if name.startswith("trusted.overlay.") or name == "security.selinux":
                continue
            with contextlib.suppress(OSError):
                os.setxattr(fd, name, value.encode("utf-8", "surrogateescape"))

    def _whiteout(self, m: tarfile.TarInfo, parts: tuple[str, ...]) -> None:
        base, dparts = parts[-1], parts[:-1]
        self.stats.whiteouts += 1
        if base == WHITEOUT_OPAQUE:
            dfd = self._dir_fd(dparts, m.name)
            if self.whiteouts == "overlay":
                os.setxattr(dfd, OVERLAY_OPAQUE_XATTR, b"y")
            else:  # apply: drop what earlier layers put here, keep this layer's entries
                for child in os.listdir(dfd):
                    if (*dparts, child) not in self._created:
                        self._remove(dfd, (*dparts, child))
            return
        name = base[len(WHITEOUT_PREFIX):]
        if name.startswith(WHITEOUT_PREFIX) or name in ("", ".", ".."):
            return  # aufs-internal metadata (.wh..wh.plnk ...): not part of the image
        pfd = self._dir_fd(dparts, m.name)
        self._remove(pfd, (*dparts, name))
        if self.whiteouts == "overlay":
            os.mknod(name, stat.S_IFCHR | 0o000, os.makedev(0, 0), dir_fd=pfd)

    def finish(self) -> None:
        for parts in sorted(self._dirs, key=len, reverse=True):
            m = self._dirs[parts]
            fd = self._dir_fd(parts, m.name, create=False)
            if self.chown:
                os.fchown(fd, m.uid, m.gid)
            os.fchmod(fd, m.mode & 0o7777)
            self._xattrs(m, fd)
            os.utime(fd, ns=(int(m.mtime * 1e9),) * 2)


__all__ = ["OVERLAY_OPAQUE_XATTR", "WHITEOUT_OPAQUE", "WHITEOUT_PREFIX", "Devices",
           "ExtractStats", "Whiteouts", "clean_name", "extract"]
