"""The values of Docker's resource and process flags, checked as Docker checks them.

One function per flag (``--cpu-shares``...), shared by ``run``/``create``
(cli/run_opts.py) and stack files (scheduler/translate.py, which passes the
key, ``services.x.cpu_shares``, as ``flag``): a bad value is a ``UsageError``
naming the flag or key, raised before anything exists. Pure apart from reading
which CPUs and memory nodes the host has.
"""

from __future__ import annotations

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


__all__ = ["MAX_CPU_SHARES", "MIN_CPU_SHARES", "cpu_shares"]
