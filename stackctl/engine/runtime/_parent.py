"""The parent side shared by `launch run` and `launch exec`: fork with the go/sync
pipes (the protocol table is in launch.py), waiting, terminals, state files.
"""

from __future__ import annotations

import os

from stackctl.engine.runtime import _lean
from stackctl.engine.runtime._lean import suppress

TYPE_CHECKING = False  # no `typing` import at run time: launcher start-up cost
if TYPE_CHECKING:
    import socket
    from typing import Any

__all__ = [
    "SIGKILL",
    "LaunchError",
    "await_start",
    "cgroup_at",
    "console_socket",
    "fork_child",
    "load_state",
    "rmtree",
    "running",
    "seccomp_program",
    "starttime",
    "terminal_channel",
    "wait_forwarding",
    "write_atomic",
]

_FORWARDED = tuple(_lean.SIGNALS[n] for n in ("SIGTERM", "SIGINT", "SIGHUP", "SIGQUIT",
                                               "SIGUSR1", "SIGUSR2", "SIGWINCH", "SIGCONT"))
SIGKILL = 9


class LaunchError(Exception):
    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def write_atomic(path: str, text: str) -> None:
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def starttime(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    if fields[0] in ("Z", "X"):
        return None  # a zombie has stopped running
    return int(fields[19])


def cgroup_at(path: str | None) -> Any:
    if not path:
        return None
    from stackctl.engine.runtime.cgroups import Cgroup

    return Cgroup(path)


def await_start(pid: int, sync_r: int) -> None:
    """Block until the child exec'd (EOF) or reported an error (JSON line)."""
    chunks = []
    while chunk := os.read(sync_r, 65536):
        chunks.append(chunk)
    os.close(sync_r)
    if chunks:
        os.waitpid(pid, 0)
        try:
            err = _lean.loads(b"".join(chunks))
        except ValueError:
            err = {"error": b"".join(chunks).decode(errors="replace"), "code": 1}
        raise LaunchError(err.get("error", "container start failed"), int(err.get("code", 1)))


def wait_forwarding(pid: int, terminal: socket.socket | None = None) -> int:
    """Wait for the container, passing our signals on, as `runc run` does. With
    `terminal` (our end of the channel the child sent its pty master over), relay
    our stdio to that pty until it closes."""
    def forward(signum: int, _frame: object) -> None:
        with suppress(ProcessLookupError):
            os.kill(pid, signum)

    for s in _FORWARDED:
        _lean.set_handler(s, forward)
    if terminal is not None:
        from stackctl.engine.runtime.console import recv_master, relay

        try:
            master, _ = recv_master(terminal)
        except OSError:
            master = -1
        terminal.close()
        if master >= 0:
            relay(master)
            os.close(master)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


def console_socket(path: str) -> socket.socket:
    from stackctl.engine.runtime.console import connect

    try:
        return connect(path)
    except OSError as exc:
        raise LaunchError(f"--console-socket {path}: {exc.strerror}") from exc


def terminal_channel(path: str | None, *, detach: bool
                      ) -> tuple[socket.socket | None, socket.socket | None]:
    """(socket for the child, our end to relay from). With --console-socket the
    receiver is whoever listens there; attached without one, it is us."""
    if path:
        return console_socket(path), None
    if detach:
        raise LaunchError("cannot allocate a tty for a detached process without "
                          "--console-socket")
    import socket as socket_mod

    ours, theirs = socket_mod.socketpair(socket_mod.AF_UNIX, socket_mod.SOCK_STREAM)
    return theirs, ours


def fork_child(child_main: Any, cgroup_setup: Any, sock: socket.socket | None) -> int:
    """Fork; run `cgroup_setup(pid)` here while the child starts, release it, and
    wait until it exec'd (see the protocol table). Returns the child's pid."""
    sync_r, sync_w = os.pipe2(os.O_CLOEXEC)
    go_r, go_w = os.pipe2(os.O_CLOEXEC)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child never returns
        os.close(sync_r)
        os.close(go_w)
        child_main(sync_w, go_r)
        os._exit(1)
    os.close(sync_w)
    os.close(go_r)
    if sock is not None:
        sock.close()
    try:
        cgroup_setup(pid)
        try:
            os.write(go_w, b"g")
        except BrokenPipeError:
            pass  # the child failed first: its error is waiting on the sync pipe
    except BaseException:
        os.close(go_w)
        with suppress(ProcessLookupError):
            os.kill(pid, SIGKILL)
        os.waitpid(pid, 0)
        os.close(sync_r)
        raise
    os.close(go_w)
    await_start(pid, sync_r)
    return pid


def load_state(root: str, cid: str) -> dict[str, Any]:
    try:
        with open(os.path.join(root, cid, "state.json")) as f:
            data: dict[str, Any] = _lean.loads(f.read())
            return data
    except FileNotFoundError:
        raise LaunchError(f"container {cid} does not exist") from None


def running(state: dict[str, Any]) -> bool:
    st = starttime(int(state["pid"]))
    return st is not None and st == state.get("starttime")


def rmtree(path: str) -> None:
    """The state directory holds only flat files."""
    with suppress(FileNotFoundError):
        for name in os.listdir(path):
            with suppress(FileNotFoundError):
                os.unlink(os.path.join(path, name))
        os.rmdir(path)


def seccomp_program(profile: Any) -> bytes | None:
    """Compile config.json's linux.seccomp here, before fork: a bad profile is a
    clear error of the launcher, not of the container."""
    if not profile:
        return None
    from stackctl.engine.runtime.seccomp import compile_filter

    try:
        return compile_filter(profile, os.uname().machine)
    except (ValueError, KeyError, TypeError) as exc:
        raise LaunchError(f"linux.seccomp: {exc}") from exc
