"""Where a container's files live, and how to drive an OCI runtime over its bundle.

Stdlib only: the monitor imports this. Layout of one container:

    <root>/containers/<id>/            survives reboots
        diff/ work/                    overlay upper and work dirs
        <id>-json.log[.N]              the log (see logs.py)
        hostname hosts resolv.conf     bind-mounted into the container
        monitor.log                    the monitor's own stderr
    <run_root>/c/<id[:16]>/            runtime files (tmpfs: gone after a reboot)
        config.json                    the OCI bundle (root.path = rootfs/)
        rootfs/                        the overlay mount point
        monitor.sock                   the monitor's control socket
        console.sock pid               for the runtime's --console-socket / --pid-file

The run dir uses a short id so socket paths stay under the 108-byte sun_path limit.
Both runtimes take runc's command line: ``runc`` itself, and the built-in
launcher ``python -m stackctl.engine.runtime.launch``.
"""

from __future__ import annotations

import ctypes
import os
import sys
from pathlib import Path

from stackctl.lightdc import dataclass

RUNTIMES = ("runc", "stackctl")
MNT_DETACH = 2


@dataclass(frozen=True)
class ContainerPaths:
    root: Path
    run_root: Path
    id: str

    @property
    def state_dir(self) -> Path:
        return self.root / "containers" / self.id

    @property
    def upper(self) -> Path:
        return self.state_dir / "diff"

    @property
    def work(self) -> Path:
        return self.state_dir / "work"

    @property
    def log(self) -> Path:
        return self.state_dir / f"{self.id}-json.log"

    @property
    def monitor_log(self) -> Path:
        return self.state_dir / "monitor.log"

    @property
    def run_dir(self) -> Path:
        return self.run_root / "c" / self.id[:16]

    @property
    def bundle(self) -> Path:
        return self.run_dir

    @property
    def rootfs(self) -> Path:
        return self.run_dir / "rootfs"

    @property
    def sock(self) -> Path:
        return self.run_dir / "monitor.sock"

    @property
    def console_sock(self) -> Path:
        return self.run_dir / "console.sock"

    @property
    def pid_file(self) -> Path:
        return self.run_dir / "pid"

    @property
    def cgroup_name(self) -> str:
        # Flat, so no shared parent cgroup has to be created and removed.
        return f"stackctl-{self.id[:16]}"


def runtime_state_root(runtime: str, paths: ContainerPaths) -> Path:
    """Where the runtime keeps its per-container state (its ``--root``)."""
    return paths.run_root / ("runc" if runtime == "runc" else "launch")


def runtime_argv(runtime: str, paths: ContainerPaths) -> list[str]:
    """The runtime's global command line (before the subcommand); both speak runc's."""
    root = str(runtime_state_root(runtime, paths))
    if runtime == "runc":
        return ["runc", "--root", root]
    return [*LAUNCHER, "--root", root]


def stdlib_python(module: str) -> list[str]:
    """``python -S`` running ``module``'s ``main()``, for the engine's stdlib-only
    processes (launcher, monitor, fork server): -S skips site and the venv's .pth
    import hooks, about 20 ms and 2.4 MiB of resident memory each; the package is
    found by path. Arguments follow (``sys.argv[1:]``, as with ``-m``)."""
    return [sys.executable, "-S", "-c", f"import sys; sys.path.insert(0, {_PKG_PARENT!r}); "
            f"from {module} import main; sys.exit(main())"]


# Here, so that the monitor, which imports this module, does not import the
# launcher to learn its command line (runtime.launch.launcher_argv() is the same).
_PKG_PARENT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LAUNCHER = tuple(stdlib_python("stackctl.engine.runtime.launch"))


def forkserver_argv(fd: int) -> list[str]:
    """The built-in launcher's fork server (runtime/forkserver.py) on socket ``fd``."""
    return [*stdlib_python("stackctl.engine.runtime.forkserver"), "--fd", str(fd)]


def run_argv(runtime: str, paths: ContainerPaths, *, console: bool) -> list[str]:
    argv = [*runtime_argv(runtime, paths), "run", "--bundle", str(paths.bundle),
            "--pid-file", str(paths.pid_file), "--detach"]
    if console:
        argv += ["--console-socket", str(paths.console_sock)]
    return [*argv, paths.id]


def delete_argv(runtime: str, paths: ContainerPaths) -> list[str]:
    return [*runtime_argv(runtime, paths), "delete", "--force", paths.id]


def has_runtime_state(runtime: str, paths: ContainerPaths) -> bool:
    return (runtime_state_root(runtime, paths) / paths.id).exists()


def runtime_delete(runtime: str, paths: ContainerPaths) -> None:
    """``<runtime> delete --force ID`` when the runtime holds state for the container.

    The built-in launcher is called in-process (it is stdlib-only), which saves
    a Python start-up at the end of every container.
    """
    if not has_runtime_state(runtime, paths):
        return
    argv = delete_argv(runtime, paths)
    if runtime != "runc":
        from stackctl.engine.runtime import launch

        try:
            launch.main(argv[len(LAUNCHER):])
            return
        except Exception:
            pass
    import subprocess

    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)


def exec_argv(runtime: str, paths: ContainerPaths, pid: int, args: list[str], *,
              tty: bool = False, env: tuple[str, ...] = (), user: str | None = None,
              cwd: str | None = None, detach: bool = False,
              caps: tuple[str, ...] = ()) -> list[str]:
    """A command that runs ``args`` inside a running container and waits for it;
    ``caps`` are added to its capabilities (runc's ``exec --cap``)."""
    del pid  # both runtimes find the container by id in their state
    argv = [*runtime_argv(runtime, paths), "exec"]
    if tty:
        argv.append("--tty")
    if detach:
        argv.append("--detach")
    for e in env:
        argv += ["--env", e]
    if user:
        argv += ["--user", user]
    if cwd:
        argv += ["--cwd", cwd]
    for cap in caps:
        argv += ["--cap", cap]
    return [*argv, paths.id, "--", *args] if runtime != "runc" else [*argv, paths.id, *args]


def launch_exit_code(message: str) -> int:
    """Docker's mapping of a failed start to an exit code, by the runtime's message."""
    low = message.lower()
    if "not found" in low or "no such file or directory" in low:
        return 127
    if "permission denied" in low or "not executable" in low or "exec format" in low:
        return 126
    return 125


def proc_start_time(pid: int) -> int | None:
    """The start time of ``pid`` in clock ticks since boot, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    # comm (field 2) may contain spaces and parentheses: split after the last ')'.
    fields = stat[stat.rfind(b")") + 2:].split()
    if fields and fields[0] == b"Z":
        return None  # a zombie is dead for our purposes
    return int(fields[19])


def alive(pid: int | None, start: int | None) -> bool:
    """Is ``pid`` still the process that started at ``start`` (pid reuse safe)?"""
    if not pid:
        return False
    now = proc_start_time(pid)
    return now is not None and (start is None or now == start)


def cgroup_dirs(name: str) -> list[Path]:
    """Every existing directory of cgroup ``name`` across the mounted hierarchies."""
    base = Path("/sys/fs/cgroup")
    found = [base / name] if (base / name).is_dir() else []
    try:
        for hier in base.iterdir():
            if (hier / name).is_dir():
                found.append(hier / name)
    except OSError:
        pass
    return found


def oom_killed(name: str) -> bool:
    """Did the kernel's OOM killer fire in cgroup ``name`` (v1 or v2)?"""
    for d in cgroup_dirs(name):
        for fname in ("memory.events", "memory.oom_control"):
            try:
                text = (d / fname).read_text()
            except OSError:
                continue
            for line in text.splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill" and value.strip() not in ("", "0"):
                    return True
    return False


def cgroup_pids(name: str) -> list[int]:
    for d in cgroup_dirs(name):
        try:
            text = (d / "cgroup.procs").read_text()
        except OSError:
            continue
        pids = [int(p) for p in text.split()]
        if pids:
            return pids
    return []


def remove_cgroup(name: str) -> None:
    """Remove ``name`` in every hierarchy (empty cgroups only; children first)."""
    for d in cgroup_dirs(name):
        try:
            # the launcher's own delete may remove it concurrently: a vanished
            # directory mid-walk is success, not an error
            subs = sorted((p for p in d.rglob("*") if p.is_dir()), reverse=True)
        except OSError:
            subs = []
        for sub in subs:
            try:
                sub.rmdir()
            except OSError:
                pass
        try:
            d.rmdir()
        except OSError:
            pass


_libc: ctypes.CDLL | None = None


def umount(target: Path) -> None:
    """Lazily unmount ``target`` if it is a mount point (idempotent)."""
    global _libc
    if not os.path.ismount(target):
        return
    if _libc is None:
        # libc is already loaded; ctypes.util.find_library would pull in subprocess,
        # tempfile and shutil (about 1 MiB of the monitor's resident memory)
        _libc = ctypes.CDLL(None, use_errno=True)
    if _libc.umount2(os.fsencode(str(target)), MNT_DETACH) != 0:
        err = ctypes.get_errno()
        if err not in (22, 2):  # EINVAL: not a mount point; ENOENT: gone
            raise OSError(err, os.strerror(err), str(target))


__all__ = [
    "RUNTIMES",
    "ContainerPaths",
    "alive",
    "cgroup_dirs",
    "cgroup_pids",
    "delete_argv",
    "exec_argv",
    "forkserver_argv",
    "has_runtime_state",
    "launch_exit_code",
    "oom_killed",
    "proc_start_time",
    "remove_cgroup",
    "run_argv",
    "runtime_argv",
    "runtime_delete",
    "runtime_state_root",
    "stdlib_python",
    "umount",
]
