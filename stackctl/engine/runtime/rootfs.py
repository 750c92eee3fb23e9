"""The container's view of the filesystem, built inside its new mount namespace.

Called by the container's init process (see launch.py) after unshare(CLONE_NEWNS):

  1. make every mount private (no event leaks to or from the host),
  2. bind the rootfs onto itself (pivot_root needs a mount point),
  3. mount config.json's `mounts` in order, targets resolved inside the rootfs
     (symlinks in the image cannot redirect a mount onto the host),
  4. create the device nodes of `linux.devices` and /dev's standard links,
  5. pivot_root into it and lazily detach the old root,
  6. then (`finish`) sysctls, masked paths, read-only paths, read-only root.

All kernel calls go through the `Syscalls` seam.
"""

from __future__ import annotations

import errno
import os
import stat

from stackctl.engine.runtime import syscalls as sc
from stackctl.engine.runtime._lean import suppress
from stackctl.engine.runtime.mountopts import parse_options
from stackctl.engine.runtime.securejoin import secure_join
from stackctl.engine.runtime.sysctls import sysctl_problem

TYPE_CHECKING = False  # no `typing` import at run time: launcher start-up cost
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import Any

__all__ = ["cgroup_layout", "cgroup_mounts_deferrable", "finish", "mount_cgroups", "pivot",
           "prepare", "secure_join"]

_ST_TO_MS = ((1, sc.MS_RDONLY), (2, sc.MS_NOSUID), (4, sc.MS_NODEV), (8, sc.MS_NOEXEC),
             (1024, sc.MS_NOATIME), (2048, sc.MS_NODIRATIME), (4096, sc.MS_RELATIME))
_DEV_LINKS = (("/proc/self/fd", "fd"), ("/proc/self/fd/0", "stdin"),
              ("/proc/self/fd/1", "stdout"), ("/proc/self/fd/2", "stderr"),
              ("pts/ptmx", "ptmx"))


def _ensure(target: str, is_file: bool) -> None:
    if is_file:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if not os.path.lexists(target):
            os.close(os.open(target, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o644))
    else:
        os.makedirs(target, exist_ok=True)


def preserved_flags(path: str) -> int:
    """The per-mount flags already on `path`, to keep them across a bind remount."""
    flags = 0
    with suppress(OSError):
        f = os.statvfs(path).f_flag
        for st_bit, ms_bit in _ST_TO_MS:
            if f & st_bit:
                flags |= ms_bit
    return flags


def _mount_cgroup(sys: sc.Syscalls, target: str, flags: int,
                  hierarchies: Sequence[tuple[str, int, str]]) -> None:
    """/sys/fs/cgroup as the container sees it (its cgroup namespace is the root)."""
    if len(hierarchies) == 1 and hierarchies[0][0] == "":
        sys.mount("cgroup2", target, "cgroup2", flags, None)
        return
    sys.mount("tmpfs", target, "tmpfs", flags & ~sc.MS_RDONLY, "mode=755")
    for name, version, data in hierarchies:
        sub = os.path.join(target, name)
        os.makedirs(sub, exist_ok=True)
        if version == 2:
            sys.mount("cgroup2", sub, "cgroup2", flags, None)
        else:
            sys.mount("cgroup", sub, "cgroup", flags, data)
    if flags & sc.MS_RDONLY:
        sys.mount(None, target, None, sc.MS_REMOUNT | sc.MS_BIND | flags, None)


def cgroup_layout(root: str = "/sys/fs/cgroup") -> list[tuple[str, int, str]]:
    """(subdir, version, mount data) of each host hierarchy; [("", 2, "")] for pure v2."""
    from stackctl.engine.runtime.cgroups import detect

    out = []
    for h in detect(root):
        if h.mountpoint == root:
            return [("", 2, "")]
        name = h.name
        data = ",".join(sorted(h.controllers)) if h.controllers else f"none,name={name}"
        out.append((name, h.version, data))
    return out


def _host_side_propagation(wanted: str | None) -> int:
    """How "/" is remounted first. Nothing may propagate back to the host, so a
    shared root is made private here and shared again after pivot_root (see
    `finish`); slave keeps receiving the host's mounts, as runc's default does."""
    _, flags, _ = parse_options([wanted or "rprivate"])
    if flags & sc.MS_SHARED or not flags:
        return sc.MS_REC | sc.MS_PRIVATE
    return flags | sc.MS_REC


def cgroup_mounts_deferrable(config: Mapping[str, Any]) -> bool:
    """Whether the `cgroup` mounts can wait until after pivot_root: they must be
    made inside the container's cgroup namespace (created once the parent has
    moved us into our cgroup), and everything else can be done meanwhile, unless
    another mount lies beneath one of them."""
    dests = [m["destination"].rstrip("/") + "/" for m in config.get("mounts", [])
             if m.get("type") == "cgroup"]
    return not any(m.get("type") != "cgroup" and m["destination"].startswith(d)
                   for d in dests for m in config.get("mounts", []))


def prepare(config: Mapping[str, Any], rootfs: str, sys: sc.Syscalls, *,
            defer_cgroup: bool = False) -> list[Mapping[str, Any]]:
    """Steps 1-4 of the module docstring (still in the host's root). With
    `defer_cgroup`, the `cgroup` mounts are returned instead of made, for
    `mount_cgroups` after pivot_root."""
    linux = config.get("linux", {})
    sys.mount(None, "/", None, _host_side_propagation(linux.get("rootfsPropagation")), None)
    sys.mount(rootfs, rootfs, None, sc.MS_BIND | sc.MS_REC, None)
    deferred = []
    for m in config.get("mounts", []):
        if defer_cgroup and m.get("type") == "cgroup":
            _ensure(secure_join(rootfs, m["destination"]), False)
            deferred.append(m)
        else:
            _mount_entry(m, rootfs, sys)
    for dev in linux.get("devices", []):
        _make_device(dev, rootfs, sys)
    dev_dir = secure_join(rootfs, "/dev")
    for src, name in _DEV_LINKS:
        with suppress(FileExistsError):
            os.symlink(src, os.path.join(dev_dir, name))
    if os.path.exists("/proc/kcore"):
        with suppress(FileExistsError):
            os.symlink("/proc/kcore", os.path.join(dev_dir, "core"))
    return deferred


def mount_cgroups(entries: Sequence[Mapping[str, Any]], layout: list[tuple[str, int, str]],
                  sys: sc.Syscalls) -> None:
    """The deferred `cgroup` mounts, inside the new root (the host's hierarchy
    `layout` was read before pivot_root)."""
    for m in entries:
        flags, propagation, _ = parse_options(m.get("options") or [])
        _mount_cgroup(sys, m["destination"], flags, layout)
        if propagation:
            sys.mount(None, m["destination"], None, propagation, None)


def _mount_entry(m: Mapping[str, Any], rootfs: str, sys: sc.Syscalls) -> None:
    kind = m.get("type") or "bind"
    options = list(m.get("options") or [])
    flags, propagation, data = parse_options(options)
    target = secure_join(rootfs, m["destination"])
    source = m.get("source") or kind
    is_bind = kind == "bind" or flags & sc.MS_BIND
    if is_bind:
        is_file = not os.path.isdir(source)
        if not os.path.exists(source):
            raise OSError(errno.ENOENT, f"bind mount source {source} does not exist")
        _ensure(target, is_file)
        sys.mount(source, target, None, sc.MS_BIND | (flags & sc.MS_REC), None)
        # Per-mount flags on a bind need a second, remounting call.
        extra = flags & ~(sc.MS_BIND | sc.MS_REC)
        if extra:
            sys.mount(None, target, None, sc.MS_BIND | sc.MS_REMOUNT | extra
                      | (preserved_flags(target) & ~sc.MS_RDONLY), None)
    elif kind == "cgroup":
        _ensure(target, False)
        _mount_cgroup(sys, target, flags, cgroup_layout())
    else:
        _ensure(target, False)
        sys.mount(source, target, kind, flags, data or None)
    if propagation:
        sys.mount(None, target, None, propagation, None)


def _make_device(dev: Mapping[str, Any], rootfs: str, sys: sc.Syscalls) -> None:
    path = secure_join(rootfs, dev["path"])
    kind = {"c": stat.S_IFCHR, "u": stat.S_IFCHR, "b": stat.S_IFBLK, "p": stat.S_IFIFO}[
        dev.get("type", "c")]
    mode = int(dev.get("fileMode", 0o666)) & 0o7777
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with suppress(FileNotFoundError):
        os.unlink(path)
    try:
        sys.mknod(path, kind | mode, os.makedev(int(dev.get("major", 0)),
                                                 int(dev.get("minor", 0))))
    except OSError as exc:
        if exc.errno != errno.EPERM:
            raise
        # mknod refused (nodev tmpfs, user namespace): bind the host's node instead.
        _ensure(path, True)
        sys.mount(dev["path"], path, None, sc.MS_BIND, None)
        return
    sys.chmod(path, mode)  # mknod applied the umask
    sys.chown(path, int(dev.get("uid", 0)), int(dev.get("gid", 0)))


def pivot(rootfs: str, sys: sc.Syscalls) -> None:
    """Step 5: the rootfs becomes "/", the host's root is detached from this namespace."""
    os.chdir(rootfs)
    # pivot_root(".", ".") stacks the old root on top of the new one (runc's trick:
    # no put_old directory needed, so a read-only rootfs works too).
    sys.pivot_root(".", ".")
    sys.mount(None, ".", None, sc.MS_SLAVE | sc.MS_REC, None)
    sys.umount2(".", sc.MNT_DETACH)
    os.chdir("/")


def finish(config: Mapping[str, Any], sys: sc.Syscalls) -> None:
    """Step 6, inside the new root: sysctls, masked, read-only paths, read-only root."""
    linux = config.get("linux", {})
    sysctls = linux.get("sysctl") or {}
    if sysctls:
        scoped = {n["type"]: n.get("path") or "new" for n in linux.get("namespaces", [])}
        problem = sysctl_problem(sysctls, scoped)
        if problem:
            raise OSError(1, problem)
    for key, value in sysctls.items():
        with open("/proc/sys/" + key.replace(".", "/"), "w") as f:
            f.write(str(value))
    for path in linux.get("maskedPaths", []):
        try:
            if os.path.isdir(path):
                sys.mount("tmpfs", path, "tmpfs", sc.MS_RDONLY, None)
            else:
                sys.mount("/dev/null", path, None, sc.MS_BIND, None)
        except OSError as exc:
            if exc.errno not in (errno.ENOENT, errno.ENOTDIR):
                raise
    for path in linux.get("readonlyPaths", []):
        remount_readonly(path, sys)
    _, propagation, _ = parse_options([linux.get("rootfsPropagation") or "rprivate"])
    if propagation & sc.MS_SHARED:
        sys.mount(None, "/", None, propagation, None)
    if config.get("root", {}).get("readonly"):
        sys.mount(None, "/", None, sc.MS_BIND | sc.MS_REMOUNT | sc.MS_RDONLY
                  | preserved_flags("/"), None)


def remount_readonly(path: str, sys: sc.Syscalls) -> None:
    try:
        sys.mount(path, path, None, sc.MS_BIND | sc.MS_REC, None)
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            return
        raise
    sys.mount(None, path, None, sc.MS_BIND | sc.MS_REMOUNT | sc.MS_RDONLY
              | preserved_flags(path), None)
