"""`launch exec`: run a process inside a running container (runc exec's subset).

The base process is the container's config.json process (by ID), a
process.json (--process), or read from the target itself (/proc/PID: its
environment, user, groups, capability bounding set, rlimits, cwd); runc's
--env/--user/--cwd/--tty apply on top. The new process joins the target's
namespaces and cgroup and is started with the same go/sync protocol as `run`.
"""

from __future__ import annotations

import os

from stackctl.engine.runtime import _lean
from stackctl.engine.runtime import syscalls as sc
from stackctl.engine.runtime._parent import (
    LaunchError,
    fork_child,
    load_state,
    seccomp_program,
    starttime,
    terminal_channel,
    wait_forwarding,
    write_atomic,
)

TYPE_CHECKING = False  # no `typing` import at run time: launcher start-up cost
if TYPE_CHECKING:
    from typing import Any

    from stackctl.engine.runtime._args import Options

__all__ = ["cmd_exec", "process_of"]


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
    """runc exec's --env/--user/--cwd/--tty/--cap on top of the base process."""
    if opts.caps:  # as runc: into the bounding, effective and permitted sets
        caps = dict(process.get("capabilities") or {})
        for kind in ("bounding", "effective", "permitted"):
            have = list(caps.get(kind) or [])
            caps[kind] = have + [c for c in opts.caps if c not in have]
        process["capabilities"] = caps
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


def _seccomp_of(pid: int, state: dict[str, Any] | None) -> Any:
    """The policy an exec'd process gets: the container's (config.json by ID). By
    --pid alone: when the target runs under a seccomp filter, the default policy
    for its capability bounding set, which is what this launcher (and runc, over
    build_config's JSON) gave it; a filter cannot be read back without ptrace."""
    if state is not None:
        with open(os.path.join(state["bundle"], "config.json")) as f:
            return _lean.loads(f.read()).get("linux", {}).get("seccomp")
    status: dict[str, str] = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            status[key] = value.strip()
    if status.get("Seccomp") != "2":
        return None
    from stackctl.engine.runtime.caps import CAPABILITIES
    from stackctl.engine.runtime.seccomp import default_profile

    mask = int(status.get("CapBnd", "0"), 16)
    return default_profile(n for i, n in enumerate(CAPABILITIES) if mask >> i & 1)


def cmd_exec(opts: Options) -> int:
    pid = opts.pid
    state: dict[str, Any] | None = None
    if pid is None:
        if not opts.id:
            raise LaunchError("exec needs --pid PID or a container ID")
        state = load_state(opts.root, opts.id)
        pid = int(state["pid"])
    if starttime(pid) is None or (state and state.get("starttime") not in (None,
                                                                           starttime(pid))):
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
    _lean.trace("process ready")
    program = seccomp_program(_seccomp_of(pid, state))
    _lean.trace("seccomp compiled")
    terminal = bool(process.get("terminal"))
    sock, relay_end = (terminal_channel(opts.console_socket, detach=opts.detach)
                       if terminal else (None, None))
    ns = _target_namespaces(pid)
    dirs = _target_cgroup_dirs(pid)
    _lean.trace("target namespaces and cgroups found")
    if _frozen(dirs):
        raise LaunchError(f"cannot exec in a paused container (process {pid}): unpause it first")
    if "pid" in ns:
        from stackctl.engine.runtime.init import setns_path

        setns_path(ns.pop("pid"), "pid", sc.LinuxSyscalls())

    def child_main(sync_w: int, go_r: int) -> None:
        from stackctl.engine.runtime.init import exec_init

        exec_init(process, ns, sync_fd=sync_w, go_fd=go_r, console_sock=sock,
                  preserve_fds=opts.preserve_fds, seccomp=program)

    def join_cgroups(child_pid: int) -> None:
        for d in dirs:
            with open(os.path.join(d, "cgroup.procs"), "w") as f:
                f.write(str(child_pid))
        _lean.trace("child in cgroups")

    child = fork_child(child_main, join_cgroups, sock)
    _lean.trace(f"process {child} started")
    if opts.pid_file:
        write_atomic(opts.pid_file, str(child))
    if opts.detach:
        return 0
    return wait_forwarding(child, relay_end)
