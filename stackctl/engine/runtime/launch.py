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
ends O_CLOEXEC: `go` (parent -> child) and `sync` (child -> parent), which a
successful execve closes. The parent does its cgroup work while the child
imports its code, so neither waits for the other:

    parent (this process)                 child (container init / exec'd process)
    ---------------------                 ---------------------------------------
    mkdir state dir (ID must be new)
    connect to --console-socket
    unshare/setns PID namespace
    fork ------------------------------->  setsid; import the init code
    create cgroup + limits, write the      read(go) blocks
      child's pid to every cgroup.procs
    write(go, 1 byte) ----------------->   setns(paths) + unshare(new namespaces)
      (on failure: kill + reap child)      lo up; rootfs mounts; pivot_root
                                           hostname; pty -> console socket
                                           masked/readonly paths; rlimits; caps;
                                           user; no_new_privs; find executable
    read(sync) blocks  <------- EOF ----   execve succeeded            (started)
                       <-- {"error","code"}  any failure; child exits with code
    EOF:   write --pid-file + state; detach -> exit 0, else wait & exit status
    error: reap child, remove cgroup + state, print error, exit with its code

Stdlib only (no anyio/pydantic): its start-up time is on every `run`'s path.
"""

from __future__ import annotations

import os
import sys
import time

from stackctl.engine.runtime import _lean
from stackctl.engine.runtime import syscalls as sc
from stackctl.engine.runtime._lean import suppress

TYPE_CHECKING = False  # no `typing` import at run time: launcher start-up cost
if TYPE_CHECKING:
    import socket
    from collections.abc import Sequence
    from typing import Any

DEFAULT_STATE_ROOT = "/run/stackctl/launch"
_FORWARDED = tuple(_lean.SIGNALS[n] for n in ("SIGTERM", "SIGINT", "SIGHUP", "SIGQUIT",
                                               "SIGUSR1", "SIGUSR2", "SIGWINCH", "SIGCONT"))
_SIGKILL = 9


def launcher_argv(python: str | None = None) -> list[str]:
    """The command that runs this launcher fastest: `python -S` skips site (and the
    venv's .pth import hooks, ~20 ms here); the package is found by path instead.
    Append runc-style arguments: `[*launcher_argv(), "run", "--bundle", B, ID]`."""
    pkg_parent = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__)))))
    code = (f"import sys; sys.path.insert(0, {pkg_parent!r}); "
            "from stackctl.engine.runtime.launch import main; sys.exit(main())")
    return [python or sys.executable, "-S", "-c", code]


class LaunchError(Exception):
    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def _write_atomic(path: str, text: str) -> None:
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def _starttime(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    if fields[0] in ("Z", "X"):
        return None  # a zombie has stopped running
    return int(fields[19])


def _cgroup(path: str | None) -> Any:
    if not path:
        return None
    from stackctl.engine.runtime.cgroups import Cgroup

    return Cgroup(path)


def _await_start(pid: int, sync_r: int) -> None:
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


def _wait_forwarding(pid: int, terminal: socket.socket | None = None) -> int:
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


def _console_socket(path: str) -> socket.socket:
    from stackctl.engine.runtime.console import connect

    try:
        return connect(path)
    except OSError as exc:
        raise LaunchError(f"--console-socket {path}: {exc.strerror}") from exc


def _terminal_channel(path: str | None, *, detach: bool
                      ) -> tuple[socket.socket | None, socket.socket | None]:
    """(socket for the child, our end to relay from). With --console-socket the
    receiver is whoever listens there; attached without one, it is us."""
    if path:
        return _console_socket(path), None
    if detach:
        raise LaunchError("cannot allocate a tty for a detached process without "
                          "--console-socket")
    import socket as socket_mod

    ours, theirs = socket_mod.socketpair(socket_mod.AF_UNIX, socket_mod.SOCK_STREAM)
    return theirs, ours


def cmd_run(opts: Options) -> int:
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
        cg = _cgroup(linux.get("cgroupsPath"))
        sock, relay_end = (_terminal_channel(opts.console_socket, detach=opts.detach)
                           if terminal else (None, None))
        pid = _spawn(config, rootfs, cg, sock, opts.preserve_fds)
    except BaseException:
        if cg is not None:
            cg.remove(timeout=2.0)
        _rmtree(state_dir)
        raise
    state = {"ociVersion": config.get("ociVersion", "1.0.2"), "id": opts.id, "pid": pid,
             "starttime": _starttime(pid), "bundle": bundle, "created": time.time(),
             "cgroupsPath": linux.get("cgroupsPath")}
    _write_atomic(os.path.join(state_dir, "state.json"), _lean.dumps(state))
    if opts.pid_file:
        _write_atomic(opts.pid_file, str(pid))
    if opts.detach:
        return 0
    try:
        return _wait_forwarding(pid, relay_end)
    finally:
        _destroy(opts.id, opts.root, state, force=True)


def _fork(child_main: Any, cgroup_setup: Any, sock: socket.socket | None) -> int:
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
        os.write(go_w, b"g")
    except BaseException:
        os.close(go_w)
        with suppress(ProcessLookupError):
            os.kill(pid, _SIGKILL)
        os.waitpid(pid, 0)
        os.close(sync_r)
        raise
    os.close(go_w)
    _await_start(pid, sync_r)
    return pid


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

    def child(sync_w: int, go_r: int) -> None:
        from stackctl.engine.runtime.init import run_init

        run_init(config, rootfs, sync_fd=sync_w, go_fd=go_r, console_sock=sock,
                 preserve_fds=preserve_fds)

    def setup(pid: int) -> None:
        if cg is not None:
            cg.create(linux.get("resources"))
            cg.add(pid)

    return _fork(child, setup, sock)


def _target_namespaces(pid: int) -> dict[str, str]:
    """The namespaces of `pid` that differ from ours (joining our own is pointless)."""
    out = {}
    for kind, name in sc.NAMESPACE_FILES.items():
        if kind == "user":
            continue
        theirs = f"/proc/{pid}/ns/{name}"
        try:
            if os.stat(theirs).st_ino != os.stat(f"/proc/self/ns/{name}").st_ino:
                out[kind] = theirs
        except OSError:
            continue
    return out


def _target_cgroup_dirs(pid: int) -> list[str]:
    from stackctl.engine.runtime.cgroups import detect

    hierarchies = detect()
    dirs = []
    with open(f"/proc/{pid}/cgroup") as f:
        for line in f:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            for h in hierarchies:
                names = set(controllers.split(",")) - {""}
                match = (h.version == 2 and not controllers) or (
                    h.version == 1 and (names == set(h.controllers)
                                        or names == {f"name={h.name}"}))
                if match:
                    d = os.path.join(h.mountpoint, path.lstrip("/"))
                    if os.path.isdir(d):
                        dirs.append(d)
    return dirs


def _frozen(dirs: list[str]) -> bool:
    """Whether the cgroup is frozen (a process joining it would hang)."""
    for d in dirs:
        for name, frozen in (("freezer.state", "FROZEN"), ("cgroup.events", "frozen 1")):
            try:
                with open(os.path.join(d, name)) as f:
                    if frozen in f.read():
                        return True
            except OSError:
                continue
    return False


def cmd_exec(opts: Options) -> int:
    pid = opts.pid
    state: dict[str, Any] | None = None
    if pid is None:
        if not opts.id:
            raise LaunchError("exec needs --pid PID or a container ID")
        state = _load_state(opts.root, opts.id)
        pid = int(state["pid"])
    if _starttime(pid) is None or (state and state.get("starttime") not in (None,
                                                                           _starttime(pid))):
        raise LaunchError(f"cannot exec: container process {pid} is not running")
    if opts.process:
        with open(opts.process) as f:
            process = _lean.loads(f.read())
    elif opts.args:
        if state is not None:
            with open(os.path.join(state["bundle"], "config.json")) as f:
                process = _lean.loads(f.read())["process"]
        else:
            process = process_of(pid)
        process["args"] = list(opts.args)
        process["terminal"] = bool(opts.tty)
    else:
        raise LaunchError("exec needs --process process.json or a command")
    _apply_exec_options(process, opts, pid)
    terminal = bool(process.get("terminal"))
    sock, relay_end = (_terminal_channel(opts.console_socket, detach=opts.detach)
                       if terminal else (None, None))
    ns = _target_namespaces(pid)
    dirs = _target_cgroup_dirs(pid)
    if _frozen(dirs):
        raise LaunchError(f"cannot exec in a paused container (process {pid}): unpause it first")
    if "pid" in ns:
        from stackctl.engine.runtime.init import setns_path

        setns_path(ns.pop("pid"), "pid", sc.LinuxSyscalls())

    def child_main(sync_w: int, go_r: int) -> None:
        from stackctl.engine.runtime.init import exec_init

        exec_init(process, ns, sync_fd=sync_w, go_fd=go_r, console_sock=sock,
                  preserve_fds=opts.preserve_fds)

    def join_cgroups(child_pid: int) -> None:
        for d in dirs:
            with open(os.path.join(d, "cgroup.procs"), "w") as f:
                f.write(str(child_pid))

    child = _fork(child_main, join_cgroups, sock)
    if opts.pid_file:
        _write_atomic(opts.pid_file, str(child))
    if opts.detach:
        return 0
    return _wait_forwarding(child, relay_end)


_LIMIT_NAMES = {
    "Max cpu time": "RLIMIT_CPU", "Max file size": "RLIMIT_FSIZE",
    "Max data size": "RLIMIT_DATA", "Max stack size": "RLIMIT_STACK",
    "Max core file size": "RLIMIT_CORE", "Max resident set": "RLIMIT_RSS",
    "Max processes": "RLIMIT_NPROC", "Max open files": "RLIMIT_NOFILE",
    "Max locked memory": "RLIMIT_MEMLOCK", "Max address space": "RLIMIT_AS",
    "Max file locks": "RLIMIT_LOCKS", "Max pending signals": "RLIMIT_SIGPENDING",
    "Max msgqueue size": "RLIMIT_MSGQUEUE", "Max nice priority": "RLIMIT_NICE",
    "Max realtime priority": "RLIMIT_RTPRIO", "Max realtime timeout": "RLIMIT_RTTIME",
}


def process_of(pid: int) -> dict[str, Any]:
    """An OCI process object like the one running as `pid` (its environment, user,
    groups, capability bounding set, rlimits, no_new_privs, cwd): the base for
    `exec --pid PID ARGS...` without a process.json, as `runc exec` uses config.json."""
    from stackctl.engine.runtime.caps import CAPABILITIES

    with open(f"/proc/{pid}/environ", "rb") as f:
        env = [e.decode(errors="replace") for e in f.read().split(b"\0") if e]
    status: dict[str, str] = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            status[key] = value.strip()
    mask = int(status.get("CapBnd", "0"), 16)
    caps = [name for i, name in enumerate(CAPABILITIES) if mask >> i & 1]
    rlimits = []
    with open(f"/proc/{pid}/limits") as f:
        for line in f.readlines()[1:]:
            name = line[:26].strip()
            fields = line[26:].split()
            if name in _LIMIT_NAMES and len(fields) >= 2:
                soft, hard = (2**64 - 1 if v == "unlimited" else int(v) for v in fields[:2])
                rlimits.append({"type": _LIMIT_NAMES[name], "soft": soft, "hard": hard})
    try:
        cwd = os.readlink(f"/proc/{pid}/cwd")
    except OSError:
        cwd = "/"
    groups = [int(g) for g in status.get("Groups", "").split()]
    return {
        "terminal": False,
        "user": {"uid": int(status["Uid"].split()[0]), "gid": int(status["Gid"].split()[0]),
                 "additionalGids": groups},
        "args": [], "env": env, "cwd": cwd if cwd.startswith("/") else "/",
        "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
        "rlimits": rlimits,
        "noNewPrivileges": status.get("NoNewPrivs", "0") == "1",
    }


def _apply_exec_options(process: dict[str, Any], opts: Options, pid: int) -> None:
    """runc exec's --env/--user/--cwd/--tty on top of the base process."""
    if opts.tty:
        process["terminal"] = True
    if opts.cwd:
        process["cwd"] = opts.cwd
    if opts.env:
        env = list(process.get("env") or [])
        for item in opts.env:
            key = item.split("=", 1)[0]
            env = [e for e in env if e.split("=", 1)[0] != key]
            env.append(item)
        process["env"] = env
    if opts.user:
        from stackctl.engine.runtime.users import resolve_user
        from stackctl.errors import StackctlError

        try:
            # The container's own /etc/passwd, seen through its root.
            user = resolve_user(f"/proc/{pid}/root", opts.user)
        except StackctlError as exc:
            raise LaunchError(str(exc), 126) from None
        process["user"] = {**(process.get("user") or {}), "uid": user.uid, "gid": user.gid,
                           "additionalGids": list(user.additional_gids)}
        env = [e for e in process.get("env") or [] if not e.startswith("HOME=")]
        process["env"] = [*env, f"HOME={user.home}"]


def _load_state(root: str, cid: str) -> dict[str, Any]:
    try:
        with open(os.path.join(root, cid, "state.json")) as f:
            data: dict[str, Any] = _lean.loads(f.read())
            return data
    except FileNotFoundError:
        raise LaunchError(f"container {cid} does not exist") from None


def _running(state: dict[str, Any]) -> bool:
    st = _starttime(int(state["pid"]))
    return st is not None and st == state.get("starttime")


def _destroy(cid: str, root: str, state: dict[str, Any], *, force: bool) -> None:
    cg = _cgroup(state.get("cgroupsPath"))
    if _running(state):
        if not force:
            raise LaunchError(f"cannot delete container {cid} that is not stopped",
                              ) from None
        if cg is None:
            with suppress(ProcessLookupError):
                os.kill(int(state["pid"]), _SIGKILL)
    if cg is not None:
        cg.kill_all(_SIGKILL)
        cg.remove()
    _rmtree(os.path.join(root, cid))


def cmd_state(opts: Options) -> int:
    state = _load_state(opts.root, opts.id)
    out = {"ociVersion": state.get("ociVersion"), "id": opts.id,
           "status": "running" if _running(state) else "stopped", "pid": state["pid"],
           "bundle": state["bundle"], "created": state["created"]}
    print(_lean.dumps(out))
    return 0


def cmd_kill(opts: Options) -> int:
    state = _load_state(opts.root, opts.id)
    try:
        sig = _lean.signal_number(opts.signal)
    except KeyError:
        raise LaunchError(f"unknown signal {opts.signal}") from None
    if not _running(state):
        raise LaunchError(f"container {opts.id} is not running")
    if opts.all and (cg := _cgroup(state.get("cgroupsPath"))) is not None:
        cg.kill_all(sig)
    else:
        os.kill(int(state["pid"]), sig)
    return 0


def cmd_delete(opts: Options) -> int:
    try:
        state = _load_state(opts.root, opts.id)
    except LaunchError:
        if opts.force:
            return 0
        raise
    _destroy(opts.id, opts.root, state, force=opts.force)
    return 0


class Options:
    """Parsed command line (argparse would cost ~5 ms of start-up per container)."""

    def __init__(self) -> None:
        self.root = DEFAULT_STATE_ROOT
        self.command = ""
        self.bundle = "."
        self.pid_file: str | None = None
        self.detach = False
        self.console_socket: str | None = None
        self.preserve_fds = 0
        self.pid: int | None = None
        self.process: str | None = None
        self.tty = False
        self.all = False
        self.force = False
        self.id = ""
        self.signal = "SIGTERM"
        self.args: list[str] = []
        self.env: list[str] = []
        self.user: str | None = None
        self.cwd: str | None = None


_VALUED = {"--root": "root", "--bundle": "bundle", "-b": "bundle", "--pid-file": "pid_file",
           "--console-socket": "console_socket", "--preserve-fds": "preserve_fds",
           "--pid": "pid", "--process": "process", "-p": "process", "--log": "",
           "--log-format": "", "--env": "env", "-e": "env", "--user": "user", "-u": "user",
           "--cwd": "cwd"}
_FLAGGED = {"--detach": "detach", "-d": "detach", "--tty": "tty", "-t": "tty",
            "--all": "all", "-a": "all", "--force": "force", "-f": "force", "--debug": ""}
_POSITIONAL = {"run": ("id",), "exec": ("id",), "state": ("id",), "kill": ("id", "signal"),
               "delete": ("id",)}
USAGE = __doc__.split("\n\n")[1] if __doc__ else ""


def parse_args(argv: Sequence[str]) -> Options:
    """runc's syntax: global options, a command, its options, its positionals.
    For `exec ID ARGS...`, everything after the ID is the command."""
    opts = Options()
    rest = list(argv)
    positional: list[str] = []
    while rest:
        arg = rest.pop(0)
        name, eq, inline = arg.partition("=")
        if arg == "--":
            if opts.command == "exec":
                if not positional and opts.pid is None and rest:
                    positional.append(rest.pop(0))
                opts.args = rest
            break
        if opts.command == "exec" and (positional or opts.pid is not None) and (
                not arg.startswith("-") or arg == "-"):
            opts.args = [arg, *rest]  # the command starts after the ID (or --pid N)
            break
        if name in _VALUED:
            if eq:
                value = inline
            elif rest:
                value = rest.pop(0)
            else:
                raise LaunchError(f"option {name} needs a value", 2)
            attr = _VALUED[name]
            if attr in ("preserve_fds", "pid"):
                if not value.isdigit():
                    raise LaunchError(f"option {name} needs a number, not {value!r}", 2)
                setattr(opts, attr, int(value))
            elif attr == "env":
                opts.env.append(value)
            elif attr:
                setattr(opts, attr, value)
        elif arg in _FLAGGED:
            if _FLAGGED[arg]:
                setattr(opts, _FLAGGED[arg], True)
        elif arg.startswith("-") and arg != "-":
            raise LaunchError(f"unknown option {arg}\n{USAGE}", 2)
        elif not opts.command:
            if arg not in _POSITIONAL:
                raise LaunchError(f"unknown command {arg!r}\n{USAGE}", 2)
            opts.command = arg
        else:
            positional.append(arg)
    if not opts.command:
        raise LaunchError(f"no command given\n{USAGE}", 2)
    names = _POSITIONAL[opts.command]
    if len(positional) > len(names):
        raise LaunchError(f"{opts.command}: unexpected argument {positional[len(names)]!r}", 2)
    for attr, value in zip(names, positional, strict=False):
        setattr(opts, attr, value)
    if not opts.id and not (opts.command == "exec" and opts.pid is not None):
        raise LaunchError(f"{opts.command}: missing container ID", 2)
    return opts


def _rmtree(path: str) -> None:
    """The state directory holds only flat files."""
    with suppress(FileNotFoundError):
        for name in os.listdir(path):
            with suppress(FileNotFoundError):
                os.unlink(os.path.join(path, name))
        os.rmdir(path)


_COMMANDS = {"run": cmd_run, "exec": cmd_exec, "state": cmd_state, "kill": cmd_kill,
             "delete": cmd_delete}


def main(argv: Sequence[str] | None = None) -> int:
    try:
        opts = parse_args(sys.argv[1:] if argv is None else argv)
    except LaunchError as exc:
        print(f"launch: {exc}", file=sys.stderr)
        return exc.code
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
