"""The healthcheck, run by the monitor inside a running container (Docker's rules).

Every ``interval`` the test command runs through the runtime's ``exec``; it
passes with exit 0, fails otherwise or after ``timeout``. ``retries``
consecutive failures make the container ``unhealthy``; failures during
``start_period`` do not count (probes then run every ``start_interval`` when it
is set), and the first success makes it ``healthy``.
The status and the last five results go to ``containers.health``.

``evaluate`` is the pure rule; ``HealthRunner`` drives it from the monitor loop
(stdlib only, no threads: the probe's pid and output pipe join the selector).
"""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from stackctl.engine import oci
from stackctl.engine.containers import Health, Healthcheck
from stackctl.engine.logs import rfc3339_nano

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
        self.proc: subprocess.Popen[bytes] | None = None
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
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT)
        except OSError as exc:
            self._result(126, str(exc))
            return
        self.proc = proc
        self.deadline = now + self.check.timeout
        assert proc.stdout is not None
        fd = proc.stdout.fileno()
        os.set_blocking(fd, False)
        self.mon.sel.register(fd, selectors.EVENT_READ, lambda ev: self._on_output(fd))
        self.mon.children[proc.pid] = self._on_exit

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
        proc, self.proc = self.proc, None
        self.deadline = None
        if proc is not None and proc.stdout is not None:
            fd = proc.stdout.fileno()
            try:
                self.mon.sel.unregister(fd)
            except (KeyError, ValueError):
                pass
            try:
                self.output += os.read(fd, MAX_OUTPUT)
            except OSError:
                pass
            proc.stdout.close()
            proc.returncode = code  # reaped by the monitor's loop, not by Popen
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
