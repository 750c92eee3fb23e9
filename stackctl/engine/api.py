"""``Engine(root, run_root)``: the one Python API over containers and volumes.

The single-container CLI and the scheduler both call it; there is one way to
create, start and remove a container. No daemon: each call works on the state
store (SQLite, one transaction per change) and talks to the container's monitor
over its control socket when the monitor lives. When the monitor is gone (killed,
or a reboot), reads repair the record from the truth (``_repair``): a dead
process means exited, and whatever it held is released.
"""

from __future__ import annotations

import json
import os
import signal as _signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

from stackctl.engine import ipc, names, netseam, oci, pidns, prepare, supervise, teardown
from stackctl.engine.containers import (
    ContainerConfig,
    ContainerRecord,
    ContainerStatus,
    check_transition,
)
from stackctl.engine.logs import LogEntry, read_logs, rfc3339_nano
from stackctl.engine.state import StateStore
from stackctl.engine.volumes import VolumeStore
from stackctl.errors import AlreadyExists, Conflict, EngineError, NotFound, RuntimeFailure
from stackctl.timeline import mark

TYPE_CHECKING = False  # typing costs ~3 ms at start-up; annotations only
if TYPE_CHECKING:
    from typing import Any

    _Msgs = list[dict[str, Any]]

S = ContainerStatus
_Strs = list[str]
_Rows = list[list[str]]
_Records = list[ContainerRecord]
ACTIVE = (S.RUNNING, S.PAUSED, S.RESTARTING)


class Engine:
    def __init__(self, root: Path | str, run_root: Path | str) -> None:
        self.root = Path(root)
        self.run_root = Path(run_root)
        self.store = StateStore(self.root)
        self.volumes = VolumeStore(self.root, self.store)
        self._images: Any = None

    def close(self) -> None:
        if self._images is not None:
            self._images.close()
        self.store.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def images(self) -> Any:
        if self._images is None:
            from stackctl.engine.images.store import ImageStore

            self._images = ImageStore(self.root, self.store)
        return self._images

    def paths(self, cid: str) -> oci.ContainerPaths:
        return oci.ContainerPaths(self.root, self.run_root, cid)

    # ---- reading ----------------------------------------------------------------------------
    def _rows(self) -> list[Any]:
        return self.store.db.execute("SELECT * FROM containers ORDER BY created DESC").fetchall()

    def resolve(self, ref: str) -> str:
        pairs = [(r[0], r[1]) for r in self.store.db.execute("SELECT id, name FROM containers")]
        return names.resolve(ref, pairs)

    def get(self, ref: str) -> ContainerRecord:
        cid = self.resolve(ref)
        row = self.store.db.execute("SELECT * FROM containers WHERE id=?", (cid,)).fetchone()
        if row is None:
            raise NotFound(f"no such container: {ref}")
        return self._repair(ContainerRecord.from_row(row))

    def list(self, *, all_: bool = False) -> _Records:
        out = [self._repair(ContainerRecord.from_row(r)) for r in self._rows()]
        return out if all_ else [c for c in out if c.running]

    def _repair(self, rec: ContainerRecord) -> ContainerRecord:
        """Make the record tell the truth when its monitor is gone."""
        if oci.alive(rec.monitor_pid, rec.monitor_start):
            return rec
        if rec.status not in ACTIVE:
            if rec.monitor_pid is not None:
                # the monitor died between recording the exit and its cleanup
                self._release(rec)
                with self.store.transaction() as db:
                    db.execute("UPDATE containers SET monitor_pid=NULL, monitor_start=NULL "
                               "WHERE id=? AND monitor_pid=?", (rec.id, rec.monitor_pid))
            return rec
        if oci.alive(rec.pid, rec.pid_start):
            return rec  # orphaned but running: `ps` shows it, `stop`/`rm -f` kill it directly
        with self.store.transaction() as db:
            row = db.execute("SELECT status, monitor_pid FROM containers WHERE id=?",
                             (rec.id,)).fetchone()
            if row is None or row["status"] not in [s.value for s in ACTIVE]:
                return rec
            db.execute("UPDATE containers SET status='exited', pid=NULL, pid_start=NULL, "
                       "monitor_pid=NULL, monitor_start=NULL, finished_at=?, "
                       "exit_code=COALESCE(exit_code, 255) WHERE id=?",
                       (rfc3339_nano(), rec.id))
        self._release(rec)
        return self.get(rec.id)

    def _release(self, rec: ContainerRecord) -> None:
        paths = self.paths(rec.id)
        teardown.stop_runtime(paths, rec.config)
        teardown.release_network(self.store, paths, rec.config)

    # ---- create / start -----------------------------------------------------------------------
    def create(self, config: ContainerConfig) -> ContainerRecord:
        """Make a container record (status ``created``); nothing runs yet."""
        image = self.images.resolve(config.image)
        prepare.check_mounts(config)
        if config.runtime not in oci.RUNTIMES:
            from stackctl.errors import UsageError

            raise UsageError(f"--runtime {config.runtime}: unknown runtime",
                             hint=f"use one of {', '.join(oci.RUNTIMES)}")
        config = prepare.effective_config(config, image.config)
        config = ipc.resolve(self.store, config)  # --ipc container:NAME -> its id
        config = pidns.resolve(self.store, config)  # --pid container:NAME -> its id
        self._validate_bundle(config)
        cid = names.new_id()
        name = names.validate_name(config.name) if config.name else None
        # The name check and the insert share one write transaction: 20 concurrent
        # `run -d` serialise here and never hand out the same generated name.
        for attempt in range(20):
            candidate = name or names.random_name(attempt)
            with self.store.transaction() as db:
                taken = db.execute("SELECT id FROM containers WHERE name=?",
                                   (candidate,)).fetchone()
                if taken is None:
                    db.execute(
                        "INSERT INTO containers(id, name, image_id, image_ref, config, status, "
                        "created, labels) VALUES (?, ?, ?, ?, ?, 'created', ?, ?)",
                        (cid, candidate, image.id, config.image, config.to_json(),
                         rfc3339_nano(), json.dumps(config.labels)))
                    break
            if name:
                raise AlreadyExists(
                    f'the container name "/{candidate}" is already in use by container '
                    f"{taken[0][:12]}",
                    hint="remove or rename that container, or choose another name")
        else:
            raise EngineError("could not find a free generated name", hint="use --name")
        paths = self.paths(cid)
        paths.upper.mkdir(parents=True, exist_ok=True)
        paths.work.mkdir(parents=True, exist_ok=True)
        return self.get(cid)

    def _validate_bundle(self, config: ContainerConfig) -> None:
        """Capabilities, ulimits and limits are checked now, not at start."""
        from stackctl.engine.runtime.rlimits import Rlimit
        from stackctl.engine.runtime.spec import BundleRequest, build_config

        build_config(BundleRequest(
            rootfs="/", args=("true",), cap_add=config.cap_add, cap_drop=config.cap_drop,
            privileged=config.privileged,
            rlimits=tuple(Rlimit(u.name, u.soft, u.hard) for u in config.ulimits)))

    def start(self, ref: str, *, hold: bool = False, group: str | None = None
              ) -> ContainerRecord:
        """Start a created or exited container under a monitor.

        ``hold``: the monitor keeps the exit status until a client attached (used by an
        attached ``run``, which attaches right after this returns).
        ``group`` (e.g. the stack's project): containers of one group share one monitor
        process; the first start spawns it, later ones ask it to adopt them.
        """
        rec = self._settled(self.get(ref))
        if rec.status in (S.RUNNING, S.RESTARTING):
            return rec
        check_transition(rec.status, S.RUNNING, name=rec.name)
        self._prepare(rec)
        try:
            msg = self._monitor_for([rec], hold=hold, group=group)[0]
        except BaseException as exc:
            self._failed_start(rec, exc)
            raise
        if not msg.get("ok"):
            if not msg.get("unknown"):
                self._release(rec)
            raise RuntimeFailure(msg.get("error") or "the container did not start",
                                 exit_code=int(msg.get("exit_code") or 125))
        return self.get(rec.id)

    def _settled(self, rec: ContainerRecord, timeout: float = 30.0) -> ContainerRecord:
        """``rec`` once no live monitor is between states with it: a start still in
        flight (its starter, e.g. an `up`, was killed) ends running or failed, an
        exit ends released. Starting it meanwhile would run it twice."""
        deadline = time.monotonic() + timeout
        while (rec.status not in ACTIVE and oci.alive(rec.monitor_pid, rec.monitor_start)
               and time.monotonic() < deadline):
            time.sleep(0.02)
            rec = self.get(rec.id)
        return rec

    def run_foreground(self, ref: str, *, stdin: bool = False, tty: bool = False) -> int:
        """Start ``ref`` and supervise it from this process until it ends; its exit code.

        An attached ``run --rm`` needs no detached monitor: this process runs the same
        supervisor code (monitor.Monitor) with its own stdio as the attached client,
        which saves a Python start-up per run. The record names this process as the
        monitor, so ``ps`` and ``stop`` from elsewhere work as usual.
        """
        from stackctl.engine.attach import raw_terminal
        from stackctl.engine.monitor import Monitor, set_subreaper
        from stackctl.engine.monitor_clients import LocalAttach

        rec = self.get(ref)
        check_transition(rec.status, S.RUNNING, name=rec.name)
        self._prepare(rec)
        local = LocalAttach(stdin=stdin, tty=tty)
        try:
            mon = Monitor(self.root, self.run_root)
        except BaseException as exc:
            self._failed_start(rec, exc)
            raise
        set_subreaper()  # the runtime's detached child is re-parented to us, not to init
        mon.fork_launcher = True  # this process has no threads yet (forkserver.fork_launcher)
        mon.preload_launcher = True
        mon.releaser.inline = mon.store  # one container, whose cleanup we wait for anyway
        mon.install_signals(sig_proxy=not tty)
        try:
            msg = mon.add(rec.id, local=local)
            if not msg.get("ok"):
                self._release(rec)
                raise RuntimeFailure(msg.get("error") or "the container did not start",
                                     exit_code=int(msg.get("exit_code") or 125))
            with raw_terminal(0, tty and stdin):
                mon.run()
        finally:
            mon.close()
        return local.exit_code if local.exit_code is not None else 0

    def _prepare(self, rec: ContainerRecord) -> None:
        """Rootfs mount, network, bundle; undone (and the error recorded) on failure."""
        paths = self.paths(rec.id)
        image = self.images.get(rec.image_id)
        try:
            prepare.mount_rootfs(paths, self.images.lower_dirs(image),
                                 readonly=rec.config.read_only)
            mark("engine: rootfs mounted")
            netns = netseam.setup(self.store, paths, rec.config)
            mark("engine: network ready")
            req = prepare.build_request(paths, rec.config, image.config, self.volumes, netns,
                                        ipc.setup(self.store, paths, rec.config),
                                        pidns.setup(self.store, rec.config))
            from stackctl.engine.runtime.spec import write_bundle

            write_bundle(paths.bundle, req)
            mark("engine: bundle written")
        except BaseException as exc:
            self._failed_start(rec, exc)
            raise

    def _failed_start(self, rec: ContainerRecord, exc: BaseException) -> None:
        self._release(rec)
        code = getattr(exc, "exit_code", 125)
        with self.store.transaction() as db:
            db.execute("UPDATE containers SET error=?, exit_code=? WHERE id=?",
                       (str(exc), code if isinstance(exc, RuntimeFailure) else None, rec.id))

    def _monitor_for(self, recs: _Records, *, hold: bool, group: str | None) -> _Msgs:
        return supervise.start_monitored(self.root, self.run_root, [r.id for r in recs],
                                         hold=hold, group=group, store=self.store)

    def _group_sock(self, group: str) -> Path:
        return supervise.group_sock(self.root, self.run_root, group)

    def start_group(self, refs: _Strs, *, group: str | None = None) -> _Records:
        """Start several containers under ONE monitor process (``group``'s, when given).

        The monitor supervises a set (as containerd runs one shim per pod); each
        container keeps its own socket, log, restart policy and cleanup. A container
        that fails to start is released and reported; the others keep running.
        """
        recs = [self.get(r) for r in refs]
        for rec in recs:
            check_transition(rec.status, S.RUNNING, name=rec.name)
        prepared: _Records = []
        try:
            for rec in recs:
                self._prepare(rec)
                prepared.append(rec)
            msgs = self._monitor_for(recs, hold=False, group=group)
        except BaseException:
            for rec in prepared:
                self._release(rec)
            raise
        failed = [(rec, m) for rec, m in zip(recs, msgs, strict=True) if not m.get("ok")]
        for rec, m in failed:
            if not m.get("unknown"):
                self._release(rec)
        if failed:
            rec, m = failed[0]
            raise RuntimeFailure(f"{rec.name}: {m.get('error') or 'did not start'}",
                                 exit_code=int(m.get("exit_code") or 125))
        return [self.get(rec.id) for rec in recs]

    # ---- talking to the monitor ------------------------------------------------------------
    def _ask(self, rec: ContainerRecord, req: dict[str, Any], *,
             timeout: float | None = None) -> dict[str, Any] | None:
        """One request to the monitor; None when there is no live monitor to ask."""
        if not oci.alive(rec.monitor_pid, rec.monitor_start):
            return None
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        try:
            s.connect(str(self.paths(rec.id).sock))
            s.sendall(json.dumps(req).encode() + b"\n")
            data = b""
            while not data.endswith(b"\n"):
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        except OSError:
            return None
        finally:
            s.close()
        return json.loads(data) if data.strip() else None

    def connect(self, ref: str) -> socket.socket:
        """A connected socket to the container's monitor (for attach)."""
        rec = self.get(ref)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(str(self.paths(rec.id).sock))
        except OSError as exc:
            s.close()
            raise Conflict(f"container {rec.name} is not running",
                           hint="start it with `stackctl start -a`") from exc
        return s

    def _wait_released(self, rec: ContainerRecord, timeout: float = 15.0) -> None:
        """Wait until ``rec``'s monitor let go of it: a container's own monitor exits;
        a group's monitor, which lives on, clears the record's monitor_pid once the
        container's cleanup is done."""
        deadline = time.monotonic() + timeout
        shared = supervise.is_group_monitor(rec.monitor_pid)
        while oci.alive(rec.monitor_pid, rec.monitor_start) and time.monotonic() < deadline:
            if shared:  # a container's own monitor: wait for its exit, as before
                row = self.store.db.execute("SELECT monitor_pid FROM containers WHERE id=?",
                                            (rec.id,)).fetchone()
                if row is None or row[0] != rec.monitor_pid:
                    return
            time.sleep(0.01)

    # ---- stop / kill / restart ---------------------------------------------------------------
    def stop(self, ref: str, timeout: float | None = None, *,
             keep: bool = False) -> ContainerRecord:
        """Stop ``ref``; with ``keep``, a --rm container is not removed (a restart)."""
        rec = self.get(ref)
        if rec.status not in ACTIVE:
            return rec
        grace = float(timeout if timeout is not None else (rec.config.stop_timeout or 10))
        sig = _signal_number(rec.config.stop_signal or "SIGTERM")
        reply = self._ask(rec, {"op": "stop", "signal": sig, "timeout": grace, "keep": keep},
                          timeout=grace + 30)
        if reply is None and oci.alive(rec.pid, rec.pid_start):
            self._kill_orphan(rec, sig, grace)
        self._wait_released(rec)
        return self._after(rec)

    def _after(self, rec: ContainerRecord) -> ContainerRecord:
        """``rec`` as it is after a stop or kill; as it was if --rm has removed it
        meanwhile (docker stop/kill of a --rm container succeed)."""
        try:
            return self.get(rec.id)
        except NotFound:
            return rec

    def _kill_orphan(self, rec: ContainerRecord, sig: int, grace: float) -> None:
        """The monitor is gone but the process lives: signal it directly."""
        assert rec.pid is not None
        _thaw(self.paths(rec.id))
        try:
            os.kill(rec.pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + grace
        while oci.alive(rec.pid, rec.pid_start) and time.monotonic() < deadline:
            time.sleep(0.02)
        if oci.alive(rec.pid, rec.pid_start):
            os.kill(rec.pid, _signal.SIGKILL)
            while oci.alive(rec.pid, rec.pid_start):
                time.sleep(0.01)

    def kill(self, ref: str, signal: str | int = "SIGKILL", *,
             keep: bool = False) -> ContainerRecord:
        """Signal ``ref``; with ``keep``, a --rm container that exits is not removed."""
        rec = self.get(ref)
        if rec.status not in ACTIVE:
            raise Conflict(f"container {rec.name} is not running")
        sig = _signal_number(signal)
        if self._ask(rec, {"op": "kill", "signal": sig, "keep": keep},
                     timeout=10) is None and rec.pid:
            _thaw(self.paths(rec.id))
            try:
                os.kill(rec.pid, sig)
            except ProcessLookupError:
                pass
        if sig == _signal.SIGKILL:
            self._wait_released(rec)
        return self._after(rec)

    def restart(self, ref: str, timeout: float | None = None) -> ContainerRecord:
        """docker restart: a --rm container is restarted too, not removed."""
        rec = self.stop(ref, timeout, keep=True)
        return self.start(rec.id)

    def wait(self, ref: str) -> int:
        rec = self.get(ref)
        if rec.status in ACTIVE:
            reply = self._ask(rec, {"op": "wait"})
            if reply is not None and "exit_code" in reply:
                return int(reply["exit_code"])
            while self.get(rec.id).status in ACTIVE:
                time.sleep(0.05)
        return self.get(rec.id).exit_code or 0

    # ---- pause ---------------------------------------------------------------------------
    def pause(self, ref: str) -> ContainerRecord:
        rec = self.get(ref)
        check_transition(rec.status, S.PAUSED, name=rec.name)
        self._cgroup(rec).freeze()
        with self.store.transaction() as db:
            db.execute("UPDATE containers SET status='paused' WHERE id=?", (rec.id,))
        return self.get(rec.id)

    def unpause(self, ref: str) -> ContainerRecord:
        rec = self.get(ref)
        if rec.status != S.PAUSED:
            raise Conflict(f"container {rec.name} is not paused")
        self._cgroup(rec).thaw()
        with self.store.transaction() as db:
            db.execute("UPDATE containers SET status='running' WHERE id=?", (rec.id,))
        return self.get(rec.id)

    def _cgroup(self, rec: ContainerRecord) -> Any:
        from stackctl.engine.runtime.cgroups import Cgroup

        return Cgroup("/" + self.paths(rec.id).cgroup_name)

    # ---- remove -----------------------------------------------------------------------------
    def remove(self, ref: str, *, force: bool = False, volumes: bool = False) -> str:
        rec = self.get(ref)
        if rec.status in ACTIVE:
            if not force:
                raise Conflict(
                    f"you cannot remove a {rec.status.value} container {rec.short_id}",
                    hint="stop the container first, or force removal with `rm -f`")
            self.kill(rec.id, "SIGKILL")
            try:
                rec = self.get(rec.id)
            except NotFound:  # --rm removed it (and its anonymous volumes) as it exited
                return rec.id
            if rec.status in ACTIVE:
                raise EngineError(f"container {rec.name} did not stop")
        with self.store.transaction() as db:
            db.execute("UPDATE containers SET status='removing' WHERE id=?", (rec.id,))
        self._release(rec)
        paths = self.paths(rec.id)
        with self.store.transaction() as db:
            db.execute("DELETE FROM containers WHERE id=?", (rec.id,))
        if volumes:
            teardown.remove_anonymous_volumes(self.store, rec.config)
        teardown.remove_files(paths)
        return rec.id

    def prune(self) -> _Strs:
        return [self.remove(c.id) for c in self.list(all_=True) if c.status not in ACTIVE]

    def rename(self, ref: str, new_name: str) -> None:
        rec = self.get(ref)
        name = names.validate_name(new_name)
        with self.store.transaction() as db:
            if db.execute("SELECT 1 FROM containers WHERE name=?", (name,)).fetchone():
                raise AlreadyExists(f'the container name "/{name}" is already in use')
            db.execute("UPDATE containers SET name=? WHERE id=?", (name, rec.id))

    # ---- logs, exec, top, stats ------------------------------------------------------------
    def logs(self, ref: str, *, follow: bool = False, tail: int | None = None,
             since: float | None = None, until: float | None = None) -> Iterator[LogEntry]:
        rec = self.get(ref)
        path = self.paths(rec.id).log
        if not path.exists():
            return iter(())

        def running() -> bool:
            try:
                return self.get(rec.id).status in ACTIVE
            except NotFound:
                return False

        return read_logs(path, tail=tail, since=since, until=until, follow=follow,
                         still_running=running)

    def exec_argv(self, ref: str, args: _Strs, *, tty: bool = False,
                  env: tuple[str, ...] = (), user: str | None = None,
                  workdir: str | None = None, detach: bool = False,
                  privileged: bool = False) -> _Strs:
        """The command that runs ``args`` in the container; the caller runs it with its
        stdio. ``privileged``: every capability, as ``docker exec --privileged`` (the
        container's seccomp policy and no_new_privs stay)."""
        rec = self.get(ref)
        if rec.status != S.RUNNING or rec.pid is None:
            raise Conflict(f"container {rec.name} is not running",
                           hint="start it first" if rec.status != S.PAUSED else "unpause it")
        paths = self.paths(rec.id)
        if not prepare.find_executable(paths.rootfs, args[0], rec.config.env,
                                       workdir or rec.config.working_dir or "/"):
            raise RuntimeFailure(f'exec: "{args[0]}": executable file not found in $PATH',
                                 exit_code=127)
        if tty and not any(e.startswith("TERM=") for e in (*rec.config.env, *env)):
            env = ("TERM=xterm", *env)  # as docker: a tty gets TERM unless one is set
        caps: tuple[str, ...] = ()
        if privileged:
            from stackctl.engine.runtime.caps import effective_caps

            caps = effective_caps(privileged=True)  # all that this host's bounding set has
        return oci.exec_argv(rec.config.runtime, paths, rec.pid, args, tty=tty, env=env,
                             user=user, cwd=workdir, detach=detach, caps=caps)

    def top(self, ref: str) -> tuple[_Strs, _Rows]:
        import subprocess

        rec = self.get(ref)
        if rec.status not in ACTIVE:
            raise Conflict(f"container {rec.name} is not running")
        pids = {str(p) for p in oci.cgroup_pids(self.paths(rec.id).cgroup_name)}
        out = subprocess.run(["ps", "-ef"], capture_output=True, text=True, check=True).stdout
        lines = out.splitlines()
        titles = lines[0].split()
        rows = []
        for line in lines[1:]:
            cols = line.split(None, len(titles) - 1)
            if len(cols) > 1 and cols[1] in pids:
                rows.append(cols)
        return titles, rows

    def stats(self, ref: str) -> dict[str, Any]:
        """One sample: cpu % over a short window, memory, pids, network and block I/O."""
        return self.stats_many([ref])[0]

    def stats_many(self, refs: _Strs) -> _Msgs:
        """One sample of each container, all over the same window (engine/stats.py)."""
        from stackctl.engine import stats

        recs = [self.get(r) for r in refs]
        return [s.as_dict() for s in stats.sample(recs, [self._cgroup(r) for r in recs])]

    def inspect(self, ref: str) -> dict[str, Any]:
        from stackctl.engine.inspect import container_json

        rec = self.get(ref)
        return container_json(rec, self.paths(rec.id), self.volumes)


def _signal_number(sig: str | int) -> int:
    if isinstance(sig, int):
        return sig
    text = sig.strip().upper()
    if text.isdigit():
        return int(text)
    name = text if text.startswith("SIG") else "SIG" + text
    try:
        return int(getattr(_signal, name))
    except AttributeError:
        from stackctl.errors import UsageError

        raise UsageError(f"invalid signal: {sig}", hint="use a name like SIGTERM or a number"
                         ) from None


def _thaw(paths: oci.ContainerPaths) -> None:
    for d in oci.cgroup_dirs(paths.cgroup_name):
        for name, value in (("freezer.state", "THAWED"), ("cgroup.freeze", "0")):
            try:
                (d / name).write_text(value)
            except OSError:
                pass


__all__ = ["Engine"]
