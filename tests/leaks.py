"""A snapshot of the host's kernel resources, to prove the suite leaks nothing.

Taken once before the first test and once after the last; anything in the
second snapshot that was not in the first is a leak and fails the run.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path


def _links(kind: str) -> frozenset[str]:
    try:
        out = subprocess.run(
            ["ip", "-o", "link", "show", "type", kind],
            capture_output=True, text=True, check=False,
        ).stdout
    except FileNotFoundError:
        return frozenset()
    names = set()
    for line in out.splitlines():
        parts = line.split(": ", 2)
        if len(parts) >= 2:
            names.add(parts[1].split("@", 1)[0])
    return frozenset(names)


def _mounts() -> frozenset[str]:
    with open("/proc/self/mounts") as f:
        return frozenset(line.split()[1] for line in f)


def _netns() -> frozenset[str]:
    try:
        return frozenset(os.listdir("/run/netns"))
    except FileNotFoundError:
        return frozenset()


def _cgroups() -> frozenset[str]:
    """Every cgroup directory named like ours, in every mounted hierarchy."""
    found: set[str] = set()
    base = Path("/sys/fs/cgroup")
    if not base.is_dir():
        return frozenset()
    for hier in [base, *[p for p in base.iterdir() if p.is_dir()]]:
        try:
            for child in hier.iterdir():
                if child.is_dir() and "stackctl" in child.name:
                    found.add(str(child))
                    found.update(str(c) for c in child.rglob("*") if c.is_dir())
        except OSError:
            continue
    return frozenset(found)


def _nft_tables() -> frozenset[str]:
    """nftables tables named like ours (published ports, NAT, isolation)."""
    try:
        out = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True,
                             check=False).stdout
    except FileNotFoundError:
        return frozenset()
    return frozenset(
        " ".join(line.split()[1:]) for line in out.splitlines() if "stackctl" in line
    )


def _processes() -> frozenset[str]:
    """stackctl monitors and containers still alive (pid:cmdline)."""
    found = set()
    me = os.getpid()
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == me:
            continue
        try:
            raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        cmd = raw.replace(b"\0", b" ").decode(errors="replace")
        if "stackctl.engine.monitor" in cmd or "stackctl-test-container" in cmd:
            found.add(f"{pid}:{cmd.strip()}")
    return frozenset(found)


@dataclass(frozen=True)
class Snapshot:
    bridges: frozenset[str]
    veths: frozenset[str]
    netns: frozenset[str]
    mounts: frozenset[str]
    cgroups: frozenset[str]
    nft_tables: frozenset[str]
    processes: frozenset[str]

    @classmethod
    def take(cls) -> Snapshot:
        return cls(
            bridges=_links("bridge"),
            veths=_links("veth"),
            netns=_netns(),
            mounts=_mounts(),
            cgroups=_cgroups(),
            nft_tables=_nft_tables(),
            processes=_processes(),
        )

    def leaked_since(self, before: Snapshot) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for field in ("bridges", "veths", "netns", "mounts", "cgroups", "nft_tables",
                      "processes"):
            new = sorted(getattr(self, field) - getattr(before, field))
            if new:
                out[field] = new
        return out
