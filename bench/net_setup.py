"""Network setup cost per container: namespace + veth + address + route + hosts.

Prints the import cost of the network layer and the median/p90 of
setup_container and teardown_container over 50 containers on one network (as
an ``up`` of 50 services would do), in a private state root. Run as root.
"""

from __future__ import annotations

import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def dns_latency(nm: object, cid: str) -> list[float]:
    """Round trips to the responder at 127.0.0.11 inside ``cid``'s namespace (us)."""
    import socket

    from stackctl.net import dns
    from stackctl.net.netns import run_in_netns

    r, t = dns.start_for_container(nm.netns_path(cid), nm.state.path, cid,  # type: ignore[attr-defined]
                                   upstreams=[])
    client = run_in_netns(nm.netns_path(cid),  # type: ignore[attr-defined]
                          lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
    out = []
    try:
        for k in range(1000):
            q = dns.build_query(f"svc{k % 50}")
            t0 = time.perf_counter()
            client.sendto(q, (dns.DNS_ADDRESS, 53))
            client.recv(512)
            out.append((time.perf_counter() - t0) * 1e6)
    finally:
        client.close()
        r.stop()
        t.join(5)
        r.close()
    return out


def main() -> int:
    if os.geteuid() != 0:
        print("net_setup: needs root")
        return 0
    t0 = time.perf_counter()
    from stackctl.net import ipam
    from stackctl.net.manager import NetworkManager
    from stackctl.net.model import EndpointRequest

    imported = time.perf_counter() - t0
    base = Path(tempfile.mkdtemp(prefix="stackctl-bench-"))
    nm = NetworkManager(base / "root", base / "run", pool=ipam.parse_pool("172.31.0.0/16:24"))
    setups, teardowns, ids = [], [], []
    try:
        t = time.perf_counter()
        net = nm.create("benchnet")
        created = time.perf_counter() - t
        for k in range(50):
            cid = secrets.token_hex(32)
            t = time.perf_counter()
            nm.setup_container(cid, [EndpointRequest(net.name)], names_=(f"svc{k}",))
            setups.append(time.perf_counter() - t)
            ids.append(cid)
        dns_us = dns_latency(nm, ids[0])
        for cid in ids:
            t = time.perf_counter()
            nm.teardown_container(cid)
            teardowns.append(time.perf_counter() - t)
    finally:
        nm.release_all()
        nm.close()
        subprocess.run(["rm", "-rf", str(base)], check=False)

    def ms(xs: list[float], q: float) -> float:
        return sorted(xs)[int(len(xs) * q) - 1] * 1000 if q < 1 else max(xs) * 1000

    print(f"import stackctl.net.manager: {imported * 1000:.0f} ms")
    print(f"network create (bridge + nftables): {created * 1000:.0f} ms")
    print(f"setup_container x50:    median {statistics.median(setups) * 1000:.1f} ms, "
          f"p90 {ms(setups, 0.9):.1f} ms, total {sum(setups):.2f} s")
    print(f"embedded DNS, 1000 queries from a container (50 names on the network): "
          f"median {statistics.median(dns_us):.0f} us, p99 {ms(dns_us, 0.99) / 1000:.0f} us")
    print(f"teardown_container x50: median {statistics.median(teardowns) * 1000:.1f} ms, "
          f"p90 {ms(teardowns, 0.9):.1f} ms, total {sum(teardowns):.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
