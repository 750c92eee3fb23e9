"""Device access control on cgroup v2: OCI device rules -> an eBPF program.

cgroup v1 has a `devices` controller with allow/deny files; cgroup v2 has none
and asks for a BPF_PROG_TYPE_CGROUP_DEVICE program attached to the cgroup
instead (what runc's devicefilter does). Without it, a container on a v2 host
holding CAP_MKNOD (Docker's default) could `mknod` a node for the host's disk
and read it. The program sees (type, access, major, minor) for every open and
mknod of a device node in the cgroup and returns 1 (allow) or 0 (deny).

OCI semantics: rules apply in order and a later matching rule overrides an
earlier one, so the program tests them last to first and answers with the
first match; nothing matching means deny. Stdlib only (ctypes via syscalls).
"""

from __future__ import annotations

import os
import struct

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from typing import Any

    from stackctl.engine.runtime.syscalls import LinuxSyscalls

__all__ = ["attach_device_filter", "device_program"]

# struct bpf_cgroup_dev_ctx { u32 access_type (access << 16 | type); u32 major; u32 minor; }
_DEV_BLOCK, _DEV_CHAR = 1, 2
_ACC = {"m": 1, "r": 2, "w": 4}
# eBPF opcodes
_LDX_W = 0x61  # dst = *(u32 *)(src + off)
_AND32_K = 0x54
_RSH32_K = 0x74
_MOV32_X = 0xBC
_MOV64_K = 0xB7
_JNE_K = 0x55  # if dst != imm: pc += off
_EXIT = 0x95
_PROG_TYPE_CGROUP_DEVICE = 15
_ATTACH_CGROUP_DEVICE = 6
_F_ALLOW_MULTI = 2


def _insn(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    return struct.pack("<BBhi", code, (src << 4) | dst, off, imm)


def _rule_block(rule: Mapping[str, Any]) -> list[bytes]:
    """One rule: tests that jump past the block when they fail, then the verdict."""
    steps: list[tuple[str, int, int]] = []  # (operation, register, operand)
    kind = rule.get("type", "a")
    if kind in ("c", "u", "b"):
        steps.append(("jne", 2, _DEV_BLOCK if kind == "b" else _DEV_CHAR))
    allowed = sum(_ACC[a] for a in set(rule.get("access") or "rwm") if a in _ACC)
    if allowed != 7:
        # r1 = requested & ~allowed: anything left over and the rule does not match
        steps += [("mov", 1, 3), ("and", 1, ~allowed & 0xFFFF), ("jne", 1, 0)]
    if rule.get("major") is not None and rule["major"] >= 0:
        steps.append(("jne", 4, int(rule["major"])))
    if rule.get("minor") is not None and rule["minor"] >= 0:
        steps.append(("jne", 5, int(rule["minor"])))
    end = len(steps) + 2  # the verdict is two instructions
    out = []
    for i, (op, reg, operand) in enumerate(steps):
        if op == "jne":  # the jump is relative to the next instruction
            out.append(_insn(_JNE_K, reg, off=end - i - 1, imm=operand))
        elif op == "mov":
            out.append(_insn(_MOV32_X, reg, src=operand))
        else:
            out.append(_insn(_AND32_K, reg, imm=operand))
    out += [_insn(_MOV64_K, 0, imm=1 if rule.get("allow") else 0), _insn(_EXIT)]
    return out


def device_program(rules: Iterable[Mapping[str, Any]]) -> bytes:
    """The eBPF program (struct bpf_insn array) enforcing OCI `resources.devices`."""
    prog = [
        _insn(_LDX_W, 2, 1, 0),  # r2 = access_type
        _insn(_AND32_K, 2, imm=0xFFFF),  # r2 = type
        _insn(_LDX_W, 3, 1, 0),
        _insn(_RSH32_K, 3, imm=16),  # r3 = access
        _insn(_LDX_W, 4, 1, 4),  # r4 = major
        _insn(_LDX_W, 5, 1, 8),  # r5 = minor
    ]
    for rule in reversed(list(rules)):
        block = _rule_block(rule)
        prog += block
        if len(block) == 2:
            # Matches everything (e.g. the leading "deny all"): the verifier refuses
            # unreachable code, so nothing may follow.
            return b"".join(prog)
    prog += [_insn(_MOV64_K, 0, imm=0), _insn(_EXIT)]
    return b"".join(prog)


def attach_device_filter(cgroup_dir: str, rules: Iterable[Mapping[str, Any]],
                         sys: LinuxSyscalls) -> None:
    """Load the program and attach it to the v2 cgroup; it lives as long as the cgroup."""
    prog_fd = sys.bpf_prog_load(_PROG_TYPE_CGROUP_DEVICE, device_program(rules))
    try:
        cg_fd = os.open(cgroup_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            sys.bpf_prog_attach(cg_fd, prog_fd, _ATTACH_CGROUP_DEVICE, _F_ALLOW_MULTI)
        finally:
            os.close(cg_fd)
    finally:
        os.close(prog_fd)
