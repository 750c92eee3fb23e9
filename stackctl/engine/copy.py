"""``cp`` between a container and the host, with ``docker cp``'s path rules.

Paths inside the container are resolved with its symlinks confined to its root
(prepare.resolve_in_root). A stopped container's root is mounted for the copy
and unmounted afterwards. Rules (as ``cp -a`` / docker cp):

    SRC file, DEST missing or a file  -> DEST is the file
    SRC file, DEST a directory        -> DEST/basename(SRC)
    SRC dir,  DEST missing            -> DEST is a copy of SRC
    SRC dir,  DEST a directory        -> DEST/basename(SRC)  (SRC/. copies the content)
    SRC a symlink                     -> the link itself; with -L, what it points to
    DEST "-" (from a container)       -> a tar stream on stdout
    SRC "-" (into a container)        -> a tar stream on stdin, extracted into DEST
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from stackctl.engine import oci, prepare
from stackctl.errors import NotFound, UsageError


@contextlib.contextmanager
def _rootfs(engine: Any, ref: str) -> Iterator[Path]:
    rec = engine.get(ref)
    paths = engine.paths(rec.id)
    if os.path.ismount(paths.rootfs):
        yield paths.rootfs
        return
    image = engine.images.get(rec.image_id)
    prepare.mount_rootfs(paths, engine.images.lower_dirs(image), readonly=False)
    try:
        yield paths.rootfs
    finally:
        if engine.get(rec.id).status.value not in ("running", "paused", "restarting"):
            oci.umount(paths.rootfs)


def _copy(src: Path, dest: Path, *, content_only: bool, follow: bool = False) -> None:
    if src.is_dir() and (follow or not src.is_symlink()):
        target = dest if not dest.exists() or content_only else dest / src.name
        shutil.copytree(src, target, symlinks=True, dirs_exist_ok=True)
        return
    target = dest / src.name if dest.is_dir() else dest
    if src.is_symlink() and not follow:
        if target.exists() or target.is_symlink():
            target.unlink()
        target.symlink_to(os.readlink(src))
    else:
        shutil.copy2(src, target)


def _source(root: Path, path: str, follow: bool) -> Path:
    """SRC in the container: a symlink itself (docker cp), its target with -L."""
    if path.endswith("/."):
        return prepare.resolve_in_root(root, path[:-2])
    head, _, base = path.rstrip("/").rpartition("/")
    if follow or path.endswith("/") or base in ("", ".", ".."):
        return prepare.resolve_in_root(root, path)
    return prepare.resolve_in_root(root, head or "/") / base


def copy_from(engine: Any, ref: str, path: str, dest: str, *, follow: bool = False) -> None:
    with _rootfs(engine, ref) as root:
        src = _source(root, path, follow)
        if not src.exists() and not src.is_symlink():
            raise NotFound(f"could not find the file {path} in container {ref}")
        if dest == "-":
            with tarfile.open(fileobj=sys.stdout.buffer, mode="w|") as tar:
                tar.add(src, arcname=os.path.basename(path.rstrip("/")) or "/")
            return
        d = Path(dest)
        if not d.parent.exists():
            raise UsageError(f"cp: destination directory {d.parent} does not exist")
        _copy(src, d, content_only=path.endswith("/."))


def copy_to(engine: Any, src: str, ref: str, path: str, *, archive: bool = False,
            follow: bool = False) -> None:
    s = Path(src)
    if src != "-" and not s.exists() and not s.is_symlink():
        raise UsageError(f"cp: no such file or directory: {src}")
    with _rootfs(engine, ref) as root:
        dest = prepare.resolve_in_root(root, path)
        if src == "-":
            with tarfile.open(fileobj=sys.stdin.buffer, mode="r|") as tar:
                tar.extractall(dest, filter="data")
            return
        if not dest.parent.exists():
            raise UsageError(f"cp: destination directory {path} does not exist in {ref}")
        _copy(s, dest, content_only=src.endswith("/."), follow=follow)
        if not archive:
            target = dest / s.name if dest.is_dir() and s.is_file() else dest
            _chown_tree(target, 0, 0)


def _chown_tree(top: Path, uid: int, gid: int) -> None:
    """docker cp without -a makes copied files owned by root in the container."""
    if not top.exists():
        return
    os.lchown(top, uid, gid)
    if top.is_dir() and not top.is_symlink():
        for dirpath, dirnames, filenames in os.walk(top):
            for n in (*dirnames, *filenames):
                os.lchown(os.path.join(dirpath, n), uid, gid)


__all__ = ["copy_from", "copy_to"]
