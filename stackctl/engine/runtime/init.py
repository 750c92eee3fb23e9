"""The child side of `launch run` / `launch exec`: from fork() to execve().

Runs in the process that becomes the container's PID 1 (run) or a new process
inside a running container (exec). It never returns: it either execs, or
writes one JSON error line to the sync pipe and exits with the code the
parent should report (see the protocol table in launch.py).
"""

from __future__ import annotations

import _socket
import fcntl
import os
import struct

from stackctl.engine.runtime import pid1, rootfs
from stackctl.engine.runtime import syscalls as sc
from stackctl.engine.runtime._lean import dumps, suppress, trace
from stackctl.engine.runtime.process import StartError, apply_and_exec, become, execute

TYPE_CHECKING = False  # no `typing` import at run time: launcher start-up cost
if TYPE_CHECKING:
    import socket
    from collections.abc import Mapping
    from typing import Any, NoReturn

__all__ = ["exec_init", "run_init"]

_SIOCGIFFLAGS = 0x8913
_SIOCSIFFLAGS = 0x8914
_IFF_UP = 0x1
# Order of joining, as runc's nsenter: the mount namespace last of those joined
# at once; cgroup after the process has moved into the cgroup (see exec_init).
_JOIN_ORDER = ("ipc", "uts", "network", "mount", "cgroup")


def report(sync_fd: int, message: str, code: int) -> NoReturn:
    with suppress(OSError):
        os.write(sync_fd, dumps({"error": message, "code": code}).encode() + b"\n")
    os._exit(code)


def _execute_or_report(process: Mapping[str, Any], sync_fd: int, preserve_fds: int
                       ) -> NoReturn:
    try:
        execute(process, keep_fds=range(3, 3 + preserve_fds))
        raise StartError("execve returned")
    except StartError as exc:
        report(sync_fd, exc.message, exc.code)


def wait_for_parent(go_fd: int) -> None:
    """Block until the parent has put this process into its cgroup (one byte), so
    the cgroup namespace created next is rooted there. EOF: the parent failed and
    reports it; leave quietly."""
    ok = os.read(go_fd, 1)
    os.close(go_fd)
    if not ok:
        os._exit(1)


def loopback_up() -> None:
    """A new network namespace has `lo` down; Docker containers expect it up."""
    # _socket: the `socket` module would import enum and selectors (start-up cost).
    s = _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM)
    try:
        req = struct.pack("16sh22x", b"lo", 0)
        flags = struct.unpack("16sh22x", fcntl.ioctl(s.fileno(), _SIOCGIFFLAGS, req))[1]
        fcntl.ioctl(s.fileno(), _SIOCSIFFLAGS, struct.pack("16sh22x", b"lo", flags | _IFF_UP))
    finally:
        s.close()


def _open_ns(path: str, kind: str) -> int:
    try:
        return os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        raise StartError(f"cannot join {kind} namespace {path}: {exc.strerror}") from exc


def setns_path(path: str, kind: str, sys: sc.LinuxSyscalls) -> None:
    fd = _open_ns(path, kind)
    try:
        sys.setns(fd, sc.NAMESPACE_FLAGS[kind])
    finally:
        os.close(fd)


def _console(sock: socket.socket, *, bind_console: bool) -> None:
    from stackctl.engine.runtime import console  # preloaded by _preload_console

    master, slave = console.open_pty("/dev/pts")
    if bind_console:
        rootfs._ensure("/dev/console", True)
        sc_sys = sc.LinuxSyscalls()
        sc_sys.mount(slave, "/dev/console", None, sc.MS_BIND, None)
    console.take_terminal(slave)
    console.send_master(sock, master, slave)
    os.close(master)
    sock.close()


def _enter_cgroupns(cgroupns: str | None, sys: sc.LinuxSyscalls) -> None:
    """A new cgroup namespace is rooted at the cgroup we are in: call it only once
    the parent has moved us there."""
    if cgroupns == "new":
        sys.unshare(sc.CLONE_NEWCGROUP)
    elif cgroupns is not None:
        setns_path(cgroupns, "cgroup", sys)


def _preload_console(sock: socket.socket | None) -> None:
    """Import the pty code while the host's files are still reachable (after
    pivot_root or setns(mnt), imports of host modules fail). Only terminals pay
    for it: it imports socket."""
    if sock is not None:
        from stackctl.engine.runtime import console  # noqa: F401


def run_init(config: Mapping[str, Any], rootfs_path: str, *, sync_fd: int, go_fd: int,
             console_sock: socket.socket | None, preserve_fds: int,
             seccomp: bytes | None = None) -> NoReturn:
    sys = sc.LinuxSyscalls()
    try:
        os.setsid()
        _preload_console(console_sock)
        namespaces = config.get("linux", {}).get("namespaces", [])
        # Everything but the cgroup namespace (and the mounts that show it) is
        # done while the parent moves us into our cgroup; then we wait for it.
        overlap = rootfs.cgroup_mounts_deferrable(config)
        if not overlap:
            wait_for_parent(go_fd)
        unshare = 0
        cgroupns: str | None = None
        new_net = False
        for ns in namespaces:
            kind = ns.get("type")
            if kind == "pid":
                continue  # entered by the parent before fork
            if kind not in sc.NAMESPACE_FLAGS or kind == "user":
                raise StartError(f"namespace type {kind!r} is not supported")
            if kind == "cgroup":
                cgroupns = ns.get("path") or "new"
            elif ns.get("path"):
                if kind == "mount":
                    raise StartError("joining an existing mount namespace is not supported")
                setns_path(ns["path"], kind, sys)
            else:
                unshare |= sc.NAMESPACE_FLAGS[kind]
                new_net = new_net or kind == "network"
        if not unshare & sc.CLONE_NEWNS:
            raise StartError("config.json must ask for a new mount namespace")
        sys.unshare(unshare)
        if new_net:
            loopback_up()
        if not overlap:
            _enter_cgroupns(cgroupns, sys)
        trace("namespaces ready")
        layout = rootfs.cgroup_layout() if overlap else []
        deferred = rootfs.prepare(config, rootfs_path, sys, defer_cgroup=overlap)
        trace("mounts done")
        rootfs.pivot(rootfs_path, sys)
        if unshare & sc.CLONE_NEWUTS:  # never rename a joined (another container's) UTS
            if config.get("hostname"):
                sys.sethostname(config["hostname"])
            if config.get("domainname"):
                sys.setdomainname(config["domainname"])
        if console_sock is not None:
            _console(console_sock, bind_console=True)
        rootfs.finish(config, sys)
        trace("rootfs finished")
        if overlap:
            wait_for_parent(go_fd)
            trace("released by parent")
            _enter_cgroupns(cgroupns, sys)
            rootfs.mount_cgroups(deferred, layout, sys)
        with suppress(OSError):
            sys.join_session_keyring()  # keyrings are not namespaced: hide the host's
        if (config.get("annotations") or {}).get(pid1.ANNOTATION) == "true":
            become(config["process"], sys, seccomp=seccomp)
            pid1.serve(lambda: _execute_or_report(config["process"], sync_fd, preserve_fds),
                       sync_fd)
        apply_and_exec(config["process"], sys, keep_fds=range(3, 3 + preserve_fds),
                       seccomp=seccomp)
        raise StartError("execve returned")
    except StartError as exc:
        report(sync_fd, exc.message, exc.code)
    except OSError as exc:
        report(sync_fd, str(exc), 1)
    except BaseException as exc:
        report(sync_fd, f"container init failed: {exc!r}", 1)


def exec_init(process: Mapping[str, Any], ns_paths: Mapping[str, str], *, sync_fd: int,
              go_fd: int, console_sock: socket.socket | None, preserve_fds: int,
              seccomp: bytes | None = None) -> NoReturn:
    sys = sc.LinuxSyscalls()
    try:
        os.setsid()
        _preload_console(console_sock)
        # Open every namespace first: once in the target's mount namespace, the
        # host's /proc/<pid>/ns paths are out of reach. Join all but the cgroup
        # namespace while the parent moves us into the target's cgroups.
        fds = {kind: _open_ns(ns_paths[kind], kind) for kind in _JOIN_ORDER if kind in ns_paths}
        for kind, fd in fds.items():
            if kind != "cgroup":
                sys.setns(fd, sc.NAMESPACE_FLAGS[kind])
        os.chdir("/")
        wait_for_parent(go_fd)
        if "cgroup" in fds:
            sys.setns(fds["cgroup"], sc.CLONE_NEWCGROUP)
        for fd in fds.values():
            os.close(fd)
        if console_sock is not None:
            _console(console_sock, bind_console=False)
        apply_and_exec(process, sys, keep_fds=range(3, 3 + preserve_fds), seccomp=seccomp)
        raise StartError("execve returned")
    except StartError as exc:
        report(sync_fd, exc.message, exc.code)
    except OSError as exc:
        report(sync_fd, str(exc), 1)
    except BaseException as exc:
        report(sync_fd, f"exec failed: {exc!r}", 1)
