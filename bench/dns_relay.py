"""The embedded DNS responder's relay: round-trip time and throughput, over loopback.

A responder (stackctl/net/dns.py, in a thread of its own, as tests run it) on
127.0.0.1 relays to a stand-in resolver on 127.0.0.1 that answers at once, in
another thread. Prints the median and 99th percentile round trip of one query
at a time, for a name the responder knows (no relay: the floor) and one it
relays, then the relayed answers per second with IN_FLIGHT queries in flight.
No traffic leaves the host's loopback.

Usage: .venv/bin/python bench/dns_relay.py [QUERIES]
"""

from __future__ import annotations

import selectors
import socket
import statistics
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

IN_FLIGHT = 64
SECONDS = 2.0


def stand_in(sock: socket.socket, stop: threading.Event) -> None:
    from stackctl.net import dns

    sock.settimeout(0.1)
    while not stop.is_set():
        try:
            data, peer = sock.recvfrom(4096)
        except TimeoutError:
            continue
        q = dns.parse_query(data)
        if q is not None:
            sock.sendto(dns.build_answer(q, ["192.0.2.1"]), peer)


def round_trips(address: tuple[str, int], name: str, n: int) -> list[float]:
    from stackctl.net import dns

    out = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as c:
        c.settimeout(5)
        for i in range(n):
            q = dns.build_query(name, qid=i & 0xFFFF)
            t = time.perf_counter()
            c.sendto(q, address)
            c.recv(4096)
            out.append(time.perf_counter() - t)
    return out


def throughput(address: tuple[str, int]) -> float:
    from stackctl.net import dns

    sel = selectors.DefaultSelector()
    socks = []
    for i in range(IN_FLIGHT):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setblocking(False)
        s.sendto(dns.build_query(f"n{i}.example.org"), address)
        sel.register(s, selectors.EVENT_READ)
        socks.append(s)
    answers, end = 0, time.monotonic() + SECONDS
    while time.monotonic() < end:
        for key, _ in sel.select(1.0):
            s = key.fileobj  # type: ignore[assignment]
            s.recv(4096)
            answers += 1
            s.sendto(dns.build_query("again.example.org"), address)
    sel.close()
    for s in socks:
        s.close()
    return answers / SECONDS


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    from stackctl.net import dns

    up = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    up.bind(("127.0.0.1", 0))
    stop = threading.Event()
    upstream = threading.Thread(target=stand_in, args=(up, stop), daemon=True)
    upstream.start()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    r = dns.Responder(sock, lambda name: ["10.0.0.2"] if name == "web" else [],
                      ["127.0.0.1"], upstream_port=up.getsockname()[1])
    serving = threading.Thread(target=r.serve, daemon=True)
    serving.start()
    address = sock.getsockname()
    try:
        for label, name in (("known name (answered here)", "web"),
                            ("relayed name", "example.org")):
            rtt = sorted(round_trips(address, name, n))
            print(f"{label:28s} median {statistics.median(rtt) * 1e6:6.0f} us  "
                  f"p99 {rtt[int(len(rtt) * 0.99)] * 1e6:6.0f} us  ({n} queries, one at a time)")
        print(f"{'relayed, ' + str(IN_FLIGHT) + ' in flight':28s} "
              f"{throughput(address):6.0f} answers/s")
    finally:
        r.stop()
        serving.join(5)
        r.close()
        stop.set()
        upstream.join(5)
        up.close()


if __name__ == "__main__":
    main()
