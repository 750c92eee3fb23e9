"""Mount descriptions, and the one place that turns them into mount(2) calls.

As containerd's snapshotters do, preparation is pure: `prepare_rootfs` returns
`Mount` values (frozen), so the overlay option strings (escaping, the page-size
limit on mount data) are unit-tested without root; `mount_all` and
`unmount_all` are the only functions here that touch the kernel, through the
`Syscalls` seam.

The kernel copies mount data into ONE page (4096 bytes here): an image with
many layers under a long state root overflows `lowerdir=` fast. When the
absolute form does not fit, the layers are named relative to their common
parent and `mount_all` chdirs there for the mount call (what Docker's
overlay2 driver does with its short `l/` links). When even that does not fit,
the mount goes through the new mount API (fsopen/fsconfig with one
`lowerdir+` per layer, Linux 6.8+), which has no such limit.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Sequence

from stackctl.engine.runtime import syscalls as sc
from stackctl.engine.runtime.mountopts import parse_options
from stackctl.errors import EngineError
from stackctl.lightdc import dataclass

__all__ = [
    "MOUNT_DATA_MAX",
    "Mount",
    "mount_all",
    "parse_options",
    "prepare_rootfs",
    "unmount_all",
]

MOUNT_DATA_MAX = 4095  # one page minus the NUL the kernel needs
OVERLAY_MAX_LAYERS = 500  # fs/overlayfs OVL_MAX_STACK

@dataclass(frozen=True)
class Mount:
    """One mount(2) call. `cwd`, when set, is where relative paths in `data` start."""

    source: str | None
    target: str
    fstype: str | None
    flags: int = 0
    data: str | None = None
    cwd: str | None = None
    propagation: int = 0  # applied by a second mount(2) after the first
    # Set instead of `data` for the new mount API: (key, value) per fsconfig call.
    fsconfig: tuple[tuple[str, str], ...] = ()


def _escape(path: str) -> str:
    # overlayfs splits lowerdir on ':' and options on ','; a backslash escapes both.
    return path.replace("\\", "\\\\").replace(":", "\\:").replace(",", "\\,")


def _overlay_data(lowers: Sequence[str], upper: str | None, work: str | None) -> str:
    out = "lowerdir=" + ":".join(_escape(p) for p in lowers)
    if upper is not None and work is not None:
        out += f",upperdir={_escape(upper)},workdir={_escape(work)}"
    return out


def prepare_rootfs(
    lowerdirs: Sequence[str],
    upper: str | None,
    work: str | None,
    target: str,
    *,
    readonly: bool = False,
) -> list[Mount]:
    """The mounts that build a container root at `target` from image layers.

    `lowerdirs` are ordered top layer first (overlayfs' order). With no upper
    layer a single lowerdir becomes a read-only bind mount (overlayfs needs two
    lowers or an upper). Raises EngineError if even relative names do not fit.
    """
    if not lowerdirs:
        raise EngineError("cannot prepare a root filesystem from zero layers")
    flags = sc.MS_RDONLY if readonly else 0
    if upper is None and len(lowerdirs) == 1:
        return [Mount(lowerdirs[0], target, None, sc.MS_BIND | sc.MS_REC),
                Mount(None, target, None, sc.MS_BIND | sc.MS_REMOUNT | sc.MS_RDONLY)]
    absolute = _overlay_data(lowerdirs, upper, work)
    if len(absolute) <= MOUNT_DATA_MAX:
        return [Mount("overlay", target, "overlay", flags, absolute)]
    # Only the lowers go relative (upper/work stay absolute: they resolve the same
    # from any cwd), so their common parent is as deep as it can be.
    base = os.path.commonpath(lowerdirs)
    rel = [os.path.relpath(p, base) for p in lowerdirs]
    relative = _overlay_data(rel, upper, work)
    if len(relative) <= MOUNT_DATA_MAX:
        return [Mount("overlay", target, "overlay", flags, relative, cwd=base)]
    if len(lowerdirs) > OVERLAY_MAX_LAYERS:
        raise EngineError(
            f"image has too many layers ({len(lowerdirs)}) for one overlay mount: "
            f"overlayfs stacks at most {OVERLAY_MAX_LAYERS}",
            hint="squash the image (fewer RUN/COPY steps)",
        )
    strings = [("lowerdir+", p) for p in lowerdirs]
    if upper is not None and work is not None:
        strings += [("upperdir", upper), ("workdir", work)]
    return [Mount("overlay", target, "overlay", flags, None, fsconfig=tuple(strings))]


def mount_all(mounts: Sequence[Mount], sys: sc.Syscalls) -> None:
    """Mount in order; on failure unmount what this call mounted, then re-raise."""
    done: list[Mount] = []
    try:
        for m in mounts:
            _mount_one(m, sys)
            if not m.flags & sc.MS_REMOUNT:
                done.append(m)
    except BaseException:
        unmount_all(done, sys)
        raise


def _mount_one(m: Mount, sys: sc.Syscalls) -> None:
    if m.fsconfig:
        sys.fsmount(m.fstype or "overlay", m.fsconfig, m.target,
                    sc.MOUNT_ATTR_RDONLY if m.flags & sc.MS_RDONLY else 0)
    elif m.cwd is None:
        sys.mount(m.source, m.target, m.fstype, m.flags, m.data)
    else:
        # Relative lowerdirs resolve against the caller's cwd at mount time.
        here = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.chdir(m.cwd)
            sys.mount(m.source, m.target, m.fstype, m.flags, m.data)
        finally:
            os.fchdir(here)
            os.close(here)
    if m.propagation:
        sys.mount(None, m.target, None, m.propagation, None)


def unmount_all(mounts: Sequence[Mount], sys: sc.Syscalls, *, detach: bool = True) -> None:
    """Unmount targets in reverse order; a target that is not mounted is fine."""
    seen: set[str] = set()
    for m in reversed(mounts):
        if m.target in seen or m.flags & sc.MS_REMOUNT:
            continue
        seen.add(m.target)
        try:
            sys.umount2(m.target, sc.MNT_DETACH if detach else 0)
        except OSError as exc:
            if exc.errno not in (errno.EINVAL, errno.ENOENT):
                raise
