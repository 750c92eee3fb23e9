"""Fixtures for network tests: a NetworkManager on a private root and pool,
and helpers to run real traffic inside the namespaces it makes.

Every test's manager is torn down completely afterwards (namespaces, veths,
bridges, nftables table), even when the test fails.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from stackctl.net import dns, ipam
from stackctl.net.manager import NetworkManager
from stackctl.net.netns import run_in_netns

# far from Docker's 172.17 start, where other suites' default networks land
TEST_POOL = ipam.parse_pool("172.31.0.0/16:24,192.168.240.0/20:24")


@pytest.fixture
def nm(roots: tuple[Path, Path]) -> Iterator[NetworkManager]:
    root, run_root = roots
    mgr = NetworkManager(root, run_root, pool=TEST_POOL)
    try:
        yield mgr
    finally:
        mgr.release_all()
        mgr.close()


class Procs:
    """Background processes started in namespaces, killed at the end."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[str]] = []

    def python_in(self, netns: Path, code: str, *, files: tuple[Path, Path] | None = None
                  ) -> subprocess.Popen[str]:
        p = subprocess.Popen(_argv(netns, code, files), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        self.procs.append(p)
        return p


def _argv(netns: Path, code: str, files: tuple[Path, Path] | None) -> list[str]:
    code = textwrap.dedent(code)
    if files is None:
        return ["nsenter", f"--net={netns}", sys.executable, "-c", code]
    hosts, resolv = files
    # a private mount namespace so the real libc resolver reads our files
    script = (f"mount --bind {resolv} /etc/resolv.conf && mount --bind {hosts} /etc/hosts "
              f'&& exec "$0" -c "$1"')
    return ["nsenter", f"--net={netns}", "unshare", "--mount", "--propagation", "private",
            "sh", "-c", script, sys.executable, code]


def run_python(netns: Path, code: str, *, files: tuple[Path, Path] | None = None,
               timeout: float = 20) -> subprocess.CompletedProcess[str]:
    return subprocess.run(_argv(netns, code, files), capture_output=True, text=True,
                          timeout=timeout, check=False)


@pytest.fixture
def procs() -> Iterator[Procs]:
    p = Procs()
    yield p
    for proc in p.procs:
        proc.kill()
        proc.wait()


@pytest.fixture
def resolvers() -> Iterator[Callable[[NetworkManager, str], dns.Responder]]:
    """Start the embedded DNS responder for a container (as its monitor would)."""
    started: list[tuple[dns.Responder, object]] = []

    def start(mgr: NetworkManager, cid: str) -> dns.Responder:
        r, t = dns.start_for_container(mgr.netns_path(cid), mgr.state.path, cid, upstreams=[])
        started.append((r, t))
        return r

    yield start
    for r, t in started:
        r.stop()
        t.join(5)  # type: ignore[attr-defined]
        r.close()


def query(netns: Path, name: str, qtype: int = dns.QTYPE_A) -> tuple[int, list[str]]:
    """Ask the responder at 127.0.0.11 inside ``netns``."""

    def ask() -> tuple[int, list[str]]:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(5)
            s.sendto(dns.build_query(name, qtype), (dns.DNS_ADDRESS, 53))
            return dns.parse_answer_addresses(s.recv(4096))

    return run_in_netns(netns, ask)


class Clock:
    """A clock the test turns by hand (``clock.now += 3``), for responders' timers."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now
