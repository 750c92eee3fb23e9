"""Linux capability names and numbers, Docker's default set, and `--cap-add/--cap-drop` logic;
also the kernel's RLIMIT_* numbers (Python's resource module lacks some).

Pure and stdlib-only: the launcher imports it on its hot path, and build_config
uses it to turn `cap_add`/`cap_drop`/`privileged` into the OCI capability lists.
"""

from __future__ import annotations

TYPE_CHECKING = False  # the launcher imports this: keep typing/dataclasses out
if TYPE_CHECKING:
    from collections.abc import Iterable

# Index = capability number (linux/capability.h). Kernel 6.x knows 0..40.
CAPABILITIES: tuple[str, ...] = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
    "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
    "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
    "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
    "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
)
CAP_NUMBERS: dict[str, int] = {name: i for i, name in enumerate(CAPABILITIES)}

# asm-generic/resource.h (x86_64 and aarch64 alike)
RLIMIT_NUMBERS: dict[str, int] = {name: i for i, name in enumerate((
    "RLIMIT_CPU", "RLIMIT_FSIZE", "RLIMIT_DATA", "RLIMIT_STACK", "RLIMIT_CORE", "RLIMIT_RSS",
    "RLIMIT_NPROC", "RLIMIT_NOFILE", "RLIMIT_MEMLOCK", "RLIMIT_AS", "RLIMIT_LOCKS",
    "RLIMIT_SIGPENDING", "RLIMIT_MSGQUEUE", "RLIMIT_NICE", "RLIMIT_RTPRIO", "RLIMIT_RTTIME"))}

# moby/oci/caps/defaults.go: what `docker run` grants without flags.
DOCKER_DEFAULT_CAPS: tuple[str, ...] = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
    "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
)


def normalize_cap(name: str, *, flag: str = "--cap-add") -> str:
    """`net_admin`, `NET_ADMIN`, `CAP_NET_ADMIN` -> `CAP_NET_ADMIN`; `all` -> `ALL`."""
    upper = name.strip().upper()
    if upper == "ALL":
        return "ALL"
    full = upper if upper.startswith("CAP_") else "CAP_" + upper
    if full not in CAP_NUMBERS:
        from stackctl.errors import UsageError

        raise UsageError(
            f"{flag} {name}: unknown capability",
            hint="use a name from capabilities(7), e.g. NET_ADMIN or SYS_PTRACE",
        )
    return full


def host_capabilities() -> frozenset[str]:
    """The caller's bounding set: a container can never hold more than this."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("CapBnd:"):
                    mask = int(line.split()[1], 16)
                    return frozenset(n for i, n in enumerate(CAPABILITIES) if mask >> i & 1)
    except OSError:
        pass
    return frozenset(CAPABILITIES)


def effective_caps(
    cap_add: Iterable[str] = (),
    cap_drop: Iterable[str] = (),
    *,
    privileged: bool = False,
    available: frozenset[str] | None = None,
) -> tuple[str, ...]:
    """Docker's rule (moby oci/caps.TweakCapabilities): with `ALL` in cap_add, every
    capability but the dropped ones; with `ALL` in cap_drop, only the added ones;
    otherwise the default set (every capability with --privileged) minus drops plus
    adds. The result is cut to what the caller itself holds (`available`), since
    capset cannot grant more.
    """
    adds = {normalize_cap(c, flag="--cap-add") for c in cap_add}
    drops = {normalize_cap(c, flag="--cap-drop") for c in cap_drop}
    universe = available if available is not None else host_capabilities()
    base: set[str] = set(CAPABILITIES) if privileged else set(DOCKER_DEFAULT_CAPS)
    if "ALL" in adds:
        caps = set(CAPABILITIES) - drops
    elif "ALL" in drops:
        caps = set(adds)
    else:
        caps = (base - drops) | adds
    return tuple(sorted((c for c in caps if c in universe), key=CAP_NUMBERS.__getitem__))


def caps_mask(names: Iterable[str]) -> int:
    mask = 0
    for name in names:
        number = CAP_NUMBERS.get(name)
        if number is not None:
            mask |= 1 << number
    return mask
