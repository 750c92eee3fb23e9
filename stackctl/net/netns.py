"""Persistent, named network namespaces, made without forking.

A namespace lives as long as something refers to it; we keep each one alive
with a bind mount of its nsfs inode on ``<run_root>/netns/<container_id>``
(what ``ip netns add`` does under /run/netns), so it outlives the command
that made it and the launcher can ``setns`` into it by path.

Creating one must not fork: stackctl processes may have threads (anyio
workers, pyroute2), and fork() of a threaded process is unsafe. unshare of
CLONE_NEWNET acts on the calling *thread* only, so a short-lived thread
unshares, brings ``lo`` up, bind-mounts ``/proc/thread-self/ns/net`` and
exits; the rest of the process never leaves the host namespace.

Python 3.11 has no os.unshare/os.setns: these few libc calls go through
ctypes with errno-bearing errors.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import socket
import struct
from collections.abc import Callable
from pathlib import Path

from stackctl.errors import NetError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import TypeVar

    T = TypeVar("T")

CLONE_NEWNET = 0x40000000
MS_BIND = 0x1000
MNT_DETACH = 0x2
_SIOCGIFFLAGS = 0x8913
_SIOCSIFFLAGS = 0x8914
_IFF_UP = 0x1

# libc is loaded already; ctypes.util.find_library would run `ldconfig -p` (and
# import subprocess) on every command that touches a namespace
_libc = ctypes.CDLL(None, use_errno=True)


def _check(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def libc_setns(fd: int, nstype: int) -> None:
    _check(_libc.setns(fd, nstype), "setns")


def libc_unshare(flags: int) -> None:
    _check(_libc.unshare(flags), "unshare")


def libc_bind_mount(source: str, target: str) -> None:
    _check(_libc.mount(source.encode(), target.encode(), None, MS_BIND, None),
           f"bind mount {source} on {target}")


def libc_umount(target: str, flags: int = MNT_DETACH) -> None:
    _check(_libc.umount2(target.encode(), flags), f"umount {target}")


def _lo_up() -> None:
    """Set loopback up in the calling thread's namespace, by ioctl (no netlink)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        req = struct.pack("16sh14x", b"lo", 0)
        flags = struct.unpack("16sh14x", fcntl.ioctl(s, _SIOCGIFFLAGS, req))[1]
        fcntl.ioctl(s, _SIOCSIFFLAGS, struct.pack("16sh14x", b"lo", flags | _IFF_UP))


def run_in_netns(netns: Path, fn: Callable[[], T]) -> T:
    """Run ``fn`` with this thread inside ``netns``; return its result.

    setns(CLONE_NEWNET) switches only the calling thread, so the rest of the
    process stays where it is; the thread switches back before returning.
    Sockets that ``fn`` creates stay bound to ``netns`` for their whole life,
    wherever they are used afterwards: that is how the netlink and DNS sockets
    get in. (A helper thread per call used to do this: a thread start and a
    glibc arena, ~1.7 MiB of a monitor's resident memory.)
    """
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        target = os.open(netns, os.O_RDONLY | os.O_CLOEXEC)
        try:
            libc_setns(target, CLONE_NEWNET)
        finally:
            os.close(target)
        try:
            return fn()
        finally:
            libc_setns(own, CLONE_NEWNET)
    finally:
        os.close(own)


def is_netns(path: Path) -> bool:
    """True when ``path`` is a bind mount of a network namespace."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        # NS_GET_NSTYPE (0xb703) answers only for nsfs files
        return bool(fcntl.ioctl(fd, 0xB703) == CLONE_NEWNET)
    except OSError:
        return False
    finally:
        os.close(fd)


def create_netns(path: Path) -> Path:
    """Make a new network namespace bound at ``path`` with ``lo`` up.

    Idempotent: an existing namespace at ``path`` is kept. On any failure the
    half-made file is removed.
    """
    if is_netns(path):
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDONLY | os.O_CREAT, 0o444)
    os.close(fd)
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        try:
            libc_unshare(CLONE_NEWNET)  # this thread only, until the setns below
            try:
                _lo_up()
                libc_bind_mount("/proc/thread-self/ns/net", str(path))
            finally:
                libc_setns(own, CLONE_NEWNET)
        except OSError as exc:
            try:
                path.unlink()
            except OSError:
                pass
            raise NetError(f"cannot create network namespace {path}: {exc}",
                           hint="network namespaces need root (CAP_SYS_ADMIN)") from exc
    finally:
        os.close(own)
    return path


def remove_netns(path: Path) -> bool:
    """Unmount and delete ``path``; False when there was nothing to remove."""
    existed = path.exists()
    for _ in range(8):  # stacked bind mounts (a repaired double create) unwind one by one
        try:
            libc_umount(str(path))
        except OSError as exc:
            if exc.errno in (errno.EINVAL, errno.ENOENT):
                break
            raise NetError(f"cannot unmount network namespace {path}: {exc}") from exc
    try:
        path.unlink()
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise NetError(f"cannot remove network namespace file {path}: {exc}") from exc
    return existed


__all__ = ["create_netns", "is_netns", "libc_setns", "libc_unshare", "remove_netns", "run_in_netns"]
