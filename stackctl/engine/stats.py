"""``stats``: one sample per container of CPU, memory, network and block I/O.

CPU % needs two readings of the cgroup's CPU time: every container is read
once, then after one short window read again, so ``stats`` of N containers
costs one window, not N. Network bytes come from the container's own
namespace (``/proc/<pid>/net/dev`` of its init, loopback excluded, as Docker
sums the container's interfaces); block I/O from the cgroup.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from stackctl.lightdc import dataclass

WINDOW = 0.2  # seconds between the two CPU readings


@dataclass(frozen=True)
class Sample:
    id: str
    name: str
    cpu_percent: float
    memory_usage: int
    memory_limit: int
    pids: int
    net_rx: int
    net_tx: int
    block_read: int
    block_write: int

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def net_io(pid: int | None) -> tuple[int, int]:
    """(received, sent) bytes over the interfaces of ``pid``'s network namespace."""
    if not pid:
        return 0, 0
    try:
        with open(f"/proc/{pid}/net/dev") as f:
            lines = f.read().splitlines()[2:]  # two header lines
    except OSError:  # exited meanwhile
        return 0, 0
    rx = tx = 0
    for line in lines:
        name, _, counters = line.partition(":")
        if name.strip() == "lo":
            continue
        fields = counters.split()
        rx, tx = rx + int(fields[0]), tx + int(fields[8])
    return rx, tx


def host_memory() -> int:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    return 0


def sample(recs: Sequence[Any], cgroups: Sequence[Any]) -> list[Sample]:
    """One sample of each container (``recs`` and their ``Cgroup``s, in order)."""
    first = [cg.stats() for cg in cgroups]
    t0 = time.monotonic()
    time.sleep(WINDOW)
    second = [cg.stats() for cg in cgroups]
    elapsed_ns = (time.monotonic() - t0) * 1e9
    total = host_memory()
    out = []
    for rec, a, b in zip(recs, first, second, strict=True):
        cpu = 0.0
        if a.cpu_usage_ns is not None and b.cpu_usage_ns is not None:
            cpu = (b.cpu_usage_ns - a.cpu_usage_ns) / elapsed_ns * 100
        rx, tx = net_io(rec.pid if str(rec.status) in ("running", "paused") else None)
        out.append(Sample(rec.id, rec.name, cpu, b.memory_usage or 0,
                          b.memory_limit or total, b.pids or 0, rx, tx,
                          b.block_read or 0, b.block_write or 0))
    return out


__all__ = ["Sample", "host_memory", "net_io", "sample"]
