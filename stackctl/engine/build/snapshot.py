"""A writable view of an image for one build step: an overlay mount.

    <root>/tmp/build/<token>/
        upper/ work/     the step's changes (overlay upperdir/workdir)
        rootfs/          the merged view the step writes into
        empty/           the lowerdir of an image with no layers (scratch)

The step's new layer is the upper directory (see layerdiff.py). Lower layers
are the image store's unpacked layer directories, shared read-only; images
deeper than the overlay limit come flattened from ``ImageStore.lower_dirs``.
Everything is unmounted and removed on exit, whatever happened inside.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from stackctl.engine.images.store import ImageRecord, ImageStore
from stackctl.engine.runtime.syscalls import LinuxSyscalls
from stackctl.errors import BuildError

__all__ = ["Snapshot", "mounted", "overlay_options"]

MNT_DETACH = 2


@dataclass(frozen=True)
class Snapshot:
    base: Path
    rootfs: Path
    upper: Path


def overlay_options(lowers: list[Path], upper: Path, work: Path) -> str:
    """``lowers`` bottom -> top, as the store lists them; overlay wants top first."""
    lower = ":".join(str(p) for p in reversed(lowers))
    return f"lowerdir={lower},upperdir={upper},workdir={work}"


@contextlib.contextmanager
def mounted(store: ImageStore, image: ImageRecord | None) -> Iterator[Snapshot]:
    base = store.root / "tmp" / "build" / secrets.token_hex(8)
    upper, work, rootfs, empty = (base / n for n in ("upper", "work", "rootfs", "empty"))
    for d in (upper, work, rootfs, empty):
        d.mkdir(parents=True)
    sc = LinuxSyscalls()
    is_mounted = False
    try:
        lowers = store.lower_dirs(image) if image is not None and image.diff_ids else [empty]
        try:
            sc.mount("overlay", str(rootfs), "overlay", 0, overlay_options(lowers, upper, work))
        except OSError as exc:
            raise BuildError(f"cannot mount the build snapshot: {exc}",
                             hint="building needs root and overlayfs") from exc
        is_mounted = True
        yield Snapshot(base, rootfs, upper)
    finally:
        if is_mounted:
            with contextlib.suppress(OSError):
                sc.umount2(str(rootfs), MNT_DETACH)
        _remove_tree(base)


def _remove_tree(path: Path) -> None:
    # overlay's work dir holds a root-only, mode-000 "work" subdir: make it removable.
    for sub in (path / "work" / "work", path / "work" / "index"):
        with contextlib.suppress(OSError):
            os.chmod(sub, 0o700)
    shutil.rmtree(path, ignore_errors=True)
