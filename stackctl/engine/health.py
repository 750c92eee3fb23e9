"""The healthcheck, run by the monitor inside a running container (Docker's rules).

Every ``interval`` the test command runs through the runtime's ``exec``; it
passes with exit 0, fails otherwise or after ``timeout``. ``retries``
consecutive failures make the container ``unhealthy``; failures during
``start_period`` do not count (probes then run every ``start_interval`` when it
is set), and the first success makes it ``healthy``.
The status and the last five results go to ``containers.health``.

``evaluate`` is the pure rule; ``HealthRunner`` drives it from the monitor loop
(stdlib only, no threads: the probe's pid and output pipe join the selector). A
stack's monitor forks the probe's launcher from its warm server, as it does the
containers' (monitor_launch.LaunchServer).
"""

from __future__ import annotations

import os
import selectors
import signal

from stackctl.engine import oci
from stackctl.engine.containers import Health, Healthcheck
from stackctl.engine.logs import rfc3339_nano
from stackctl.lightdc import replace

TYPE_CHECKING = False  # typing costs the monitor ~2 MiB resident; annotations only
if TYPE_CHECKING:
    from typing import Any

if TYPE_CHECKING:
    from stackctl.engine.monitor import Container, Monitor

KEEP_RESULTS = 5
MAX_OUTPUT = 4096


def probe_args(check: Healthcheck) -> list[str]:
    kind, *rest = check.test
    if kind == "CMD-SHELL":
        return ["/bin/sh", "-c", " ".join(rest)]
    if kind == "CMD":
        return list(rest)
    return list(check.test)  # a bare command list, as compose's string form becomes


def evaluate(health: Health, check: Healthcheck, *, exit_code: int, output: str, start: str,
             end: str, in_start_period: bool) -> Health:
    """The health after one probe result."""
    result: dict[str, Any] = {"Start": start, "End": end, "ExitCode": exit_code,
                              "Output": output[-MAX_OUTPUT:]}
    log = (*health.log, result)[-KEEP_RESULTS:]
    if exit_code == 0:
        return Health("healthy", 0, log)
    if in_start_period and health.status == "starting":
        return replace(health, log=log)
    streak = health.failing_streak + 1
    status = "unhealthy" if streak >= check.retries else health.status
    return Health(status, streak, log)


class _Probe:
    """A running probe: the runtime's ``exec`` (pid once known) and its output pipe."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.pid: int | None = None


class HealthRunner:
    def __init__(self, monitor: Monitor, c: Container) -> None:
        assert c.config.healthcheck is not None
        self.mon = monitor
        self.c = c
        self.check: Healthcheck = c.config.healthcheck
        self.health = Health()
        self.started = monitor.clock()
        self.due: float | None = self.started + self._interval(self.started)
        self.deadline: float | None = None
        self.proc: _Probe | None = None  # the probe running now
        self.output = b""
        self.probe_start = ""
        self._save()

    def _interval(self, now: float) -> float:
        """Docker 25's start_interval: quicker probes while the start period lasts."""
        starting = now - self.started < self.check.start_period and self.health.status \
            == "starting"
        if starting and self.check.start_interval > 0:
            return self.check.start_interval
        return self.check.interval

    def next_at(self) -> float | None:
        return self.deadline if self.proc is not None else self.due

    def tick(self, now: float) -> None:
        if self.proc is not None:
            if self.deadline is not None and now >= self.deadline:
                self.deadline = None
                if self.proc.pid:
                    try:
                        os.kill(self.proc.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                self.output += f"Health check exceeded timeout ({self.check.timeout}s)".encode()
            return
        if self.due is not None and now >= self.due and self.c.pid:
            self._spawn(now)

    def _spawn(self, now: float) -> None:
        assert self.c.pid is not None
        argv = oci.exec_argv(self.c.config.runtime, self.c.paths, self.c.pid,
                             probe_args(self.check))
        self.output = b""
        self.probe_start = rfc3339_nano()
        r, w = os.pipe()
        devnull = os.open(os.devnull, os.O_RDONLY)
        probe = _Probe(r)
        # a stack's monitor forks the launcher from its warm server (monitor_launch.py)
        server = self.mon._server() if self.c.config.runtime != "runc" else None
        try:
            if server is None or not server.launch(
                    argv[len(oci.LAUNCHER):], "/", (devnull, w, w), self._on_exit,
                    on_pid=lambda pid: setattr(probe, "pid", pid)):
                # posix_spawn, not subprocess: the monitor then never imports it
                probe.pid = os.posix_spawnp(argv[0], argv, os.environ, file_actions=[
                    (os.POSIX_SPAWN_DUP2, devnull, 0), (os.POSIX_SPAWN_DUP2, w, 1),
                    (os.POSIX_SPAWN_DUP2, w, 2)])
                self.mon.children[probe.pid] = self._on_exit
        except OSError as exc:
            os.close(r)
            self._result(126, str(exc))
            return
        finally:
            os.close(w)
            os.close(devnull)
        self.proc = probe
        self.deadline = now + self.check.timeout
        os.set_blocking(r, False)
        self.mon.sel.register(r, selectors.EVENT_READ, lambda ev: self._on_output(r))

    def _on_output(self, fd: int) -> None:
        try:
            data = os.read(fd, 4096)
        except BlockingIOError:
            return
        if data:
            if len(self.output) < MAX_OUTPUT:
                self.output += data
            return
        self.mon.sel.unregister(fd)

    def _on_exit(self, code: int) -> None:
        probe, self.proc = self.proc, None
        self.deadline = None
        if probe is not None:
            try:
                self.mon.sel.unregister(probe.fd)
            except (KeyError, ValueError):
                pass
            try:
                self.output += os.read(probe.fd, MAX_OUTPUT)
            except OSError:
                pass
            os.close(probe.fd)
        self._result(code if code >= 0 else 128 - code, self.output.decode(errors="replace"))

    def _result(self, code: int, output: str) -> None:
        now = self.mon.clock()
        self.health = evaluate(self.health, self.check, exit_code=code, output=output,
                               start=self.probe_start or rfc3339_nano(), end=rfc3339_nano(),
                               in_start_period=now - self.started < self.check.start_period)
        self.due = now + self._interval(now)
        self._save()

    def _save(self) -> None:
        with self.mon.store.transaction() as db:
            db.execute("UPDATE containers SET health=? WHERE id=?",
                       (self.health.to_json(), self.c.id))


__all__ = ["HealthRunner", "evaluate", "probe_args"]
