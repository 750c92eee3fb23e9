"""File-tree helpers that spare the hot paths an ``import shutil``.

shutil imports bz2, lzma and zlib at import time: ~5 ms of every container's
removal (a ``run --rm`` pays it on its way out) for one ``rmtree``.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from os import PathLike


def rmtree(path: str | PathLike[str]) -> None:
    """``shutil.rmtree(path, ignore_errors=True)``: delete the tree, never follow a
    symlink out of it (each entry is removed relative to its directory's fd, as
    shutil does), skip what cannot be removed, and accept a missing ``path``."""
    try:
        walk = os.fwalk(path, topdown=False, follow_symlinks=False)
        for _, dirs, files, dir_fd in walk:
            for name in files:
                _quietly(os.unlink, name, dir_fd)
            for name in dirs:  # a symlink to a directory is listed here too
                try:
                    os.rmdir(name, dir_fd=dir_fd)
                except NotADirectoryError:
                    _quietly(os.unlink, name, dir_fd)
                except OSError:
                    pass
        if os.path.islink(path):
            os.unlink(path)
        else:
            os.rmdir(path)
    except OSError:
        pass


def _quietly(op: Callable[..., None], name: str, dir_fd: int) -> None:
    try:
        op(name, dir_fd=dir_fd)
    except OSError:
        pass


__all__ = ["rmtree"]
