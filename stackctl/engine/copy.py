"""``cp`` between a container and the host, with ``docker cp``'s path rules.

Paths inside the container are resolved with its symlinks confined to its root
(prepare.resolve_in_root). A stopped container's root is mounted for the copy
and unmounted afterwards. Rules (docker cp's, both ways):

    SRC file, DEST missing              -> DEST is the file (its directory must exist)
    SRC file, DEST missing, ends in /   -> error: the destination directory must exist
    SRC file, DEST a file               -> DEST is overwritten
    SRC file, DEST a directory          -> DEST/basename(SRC)
    SRC dir,  DEST missing              -> DEST is a copy of SRC
    SRC dir,  DEST a file               -> error: cannot copy a directory to a file
    SRC dir,  DEST a directory          -> DEST/basename(SRC)  (SRC/. copies the content)
    SRC a symlink                       -> the link itself; with -L, what it points to
    DEST "-" (from a container)         -> a tar stream on stdout
    SRC "-" (into a container)          -> a tar stream on stdin, extracted into DEST (a directory)

A path in one of the container's volumes or bind mounts is copied there, on the
host side of the mount (the container's root shows only its empty mount point);
a read-only mount, or a read-only root, refuses a copy into it as docker does.

Below the destination the copy merges into what is there, as docker's tar
extraction does: a directory merges into a directory, a file replaces a file
or a symlink, and a directory never replaces a non-directory nor the reverse
(an error, checked before anything is written). The destination's tree is
walked with directory fds and O_NOFOLLOW, never by path: a symlink the
container placed there (``/tmp/d/esc -> /``, which on the host means the
host's root) is a non-directory to the copy, not a way out of the container.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import shutil
import stat
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from stackctl.engine import oci, prepare
from stackctl.errors import Conflict, NotFound
from stackctl.lightdc import dataclass

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


@dataclass(frozen=True)
class _Tree:
    """Where a container path is on the host: its root (the overlay, mounted for the
    copy if it is not running) and its volumes and bind mounts, which the root only
    shows as empty mount points (they are mounted in the container's namespace)."""

    root: Path
    mounts: tuple[tuple[str, Path, bool], ...]  # (target, host source, read-only)
    read_only_root: bool

    def locate(self, path: str) -> tuple[Path, str, bool]:
        """(the tree holding ``path``, the path inside it, read-only?). A mount is
        found by its target as written; symlinks resolve inside the tree found."""
        norm = _norm(path)
        for target, source, ro in self.mounts:  # deepest target first
            if norm == target or norm.startswith(target.rstrip("/") + "/"):
                rest = norm[len(target):] or "/"
                if path.endswith("/.") and rest != "/":
                    rest += "/."
                elif path.endswith("/") and rest != "/":
                    rest += "/"
                return source, rest, ro
        return self.root, path, self.read_only_root


def _norm(path: str) -> str:
    """``path`` made absolute and normal (posixpath keeps a leading //: not here)."""
    return posixpath.normpath("/" + path.lstrip("/"))


@contextlib.contextmanager
def _tree(engine: Any, ref: str) -> Iterator[_Tree]:
    rec = engine.get(ref)
    paths = engine.paths(rec.id)
    mounts = []
    for m in rec.config.mounts:
        try:
            source = Path(m.source) if m.kind == "bind" else engine.volumes.source(m.source)
        except NotFound:  # made at the first start: nothing there yet
            continue
        mounts.append((_norm(m.target), source, m.read_only))
    taken = {m[0] for m in mounts}
    for name in ("hostname", "hosts", "resolv.conf"):  # the container's own, not the image's
        own = paths.state_dir / name
        if f"/etc/{name}" not in taken and own.is_file():
            # read-only to cp: a bind-mounted file replaced by a new one is not seen
            mounts.append((f"/etc/{name}", own, True))
    mounts.sort(key=lambda m: len(m[0]), reverse=True)
    tree = _Tree(paths.rootfs, tuple(mounts), rec.config.read_only)
    if os.path.ismount(paths.rootfs):
        yield tree
        return
    image = engine.images.get(rec.image_id)
    prepare.mount_rootfs(paths, engine.images.lower_dirs(image), readonly=False)
    try:
        yield tree
    finally:
        if engine.get(rec.id).status.value not in ("running", "paused", "restarting"):
            oci.umount(paths.rootfs)


def _source(root: Path, path: str, follow: bool) -> Path:
    """SRC in the container: a symlink itself (docker cp), its target with -L."""
    if path.endswith("/."):
        return prepare.resolve_in_root(root, path[:-2])
    head, _, base = path.rstrip("/").rpartition("/")
    if follow or path.endswith("/") or base in ("", ".", ".."):
        return prepare.resolve_in_root(root, path)
    return prepare.resolve_in_root(root, head or "/") / base


def _is_dir(src: Path, follow: bool) -> bool:
    return src.is_dir() and (follow or not src.is_symlink())


def _placement(src_dir: bool, dest: Path, dest_arg: str, where: str, *, content_only: bool,
               name: str) -> tuple[Path, str | None]:
    """Where the copy goes: (a directory, the name in it), or (a directory, None) to
    merge SRC's content into it. ``where`` names the destination in messages."""
    if dest.is_dir():
        return (dest, None) if content_only or not name else (dest, name)
    if dest.exists():
        if src_dir:
            raise Conflict(f"cannot copy a directory to a file: {where} is a file",
                           hint="name a directory, or a path that does not exist yet")
        return dest.parent, dest.name
    if dest_arg.endswith(("/", "/.")) and not src_dir:
        raise NotFound(f"no such directory: {where} (the destination directory must exist)",
                       hint="create it first, or drop the trailing /")
    if not dest.parent.is_dir():
        raise NotFound(f"no such directory: {os.path.dirname(where.rstrip('/')) or '/'}",
                       hint="cp does not create missing parent directories: create it first")
    return dest.parent, dest.name


def _owner(st: os.stat_result, owner: tuple[int, int] | None) -> tuple[int, int]:
    return (st.st_uid, st.st_gid) if owner is None else owner


class _Writer:
    """Copies a host tree into a directory fd, never following a symlink found at the
    destination. ``owner`` is the uid:gid given to what it writes, or None to keep
    the source's (cp -a); without ``chown`` what it writes stays the caller's."""

    def __init__(self, owner: tuple[int, int] | None, *, chown: bool, follow_top: bool) -> None:
        self.owner = owner
        self.chown = chown
        self.follow_top = follow_top

    def conflicts(self, src: Path, dir_fd: int, name: str, top: bool = True) -> str | None:
        """The first place where a directory would replace a non-directory or the
        reverse, as ``name/child/...``; None when the copy can go ahead."""
        src_dir = _is_dir(src, self.follow_top and top)
        try:
            cur = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            return None
        if stat.S_ISDIR(cur.st_mode) != src_dir:
            return name
        if not src_dir:
            return None
        fd = os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
        try:
            for child in sorted(os.listdir(src)):
                found = self.conflicts(src / child, fd, child, top=False)
                if found:
                    return f"{name}/{found}"
        finally:
            os.close(fd)
        return None

    def merge_into(self, src: Path, fd: int) -> None:
        """SRC's content into the open directory ``fd`` (SRC/. semantics)."""
        for child in sorted(os.listdir(src)):
            self.write(src / child, fd, child, top=False)

    def write(self, src: Path, dir_fd: int, name: str, top: bool = True) -> None:
        st = os.stat(src) if self.follow_top and top else os.lstat(src)
        mode = stat.S_IMODE(st.st_mode)
        try:
            cur: os.stat_result | None = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            cur = None
        if stat.S_ISDIR(st.st_mode):
            if cur is None:
                os.mkdir(name, 0o700, dir_fd=dir_fd)
            fd = os.open(name, _DIR_FLAGS, dir_fd=dir_fd)  # a symlink there fails: ELOOP
            try:
                self.merge_into(src, fd)
                self._finish(fd, st, mode)
            finally:
                os.close(fd)
            return
        if cur is not None:
            os.unlink(name, dir_fd=dir_fd)
        if stat.S_ISLNK(st.st_mode):
            os.symlink(os.readlink(src), name, dir_fd=dir_fd)
            if self.chown:
                uid, gid = _owner(st, self.owner)
                os.chown(name, uid, gid, dir_fd=dir_fd, follow_symlinks=False)
            os.utime(name, ns=(st.st_atime_ns, st.st_mtime_ns), dir_fd=dir_fd,
                     follow_symlinks=False)
            return
        if stat.S_ISREG(st.st_mode):
            out = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                          | os.O_CLOEXEC, 0o600, dir_fd=dir_fd)
            try:
                with open(src, "rb") as f_in, open(out, "wb", closefd=False) as f_out:
                    shutil.copyfileobj(f_in, f_out, 1 << 20)
                self._finish(out, st, mode)
            finally:
                os.close(out)
            return
        if stat.S_ISFIFO(st.st_mode):
            os.mkfifo(name, mode, dir_fd=dir_fd)
        elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
            os.mknod(name, st.st_mode, st.st_rdev, dir_fd=dir_fd)
        else:
            return  # a socket: tar (and so docker cp) skips it
        if self.chown:
            uid, gid = _owner(st, self.owner)
            os.chown(name, uid, gid, dir_fd=dir_fd, follow_symlinks=False)

    def _finish(self, fd: int, st: os.stat_result, mode: int) -> None:
        if self.chown:
            uid, gid = _owner(st, self.owner)
            os.fchown(fd, uid, gid)
        os.fchmod(fd, mode)  # after chown, which clears setuid bits
        os.utime(fd, ns=(st.st_atime_ns, st.st_mtime_ns))


def _copy(src: Path, parent: Path, name: str | None, writer: _Writer, where: str) -> None:
    fd = os.open(parent, _DIR_FLAGS & ~os.O_NOFOLLOW)  # resolved already (in the root)
    try:
        if name is None:
            found = next(filter(None, (writer.conflicts(src / c, fd, c, top=False)
                                       for c in sorted(os.listdir(src)))), None)
        else:
            found = writer.conflicts(src, fd, name)
        if found:
            raise Conflict(f"cannot overwrite {found!r} in {where}: a directory and a "
                           "non-directory have the same name",
                           hint="remove one of them first")
        if name is None:
            writer.merge_into(src, fd)
        else:
            writer.write(src, fd, name)
    finally:
        os.close(fd)


def copy_from(engine: Any, ref: str, path: str, dest: str, *, archive: bool = False,
              follow: bool = False) -> None:
    with _tree(engine, ref) as tree:
        root, inner, _ro = tree.locate(path)
        src = _source(root, inner, follow)
        if not src.exists() and not src.is_symlink():
            raise NotFound(f"could not find the file {path} in container {ref}")
        name = os.path.basename(path.rstrip("/"))
        if dest == "-":
            with tarfile.open(fileobj=sys.stdout.buffer, mode="w|") as tar:
                tar.add(src, arcname=name or "/")
            return
        content_only = path.endswith("/.") or name in ("", ".")
        parent, target = _placement(_is_dir(src, follow), Path(dest), dest, dest,
                                    content_only=content_only, name=name)
        # docker cp: local files are the caller's, or keep their owners with -a
        writer = _Writer(None, chown=archive, follow_top=follow)
        _copy(src, parent, target, writer, dest)


def copy_to(engine: Any, src: str, ref: str, path: str, *, archive: bool = False,
            follow: bool = False) -> None:
    s = Path(src)
    if src != "-" and not s.exists() and not s.is_symlink():
        raise NotFound(f"no such file or directory: {src}")
    with _tree(engine, ref) as tree:
        root, inner, read_only = tree.locate(path)
        where = f"{ref}:{path}"
        if read_only:  # as docker: not through cp either
            raise Conflict(f"cannot copy to {where}: it is on a read-only "
                           f"{'file system' if root == tree.root else 'mount'}",
                           hint="copy to a writable path: a volume, or a mount without :ro")
        dest = prepare.resolve_in_root(root, inner)
        if src == "-":
            if not dest.is_dir():
                raise NotFound(f"destination {where} must be a directory",
                               hint="a tar stream is extracted into an existing directory")
            with tarfile.open(fileobj=sys.stdin.buffer, mode="r|") as tar:
                tar.extractall(dest, filter="data")
            return
        name = os.path.basename(src.rstrip("/"))
        content_only = src.endswith("/.") or name in ("", ".")
        parent, target = _placement(_is_dir(s, follow), dest, path, where,
                                    content_only=content_only, name=name)
        # docker cp: files in the container are root's, or keep their owners with -a
        writer = _Writer(None if archive else (0, 0), chown=True, follow_top=follow)
        _copy(s, parent, target, writer, where)


__all__ = ["copy_from", "copy_to"]
