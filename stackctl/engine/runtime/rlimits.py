"""Resource limits (`--ulimit`): parsing, Docker-like defaults, and the caller's ceiling.

A process can lower its hard limits but never raise them without
CAP_SYS_RESOURCE (root here lacks it: hard `nofile` is 20000). So defaults are
cut to the caller's hard limits, and an explicit value above them is refused
up front with a clear message instead of failing inside the launcher.
"""

from __future__ import annotations

import resource
from collections.abc import Iterable, Mapping

from stackctl.engine.runtime.caps import RLIMIT_NUMBERS
from stackctl.errors import UsageError
from stackctl.lightdc import dataclass

TYPE_CHECKING = False  # typing costs ~3 ms at start-up; annotations only
if TYPE_CHECKING:
    from typing import Any

# Docker's `--ulimit` names -> RLIMIT_* (resource module numbering = the kernel's).
ULIMIT_NAMES: dict[str, str] = {
    "core": "RLIMIT_CORE", "cpu": "RLIMIT_CPU", "data": "RLIMIT_DATA",
    "fsize": "RLIMIT_FSIZE", "locks": "RLIMIT_LOCKS", "memlock": "RLIMIT_MEMLOCK",
    "msgqueue": "RLIMIT_MSGQUEUE", "nice": "RLIMIT_NICE", "nofile": "RLIMIT_NOFILE",
    "nproc": "RLIMIT_NPROC", "rss": "RLIMIT_RSS", "rtprio": "RLIMIT_RTPRIO",
    "rttime": "RLIMIT_RTTIME", "sigpending": "RLIMIT_SIGPENDING", "stack": "RLIMIT_STACK",
    "as": "RLIMIT_AS",
}
UNLIMITED = resource.RLIM_INFINITY  # -1 in Python; 2**64-1 in the kernel and in OCI JSON
_OCI_INFINITY = 2**64 - 1
# Docker (containerd) gives containers nofile 1048576 when the daemon may; we may not.
_WANTED_NOFILE = 1_048_576


@dataclass(frozen=True)
class Rlimit:
    """One limit; `type` is an OCI name such as "RLIMIT_NOFILE"; -1 = unlimited."""

    type: str
    soft: int
    hard: int

    @property
    def number(self) -> int:
        return RLIMIT_NUMBERS[self.type]

    def to_oci(self) -> dict[str, Any]:
        def conv(v: int) -> int:
            return _OCI_INFINITY if v < 0 else v
        return {"type": self.type, "soft": conv(self.soft), "hard": conv(self.hard)}


def parse_ulimit(text: str) -> Rlimit:
    """Docker's `--ulimit name=soft[:hard]` (`-1` or `unlimited` for no limit)."""
    name, sep, values = text.partition("=")
    key = name.strip().lower()
    if not sep or key not in ULIMIT_NAMES:
        known = ", ".join(sorted(ULIMIT_NAMES))
        raise UsageError(f"--ulimit {text}: expected NAME=SOFT[:HARD] with NAME one of {known}")
    soft_s, _, hard_s = values.partition(":")

    def num(v: str) -> int:
        v = v.strip()
        if v in ("-1", "unlimited"):
            return -1
        if not v.isdigit():
            raise UsageError(f"--ulimit {text}: {v!r} is not a number")
        return int(v)

    soft = num(soft_s)
    hard = num(hard_s) if hard_s else soft
    if hard >= 0 and (soft < 0 or soft > hard):
        raise UsageError(f"--ulimit {text}: soft limit {soft_s} is above hard limit {hard_s}")
    return Rlimit(ULIMIT_NAMES[key], soft, hard)


def _caller(limits: Mapping[int, tuple[int, int]] | None, number: int) -> tuple[int, int]:
    if limits is not None and number in limits:
        return limits[number]
    return resource.getrlimit(number)


def default_rlimits(caller: Mapping[int, tuple[int, int]] | None = None) -> tuple[Rlimit, ...]:
    """nofile as high as the caller's hard limit allows (up to Docker's 1048576)."""
    _, hard = _caller(caller, resource.RLIMIT_NOFILE)
    value = _WANTED_NOFILE if hard < 0 else min(hard, _WANTED_NOFILE)
    return (Rlimit("RLIMIT_NOFILE", value, value),)


def check_rlimits(
    rlimits: Iterable[Rlimit], caller: Mapping[int, tuple[int, int]] | None = None
) -> tuple[Rlimit, ...]:
    """Refuse a hard limit the caller cannot grant (raising needs CAP_SYS_RESOURCE)."""
    out = []
    for r in rlimits:
        if r.type not in RLIMIT_NUMBERS:
            raise UsageError(f"--ulimit: unknown resource limit {r.type}")
        _, cap = _caller(caller, r.number)
        if cap >= 0 and (r.hard < 0 or r.hard > cap):
            name = next((k for k, v in ULIMIT_NAMES.items() if v == r.type), r.type)
            shown = "unlimited" if r.hard < 0 else str(r.hard)
            raise UsageError(
                f"--ulimit {name}={shown}: above this host's hard limit {cap} for {name}",
                hint=f"use at most {name}={cap}: raising a hard limit needs CAP_SYS_RESOURCE, "
                     "which the caller lacks",
            )
        out.append(r)
    return tuple(out)
