"""The container monitor: ``python -m stackctl.engine.monitor --root R --run-root RR
[--group SOCK] ID...``.

One detached process (its own session, a child subreaper) supervises a *set* of
containers: one for a single ``run -d``, and one per stack for the scheduler,
which asks the stack's live monitor to adopt each further container over the
``--group`` socket (monitor_group.py) instead of starting another. It imports
the standard library only (no anyio: a selectors loop keeps the resident set
small, see bench/monitor_memory.py) and owns, per container:

- the container's init process (the runtime's ``run --detach`` re-parents it to
  us, the subreaper) and its exit status -> the state store; the runtime runs
  without blocking the loop (monitor_launch.py);
- its output -> the json-file log (logs.py) and to attached clients;
- its stdin (``-i``) and its pty master (``-t``, received over the console socket);
- the restart policy with Docker's back-off (restart.py), the healthcheck, and
  stop (signal, grace, SIGKILL);
- cleanup when it ends for good: runtime state, cgroup, rootfs mount,
  network, and with ``--rm`` the container itself.

The monitor exits once it supervises nothing.

The engine prepares the rootfs mount and the bundle before starting us, then
waits on ``--ready-fd`` for one JSON line per container, in the order they are
ready: ``{"id", "ok", "pid"}`` or ``{"id", "ok": false, "error", "exit_code"}``.

Control protocol on each container's ``<run_dir>/monitor.sock`` (one JSON request
line, then):

    {"op": "attach", "stdin": bool, "replay": bool, "rows", "cols"}
        -> frames ``>BxxxI`` + payload: 1 stdout, 2 stderr, 3 exit code (ASCII);
           bytes the client sends go to the container's stdin; client EOF closes it.
    {"op": "wait"}                       -> {"exit_code": N} when it exits for good
    {"op": "stop", "signal": S, "timeout": T, "keep": B} -> {"exit_code": N} once stopped
                        (keep: a --rm container is not removed: a restart follows;
                        the kill op takes it too)
    {"op": "kill", "signal": S}          -> {"ok": true}
    {"op": "resize", "rows": R, "cols": C} -> {"ok": true}
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path

from stackctl.engine import oci
from stackctl.engine.containers import ContainerConfig
from stackctl.engine.logs import LogWriter, rfc3339_nano
from stackctl.engine.monitor_clients import (
    EXIT,
    STDOUT,
    Client,
    ClientsMixin,
    LocalAttach,
    _kill,
    _read_all,
    _stop_signal,
    _thaw,
    encode_frame,
)
from stackctl.engine.monitor_group import GroupMixin
from stackctl.engine.monitor_launch import Failure, LaunchMixin
from stackctl.engine.monitor_release import Releaser
from stackctl.engine.restart import next_backoff, should_restart
from stackctl.engine.state import StateStore
from stackctl.timeline import mark

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs the monitor ~2 MiB resident; annotations only
    from typing import Any

    from stackctl.engine.monitor_group import Ready

PR_SET_CHILD_SUBREAPER = 36


class Container:
    """The monitor's view of one supervised container."""

    def __init__(self, cid: str, paths: oci.ContainerPaths, config: ContainerConfig,
                 restart_count: int) -> None:
        self.id = cid
        self.paths = paths
        self.config = config
        self.pid: int | None = None
        self.exit_status: int | None = None
        self.outputs: dict[int, int] = {}  # fd -> stream
        self.stdin_fd: int | None = None
        self.stdin_buf = bytearray()
        self.master: int | None = None
        self.log = LogWriter(paths.log, max_size=config.log_max_size,
                             max_file=config.log_max_file)
        self.listener: socket.socket | None = None
        self.clients: list[Client] = []
        self.replay = bytearray()
        self.manual_stop = False
        self.restart_count = restart_count
        self.backoff = 0.0
        self.started = 0.0
        self.kill_at: float | None = None
        self.restart_at: float | None = None
        self.finalize_at: float | None = None  # held exit: finish without an attach
        self.releasing = False  # its cleanup runs on a worker (monitor_release.py)
        self.let_go = False  # the record's monitor_pid no longer names us
        self.drain_at: float | None = None  # exited: stop waiting for output EOF
        self.hold = False
        self.attached_once = False
        self.exit_code: int | None = None
        self.health: Any = None  # health.HealthRunner, imported only when used
        self.local: LocalAttach | None = None
        self.dns: Any = None  # stackctl.net.dns.Responder on bridge networks
        self.finish_network: Callable[[], None] | None = None  # its release has begun
        self.keep_record = False  # a restart stops a --rm container: it is not removed


class Monitor(ClientsMixin, LaunchMixin, GroupMixin):
    def __init__(self, root: Path, run_root: Path, *, clock: Callable[[], float] = time.monotonic
                 ) -> None:
        self.root = root
        self.run_root = run_root
        self.clock = clock
        self.store = StateStore(root)
        self.sel = selectors.DefaultSelector()
        self.containers: dict[str, Container] = {}
        self.children: dict[int, Callable[[int], None]] = {}
        self._unclaimed: dict[int, int] = {}  # exits reaped before anyone asked (launch)
        self._pending_signals: list[int] = []
        self._saved_handlers: dict[int, Any] = {}
        self.sig_proxy = False
        self.releaser = Releaser(self.sel, root)
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)

    # ---- setup ---------------------------------------------------------------------------
    def install_signals(self, *, sig_proxy: bool = False) -> None:
        """``sig_proxy`` (foreground mode): SIGINT/SIGTERM go to the containers as they
        are, like ``docker run``'s --sig-proxy; otherwise they stop them gracefully."""
        self.sig_proxy = sig_proxy
        signal.set_wakeup_fd(self._wake_w)
        for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT, signal.SIGHUP,
                    signal.SIGWINCH):
            self._saved_handlers[sig] = signal.signal(sig, self._on_signal)
        self.sel.register(self._wake_r, selectors.EVENT_READ, self._on_wakeup)

    def close(self) -> None:
        """Undo install_signals and release our fds (foreground mode ends)."""
        for sig, handler in self._saved_handlers.items():
            signal.signal(sig, handler)
        self._saved_handlers.clear()
        signal.set_wakeup_fd(-1)
        self.releaser.close()
        self.sel.close()
        os.close(self._wake_r)
        os.close(self._wake_w)
        self.store.close()

    def _on_signal(self, signum: int, frame: object) -> None:
        self._pending_signals.append(signum)

    def add(self, cid: str, *, hold: bool = False, local: LocalAttach | None = None
            ) -> dict[str, Any]:
        """Take ``cid`` under supervision and start it; returns the ready message once
        it runs (the loop turns meanwhile, so other containers are served)."""
        result: list[dict[str, Any]] = []
        self.adopt(cid, hold=hold, local=local, on_ready=result.append)
        while not result:
            self._step()
        return result[0]

    def adopt(self, cid: str, *, on_ready: Ready, hold: bool = False,
              local: LocalAttach | None = None) -> None:
        """Take ``cid`` under supervision and start it; ``on_ready`` hears the ready
        message once the runtime has started it (or failed to)."""
        if cid in self.containers:
            on_ready({"id": cid, "ok": False, "exit_code": 125,
                      "error": f"container {cid[:12]} is already supervised"})
            return
        row = self.store.db.execute(
            "SELECT config, restart_count FROM containers WHERE id=?", (cid,)).fetchone()
        if row is None:
            on_ready({"id": cid, "ok": False, "error": f"no such container: {cid}",
                      "exit_code": 125})
            return
        config = ContainerConfig.from_json(row["config"])
        c = Container(cid, oci.ContainerPaths(self.root, self.run_root, cid), config, 0)
        c.hold = hold
        c.local = local
        self.containers[cid] = c

        def started(error: Failure) -> None:
            if error is not None:
                message, code = error
                try:
                    self._record_failed_start(c, message, code)
                finally:
                    self._drop(c)
                    on_ready({"id": cid, "ok": False, "error": message, "exit_code": code})
                return
            if local is not None:
                self._attach_local(c, local)
            on_ready({"id": cid, "ok": True, "pid": c.pid})

        try:
            # first: from now on a second start of it waits for ours (Engine._settled)
            with self.store.transaction() as db:
                db.execute("UPDATE containers SET monitor_pid=?, monitor_start=?, "
                           "restart_count=0 WHERE id=?",
                           (os.getpid(), oci.proc_start_time(os.getpid()), cid))
            self._listen(c)
            self._serve_dns(c)
            self._launch(c, started)
        except Exception as exc:  # a stack's monitor goes on with the others
            started((f"the monitor could not start it: {exc}", 125))

    def _serve_dns(self, c: Container) -> None:
        """Bridge networks: answer container/service names at 127.0.0.11 inside the
        container's netns, from the state store per query (stackctl/net/dns.py)."""
        mode = c.config.network
        if mode in ("none", "host") or mode.startswith("container:"):
            return
        try:
            from stackctl.net import dns

            c.dns = dns.for_container(self.run_root / "netns" / c.id, self.store.path, c.id,
                                      upstreams=list(c.config.dns) or None,  # --dns
                                      db=self.store.db,  # one connection for all
                                      clock=self.clock)
        except Exception as exc:  # names still resolve through the hosts file
            sys.stderr.write(f"monitor: no DNS responder for {c.id[:12]}: {exc}\n")
            return
        c.dns.attach(self.sel)  # relayed names: its timers are ours (_next_deadline)

    def _record_failed_start(self, c: Container, message: str, code: int) -> None:
        with self.store.transaction() as db:
            db.execute("UPDATE containers SET error=?, exit_code=?, monitor_pid=NULL, "
                       "monitor_start=NULL WHERE id=?", (message, code, c.id))

    # ---- the loop ----------------------------------------------------------------------------
    def run(self) -> None:
        """Supervise until nothing is left; then take no more (the group socket goes)."""
        while self.containers:
            self._step()
        self.close_group()
        if self.launch_server is not None:
            self.launch_server.close()

    def _step(self) -> None:
        timeout = self._next_deadline()
        for key, events in self.sel.select(timeout):
            try:
                key.data(events)
            except Exception:  # one bad event must not orphan every container
                import traceback

                traceback.print_exc()
        self._fire_timers()

    def _next_deadline(self) -> float | None:
        deadlines = [t for c in self.containers.values()
                     for t in (c.kill_at, c.restart_at, c.finalize_at, c.drain_at,
                               c.health.next_at() if c.health else None,
                               c.dns.next_at() if c.dns else None) if t is not None]
        if not deadlines:
            return None
        return max(0.0, min(deadlines) - self.clock())

    def _fire_timers(self) -> None:
        now = self.clock()
        for c in list(self.containers.values()):
            if c.kill_at is not None and now >= c.kill_at:
                c.kill_at = None
                if c.pid:
                    _kill(c.pid, signal.SIGKILL)
            if c.restart_at is not None and now >= c.restart_at:
                c.restart_at = None
                self._restart(c)
            if c.drain_at is not None and now >= c.drain_at:
                c.drain_at = None
                self._maybe_exited(c, force=True)
            if c.finalize_at is not None and now >= c.finalize_at:
                c.finalize_at = None
                self._finalize(c)
            if c.health is not None and c.pid:
                c.health.tick(now)
            if c.dns is not None:  # relayed queries past their deadline
                c.dns.tick(now)

    def _on_wakeup(self, events: int) -> None:
        _read_all(self._wake_r)
        signals, self._pending_signals = self._pending_signals, []
        for sig in signals:
            if sig == signal.SIGCHLD:
                self._reap()
            elif sig == signal.SIGWINCH:
                for c in self.containers.values():
                    if c.local is not None and c.local.tty:
                        self._resize_from(c, c.local.stdin_fd)
            elif sig in (signal.SIGTERM, signal.SIGINT) and self.sig_proxy:
                for c in self.containers.values():
                    if c.pid:
                        _kill(c.pid, sig)
            elif sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                for c in list(self.containers.values()):
                    self._stop(c, _stop_signal(c.config), c.config.stop_timeout or 10)

    # ---- output and clients ----------------------------------------------------------------
    def _on_output(self, c: Container, fd: int) -> None:
        if fd not in c.outputs:  # closed earlier in this same select round
            return
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return
        except OSError:  # EIO on a pty master once the last slave fd closed
            data = b""
        if not data:
            self.sel.unregister(fd)
            os.close(fd)
            stream = c.outputs.pop(fd)
            if fd == c.master:
                c.master = None
            del stream
            self._maybe_exited(c)
            return
        stream = c.outputs[fd]
        c.log.write("stdout" if stream == STDOUT else "stderr", data)
        self._broadcast(c, encode_frame(stream, data))

    def _stop(self, c: Container, sig: int, timeout: float) -> None:
        c.manual_stop = True
        if c.restart_at is not None:  # waiting to restart: just stay down
            c.restart_at = None
            self._end(c)
            return
        if c.pid:
            _thaw(c)
            _kill(c.pid, sig)
            c.kill_at = self.clock() + max(0.0, timeout)

    def _on_exit(self, c: Container, code: int) -> None:
        c.exit_status = 128 - code if code < 0 else code
        c.kill_at = None
        if c.outputs:
            # drain what is still in the pipes; orphaned writers may hold them open,
            # so don't wait for their EOF forever
            c.drain_at = self.clock() + 2.0
        self._maybe_exited(c)

    def _maybe_exited(self, c: Container, *, force: bool = False) -> None:
        """The process has exited: once its output is drained (or ``force``), end it."""
        if c.exit_status is None or c.pid is None:
            return
        if c.outputs and not force:
            return
        for fd in list(c.outputs):
            stream = c.outputs.pop(fd)
            data = _read_all(fd)  # whatever is buffered right now
            if data:
                c.log.write("stdout" if stream == STDOUT else "stderr", data)
                self._broadcast(c, encode_frame(stream, data))
            self.sel.unregister(fd)
            os.close(fd)
        if c.master is not None:
            c.master = None
        c.drain_at = None
        self._process_ended(c)

    def _process_ended(self, c: Container) -> None:
        mark("monitor: process ended")
        code = c.exit_status if c.exit_status is not None else 255
        c.pid = None
        c.health = None
        c.log.flush()
        self._close_stdin(c)
        oom = c.config.memory is not None and oci.oom_killed(c.paths.cgroup_name)
        restart = should_restart(c.config.restart, code, c.restart_count, c.manual_stop)
        if not restart and self.releaser.inline is not None:
            self._begin_network_release(c, self.releaser.inline)  # overlaps what follows
        self._runtime_delete(c)
        c.exit_code = code
        try:
            with self.store.transaction() as db:
                db.execute("UPDATE containers SET status=?, pid=NULL, pid_start=NULL, "
                           "exit_code=?, finished_at=?, oom_killed=? WHERE id=?",
                           ("restarting" if restart else "exited", code, rfc3339_nano(),
                            int(oom), c.id))
        except Exception as exc:  # the store is gone (its root removed): just end
            sys.stderr.write(f"monitor: cannot record the exit of {c.id[:12]}: {exc}\n")
            restart = False
        if restart:
            c.backoff = next_backoff(c.backoff, self.clock() - c.started)
            c.restart_at = self.clock() + c.backoff
            return
        self._end(c)

    def _restart(self, c: Container) -> None:
        c.restart_count += 1
        with self.store.transaction() as db:
            db.execute("UPDATE containers SET restart_count=? WHERE id=?",
                       (c.restart_count, c.id))
        blocked = self._rejoin(c)
        if blocked is not None and blocked[1] and should_restart(
                c.config.restart, 125, c.restart_count, c.manual_stop):
            # The donor is down but still exists: a --pid joiner dies with its donor
            # and comes here while the donor is being restarted. Try again after the
            # back-off, as after a crash, until the donor is back.
            c.backoff = next_backoff(c.backoff, 0.0)
            c.restart_at = self.clock() + c.backoff
            return
        c.exit_code = None

        def relaunched(error: Failure) -> None:
            if error is not None:
                c.exit_code = error[1]
                self._record_failed_start(c, *error)
                self._end(c)

        if blocked is not None:
            relaunched((blocked[0], 125))
            return
        self._launch(c, relaunched)

    def _rejoin(self, c: Container) -> tuple[str, bool] | None:
        """``--ipc/--pid container:X``: the bundle names X's namespace by X's pid at
        the first start; a restart joins the one X has now (X may have restarted, and
        an old pid may belong to anyone by then). None, or why it cannot and whether
        X still exists (and so may come back)."""
        donors = {kind: mode.split(":", 1)[1] for kind, mode in (("ipc", c.config.ipc),
                                                                 ("pid", c.config.pid))
                  if mode.startswith("container:")}
        if not donors:
            return None
        paths: dict[str, str] = {}
        for kind, donor in donors.items():
            row = self.store.db.execute("SELECT name, status, pid, pid_start FROM "
                                        "containers WHERE id=?", (donor,)).fetchone()
            if row is None or row["status"] not in ("running", "paused") or not oci.alive(
                    row["pid"], row["pid_start"]):
                name = row["name"] if row is not None else donor[:12]
                return (f"--{kind} container:{name}: container {name} is not running",
                        row is not None)
            paths[kind] = f"/proc/{row['pid']}/ns/{kind}"
        path = c.paths.bundle / "config.json"
        spec = json.loads(path.read_text())
        for ns in spec.get("linux", {}).get("namespaces", []):
            if ns.get("type") in paths and ns.get("path"):
                ns["path"] = paths[ns["type"]]
        tmp = path.with_name("config.json.tmp")
        tmp.write_text(json.dumps(spec))
        os.replace(tmp, path)
        return None

    def _end(self, c: Container) -> None:
        """The container stopped for good; with ``hold``, finish once a client attached."""
        if c.hold and not c.attached_once:
            c.finalize_at = self.clock() + 10.0
            return
        self._finalize(c)

    def _finalize(self, c: Container) -> None:
        """Release what the container held (on a worker: monitor_release.py), then tell
        waiters: whoever hears the exit code can rely on the mount, cgroup, network
        (and with --rm, the record) being gone."""
        c.finalize_at = None
        if c.releasing:
            return
        c.releasing = True
        self._close_dns(c)
        paths, config, network = c.paths, c.config, c.finish_network
        remove = config.auto_remove and not c.keep_record

        def release(store: StateStore) -> None:
            from stackctl.engine import teardown  # after the run: costs nothing before

            teardown.release(store, paths, config, remove=remove, unmount=True,
                             network=network)

        self.releaser.submit(release, lambda: self._released(c))

    def _released(self, c: Container) -> None:
        mark("monitor: released")
        code = c.exit_code if c.exit_code is not None else 0
        # before the replies: a stopper that hears the exit code finds the record free
        # (and a start it sends next is read after _drop below, in this same turn)
        self._let_go(c)
        self._broadcast(c, encode_frame(EXIT, str(code).encode()))
        for cl in list(c.clients):
            if cl.op in ("wait", "stop"):
                self._reply(cl, {"exit_code": code})
            elif cl.op == "attach":
                cl.closing = True
                if not cl.wbuf:
                    self._drop_client(cl)
        self._drop(c)

    def _drop(self, c: Container) -> None:
        """Forget ``c``: close its socket (after pending replies drain) and its log."""
        deadline = time.monotonic() + 2
        while any(cl.wbuf for cl in c.clients) and time.monotonic() < deadline:
            for key, ev in self.sel.select(0.05):
                if key.fileobj in [cl.sock for cl in c.clients]:
                    key.data(ev)
        for cl in list(c.clients):
            self._drop_client(cl)
        if c.listener is not None:
            self.sel.unregister(c.listener)
            c.listener.close()
            for p in (c.paths.sock, c.paths.console_sock, c.paths.pid_file):
                try:
                    p.unlink()
                except FileNotFoundError:
                    pass
        try:
            c.log.close()
        except OSError:
            pass
        if c.local is not None and c.local.stdin:
            if c.local.stdin_fd in self.sel.get_map():  # not yet, if the start failed
                self.sel.unregister(c.local.stdin_fd)
            os.set_blocking(c.local.stdin_fd, True)
            c.local.stdin = False
        self._close_dns(c)
        self.containers.pop(c.id, None)
        self._let_go(c)

    def _begin_network_release(self, c: Container, store: StateStore) -> None:
        """Let the container's network namespace go as soon as its process has. The
        kernel takes 10-30 ms to destroy the veths; the release (which finishes with
        ``c.finish_network``) does not wait for that, it quarantines the addresses
        of veths not gone yet (net/manager.py). Only with the inline releaser (a
        foreground run, a single container's monitor): elsewhere the release runs
        on a worker, off the loop, and a stack's ``down`` removes its networks
        right after, which must find the veths gone."""
        from stackctl.engine import teardown

        # the DNS socket holds the namespace open: closed first, the namespace
        # dies with its veths as soon as it is unmounted (net/manager.py)
        self._close_dns(c)
        c.finish_network = teardown.begin_network_release(store, c.paths, c.config,
                                                          wait=False)

    def _close_dns(self, c: Container) -> None:
        if c.dns is not None:
            c.dns.close()  # leaves the selector, relay socket included
            c.dns = None

    def _let_go(self, c: Container) -> None:
        """The record no longer names us (Engine.stop waits for this)."""
        if c.let_go or (c.config.auto_remove and not c.keep_record):  # --rm: record gone
            return
        c.let_go = True
        try:
            with self.store.transaction() as db:
                db.execute("UPDATE containers SET monitor_pid=NULL, monitor_start=NULL "
                           "WHERE id=? AND monitor_pid=?", (c.id, os.getpid()))
        except Exception as exc:
            sys.stderr.write(f"monitor: cannot update {c.id[:12]}: {exc}\n")








def set_subreaper() -> None:
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def _parse_args(argv: list[str]) -> tuple[dict[str, str], bool, list[str]]:
    """``--root R --run-root RR [--ready-fd N] [--go-fd N] [--group SOCK] [--hold] ID...``
    (argparse costs ~0.5 MiB)."""
    values: dict[str, str] = {}
    hold = False
    ids: list[str] = []
    it = iter(argv)
    for arg in it:
        if arg in ("--root", "--run-root", "--ready-fd", "--go-fd", "--group"):
            values[arg] = next(it, "")
        elif arg == "--hold":
            hold = True
        elif arg.startswith("-"):
            raise SystemExit(f"stackctl.engine.monitor: unknown option {arg}")
        else:
            ids.append(arg)
    if not values.get("--root") or not values.get("--run-root") or not ids:
        raise SystemExit("usage: python -m stackctl.engine.monitor --root R --run-root RR "
                         "[--ready-fd N] [--go-fd N] [--group SOCK] [--hold] ID...")
    return values, hold, ids


def main(argv: list[str] | None = None) -> int:
    values, hold, ids = _parse_args(sys.argv[1:] if argv is None else argv)
    ready_fd = int(values["--ready-fd"]) if values.get("--ready-fd") else None
    if values.get("--go-fd"):
        # the starter says go once the records name us; EOF: it died first, and a
        # later start will not know of us, so leave without touching anything
        go_fd = int(values["--go-fd"])
        go = os.read(go_fd, 1)
        os.close(go_fd)
        if not go:
            return 0
    set_subreaper()
    mon = Monitor(Path(values["--root"]), Path(values["--run-root"]))
    mon.install_signals()
    if values.get("--group"):  # before the first ready line: the engine then adopts here
        mon.listen_group(Path(values["--group"]))
        mon.warm_launcher = True  # many starts to come: fork them from a warm launcher
    else:
        mon.fork_launcher = True  # one container: fork the launcher from here (no exec)
        mon.releaser.inline = mon.store  # and clean it up on the loop (no thread)
    left = len(ids)

    def ready(msg: dict[str, Any]) -> None:
        nonlocal ready_fd, left
        left -= 1
        if ready_fd is None:
            return
        try:
            os.write(ready_fd, json.dumps(msg).encode() + b"\n")
        except OSError:  # the starter died (killed `up`): supervise regardless
            left = 0
        if left == 0:
            os.close(ready_fd)
            ready_fd = None

    for cid in ids:
        mon.adopt(cid, hold=hold, on_ready=ready)
    mon.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
