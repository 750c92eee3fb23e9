"""A warm launcher for a monitor that starts many containers (a stack's).

Every container start used to exec ``python -S ... launch run``: an interpreter
start and the launcher's imports, about 25 ms of CPU of the ~45 a start costs.
A stack's monitor instead execs this server once; it imports the launcher and
forks one child per request, which runs ``launch.main(argv)`` with the
request's stdio and exits with its status, as the exec'd launcher would.

Forking here is safe (DESIGN.md: never fork a process that has threads or an
event loop running): this process has one thread and no event loop, only a
blocking ``select`` over its socket and its children's pidfds, and the child
never returns into it. ``fork_launcher`` forks the caller itself (a foreground
run's CLI, a single container's monitor) on the same terms: only while it has
one thread, from a callback whose child never returns to the loop.

Protocol over a SOCK_SEQPACKET socket (``--fd N``), one message each:

    monitor -> server  {"tag": T, "argv": [...], "cwd": DIR} + 3 fds (stdin, stdout, stderr)
    server -> monitor  {"tag": T, "pid": P}      once forked (a probe's timeout kills it)
                       {"tag": T, "exit": CODE}  once that child exited

The server exits when the monitor closes its end and its children are done.
The container's init, the child's child, is re-parented to the monitor (the
subreaper) when the child exits, as with the exec'd launcher. Stdlib only.
"""

from __future__ import annotations

import json
import os
import select
import socket
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, NoReturn


def serve(sock: socket.socket) -> int:
    from stackctl.engine.runtime import _exec, init, launch  # warm: every child has them

    del _exec, init
    tags: dict[int, Any] = {}  # child pid -> request tag
    pidfds: dict[int, int] = {}  # pidfd -> child pid (Linux >= 5.3; else poll below)
    own = sock.fileno()
    open_ = True
    while open_ or tags:
        polling = len(pidfds) < len(tags)
        ready, _, _ = select.select([*([own] if open_ else []), *pidfds], [], [],
                                    0.02 if polling else None)
        if own in ready:
            try:
                msg, fds, _flags, _addr = socket.recv_fds(sock, 1 << 16, 3)
            except OSError:
                msg, fds = b"", []
            if not msg:
                open_ = False
            else:
                req = json.loads(msg)
                pid = os.fork()
                if pid == 0:
                    _child(launch.main, req, fds, sock, list(pidfds))
                for fd in fds:
                    os.close(fd)
                tags[pid] = req["tag"]
                _send(sock, {"tag": req["tag"], "pid": pid})
                try:
                    pidfds[os.pidfd_open(pid)] = pid
                except (AttributeError, OSError):  # an older kernel: polled instead
                    pass
        for fd in [fd for fd in ready if fd in pidfds]:
            os.close(fd)
            _reap(sock, tags, pidfds.pop(fd), 0)
        if polling:
            for pid in [pid for pid in tags if pid not in pidfds.values()]:
                _reap(sock, tags, pid, os.WNOHANG)
    return 0


def _reap(sock: socket.socket, tags: dict[int, Any], pid: int, flags: int) -> None:
    done, status = os.waitpid(pid, flags)
    if done:
        _send(sock, {"tag": tags.pop(pid), "exit": os.waitstatus_to_exitcode(status)})


def fork_launcher(argv: list[str], cwd: str, fds: tuple[int, int, int], *,
                  preload: bool = False) -> int | None:
    """Fork this very process into a launcher running ``launch.main(argv)`` with
    ``fds`` as its stdio; the child's pid, or None when this process has threads
    (forking it is then unsafe: run the launcher another way).

    For a foreground ``run`` (the CLI supervises its own container) and a single
    container's monitor: no interpreter start on the path, about 25 ms. The
    caller's signal handlers and wakeup fd are undone in the child, so a signal
    meant for the launcher never runs the caller's code. ``preload``: import the
    launcher here first (a process about to exit anyway: importing after the fork
    costs copy-on-write faults, ~5 ms); else the child imports it, and a
    long-lived monitor keeps its memory small.
    """
    import signal

    if len(os.listdir("/proc/self/task")) != 1:
        return None
    import gc

    if preload:
        from stackctl.engine.runtime import launch

        gc.freeze()  # a process about to exit: its objects stay out of every collection
    for stream in (sys.stdout, sys.stderr):  # or the child would write them again
        stream.flush()
    pid = os.fork()
    if pid:
        return pid
    gc.disable()  # a collection would touch every shared page (copy-on-write faults)
    try:
        signal.set_wakeup_fd(-1)
        for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP, signal.SIGWINCH):
            signal.signal(sig, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        from stackctl.engine.runtime import launch
    except BaseException:
        os._exit(1)
    _child(launch.main, {"argv": argv, "cwd": cwd}, list(fds), None, [])


def _child(run: Any, req: dict[str, Any], fds: list[int], sock: socket.socket | None,
           pidfds: list[int]) -> NoReturn:
    code = 1
    try:
        if sock is not None:
            sock.close()
        for fd in pidfds:
            os.close(fd)
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
        for fd in set(fds):  # out and err are one fd for a terminal
            if fd > 2:
                os.close(fd)
        os.chdir(req["cwd"])
        code = run(req["argv"])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException as exc:  # as an exec'd launcher would die: say why, exit 1
        try:
            sys.stderr.write(f"launch: {type(exc).__name__}: {exc}\n")
        except Exception:
            pass
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    os._exit(code)


def _send(sock: socket.socket, msg: dict[str, Any]) -> None:
    try:
        sock.send(json.dumps(msg).encode())
    except OSError:  # the monitor is gone; its children finish regardless
        pass


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2 or args[0] != "--fd":
        sys.stderr.write("usage: forkserver --fd N\n")
        return 2
    sock = socket.socket(fileno=int(args[1]))
    try:
        return serve(sock)
    finally:
        sock.close()


__all__ = ["fork_launcher", "main", "serve"]
