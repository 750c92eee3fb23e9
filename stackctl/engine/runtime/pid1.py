"""`--init`: a PID 1 that forwards signals and reaps zombies (what tini does for Docker).

Without it the container's command is PID 1 of its namespace, which the kernel
shields from every signal it has no handler for (SIGTERM from `docker stop`
does nothing to a plain `sleep`), and orphaned processes pile up as zombies
unless the command reaps them. With `org.stackctl.init` set in config.json's
annotations (BundleRequest.init), the launcher's container init stays as PID 1:
it has already become the container's user with its capabilities and seccomp
policy, forks the command (PID 2, its own process group and the terminal's
foreground group), forwards every catchable signal to it, reaps whatever else
exits, and leaves with the command's status (128+N when killed by signal N).
It costs one resident Python process per container, and runc does not know
the annotation (it runs the command as PID 1).
"""

from __future__ import annotations

import _signal
import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import NoReturn

__all__ = ["ANNOTATION", "serve"]

ANNOTATION = "org.stackctl.init"
# Forwarded to the command; SIGKILL/SIGSTOP cannot be caught, SIGCHLD is ours.
_FORWARD = ("SIGHUP", "SIGINT", "SIGQUIT", "SIGTERM", "SIGUSR1", "SIGUSR2", "SIGALRM",
            "SIGWINCH", "SIGCONT", "SIGTSTP", "SIGTTIN", "SIGTTOU", "SIGPIPE", "SIGPWR",
            "SIGURG", "SIGVTALRM", "SIGPROF", "SIGIO", "SIGXCPU", "SIGXFSZ", "SIGSYS",
            "SIGTRAP", "SIGABRT", "SIGBUS", "SIGFPE", "SIGSEGV", "SIGILL")


def serve(start_command: Callable[[], NoReturn], sync_fd: int) -> NoReturn:
    """Fork the command (`start_command` execs it or reports and exits), then act
    as PID 1 until it exits."""
    child = os.fork()
    if child == 0:
        os.setpgid(0, 0)
        start_command()
    os.close(sync_fd)  # the command's execve alone decides when the parent sees EOF
    try:
        os.setpgid(child, child)
    except OSError:
        pass  # it already did, or already exec'd
    if os.isatty(0):
        _signal.signal(_signal.SIGTTOU, _signal.SIG_IGN)
        try:
            os.tcsetpgrp(0, child)
        except OSError:
            pass

    def forward(signum: int, _frame: object) -> None:
        try:
            os.kill(child, signum)
        except ProcessLookupError:
            pass

    for name in _FORWARD:
        number = getattr(_signal, name, None)
        if number is not None:
            try:
                _signal.signal(number, forward)
            except (OSError, ValueError):
                continue
    while True:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            os._exit(0)
        if pid == child:
            code = os.waitstatus_to_exitcode(status)
            os._exit(128 - code if code < 0 else code)
