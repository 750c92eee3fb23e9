"""The one seam to the kernel calls Python's os module lacks (3.11): ctypes over libc.

`Syscalls` is the Protocol the mount and namespace code is written against;
`LinuxSyscalls` is the real thing (errno-bearing `SyscallError`, a subclass of
OSError, so callers can test `exc.errno`), and `RecordingSyscalls` records the
calls so mount plans can be unit-tested without root. Kernel behaviour itself
is proven by the tests under tests/runtime on the real kernel.

Stdlib only, loaded lazily: the launcher imports this on its hot path.
x86_64 and aarch64 syscall numbers for the calls glibc does not wrap.
"""

from __future__ import annotations

import ctypes
import errno
import os
import struct

__all__ = [
    "LinuxSyscalls",
    "RecordingSyscalls",
    "SyscallError",
    "Syscalls",
]

# namespaces (sched.h)
CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
NAMESPACE_FLAGS: dict[str, int] = {
    "mount": CLONE_NEWNS, "cgroup": CLONE_NEWCGROUP, "uts": CLONE_NEWUTS,
    "ipc": CLONE_NEWIPC, "user": CLONE_NEWUSER, "pid": CLONE_NEWPID, "network": CLONE_NEWNET,
}
# /proc/<pid>/ns/<file> for each OCI namespace type
NAMESPACE_FILES: dict[str, str] = {
    "mount": "mnt", "cgroup": "cgroup", "uts": "uts", "ipc": "ipc", "user": "user",
    "pid": "pid", "network": "net",
}

# mount(2) flags
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_SYNCHRONOUS = 16
MS_REMOUNT = 32
MS_MANDLOCK = 64
MS_DIRSYNC = 128
MS_NOSYMFOLLOW = 256
MS_NOATIME = 1024
MS_NODIRATIME = 2048
MS_BIND = 4096
MS_MOVE = 8192
MS_REC = 16384
MS_SILENT = 32768
MS_UNBINDABLE = 1 << 17
MS_PRIVATE = 1 << 18
MS_SLAVE = 1 << 19
MS_SHARED = 1 << 20
MS_RELATIME = 1 << 21
MS_STRICTATIME = 1 << 24
MNT_DETACH = 2

# prctl(2)
PR_SET_PDEATHSIG = 1
PR_SET_KEEPCAPS = 8
PR_CAPBSET_DROP = 24
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_RAISE = 2
PR_CAP_AMBIENT_CLEAR_ALL = 4

_LINUX_CAPABILITY_VERSION_3 = 0x20080522
KEYCTL_JOIN_SESSION_KEYRING = 1

# The new mount API (Linux 5.2+; overlayfs "lowerdir+" since 6.8): one string per
# fsconfig call, so no page-size limit on a long list of layers.
FSCONFIG_SET_STRING = 1
FSCONFIG_CMD_CREATE = 6
MOUNT_ATTR_RDONLY = 0x1
MOVE_MOUNT_F_EMPTY_PATH = 0x4
_AT_FDCWD = -100

# Generic syscall table (asm-generic) numbers are shared by aarch64 and x86_64
# for the calls added after 2019 (fsopen...).
_SYSCALL_NUMBERS: dict[str, dict[str, int]] = {
    "x86_64": {"pivot_root": 155, "capget": 125, "capset": 126, "keyctl": 250, "bpf": 321,
               "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432},
    "aarch64": {"pivot_root": 41, "capget": 90, "capset": 91, "keyctl": 219, "bpf": 280,
                "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432},
}


class SyscallError(OSError):
    """A failed system call: `errno` as the kernel said, `call` names what failed."""

    def __init__(self, err: int, call: str) -> None:
        super().__init__(err, f"{call}: {os.strerror(err)}")
        self.call = call


TYPE_CHECKING = False  # typing itself costs the launcher ~10 ms to import
if TYPE_CHECKING:
    # Only for type checkers: importing typing's Protocol machinery costs the
    # launcher ~10 ms per container start on these machines.
    from collections.abc import Sequence
    from typing import Protocol

    class Syscalls(Protocol):
        def unshare(self, flags: int) -> None: ...
        def setns(self, fd: int, nstype: int) -> None: ...
        def mount(self, source: str | None, target: str, fstype: str | None, flags: int,
                  data: str | None) -> None: ...
        def umount2(self, target: str, flags: int) -> None: ...
        def pivot_root(self, new_root: str, put_old: str) -> None: ...
        def sethostname(self, name: str) -> None: ...
        def mknod(self, path: str, mode: int, device: int) -> None: ...
        def chown(self, path: str, uid: int, gid: int) -> None: ...
        def chmod(self, path: str, mode: int) -> None: ...
        def fsmount(self, fstype: str, strings: Sequence[tuple[str, str]], target: str,
                    attrs: int) -> None: ...


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


def _b(s: str | None) -> bytes | None:
    return None if s is None else os.fsencode(s)


class LinuxSyscalls:
    """libc through ctypes. One instance per process is plenty; it holds no state
    beyond the loaded library."""

    def __init__(self) -> None:
        self._libc = ctypes.CDLL(None, use_errno=True)

    def _check(self, ret: int, call: str) -> int:
        if ret < 0:
            raise SyscallError(ctypes.get_errno(), call)
        return ret

    def _nr(self, name: str) -> int:
        machine = os.uname().machine
        table = _SYSCALL_NUMBERS.get(machine)
        if table is None:
            raise SyscallError(38, f"{name} (unsupported architecture {machine})")
        return table[name]

    def unshare(self, flags: int) -> None:
        self._check(self._libc.unshare(ctypes.c_int(flags)), f"unshare({flags:#x})")

    def setns(self, fd: int, nstype: int) -> None:
        self._check(self._libc.setns(ctypes.c_int(fd), ctypes.c_int(nstype)),
                    f"setns({nstype:#x})")

    def mount(self, source: str | None, target: str, fstype: str | None, flags: int,
              data: str | None) -> None:
        ret = self._libc.mount(_b(source), _b(target), _b(fstype), ctypes.c_ulong(flags),
                               _b(data))
        self._check(ret, f"mount {source or fstype} on {target}")

    def umount2(self, target: str, flags: int) -> None:
        self._check(self._libc.umount2(_b(target), ctypes.c_int(flags)), f"umount {target}")

    def pivot_root(self, new_root: str, put_old: str) -> None:
        ret = self._libc.syscall(ctypes.c_long(self._nr("pivot_root")), _b(new_root),
                                 _b(put_old))
        self._check(ret, f"pivot_root({new_root})")

    def sethostname(self, name: str) -> None:
        raw = name.encode()
        self._check(self._libc.sethostname(raw, ctypes.c_size_t(len(raw))), "sethostname")

    def setdomainname(self, name: str) -> None:
        raw = name.encode()
        self._check(self._libc.setdomainname(raw, ctypes.c_size_t(len(raw))), "setdomainname")

    def mknod(self, path: str, mode: int, device: int) -> None:
        try:
            os.mknod(path, mode, device)
        except OSError as exc:
            raise SyscallError(exc.errno or 1, f"mknod {path}") from exc

    def chown(self, path: str, uid: int, gid: int) -> None:
        os.chown(path, uid, gid)

    def chmod(self, path: str, mode: int) -> None:
        os.chmod(path, mode)

    def fsmount(self, fstype: str, strings: Sequence[tuple[str, str]], target: str,
                attrs: int) -> None:
        """fsopen + one fsconfig per (key, value) + fsmount + move_mount onto `target`."""
        call = self._libc.syscall
        fs = self._check(call(ctypes.c_long(self._nr("fsopen")), os.fsencode(fstype),
                              ctypes.c_uint(1)), f"fsopen({fstype})")
        try:
            for key, value in strings:
                self._check(call(ctypes.c_long(self._nr("fsconfig")), ctypes.c_int(fs),
                                 ctypes.c_uint(FSCONFIG_SET_STRING), key.encode(),
                                 os.fsencode(value), ctypes.c_int(0)),
                            f"fsconfig({fstype}, {key}={value})")
            self._check(call(ctypes.c_long(self._nr("fsconfig")), ctypes.c_int(fs),
                             ctypes.c_uint(FSCONFIG_CMD_CREATE), None, None, ctypes.c_int(0)),
                        f"fsconfig({fstype}, create)")
            mnt = self._check(call(ctypes.c_long(self._nr("fsmount")), ctypes.c_int(fs),
                                   ctypes.c_uint(1), ctypes.c_uint(attrs)), f"fsmount({fstype})")
            try:
                self._check(call(ctypes.c_long(self._nr("move_mount")), ctypes.c_int(mnt), b"",
                                 ctypes.c_int(_AT_FDCWD), os.fsencode(target),
                                 ctypes.c_uint(MOVE_MOUNT_F_EMPTY_PATH)),
                            f"move_mount({fstype} -> {target})")
            finally:
                os.close(mnt)
        finally:
            os.close(fs)

    def seccomp_filter(self, program: bytes) -> None:
        """Install a classic BPF seccomp filter (struct sock_filter array) on this
        thread; needs no_new_privs or CAP_SYS_ADMIN."""
        buf = ctypes.create_string_buffer(program, len(program))
        fprog = _SockFprog(len(program) // 8, ctypes.addressof(buf))
        ret = self._libc.prctl(ctypes.c_int(PR_SET_SECCOMP), ctypes.c_ulong(SECCOMP_MODE_FILTER),
                               ctypes.byref(fprog), ctypes.c_ulong(0), ctypes.c_ulong(0))
        self._check(ret, "prctl(PR_SET_SECCOMP)")

    def bpf_prog_load(self, prog_type: int, insns: bytes, license: bytes = b"Apache-2.0"
                      ) -> int:
        """bpf(BPF_PROG_LOAD): an fd for the loaded program. On a verifier error the
        kernel's log is part of the message."""
        code = ctypes.create_string_buffer(insns, len(insns))
        lic = ctypes.create_string_buffer(license + b"\0")
        for log_size in (0, 1 << 16):
            log = ctypes.create_string_buffer(max(log_size, 1))
            attr = ctypes.create_string_buffer(128)
            struct.pack_into("=IIQQIIQ", attr, 0, prog_type, len(insns) // 8,
                             ctypes.addressof(code), ctypes.addressof(lic),
                             1 if log_size else 0, log_size,
                             ctypes.addressof(log) if log_size else 0)
            ret = self._libc.syscall(ctypes.c_long(self._nr("bpf")), ctypes.c_int(5), attr,
                                     ctypes.c_uint(128))
            if ret >= 0:
                return int(ret)
            err = ctypes.get_errno()
            if err != errno.EACCES and err != errno.EINVAL:
                break
        detail = log.value.decode(errors="replace").strip() if log_size else ""
        raise SyscallError(err, f"bpf(PROG_LOAD){': ' + detail if detail else ''}")

    def bpf_prog_attach(self, target_fd: int, prog_fd: int, attach_type: int,
                        flags: int) -> None:
        attr = ctypes.create_string_buffer(128)
        struct.pack_into("=IIII", attr, 0, target_fd, prog_fd, attach_type, flags)
        self._check(self._libc.syscall(ctypes.c_long(self._nr("bpf")), ctypes.c_int(8), attr,
                                       ctypes.c_uint(128)), "bpf(PROG_ATTACH)")

    def prctl(self, option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0,
              arg5: int = 0) -> int:
        args = (ctypes.c_ulong(a) for a in (arg2, arg3, arg4, arg5))
        return self._check(self._libc.prctl(ctypes.c_int(option), *args), f"prctl({option})")

    def capget(self) -> tuple[int, int, int]:
        """(effective, permitted, inheritable) masks of this thread."""
        hdr = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
        data = (_CapData * 2)()
        self._check(self._libc.syscall(ctypes.c_long(self._nr("capget")), ctypes.byref(hdr),
                                       data), "capget")
        def join(attr: str) -> int:
            return int(getattr(data[0], attr)) | int(getattr(data[1], attr)) << 32
        return join("effective"), join("permitted"), join("inheritable")

    def capset(self, effective: int, permitted: int, inheritable: int) -> None:
        hdr = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
        data = (_CapData * 2)()
        for i in (0, 1):
            shift = 32 * i
            data[i].effective = (effective >> shift) & 0xFFFFFFFF
            data[i].permitted = (permitted >> shift) & 0xFFFFFFFF
            data[i].inheritable = (inheritable >> shift) & 0xFFFFFFFF
        self._check(self._libc.syscall(ctypes.c_long(self._nr("capset")), ctypes.byref(hdr),
                                       data), "capset")

    def join_session_keyring(self, name: str | None = None) -> None:
        """A fresh session keyring, so the container cannot read the host's keys."""
        self._check(self._libc.syscall(ctypes.c_long(self._nr("keyctl")),
                                       ctypes.c_long(KEYCTL_JOIN_SESSION_KEYRING), _b(name)),
                    "keyctl(JOIN_SESSION_KEYRING)")


class RecordingSyscalls:
    """A fake that records every call as a tuple, for unit tests of mount plans.

    `fail` maps a call name to an errno to raise, to test unwinding."""

    def __init__(self, fail: dict[str, int] | None = None) -> None:
        self.calls: list[tuple[object, ...]] = []
        self.fail = dict(fail or {})

    def _rec(self, name: str, *args: object) -> None:
        self.calls.append((name, *args))
        if name in self.fail:
            raise SyscallError(self.fail[name], name)

    def unshare(self, flags: int) -> None:
        self._rec("unshare", flags)

    def setns(self, fd: int, nstype: int) -> None:
        self._rec("setns", fd, nstype)

    def mount(self, source: str | None, target: str, fstype: str | None, flags: int,
              data: str | None) -> None:
        self._rec("mount", source, target, fstype, flags, data)

    def umount2(self, target: str, flags: int) -> None:
        self._rec("umount2", target, flags)

    def pivot_root(self, new_root: str, put_old: str) -> None:
        self._rec("pivot_root", new_root, put_old)

    def sethostname(self, name: str) -> None:
        self._rec("sethostname", name)

    def mknod(self, path: str, mode: int, device: int) -> None:
        self._rec("mknod", path, mode, device)

    def chown(self, path: str, uid: int, gid: int) -> None:
        self._rec("chown", path, uid, gid)

    def chmod(self, path: str, mode: int) -> None:
        self._rec("chmod", path, mode)

    def fsmount(self, fstype: str, strings: Sequence[tuple[str, str]], target: str,
                attrs: int) -> None:
        self._rec("fsmount", fstype, tuple(strings), target, attrs)
