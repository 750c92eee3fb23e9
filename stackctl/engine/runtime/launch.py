"""The built-in OCI runtime: a runc-compatible subset of commands.

    python -m stackctl.engine.runtime.launch [--root DIR] run --bundle DIR
        [--pid-file FILE] [--detach] [--console-socket SOCK] [--preserve-fds N] ID
    ... exec (--pid PID | ID) (--process process.json | [--] ARGS...) [--detach]
        [--tty] [--env K=V]... [--user U[:G]] [--cwd DIR]
        [--pid-file FILE] [--console-socket SOCK] [--preserve-fds N]
    ... state ID | kill [--all] ID [SIGNAL] | delete [--force] ID

Exit status: `run`/`exec` without --detach exit with the container process's
status (128+N when killed by signal N); 127 when the command is not found and
126 when it cannot be invoked (message on stderr, e.g. `exec: "foo":
executable file not found in $PATH`); 1 for any other failure. With --detach
they return 0 once the process has exec'd; the caller (a subreaper such as
the monitor) reaps it. State lives in `--root` (default /run/stackctl/launch),
one directory per container, removed by `delete` (or at the end of an
attached `run`, as `runc run` does).

Parent <-> child protocol (cf. runc's libcontainer/sync.go). Two pipes, all
ends O_CLOEXEC: `go` (parent -> child, one byte) and `sync` (child -> parent),
which a successful execve closes. The parent's cgroup work (slow on cgroup v1:
one migration per hierarchy) runs while the child builds its namespaces and
root; only the cgroup namespace has to wait, since it is rooted at whatever
cgroup the process is in when it is created:

    parent (this process)                 child (container init)
    ---------------------                 ----------------------
    mkdir state dir (ID must be new)
    connect to --console-socket
    unshare/setns PID namespace
    fork ------------------------------->  setsid
    create cgroup + limits                 setns(paths) + unshare(new namespaces
    write the child's pid to every           except cgroup); lo up
      hierarchy's cgroup.procs             rootfs mounts; devices; pivot_root;
                                           hostname; pty -> console socket;
                                           masked/readonly paths; read-only root
    write(go, 1 byte) ----------------->   read(go): now in its cgroup
      (on failure: kill + reap child)      unshare(CLONE_NEWCGROUP); cgroup mounts
                                           rlimits; caps; user; no_new_privs;
                                           find the executable
    read(sync) blocks  <------- EOF ----   execve succeeded            (started)
                       <-- {"error","code"}  any failure; child exits with code
    EOF:   write --pid-file + state; detach -> exit 0, else wait & exit status
    error: reap child, remove cgroup + state, print error, exit with its code

`exec` is the same with setns into the target's namespaces (mount last) in
place of the root filesystem work, and the target's cgroups.

Stdlib only (no anyio/pydantic): its start-up time is on every `run`'s path.
"""

from __future__ import annotations

import os
import sys
import time

from stackctl.engine.runtime import _lean
from stackctl.engine.runtime import syscalls as sc
from stackctl.engine.runtime._args import DEFAULT_STATE_ROOT, Options, parse_args
from stackctl.engine.runtime._lean import suppress
from stackctl.engine.runtime._parent import (
    SIGKILL,
    LaunchError,
    cgroup_at,
    fork_child,
    load_state,
    rmtree,
    running,
    seccomp_program,
    starttime,
    terminal_channel,
    wait_forwarding,
    write_atomic,
)

TYPE_CHECKING = False  # no `typing` import at run time: launcher start-up cost
if TYPE_CHECKING:
    import socket
    from collections.abc import Sequence
    from typing import Any

__all__ = ["DEFAULT_STATE_ROOT", "LaunchError", "Options", "launcher_argv", "main", "parse_args"]


def launcher_argv(python: str | None = None) -> list[str]:
    """The command that runs this launcher fastest: `python -S` skips site (and the
    venv's .pth import hooks, ~20 ms here); the package is found by path instead.
    Append runc-style arguments: `[*launcher_argv(), "run", "--bundle", B, ID]`."""
    pkg_parent = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__)))))
    code = (f"import sys; sys.path.insert(0, {pkg_parent!r}); "
            "from stackctl.engine.runtime.launch import main; sys.exit(main())")
    return [python or sys.executable, "-S", "-c", code]


def cmd_run(opts: Options) -> int:
    _lean.trace("run")
    bundle = os.path.abspath(opts.bundle)
    try:
        with open(os.path.join(bundle, "config.json")) as f:
            config = _lean.loads(f.read())
    except (OSError, ValueError) as exc:
        raise LaunchError(f"{bundle}/config.json: {exc}") from exc
    if "process" not in config or "root" not in config:
        raise LaunchError(f"{bundle}/config.json: needs 'process' and 'root'")
    rootfs = os.path.join(bundle, config["root"]["path"])
    if not os.path.isdir(rootfs):
        raise LaunchError(f"rootfs {rootfs} does not exist")
    terminal = bool(config["process"].get("terminal"))
    state_dir = os.path.join(opts.root, opts.id)
    os.makedirs(opts.root, exist_ok=True)
    try:
        os.mkdir(state_dir, 0o700)
    except FileExistsError:
        raise LaunchError(f"container with id {opts.id} exists already") from None
    linux = config.get("linux", {})
    cg = None
    try:
        cg = cgroup_at(linux.get("cgroupsPath"))
        sock, relay_end = (terminal_channel(opts.console_socket, detach=opts.detach)
                           if terminal else (None, None))
        pid = _spawn(config, rootfs, cg, sock, opts.preserve_fds)
        _lean.trace(f"container process {pid} started")
    except BaseException:
        if cg is not None:
            cg.remove(timeout=2.0)
        rmtree(state_dir)
        raise
    state = {"ociVersion": config.get("ociVersion", "1.0.2"), "id": opts.id, "pid": pid,
             "starttime": starttime(pid), "bundle": bundle, "created": time.time(),
             "cgroupsPath": linux.get("cgroupsPath")}
    try:
        write_atomic(os.path.join(state_dir, "state.json"), _lean.dumps(state))
        if opts.pid_file:
            write_atomic(opts.pid_file, str(pid))
    except OSError as exc:
        # Nobody could find or stop the container: take it down again.
        with suppress(ProcessLookupError):
            os.kill(pid, SIGKILL)
        os.waitpid(pid, 0)
        _destroy(opts.id, opts.root, state, force=True)
        raise LaunchError(f"cannot record the container: {exc}") from exc
    if opts.detach:
        return 0
    try:
        return wait_forwarding(pid, relay_end)
    finally:
        _destroy(opts.id, opts.root, state, force=True)


def _spawn(config: dict[str, Any], rootfs: str, cg: Any, sock: socket.socket | None,
           preserve_fds: int) -> int:
    syscalls = sc.LinuxSyscalls()
    linux = config.get("linux", {})
    pidns = next((n for n in linux.get("namespaces", []) if n.get("type") == "pid"), None)
    if pidns is not None:
        if pidns.get("path"):
            from stackctl.engine.runtime.init import setns_path

            setns_path(pidns["path"], "pid", syscalls)
        else:
            syscalls.unshare(sc.CLONE_NEWPID)

    program = seccomp_program(linux.get("seccomp"))

    def child(sync_w: int, go_r: int) -> None:
        from stackctl.engine.runtime.init import run_init

        run_init(config, rootfs, sync_fd=sync_w, go_fd=go_r, console_sock=sock,
                 preserve_fds=preserve_fds, seccomp=program)

    def setup(pid: int) -> None:
        if cg is not None:
            cg.create(linux.get("resources"))
            _lean.trace("cgroup created")
            cg.add(pid)
            _lean.trace("child in cgroup")

    return fork_child(child, setup, sock)


def _destroy(cid: str, root: str, state: dict[str, Any], *, force: bool) -> None:
    cg = cgroup_at(state.get("cgroupsPath"))
    if running(state):
        if not force:
            raise LaunchError(f"cannot delete container {cid} that is not stopped",
                              ) from None
        if cg is None:
            with suppress(ProcessLookupError):
                os.kill(int(state["pid"]), SIGKILL)
    if cg is not None:
        cg.kill_all(SIGKILL)
        cg.remove()
    rmtree(os.path.join(root, cid))


def cmd_state(opts: Options) -> int:
    state = load_state(opts.root, opts.id)
    out = {"ociVersion": state.get("ociVersion"), "id": opts.id,
           "status": "running" if running(state) else "stopped", "pid": state["pid"],
           "bundle": state["bundle"], "created": state["created"]}
    print(_lean.dumps(out))
    return 0


def cmd_kill(opts: Options) -> int:
    state = load_state(opts.root, opts.id)
    try:
        sig = _lean.signal_number(opts.signal)
    except KeyError:
        raise LaunchError(f"unknown signal {opts.signal}") from None
    if not running(state):
        raise LaunchError(f"container {opts.id} is not running")
    if opts.all and (cg := cgroup_at(state.get("cgroupsPath"))) is not None:
        cg.kill_all(sig)
    else:
        os.kill(int(state["pid"]), sig)
    return 0


def cmd_delete(opts: Options) -> int:
    try:
        state = load_state(opts.root, opts.id)
    except LaunchError:
        if opts.force:
            return 0
        raise
    _destroy(opts.id, opts.root, state, force=opts.force)
    return 0


def cmd_exec(opts: Options) -> int:
    from stackctl.engine.runtime._exec import cmd_exec as run_exec

    return run_exec(opts)


_COMMANDS = {"run": cmd_run, "exec": cmd_exec, "state": cmd_state, "kill": cmd_kill,
             "delete": cmd_delete}


def main(argv: Sequence[str] | None = None) -> int:
    try:
        opts = parse_args(sys.argv[1:] if argv is None else argv)
    except LaunchError as exc:
        print(f"launch: {exc}", file=sys.stderr)
        return exc.code
    if opts.debug:
        _lean.enable_trace()
        _lean.trace(f"{opts.command} {opts.id}: imports done")
    try:
        return _COMMANDS[opts.command](opts)
    except LaunchError as exc:
        print(f"launch {opts.command}: {exc}", file=sys.stderr)
        return exc.code
    except OSError as exc:
        print(f"launch {opts.command}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
