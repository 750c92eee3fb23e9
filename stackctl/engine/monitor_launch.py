"""Starting a container's process from the monitor, without blocking its loop.

``LaunchMixin._launch`` runs the runtime's ``run --detach`` and returns at once;
the runtime's exit (a SIGCHLD the loop reaps) completes the start in
``_launched``: the container's pid is read from the pid file, its output pipes
(or pty master) join the selector and the store says ``running``. A monitor that
supervises a whole stack thus starts many containers at once instead of one
runtime after another.

The container's init is the runtime's child until the runtime exits, then ours
(we are a subreaper). Both zombies may be reaped in one round, the init's
first: an exit nobody has claimed yet is kept in ``_unclaimed`` until
``_claim`` asks for it. Stdlib only.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import socket
import sys
from collections.abc import Callable

from stackctl.engine import oci
from stackctl.engine.logs import rfc3339_nano
from stackctl.engine.monitor_clients import STDERR, STDOUT, _read_all, _receive_fd
from stackctl.timeline import mark

TYPE_CHECKING = False  # typing costs the monitor ~2 MiB resident; annotations only
if TYPE_CHECKING:

    from stackctl.engine.monitor import Container
    from stackctl.engine.state import StateStore

Failure = tuple[str, int] | None  # (message, exit code) when the start failed
Done = Callable[[Failure], None]
UNCLAIMED_MAX = 256


class LaunchServer:
    """The monitor's end of a fork server (runtime/forkserver.py): the built-in
    launcher, imported once, forked per container start."""

    def __init__(self, sel: selectors.BaseSelector) -> None:
        import subprocess

        self.sel = sel
        self.alive = True
        self._tag = 0
        self._waiting: dict[int, Callable[[int], None]] = {}
        self._pids: dict[int, Callable[[int], None]] = {}
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self.proc = subprocess.Popen(oci.forkserver_argv(theirs.fileno()),
                                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         pass_fds=(theirs.fileno(),), close_fds=True)
        finally:
            theirs.close()
        self.sock = ours
        sel.register(ours, selectors.EVENT_READ, lambda ev: self._on_message())

    def launch(self, argv: list[str], cwd: str, fds: tuple[int, int, int],
               on_exit: Callable[[int], None],
               on_pid: Callable[[int], None] | None = None) -> bool:
        """Run ``launch.main(argv)`` in a forked child with ``fds`` as its stdio;
        ``on_pid(pid)`` once forked, ``on_exit(code)`` once it exits. False when the
        server is gone."""
        if not self.alive:
            return False
        self._tag += 1
        msg = json.dumps({"tag": self._tag, "argv": argv, "cwd": cwd}).encode()
        try:
            socket.send_fds(self.sock, [msg], list(fds))
        except OSError:
            self._gone()
            return False
        self._waiting[self._tag] = on_exit
        if on_pid is not None:
            self._pids[self._tag] = on_pid
        return True

    def _on_message(self) -> None:
        try:
            data = self.sock.recv(1 << 16)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._gone()
            return
        msg = json.loads(data)
        tag = int(msg["tag"])
        if "pid" in msg:
            on_pid = self._pids.pop(tag, None)
            if on_pid is not None:
                on_pid(int(msg["pid"]))
            return
        self._pids.pop(tag, None)
        callback = self._waiting.pop(tag, None)
        if callback is not None:
            callback(int(msg["exit"]))

    def _gone(self) -> None:
        """The server died: its starts in flight failed (as a crashed launcher's)."""
        if not self.alive:
            return
        self.alive = False
        self.sel.unregister(self.sock)
        self.sock.close()
        waiting, self._waiting = self._waiting, {}
        for callback in waiting.values():
            callback(255)

    def close(self) -> None:
        """Closing our end lets the server exit once its children are done."""
        if self.alive:
            self.alive = False
            self.sel.unregister(self.sock)
            self.sock.close()
        self.proc.returncode = 0  # reaped by the monitor's loop (or by init), not by Popen


class _Pending:
    """A runtime process still starting a container, and what it was given."""

    def __init__(self, c: Container, err_r: int, out_r: int | None,
                 console: socket.socket | None, done: Done) -> None:
        self.c = c
        self.err_r = err_r
        self.out_r = out_r
        self.console = console
        self.done = done


class LaunchMixin:
    """The launch half of ``Monitor`` (which provides the attributes declared here)."""

    store: StateStore
    sel: selectors.BaseSelector
    children: dict[int, Callable[[int], None]]
    clock: Callable[[], float]
    _unclaimed: dict[int, int]
    launch_server: LaunchServer | None = None
    warm_launcher = False  # a stack's monitor: fork the built-in launcher (LaunchServer)
    fork_launcher = False  # fork the launcher from this very process (one container's)
    preload_launcher = False  # and import it before forking (a foreground run's CLI)

    def _on_exit(self, c: Container, code: int) -> None:
        raise NotImplementedError

    def _close_stdin(self, c: Container) -> None:
        raise NotImplementedError

    def _on_output(self, c: Container, fd: int) -> None:
        raise NotImplementedError

    def _launch(self, c: Container, done: Done) -> None:
        """Run the runtime for ``c``; ``done`` hears how it went once the runtime exits."""
        runtime = c.config.runtime
        self._runtime_delete(c)
        try:
            c.paths.pid_file.unlink()
        except FileNotFoundError:
            pass
        err_r, err_w = os.pipe()  # the runtime's errors, then the container's stderr
        child_fds: list[int] = [err_w]
        console: socket.socket | None = None
        out_r: int | None = None
        if c.config.tty:
            console = self._console_listener(c)
            stdin_r = os.open(os.devnull, os.O_RDONLY)
            out_w = err_w
        else:
            out_r, out_w = os.pipe()
            child_fds.append(out_w)
            if c.config.open_stdin:
                stdin_r, stdin_w = os.pipe()
                c.stdin_fd = stdin_w
                os.set_blocking(stdin_w, False)
            else:
                stdin_r = os.open(os.devnull, os.O_RDONLY)
        child_fds.append(stdin_r)
        argv = oci.run_argv(runtime, c.paths, console=console is not None)
        mark("monitor: launching")
        if self.fork_launcher and runtime != "runc":
            from stackctl.engine.runtime.forkserver import fork_launcher

            pid = fork_launcher(argv[len(oci.LAUNCHER):], str(c.paths.bundle),
                                (stdin_r, out_w, err_w), preload=self.preload_launcher)
            if pid is not None:
                for fd in child_fds:
                    os.close(fd)
                pending = _Pending(c, err_r, out_r, console, done)
                self.children[pid] = lambda status: self._launched(pending, status)
                return
        server = self._server() if runtime != "runc" else None
        if server is not None:
            pending = _Pending(c, err_r, out_r, console, done)
            if server.launch(argv[len(oci.LAUNCHER):], str(c.paths.bundle),
                             (stdin_r, out_w, err_w),
                             lambda status: self._launched(pending, status)):
                for fd in child_fds:
                    os.close(fd)
                return
        try:  # posix_spawn, not subprocess: a monitor then never imports it (memory)
            pid = os.posix_spawnp(argv[0], argv, os.environ, file_actions=[
                (os.POSIX_SPAWN_DUP2, stdin_r, 0), (os.POSIX_SPAWN_DUP2, out_w, 1),
                (os.POSIX_SPAWN_DUP2, err_w, 2)])
        except OSError as exc:
            for fd in (*child_fds, err_r, *((out_r,) if out_r is not None else ())):
                os.close(fd)
            self._close_stdin(c)
            if console is not None:
                console.close()
            done((f"cannot run the {runtime} runtime: {exc}", 125))
            return
        for fd in child_fds:
            os.close(fd)
        pending = _Pending(c, err_r, out_r, console, done)
        self.children[pid] = lambda status: self._launched(pending, status)

    def _server(self) -> LaunchServer | None:
        """The fork server of a stack's monitor (started on first use), or None."""
        if not self.warm_launcher:
            return None
        if self.launch_server is None or not self.launch_server.alive:
            if self.launch_server is not None:
                self.launch_server.close()
            try:
                self.launch_server = LaunchServer(self.sel)
            except OSError as exc:
                sys.stderr.write(f"monitor: no launcher server ({exc}); exec'ing launchers\n")
                self.warm_launcher = False
                return None
        return self.launch_server

    def _launched(self, p: _Pending, rc: int) -> None:
        c = p.c
        if rc != 0:
            os.set_blocking(p.err_r, False)
            message = _read_all(p.err_r).decode(errors="replace")
            os.close(p.err_r)
            if p.out_r is not None:
                os.close(p.out_r)
            self._close_stdin(c)
            if p.console is not None:
                p.console.close()
            message = runtime_message(message) or f"{c.config.runtime} exited with {rc}"
            p.done((message, oci.launch_exit_code(message)))
            return
        try:
            c.pid = int(c.paths.pid_file.read_text().strip())
        except (OSError, ValueError):
            for fd in (p.err_r, *((p.out_r,) if p.out_r is not None else ())):
                os.close(fd)
            if p.console is not None:
                p.console.close()
            p.done(("the runtime did not write the container's pid", 125))
            return
        if p.console is not None:
            c.master = _receive_fd(p.console)
            p.console.close()
            os.close(p.err_r)
            if c.master is None:
                os.kill(c.pid, signal.SIGKILL)
                p.done(("the runtime did not send the terminal", 125))
                return
            c.outputs[c.master] = STDOUT
        else:
            assert p.out_r is not None
            c.outputs[p.out_r] = STDOUT
            c.outputs[p.err_r] = STDERR
        for fd in c.outputs:
            os.set_blocking(fd, False)
            self.sel.register(fd, selectors.EVENT_READ,
                              lambda ev, fd=fd: self._on_output(c, fd))
        c.exit_status = None
        c.started = self.clock()
        c.replay.clear()
        with self.store.transaction() as db:
            db.execute("UPDATE containers SET status='running', pid=?, pid_start=?, "
                       "started_at=?, exit_code=NULL, error='', oom_killed=0, health=? "
                       "WHERE id=?",
                       (c.pid, oci.proc_start_time(c.pid), rfc3339_nano(), None, c.id))
        if c.config.healthcheck is not None and c.config.healthcheck.test[:1] != ("NONE",):
            from stackctl.engine.health import HealthRunner

            c.health = HealthRunner(self, c)  # type: ignore[arg-type]
        p.done(None)
        self._claim(c.pid, lambda status: self._on_exit(c, status))

    def _claim(self, pid: int, callback: Callable[[int], None]) -> None:
        """Call ``callback`` with ``pid``'s exit code when it exits (or now, if it has)."""
        if pid in self._unclaimed:
            callback(self._unclaimed.pop(pid))
        else:
            self.children[pid] = callback

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            code = os.waitstatus_to_exitcode(status)
            callback = self.children.pop(pid, None)
            if callback is not None:
                callback(code)
                continue
            self._unclaimed[pid] = code
            while len(self._unclaimed) > UNCLAIMED_MAX:  # orphans nobody will ask about
                del self._unclaimed[next(iter(self._unclaimed))]

    def _console_listener(self, c: Container) -> socket.socket:
        try:
            c.paths.console_sock.unlink()
        except FileNotFoundError:
            pass
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(str(c.paths.console_sock))
        s.listen(1)
        return s

    def _runtime_delete(self, c: Container) -> None:
        oci.runtime_delete(c.config.runtime, c.paths)
        oci.remove_cgroup(c.paths.cgroup_name)


def runtime_message(text: str) -> str:
    """The useful part of a runtime's error output (runc logs ``msg="..."``)."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    msgs = []
    for ln in lines:
        if 'msg="' in ln:
            ln = ln.split('msg="', 1)[1].rsplit('"', 1)[0].replace('\\"', '"')
        msgs.append(ln)
    msg = msgs[-1] if msgs else ""
    for prefix in ("runc run failed: ", "unable to start container process: "):
        msg = msg.replace(prefix, "")
    return msg


__all__ = ["Done", "Failure", "LaunchMixin", "LaunchServer", "runtime_message"]
