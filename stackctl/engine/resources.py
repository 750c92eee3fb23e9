"""The values of Docker's resource and process flags, checked as Docker checks them.

One function per flag (``--cpu-shares``...), shared by ``run``/``create``
(cli/run_opts.py) and stack files (scheduler/translate.py, which passes the
key, ``services.x.cpu_shares``, as ``flag``): a bad value is a ``UsageError``
naming the flag or key, raised before anything exists. Pure apart from reading
which CPUs and memory nodes the host has.
"""

from __future__ import annotations

import os

from stackctl.errors import UsageError

# The kernel's (and Docker's) bounds of cpu.shares: a value outside is clamped, as
# moby's adaptContainerSettings does, not refused.
MIN_CPU_SHARES, MAX_CPU_SHARES = 2, 262144


def cpu_shares(value: int | None, flag: str = "--cpu-shares") -> int | None:
    """``--cpu-shares N``: a relative weight (1024: the default share). 0 (or none)
    is the default; a value below 2 or above 262144 is clamped into range."""
    if value is None or value == 0:
        return None
    try:
        n = int(value)
    except (TypeError, ValueError):
        raise UsageError(f"{flag} {value!r}: not an integer",
                         hint="a relative weight, e.g. 512 (the default is 1024)") from None
    return min(max(n, MIN_CPU_SHARES), MAX_CPU_SHARES)


def cpu_period(value: int | None, flag: str = "--cpu-period", *,
               cpus: float | None = None, cpus_flag: str = "--cpus") -> int | None:
    """``--cpu-period`` in microseconds (the CFS window the quota applies to). As
    Docker: 1ms to 1s, and not beside --cpus, which sets both."""
    if value is None or value == 0:
        return None
    n = _integer(value, flag)
    if not 1000 <= n <= 1_000_000:
        raise UsageError(f"{flag} {n}: the CPU period can not be less than 1ms (1000) or "
                         "larger than 1 second (1000000)", hint="microseconds, e.g. 100000")
    if cpus:
        raise UsageError(f"conflicting options: {cpus_flag} and {flag} cannot both be set",
                         hint=f"{cpus_flag} N is {flag} 100000 with --cpu-quota N*100000")
    return n


def cpu_quota(value: int | None, flag: str = "--cpu-quota", *,
              cpus: float | None = None, cpus_flag: str = "--cpus") -> int | None:
    """``--cpu-quota`` in microseconds of CPU time per period (-1: no limit). As
    Docker: at least 1ms, and not beside --cpus."""
    if value is None or value == 0:
        return None
    n = _integer(value, flag)
    if n != -1 and n < 1000:
        raise UsageError(f"{flag} {n}: the CPU quota can not be less than 1ms (1000)",
                         hint="microseconds per --cpu-period, e.g. 50000 for half a CPU")
    if cpus:
        raise UsageError(f"conflicting options: {cpus_flag} and {flag} cannot both be set",
                         hint=f"use {cpus_flag} alone, or --cpu-period with {flag}")
    return n


def _integer(value: object, flag: str) -> int:
    try:
        return int(value)  # type: ignore[call-overload,no-any-return]
    except (TypeError, ValueError):
        raise UsageError(f"{flag} {value!r}: not an integer") from None


def parse_list(text: str) -> frozenset[int] | None:
    """A kernel CPU/node list (``0-2,4``) as numbers; None when it does not parse
    (Docker's parsers.ParseUintList: ranges low-high, commas, no empty entries)."""
    out: set[int] = set()
    for part in text.split(","):
        low, dash, high = part.strip().partition("-")
        if not low.isdigit() or (dash and not high.isdigit()):
            return None
        first, last = int(low), int(high) if dash else int(low)
        if last < first:
            return None
        out.update(range(first, last + 1))
    return frozenset(out)


def _online(path: str) -> str:
    """The host's online CPUs or memory nodes (a kernel list). A kernel without NUMA
    has no node directory: its one node is 0."""
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return "0"


def host_cpus() -> str:
    return _online("/sys/devices/system/cpu/online")


def host_mems() -> str:
    return _online("/sys/devices/system/node/online")


def cpuset(value: str | None, flag: str, available: str) -> str | None:
    """``--cpuset-cpus``/``--cpuset-mems LIST``: the list as given, checked to parse and
    to name only CPUs (or memory nodes) of ``available``, as Docker refuses others
    ("Requested CPUs are not available")."""
    if value is None or str(value).strip() == "":
        return None
    text = str(value).strip()
    wanted = parse_list(text)
    if wanted is None:
        raise UsageError(f"{flag} {text!r}: invalid list of "
                         f"{'memory nodes' if 'mems' in flag else 'CPUs'}",
                         hint="e.g. 0-2,4 (ranges and single numbers, comma-separated)")
    missing = wanted - (parse_list(available) or frozenset())
    if missing:
        what = "memory nodes" if "mems" in flag else "CPUs"
        raise UsageError(f"{flag} {text}: requested {what} are not available "
                         f"(this host has {available})",
                         hint=f"name {what} of {available}")
    return text


def cpuset_cpus(value: str | None, flag: str = "--cpuset-cpus") -> str | None:
    return cpuset(value, flag, host_cpus())


def cpuset_mems(value: str | None, flag: str = "--cpuset-mems") -> str | None:
    return cpuset(value, flag, host_mems())


MIN_MEMORY = 6 * 1024 * 1024  # moby's linuxMinMemory, for limits and reservations


def memory_reservation(value: int | None, flag: str = "--memory-reservation", *,
                       memory: int | None = None, memory_flag: str = "--memory") -> int | None:
    """``--memory-reservation`` in bytes: the soft limit the kernel reclaims down to
    under memory pressure. As Docker: at least 6MB, and not above the hard limit."""
    if value is None or value == 0:
        return None
    if value < MIN_MEMORY:
        raise UsageError(f"{flag} {value}: minimum memory reservation allowed is 6MB",
                         hint="e.g. 64m")
    if memory is not None and memory > 0 and value > memory:
        raise UsageError(f"{flag} {value} is above {memory_flag} {memory}: the memory "
                         "limit can not be less than the memory reservation",
                         hint=f"lower {flag}, or raise {memory_flag}")
    return value


def memory_swappiness(value: int | None, flag: str = "--memory-swappiness") -> int | None:
    """``--memory-swappiness N``: how readily the kernel swaps the container's anonymous
    memory out, 0 to 100; -1 (Docker's default) inherits the host's."""
    if value is None:
        return None
    n = _integer(value, flag)
    if n == -1:
        return None
    if not 0 <= n <= 100:
        raise UsageError(f"{flag} {n}: invalid value, the valid memory swappiness range "
                         "is 0-100", hint="0 (swap only to avoid an OOM) to 100, or -1")
    return n


def v1_memory_controller() -> bool:
    """Whether this host's memory controller is cgroup v1's: swappiness and the OOM
    killer switch exist there only (Docker discards them on v2, with a warning)."""
    return os.path.exists("/sys/fs/cgroup/memory/memory.swappiness")


def oom_score_adj(value: int | None, flag: str = "--oom-score-adj") -> int | None:
    """``--oom-score-adj N``: how eagerly the OOM killer picks the container's
    processes, -1000 (never) to 1000 (first). 0, the kernel's default, is kept
    (Docker's inspect says 0 either way)."""
    if value is None:
        return None
    try:
        n = int(value)
    except (TypeError, ValueError):
        raise UsageError(f"{flag} {value!r}: not an integer", hint="-1000 to 1000") from None
    if not -1000 <= n <= 1000:
        raise UsageError(f"{flag} {n}: invalid value, the range of OOM score adjustments "
                         "is [-1000, 1000]", hint="-1000 (never killed) to 1000 (first)")
    return n


def domainname(value: str | None, flag: str = "--domainname") -> str | None:
    """``--domainname NAME``: the NIS domain name of the container's UTS namespace
    (what ``domainname`` and /proc/sys/kernel/domainname say). The kernel takes up
    to 64 bytes and no NUL."""
    if value is None or value == "":
        return None
    text = str(value)
    if len(text.encode()) > 64 or "\0" in text or any(c.isspace() for c in text):
        raise UsageError(f"{flag} {text!r}: not a valid domain name",
                         hint="at most 64 characters, without spaces, e.g. example.com")
    return text


CAP_SYS_RESOURCE = 24


def oom_score_adj_problem(value: int) -> str | None:
    """Why this process cannot give a child ``value``, or None. Raising the score
    is always allowed; lowering it below our own takes CAP_SYS_RESOURCE, which
    some hosts (nested sandboxes) withhold even from root: the launcher would
    fail with a bare "permission denied"."""
    try:
        with open("/proc/self/oom_score_adj") as f:
            own = int(f.read())
        with open("/proc/self/status") as f:
            eff = next(int(ln.split()[1], 16) for ln in f if ln.startswith("CapEff:"))
    except (OSError, ValueError, StopIteration):
        return None  # cannot tell: let the kernel decide
    if value >= own or eff & (1 << CAP_SYS_RESOURCE):
        return None
    return (f"lowering the OOM score adjustment below {own} needs CAP_SYS_RESOURCE, "
            "which this host does not give stackctl")


__all__ = ["MAX_CPU_SHARES", "MIN_CPU_SHARES", "MIN_MEMORY", "cpu_period", "cpu_quota",
           "cpu_shares", "cpuset",
           "cpuset_cpus", "cpuset_mems", "domainname", "host_cpus", "host_mems",
           "memory_reservation", "memory_swappiness", "oom_score_adj", "oom_score_adj_problem",
           "parse_list", "v1_memory_controller"]
