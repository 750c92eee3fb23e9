"""A writable view of an image for one build step: an overlay mount.

    <root>/tmp/build/<token>/
        owner            "<pid> <start time>" of the building process
        upper/ work/     the step's changes (overlay upperdir/workdir)
        rootfs/          the merged view the step writes into
        empty/           the lowerdir of an image with no layers (scratch)

The step's new layer is the upper directory (``ImageStore.add_layer_from_dir``). Lower layers
are the image store's unpacked layer directories, shared read-only; images
deeper than the overlay limit come flattened from ``ImageStore.lower_dirs``.
Everything is unmounted and removed on exit, whatever happened inside; if
the building process itself is killed, the next build sweeps what it left.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

from stackctl.engine.images.store import ImageRecord, ImageStore
from stackctl.engine.runtime.syscalls import LinuxSyscalls
from stackctl.errors import BuildError
from stackctl.lightdc import dataclass

__all__ = ["Snapshot", "mounted", "overlay_options", "sweep_stale"]

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


def _owner_tag() -> str:
    from stackctl.engine.oci import proc_start_time

    return f"{os.getpid()} {proc_start_time(os.getpid())}"


def sweep_stale(store: ImageStore) -> int:
    """Unmount and remove snapshots whose build process died (SIGKILL, power
    loss); live builds of other processes are left alone. Returns the count."""
    from stackctl.engine.oci import alive

    top = store.root / "tmp" / "build"
    swept = 0
    for base in top.iterdir() if top.is_dir() else ():
        if base.name.startswith(".new-"):
            # still being made (see mounted); only an hour-old one is debris
            try:
                if time.time() - base.stat().st_mtime < 3600:
                    continue
            except OSError:
                continue
            _remove_tree(base)
            swept += 1
            continue
        try:
            pid_text, _, start_text = (base / "owner").read_text().partition(" ")
            pid = int(pid_text)
            start = int(start_text) if start_text.strip().isdigit() else None
        except (OSError, ValueError):
            pid, start = 0, None
        if alive(pid, start):
            continue
        with contextlib.suppress(OSError):
            LinuxSyscalls().umount2(str(base / "rootfs"), MNT_DETACH)
        _remove_tree(base)
        swept += 1
    return swept


@contextlib.contextmanager
def mounted(store: ImageStore, image: ImageRecord | None) -> Iterator[Snapshot]:
    top = store.root / "tmp" / "build"
    token = secrets.token_hex(8)
    # Made under a hidden name and renamed into place once "owner" is written:
    # a concurrent sweep_stale (another build, same or other process) must
    # never see a snapshot without its owner and take it for a dead one.
    staging = top / f".new-{token}"
    for n in ("upper", "work", "rootfs", "empty"):
        (staging / n).mkdir(parents=True)
    (staging / "owner").write_text(_owner_tag())  # lets sweep_stale tell live from dead
    base = top / token
    os.rename(staging, base)
    upper, work, rootfs, empty = (base / n for n in ("upper", "work", "rootfs", "empty"))
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
