"""Resident memory of the monitor per container (budget: < 15 MiB each).

Starts N detached containers (`sleep`) with and without a healthcheck and a
bridge network, each under its own monitor (`run -d`), then N under one shared
monitor (a stack's, as `up` starts them), and reads each monitor's
/proc/<pid>/smaps_rollup: RSS, and
PSS (proportional: shared pages divided among the processes sharing them, the
fair per-container cost). Also prints a bare `python -c pass`-style process for
the floor. Uses a throwaway state root; removes everything afterwards.

The relaying case keeps RELAY_IN_FLIGHT queries for names the store does not know
in flight to each bridge container's DNS responder (127.0.0.11 in its namespace);
the monitors relay them to a stand-in resolver on this host's loopback
(``STACKCTL_DNS``) that answers each RELAY_DELAY seconds later. It samples the
monitors while relaying and again once the traffic stopped, and counts their
threads. The same with queries for the containers' own names, answered from the
store, tells what the relay itself costs. No traffic leaves the host's loopback
and the containers' namespaces.

It compiles the package's bytecode first, as an install does (see main).

Usage: .venv/bin/python bench/monitor_memory.py [N]
"""

from __future__ import annotations

import os
import selectors
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

TYPE_CHECKING = False
if TYPE_CHECKING:
    from stackctl.engine.api import Engine

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def rollup(pid: int) -> tuple[float, float]:
    """(RSS, PSS) in MiB."""
    vals = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        parts = line.split()
        if parts[0] in ("Rss:", "Pss:"):
            vals[parts[0]] = int(parts[1]) / 1024
    return vals["Rss:"], vals["Pss:"]


RELAY_IN_FLIGHT = 8  # queries per container
RELAY_DELAY = 0.05  # the stand-in resolver's answer time
RELAY_SECONDS = 2.0


def threads(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


class StandInResolver:
    """Answers every query on 127.0.0.1 with 192.0.2.1, RELAY_DELAY seconds later."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.01)
        self.port = self.sock.getsockname()[1]
        self.stopping = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        from stackctl.net import dns

        due: list[tuple[float, bytes, tuple[str, int]]] = []  # in time order: one delay
        while not self.stopping:
            try:
                data, peer = self.sock.recvfrom(4096)
                q = dns.parse_query(data)
                if q is not None:
                    due.append((time.monotonic() + RELAY_DELAY,
                                dns.build_answer(q, ["192.0.2.1"]), peer))
            except TimeoutError:
                pass
            while due and due[0][0] <= time.monotonic():
                _, reply, peer = due.pop(0)
                self.sock.sendto(reply, peer)

    def close(self) -> None:
        self.stopping = True
        self.thread.join()
        self.sock.close()


def relay_load(netns: list[Path], stop: threading.Event, answers: list[int],
               relayed: bool) -> None:
    """Keep RELAY_IN_FLIGHT queries in flight to each namespace's responder: for
    names it relays, or (``relayed`` false) for its own container's short id."""
    from stackctl.net import dns
    from stackctl.net.netns import run_in_netns

    def ask(s: socket.socket) -> None:
        name = f"n{len(sent_at)}.example.org" if relayed else short_id[s]
        s.sendto(dns.build_query(name), (dns.DNS_ADDRESS, 53))
        sent_at[s] = time.monotonic()

    sel = selectors.DefaultSelector()
    sent_at: dict[socket.socket, float] = {}
    short_id: dict[socket.socket, str] = {}
    for ns in netns:
        for _ in range(RELAY_IN_FLIGHT):
            s = run_in_netns(ns, lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
            s.setblocking(False)
            sel.register(s, selectors.EVENT_READ)
            short_id[s] = ns.name[:12]  # the namespace is named by the container id
            ask(s)
    try:
        while not stop.is_set():
            for key, _ in sel.select(0.1):
                s = key.fileobj  # type: ignore[assignment]
                s.recv(4096)
                answers[0] += 1
                ask(s)
            for s, t in sent_at.items():  # dropped (a busy relay): ask again, as libc would
                if time.monotonic() - t > 2:
                    ask(s)
    finally:
        sel.close()
        for s in sent_at:
            s.close()


def relaying_case(engine: Engine, n: int, run_root: Path, *, relayed: bool) -> None:
    """N bridge containers, each under its own monitor, answering queries: for names
    relayed to a stand-in resolver, or (``relayed`` false) for their own names."""
    from stackctl.engine.containers import ContainerConfig

    resolver = StandInResolver()
    os.environ["STACKCTL_DNS"] = f"127.0.0.1:{resolver.port}"  # the monitors inherit it
    try:
        recs = [engine.start(engine.create(ContainerConfig(
            image="busybox", command=("sleep", "60"), network="bridge")).id) for _ in range(n)]
        pids = [r.monitor_pid for r in recs if r.monitor_pid]
        time.sleep(0.5)
        idle = [rollup(pid) for pid in pids]
        stop, answers = threading.Event(), [0]
        load = threading.Thread(target=relay_load, args=(
            [run_root / "netns" / r.id for r in recs], stop, answers, relayed))
        load.start()
        time.sleep(RELAY_SECONDS)
        busy = [rollup(pid) for pid in pids]
        most_threads = max(threads(pid) for pid in pids)
        stop.set()
        load.join()
        time.sleep(0.5)
        after = [rollup(pid) for pid in pids]
        what = ("relaying", "relaying") if relayed else ("answering own names", "own names")
        for label, samples in (("bridge, idle", idle),
                               (f"bridge, {what[0]}", busy),
                               (f"bridge, after {what[1]}", after)):
            print(f"{label:32s} RSS {statistics.median(s[0] for s in samples):5.1f} MiB  "
                  f"PSS {statistics.median(s[1] for s in samples):5.1f} MiB  "
                  f"(median of {len(samples)} monitors; budget 15 MiB)")
        print(f"{'':32s} {answers[0]} answers in {RELAY_SECONDS:.0f} s with "
              f"{RELAY_IN_FLIGHT} queries in flight per monitor; "
              f"at most {most_threads} thread(s) in a monitor")
        for r in recs:
            engine.remove(r.id, force=True, volumes=True)
    finally:
        del os.environ["STACKCTL_DNS"]
        resolver.close()


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    # as installed: a module without current bytecode is compiled in every monitor
    # that imports it, ~1 MiB more resident (and PYTHONDONTWRITEBYTECODE, set on
    # these machines, keeps it that way), which hides what a change costs
    import compileall

    compileall.compile_dir(REPO / "stackctl", quiet=1)
    from stackctl.engine.api import Engine
    from stackctl.engine.containers import ContainerConfig, Healthcheck
    from tests.fixtures_images import import_busybox
    from tests.netclean import release_networks

    base = Path(tempfile.mkdtemp(prefix="stackctl-bench-"))
    root, run_root = base / "root", base / "run"
    import_busybox(root)
    engine = Engine(root, run_root)
    bare = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        cases = {
            "network none": {"network": "none"},
            "network none + healthcheck": {
                "network": "none",
                "healthcheck": Healthcheck(("CMD-SHELL", "true"), interval=0.5)},
            "bridge (+ DNS responder)": {"network": "bridge"},
        }
        time.sleep(0.5)
        rss, pss = rollup(bare.pid)
        print(f"{'bare python process (floor)':32s} RSS {rss:5.1f} MiB  PSS {pss:5.1f} MiB")
        for label, kw in cases.items():
            recs = [engine.start(engine.create(ContainerConfig(
                image="busybox", command=("sleep", "60"), **kw)).id)  # type: ignore[arg-type]
                for _ in range(n)]
            time.sleep(1.5)  # let healthchecks run a few times
            samples = [rollup(r.monitor_pid) for r in recs if r.monitor_pid]
            print(f"{label:32s} RSS {statistics.median(s[0] for s in samples):5.1f} MiB  "
                  f"PSS {statistics.median(s[1] for s in samples):5.1f} MiB  "
                  f"(median of {len(samples)} monitors; budget 15 MiB)")
            for r in recs:
                engine.remove(r.id, force=True, volumes=True)
        # the first queries cost the same (the store's pages) whether relayed or not
        relaying_case(engine, n, run_root, relayed=False)
        relaying_case(engine, n, run_root, relayed=True)
        # one monitor per stack (what `up` does): its cost divided among its containers
        for label, kw in (("stack, network none", {"network": "none"}),
                          ("stack, bridge (+ DNS responder)", {"network": "bridge"})):
            recs = [engine.start(engine.create(ContainerConfig(
                image="busybox", command=("sleep", "60"), **kw)).id,  # type: ignore[arg-type]
                group=f"bench:{label}") for _ in range(n)]
            time.sleep(0.5)
            pids = {r.monitor_pid for r in recs if r.monitor_pid}
            rss, pss = (sum(v) for v in zip(*(rollup(pid) for pid in pids), strict=True))
            print(f"{label:32s} RSS {rss / n:5.1f} MiB  PSS {pss / n:5.1f} MiB  per container "
                  f"({len(pids)} monitor for {n}: RSS {rss:5.1f} MiB)")
            for r in recs:
                engine.remove(r.id, force=True, volumes=True)
    finally:
        bare.kill()
        bare.wait()
        for r in engine.list(all_=True):
            engine.remove(r.id, force=True, volumes=True)
        engine.close()
        release_networks(root, run_root)
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
