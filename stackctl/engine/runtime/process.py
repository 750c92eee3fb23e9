"""The last steps before execve, shared by `launch run` and `launch exec`.

Order matters and is runc's (finalizeNamespace + standard init):
  rlimits, oom_score_adj -> seccomp filter -> drop the capability bounding set -> keep caps across
  setuid -> setgroups/setgid/setuid -> capset (effective/permitted/inheritable)
  -> ambient -> cwd, umask -> no_new_privs -> find the executable -> execve.
Failures that Docker reports with a dedicated exit code raise `StartError`
with 127 (not found) or 126 (cannot be invoked); the caller sends it to the
parent over the sync pipe before exiting, so the user sees the reason.
"""

from __future__ import annotations

import errno
import os
import resource
import stat

from stackctl.engine.runtime import syscalls as sc
from stackctl.engine.runtime._lean import suppress
from stackctl.engine.runtime.caps import CAP_NUMBERS, RLIMIT_NUMBERS, caps_mask
from stackctl.timeline import mark

TYPE_CHECKING = False  # no `typing` import at run time: launcher start-up cost
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import Any

__all__ = ["StartError", "apply_and_exec", "become", "execute", "lookup"]


class StartError(Exception):
    """A failure to report to the parent: `code` is the exit status to use."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def _why(exc: OSError) -> str:
    return (exc.strerror or str(exc)).lower()


def _last_cap() -> int:
    try:
        with open("/proc/sys/kernel/cap_last_cap") as f:
            return int(f.read())
    except (OSError, ValueError):
        return max(CAP_NUMBERS.values())


def apply_rlimits(rlimits: Sequence[Mapping[str, Any]]) -> None:
    for r in rlimits:
        number = RLIMIT_NUMBERS.get(r["type"])
        if number is None:
            raise StartError(f"unknown rlimit {r['type']}")

        def conv(v: int) -> int:
            return resource.RLIM_INFINITY if v >= 2**63 or v < 0 else v

        try:
            resource.setrlimit(number, (conv(r["soft"]), conv(r["hard"])))
        except (ValueError, OSError) as exc:
            raise StartError(f"setrlimit {r['type']} {r['soft']}:{r['hard']}: {exc}") from exc


def apply_capabilities_and_user(process: Mapping[str, Any], sys: sc.LinuxSyscalls) -> None:
    caps = process.get("capabilities") or {}
    user = process.get("user") or {}
    bounding = caps_mask(caps.get("bounding", []))
    for number in range(_last_cap() + 1):
        if not bounding >> number & 1:
            try:
                sys.prctl(sc.PR_CAPBSET_DROP, number)
            except OSError as exc:
                if exc.errno != errno.EINVAL:  # unknown to this kernel
                    raise
    uid, gid = int(user.get("uid", 0)), int(user.get("gid", 0))
    sys.prctl(sc.PR_SET_KEEPCAPS, 1)
    os.setgroups([int(g) for g in user.get("additionalGids", [])])
    os.setgid(gid)
    os.setuid(uid)
    sys.prctl(sc.PR_SET_KEEPCAPS, 0)
    permitted = caps_mask(caps.get("permitted", []))
    effective = caps_mask(caps.get("effective", [])) & permitted
    inheritable = caps_mask(caps.get("inheritable", []))
    sys.capset(effective, permitted, inheritable)
    for name in caps.get("ambient", []):
        ambient = CAP_NUMBERS.get(name)
        if ambient is not None:
            sys.prctl(sc.PR_CAP_AMBIENT, sc.PR_CAP_AMBIENT_RAISE, ambient)


def _env_path(env: Sequence[str]) -> str:
    for e in env:
        if e.startswith("PATH="):
            return e[5:]
    return "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def lookup(arg0: str, env: Sequence[str]) -> str:
    """Go's exec.LookPath with Docker's messages and exit codes."""
    if "/" in arg0:
        try:
            st = os.stat(arg0)
        except OSError as exc:
            raise StartError(f'exec: "{arg0}": stat {arg0}: {_why(exc)}',
                             127 if exc.errno in (errno.ENOENT, errno.ENOTDIR) else 126
                             ) from exc
        if stat.S_ISDIR(st.st_mode) or not os.access(arg0, os.X_OK):
            raise StartError(f'exec: "{arg0}": permission denied', 126)
        return arg0
    denied = False
    for d in _env_path(env).split(":"):
        cand = os.path.join(d or ".", arg0)
        try:
            st = os.stat(cand)
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode) and os.access(cand, os.X_OK):
            return cand
        denied = True
    if denied:
        raise StartError(f'exec: "{arg0}": permission denied', 126)
    raise StartError(f'exec: "{arg0}": executable file not found in $PATH', 127)


def close_fds(keep: Sequence[int]) -> None:
    """Everything but stdio and `keep` is closed at execve (runc closes fds >= 3)."""
    with suppress(OSError):
        for name in os.listdir("/proc/self/fd"):
            fd = int(name)
            if fd > 2 and fd not in keep:
                with suppress(OSError):
                    os.set_inheritable(fd, False)


def become(process: Mapping[str, Any], sys: sc.LinuxSyscalls, *,
           seccomp: bytes | None = None) -> None:
    """Turn this process into the container's process, short of execve: rlimits,
    seccomp, capabilities, user, umask, cwd, no_new_privs."""
    if not process.get("args"):
        raise StartError("no command given: the image has no CMD/ENTRYPOINT", 125)
    apply_rlimits(process.get("rlimits") or [])
    if "oomScoreAdj" in process:
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write(str(process["oomScoreAdj"]))
    cwd = process.get("cwd") or "/"
    with suppress(OSError):
        os.makedirs(cwd, exist_ok=True)  # Docker creates a missing WORKDIR
    if seccomp:
        # Installed while still privileged (no_new_privs may be off); nothing the
        # steps below call (setgroups, setuid, capset, prctl, chdir, execve) is
        # refused by a policy this launcher writes.
        try:
            sys.seccomp_filter(seccomp)
        except OSError as exc:
            raise StartError(f"cannot install the seccomp filter: {exc}") from exc
    try:
        apply_capabilities_and_user(process, sys)
    except OSError as exc:
        raise StartError(f"cannot switch to user/capabilities: {exc}") from exc
    user = process.get("user") or {}
    if user.get("umask") is not None:
        os.umask(int(user["umask"]))
    try:
        os.chdir(cwd)
    except OSError as exc:
        raise StartError(f"chdir to cwd ({cwd!r}) set in config.json failed: "
                         f"{_why(exc)}", 126 if exc.errno == errno.EACCES else 1
                         ) from exc
    if process.get("noNewPrivileges"):
        sys.prctl(sc.PR_SET_NO_NEW_PRIVS, 1)


def execute(process: Mapping[str, Any], *, keep_fds: Sequence[int] = ()) -> None:
    """Find the executable and execve it. Only returns by raising StartError."""
    args = list(process["args"])
    env = list(process.get("env") or [])
    path = lookup(args[0], env)
    mark("init: exec")  # before close_fds closes the timeline's fd
    close_fds(keep_fds)
    try:
        os.execve(path, args, dict(e.split("=", 1) if "=" in e else (e, "") for e in env))
    except OSError as exc:
        code = 127 if exc.errno == errno.ENOENT else 126
        raise StartError(f'exec: "{args[0]}": {_why(exc)}', code) from exc


def apply_and_exec(process: Mapping[str, Any], sys: sc.LinuxSyscalls, *,
                   keep_fds: Sequence[int] = (), seccomp: bytes | None = None) -> None:
    """Become the container's process. Only returns by raising StartError."""
    become(process, sys, seccomp=seccomp)
    execute(process, keep_fds=keep_fds)
