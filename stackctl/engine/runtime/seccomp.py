"""Seccomp: Docker's default policy as an OCI `linux.seccomp` object, and a compiler
from that object to a classic BPF program the launcher loads before execve.

The policy follows moby's default profile in effect, written as a deny list
(default allow) rather than its 300-name allow list: the calls Docker refuses
to an unprivileged container are refused with EPERM, each group unless the
container holds the capability Docker unlocks it with (CAP_SYS_ADMIN for
mount/unshare/setns/namespace flags on clone, CAP_SYS_MODULE for modules...).
Always refused: keyrings (not namespaced), userfaultfd, io_uring, obsolete
calls; clone3 gets ENOSYS so libc falls back to clone, whose flags a classic
filter can inspect. The same JSON runs under runc (libseccomp) for conformance.

The compiler covers what this profile and simple hand-written ones use:
default actions ALLOW / ERRNO / KILL(_PROCESS) / TRAP, per-rule ALLOW / ERRNO /
KILL / TRAP, and argument tests EQ and MASKED_EQ on 64-bit arguments. A
call from another ABI (i386, x32) than the native one is refused, so that the
deny list cannot be side-stepped through a second syscall table. x86_64 only
for now: elsewhere build_config emits no seccomp section.
"""

from __future__ import annotations

import struct

from stackctl.engine.runtime._syscalls_x86_64 import X86_64

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from typing import Any

__all__ = ["SYSCALLS_X86_64", "compile_filter", "default_profile"]

EPERM, ENOSYS = 1, 38
SYSCALLS_X86_64 = X86_64  # every x86_64 call, by name
_AUDIT_ARCH = {"SCMP_ARCH_X86_64": 0xC000003E}
_X32_BIT = 0x40000000

_ALWAYS = ("add_key", "keyctl", "request_key", "userfaultfd", "io_uring_setup",
           "io_uring_enter", "io_uring_register", "uselib", "ustat", "sysfs", "_sysctl",
           "create_module", "get_kernel_syms", "query_module", "nfsservctl", "lookup_dcookie")
_BY_CAP: dict[str, tuple[str, ...]] = {
    "CAP_SYS_ADMIN": ("mount", "umount2", "pivot_root", "unshare", "setns", "quotactl",
                      "fanotify_init", "name_to_handle_at", "sethostname", "setdomainname",
                      "bpf", "open_tree", "move_mount", "fsopen", "fsconfig", "fsmount",
                      "fspick", "mount_setattr"),
    "CAP_SYS_MODULE": ("init_module", "finit_module", "delete_module"),
    "CAP_SYS_BOOT": ("reboot", "kexec_load", "kexec_file_load"),
    "CAP_SYS_TIME": ("settimeofday", "clock_settime", "clock_adjtime"),
    "CAP_SYS_RAWIO": ("iopl", "ioperm"),
    "CAP_SYS_PTRACE": ("process_vm_readv", "process_vm_writev", "kcmp"),
    "CAP_SYS_PACCT": ("acct",),
    "CAP_SYS_NICE": ("mbind", "set_mempolicy", "move_pages"),
    "CAP_SYSLOG": ("syslog",),
    "CAP_SYS_TTY_CONFIG": ("vhangup",),
    "CAP_DAC_READ_SEARCH": ("open_by_handle_at",),
    "CAP_PERFMON": ("perf_event_open",),
}
# CLONE_NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET
_CLONE_NS_FLAGS = (0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000,
                   0x40000000)


def default_profile(caps: Iterable[str]) -> dict[str, Any]:
    """Docker's default seccomp policy for a container holding `caps`."""
    held = set(caps)
    denied = list(_ALWAYS)
    for cap, names in _BY_CAP.items():
        if cap not in held:
            denied.extend(names)
    rules: list[dict[str, Any]] = [
        {"names": sorted(denied), "action": "SCMP_ACT_ERRNO", "errnoRet": EPERM},
        {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": ENOSYS},
    ]
    if "CAP_SYS_ADMIN" not in held:
        rules += [{"names": ["clone"], "action": "SCMP_ACT_ERRNO", "errnoRet": EPERM,
                   "args": [{"index": 0, "value": flag, "valueTwo": flag,
                             "op": "SCMP_CMP_MASKED_EQ"}]}
                  for flag in _CLONE_NS_FLAGS]
    return {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
            "syscalls": rules}


# classic BPF
_LD_ABS = 0x20
_JEQ = 0x15
_JGE = 0x35
_AND = 0x54
_RET = 0x06
_RET_ALLOW = 0x7FFF0000
_RET_ERRNO = 0x00050000
_RET_TRAP = 0x00030000
_RET_KILL_PROCESS = 0x80000000
_RET_KILL_THREAD = 0x00000000


def _ret(action: str, errno_ret: int | None) -> int:
    if action == "SCMP_ACT_ALLOW":
        return _RET_ALLOW
    if action == "SCMP_ACT_ERRNO":
        return _RET_ERRNO | ((EPERM if errno_ret is None else errno_ret) & 0xFFFF)
    if action == "SCMP_ACT_TRAP":
        return _RET_TRAP
    if action in ("SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD"):
        return _RET_KILL_THREAD
    if action == "SCMP_ACT_KILL_PROCESS":
        return _RET_KILL_PROCESS
    raise ValueError(f"seccomp action {action} is not supported")


def _insn(code: int, k: int, jt: int = 0, jf: int = 0) -> tuple[int, int, int, int]:
    return (code, jt, jf, k & 0xFFFFFFFF)


def _arg_test(arg: Mapping[str, Any]) -> list[tuple[int, int, int, int]]:
    """Instructions that fall through when the argument test holds and otherwise
    jump by a placeholder (jf = 255) that `_rule` points past the rule's end."""
    index, op = int(arg["index"]), arg["op"]
    value, two = int(arg.get("value", 0)), int(arg.get("valueTwo", 0))
    if op == "SCMP_CMP_MASKED_EQ":
        mask, want = value, two
    elif op == "SCMP_CMP_EQ":
        mask, want = 2**64 - 1, value
    else:
        raise ValueError(f"seccomp argument op {op} is not supported")
    out = []
    for offset, shift in ((16 + 8 * index, 0), (20 + 8 * index, 32)):  # low, high word
        part_mask = (mask >> shift) & 0xFFFFFFFF
        part_want = (want >> shift) & 0xFFFFFFFF
        if part_mask == 0 and part_want == 0:
            continue  # nothing to test in this half
        out.append(_insn(_LD_ABS, offset))
        if part_mask != 0xFFFFFFFF:
            out.append(_insn(_AND, part_mask))
        out.append(_insn(_JEQ, part_want, 0, 255))
    return out


def _rule(nr: int, rule: Mapping[str, Any]) -> list[tuple[int, int, int, int]]:
    body: list[tuple[int, int, int, int]] = []
    for arg in rule.get("args") or []:
        body += _arg_test(arg)
    body.append(_insn(_RET, _ret(rule["action"], rule.get("errnoRet"))))
    block = [_insn(_LD_ABS, 0), _insn(_JEQ, nr, 0, len(body)), *body]
    # Patch placeholder jumps to "past the end of this block".
    out = []
    for i, (c, jt, jf, k) in enumerate(block):
        to_end = len(block) - i - 1
        out.append((c, to_end if jt == 255 else jt, to_end if jf == 255 else jf, k))
    return out


def compile_filter(profile: Mapping[str, Any], machine: str = "x86_64") -> bytes:
    """The BPF program (struct sock_filter array) for an OCI seccomp object."""
    if machine != "x86_64":
        raise ValueError(f"seccomp: architecture {machine} is not supported")
    default = _ret(profile.get("defaultAction", "SCMP_ACT_ALLOW"),
                   profile.get("defaultErrnoRet"))
    deny_abi = _RET_ERRNO | EPERM
    prog = [
        _insn(_LD_ABS, 4),  # seccomp_data.arch
        _insn(_JEQ, _AUDIT_ARCH["SCMP_ARCH_X86_64"], 1, 0),
        _insn(_RET, deny_abi),
        _insn(_LD_ABS, 0),  # seccomp_data.nr
        _insn(_JGE, _X32_BIT, 0, 1),
        _insn(_RET, deny_abi),
    ]
    for rule in profile.get("syscalls") or []:
        for name in rule.get("names") or []:
            nr = SYSCALLS_X86_64.get(name)
            if nr is None:
                raise ValueError(f"unknown x86_64 system call {name!r}")
            prog += _rule(nr, rule)
    prog.append(_insn(_RET, default))
    if len(prog) > 4096:
        raise ValueError(f"seccomp program too long ({len(prog)} instructions)")
    return b"".join(struct.pack("=HBBI", *insn) for insn in prog)
