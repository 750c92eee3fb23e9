"""Published ports: throughput and connection latency, three ways.

    direct  host -> container address (the bridge, no translation)
    dnat    host 127.0.0.1:P -> nftables DNAT -> container   (what stackctl does)
    proxy   host 127.0.0.1:P -> userland anyio relay process -> container
            (the alternative: a proxy run by the monitor, like docker-proxy)

The server runs inside a real network namespace made by NetworkManager; the
relay runs as its own process, as it would in the monitor. Loopback and the
bench's own namespace only. Prints one line per path; run as root.

Usage: .venv/bin/python bench/port_forward.py [--mib 256] [--conns 400]
"""

from __future__ import annotations

import argparse
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

SERVER = r"""
import socket, threading
def sink(c):
    n = 0
    buf = bytearray(1 << 20)
    first = c.recv(1)
    if first == b"L":            # latency probe: answer one byte and close
        c.sendall(b"x"); c.close(); return
    n = len(first)
    while True:
        k = c.recv_into(buf)
        if not k: break
        n += k
    c.sendall(str(n).encode()); c.close()
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 80)); s.listen(512); print("ready", flush=True)
while True:
    c, _ = s.accept(); threading.Thread(target=sink, args=(c,), daemon=True).start()
"""

PROXY = r"""
import sys, anyio
from anyio.abc import SocketStream

TARGET, PORT = sys.argv[1], int(sys.argv[2])

async def pipe(a, b):
    try:
        async for chunk in a:
            await b.send(chunk)
    except (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError):
        pass
    finally:
        try:
            await b.send_eof()
        except Exception:
            pass

async def handle(client: SocketStream):
    async with client:
        upstream = await anyio.connect_tcp(TARGET, 80)
        async with upstream, anyio.create_task_group() as tg:
            tg.start_soon(pipe, client, upstream)
            tg.start_soon(pipe, upstream, client)

async def main():
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=PORT)
    print("ready", flush=True)
    await listener.serve(handle)

anyio.run(main)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def throughput(addr: tuple[str, int], mib: int) -> float:
    chunk = memoryview(b"\0" * (1 << 20))
    with socket.create_connection(addr) as s:
        t0 = time.perf_counter()
        for _ in range(mib):
            s.sendall(chunk)
        s.shutdown(socket.SHUT_WR)
        got = int(s.recv(64))
        dt = time.perf_counter() - t0
    assert got == mib << 20, got
    return mib / dt


def latency(addr: tuple[str, int], conns: int) -> list[float]:
    out = []
    for _ in range(conns):
        t0 = time.perf_counter()
        with socket.create_connection(addr) as s:
            s.sendall(b"L")
            assert s.recv(1) == b"x"
        out.append((time.perf_counter() - t0) * 1000)
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mib", type=int, default=256)
    ap.add_argument("--conns", type=int, default=400)
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("port_forward: needs root (network namespaces, nftables)")
        return 0

    from stackctl.net import ipam
    from stackctl.net.manager import NetworkManager
    from stackctl.net.model import EndpointRequest
    from stackctl.net.ports import parse_publish

    base = Path(tempfile.mkdtemp(prefix="stackctl-bench-"))
    nm = NetworkManager(base / "root", base / "run",
                        pool=ipam.parse_pool("172.31.0.0/16:24"))
    procs: list[subprocess.Popen[str]] = []
    cid = secrets.token_hex(32)
    try:
        net = nm.create("benchnet")
        host_port = free_port()
        cn = nm.setup_container(cid, [EndpointRequest(net.name)],
                                ports=parse_publish(f"127.0.0.1:{host_port}:80"))
        srv = subprocess.Popen(["nsenter", f"--net={cn.netns}", sys.executable, "-c", SERVER],
                               stdout=subprocess.PIPE, text=True)
        procs.append(srv)
        assert srv.stdout is not None and srv.stdout.readline().strip() == "ready"
        proxy_port = free_port()
        prx = subprocess.Popen([sys.executable, "-c", PROXY, str(cn.primary_ip),
                                str(proxy_port)], stdout=subprocess.PIPE, text=True)
        procs.append(prx)
        assert prx.stdout is not None and prx.stdout.readline().strip() == "ready"
        paths = {
            "direct": (str(cn.primary_ip), 80),
            "dnat": ("127.0.0.1", host_port),
            "proxy": ("127.0.0.1", proxy_port),
        }
        print(f"{'path':8} {'MiB/s':>9} {'conn p50 ms':>12} {'conn p99 ms':>12}")
        for name, addr in paths.items():
            throughput(addr, 16)  # warm up (ARP, conntrack, the relay's imports)
            latency(addr, 20)
            mbs = statistics.median(throughput(addr, args.mib) for _ in range(3))
            lat = sorted(latency(addr, args.conns))
            p50, p99 = statistics.median(lat), lat[int(len(lat) * 0.99) - 1]
            print(f"{name:8} {mbs:9.0f} {p50:12.3f} {p99:12.3f}", flush=True)
    finally:
        for p in procs:
            p.kill()
            p.wait()
        nm.release_all()
        nm.close()
        subprocess.run(["rm", "-rf", str(base)], check=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
