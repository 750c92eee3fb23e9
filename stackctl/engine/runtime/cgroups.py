"""cgroups v1, v2 and hybrid: create with limits, add a process, stats, freeze, kill, remove.

Hosts differ: pure v2 (one hierarchy at the root), pure v1 (a directory per
controller), or hybrid (v1 controllers plus a v2 hierarchy at `unified/`, as
here). `detect` looks at what is mounted under the root it is given (a
PARAMETER, so tests can run it on a temp tree) and which controllers each
hierarchy has; each controller is then driven in the hierarchy that owns it
(v1 wins in hybrid mode: a controller bound to v1 is absent from v2).

Paths such as "/stackctl-<id>" are taken relative to each hierarchy's root.
Names must contain "stackctl" so the test suite's leak check sees leaks.
Limits come as the OCI `linux.resources` object, so the launcher applies a
config.json without translating it twice. Stdlib only, and plain classes
with string paths: dataclasses, typing and pathlib would add ~30 ms to every
container start (the launcher imports this module).
"""

from __future__ import annotations

import errno
import os
import time

from stackctl.engine.runtime._lean import suppress

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping
    from typing import Any

__all__ = ["DEFAULT_ROOT", "Cgroup", "CgroupStats", "Hierarchy", "detect"]

DEFAULT_ROOT = "/sys/fs/cgroup"
SIGKILL = 9  # not `signal.SIGKILL`: the signal module imports enum (launcher start-up)


class _Value:
    """Frozen value semantics (eq, hash, repr) over __slots__, without dataclasses."""

    __slots__: tuple[str, ...] = ()

    def __init__(self, *values: object) -> None:
        for name, value in zip(self.__slots__, values, strict=True):
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def _astuple(self) -> tuple[object, ...]:
        return tuple(getattr(self, n) for n in self.__slots__)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Value) and type(other) is type(self) and (
            self._astuple() == other._astuple())

    def __hash__(self) -> int:
        return hash(self._astuple())

    def __repr__(self) -> str:
        fields = ", ".join(f"{n}={getattr(self, n)!r}" for n in self.__slots__)
        return f"{type(self).__name__}({fields})"


class Hierarchy(_Value):
    """One mounted hierarchy. v1 named hierarchies ("name=systemd") have no controllers."""

    __slots__ = ("mountpoint", "version", "controllers")  # noqa: RUF023 (positional order)
    mountpoint: str
    version: int  # 1 or 2
    controllers: frozenset[str]

    def __init__(self, mountpoint: str, version: int, controllers: frozenset[str]) -> None:
        super().__init__(mountpoint, version, controllers)

    @property
    def name(self) -> str:
        return os.path.basename(self.mountpoint)


class CgroupStats(_Value):
    __slots__ = ("memory_usage", "memory_limit", "cpu_usage_ns", "pids",  # noqa: RUF023
                 "block_read", "block_write")
    memory_usage: int | None  # bytes
    memory_limit: int | None  # bytes; None = unlimited
    cpu_usage_ns: int | None
    pids: int | None
    block_read: int | None  # bytes read from / written to block devices
    block_write: int | None

    def __init__(self, memory_usage: int | None, memory_limit: int | None,
                 cpu_usage_ns: int | None, pids: int | None,
                 block_read: int | None = None, block_write: int | None = None) -> None:
        super().__init__(memory_usage, memory_limit, cpu_usage_ns, pids, block_read,
                         block_write)


def detect(root: str | os.PathLike[str] = DEFAULT_ROOT) -> list[Hierarchy]:
    base = os.fspath(root)
    if os.path.exists(os.path.join(base, "cgroup.controllers")):
        return [Hierarchy(base, 2, _v2_controllers(base))]
    found: list[Hierarchy] = []
    try:
        names = sorted(os.listdir(base))
    except OSError:
        return []
    for name in names:
        entry = os.path.join(base, name)
        # cpu -> cpu,cpuacct style links would make a hierarchy appear twice.
        if os.path.islink(entry) or not os.path.isdir(entry):
            continue
        if os.path.exists(os.path.join(entry, "cgroup.controllers")):
            found.append(Hierarchy(entry, 2, _v2_controllers(entry)))
        elif os.path.exists(os.path.join(entry, "cgroup.procs")):
            ctrls = frozenset(c for c in name.split(",") if c and c != "systemd")
            found.append(Hierarchy(entry, 1, ctrls))
    v1_owned = {c for h in found if h.version == 1 for c in h.controllers}
    return [h if h.version == 1 else Hierarchy(h.mountpoint, 2, h.controllers - v1_owned)
            for h in found]


def _v2_controllers(path: str) -> frozenset[str]:
    return frozenset((_read(os.path.join(path, "cgroup.controllers")) or "").split())


def _write(path: str, value: str) -> None:
    # O_CREAT is a no-op on cgroupfs (the files exist or cannot be made) and lets
    # the same code run on a plain temp tree in unit tests.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        os.write(fd, value.encode())
    finally:
        os.close(fd)


def _read(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def _int(text: str | None) -> int | None:
    if text is None or not text.lstrip("-").isdigit():
        return None
    return int(text)


def _j(*parts: str) -> str:
    return os.path.join(*parts)


class Cgroup:
    """One container's cgroup, `path` in every hierarchy (e.g. "/stackctl-3f2a")."""

    def __init__(self, path: str, root: str | os.PathLike[str] = DEFAULT_ROOT,
                 hierarchies: list[Hierarchy] | None = None, *,
                 device_filter_v2: bool = True) -> None:
        self.path = "/" + path.strip("/")
        # False only for unit tests on a plain directory tree (no BPF there).
        self.device_filter_v2 = device_filter_v2
        self.hierarchies = hierarchies if hierarchies is not None else detect(root)
        if not self.hierarchies:
            raise OSError(errno.ENOENT, f"no cgroup hierarchy mounted under {root}")

    def dir(self, h: Hierarchy) -> str:
        return _j(h.mountpoint, self.path.lstrip("/"))

    def _owner(self, controller: str) -> tuple[str, int] | None:
        """(directory, cgroup version) of the hierarchy that drives `controller`."""
        for h in self.hierarchies:
            if controller in h.controllers:
                return self.dir(h), h.version
        return None

    def _v2(self) -> Hierarchy | None:
        return next((h for h in self.hierarchies if h.version == 2), None)

    def exists(self) -> bool:
        return any(os.path.isdir(self.dir(h)) for h in self.hierarchies)

    def create(self, resources: Mapping[str, Any] | None = None) -> None:
        """mkdir everywhere and apply `resources` (OCI linux.resources); on any error,
        remove what was made and re-raise (bad limits leave no cgroup behind)."""
        cpu = (resources or {}).get("cpu") or {}
        # v2's cpuset controller is enabled (in every ancestor) only for a container
        # pinned to CPUs or nodes: the others have no use for it
        pinned = bool(cpu.get("cpus") or cpu.get("mems"))
        try:
            for h in self.hierarchies:
                if h.version == 2 and h.controllers:
                    self._enable_v2_controllers(h, cpuset=pinned)
                os.makedirs(self.dir(h), exist_ok=True)
                if "cpuset" in h.controllers and h.version == 1:
                    self._seed_cpuset(self.dir(h))  # (v2: empty means the parent's)
            self.apply(resources or {})
        except BaseException:
            self.remove(timeout=1.0)
            raise

    def _enable_v2_controllers(self, h: Hierarchy, *, cpuset: bool = False) -> None:
        # Controllers must be enabled in every ancestor's subtree_control.
        wanted = h.controllers & {"memory", "pids", "cpu", "io", *(("cpuset",) if cpuset else ())}
        current = h.mountpoint
        for part in ["", *[p for p in self.path.split("/") if p][:-1]]:
            if part:
                current = _j(current, part)
                os.makedirs(current, exist_ok=True)
            control = _j(current, "cgroup.subtree_control")
            missing = wanted - set((_read(control) or "").split())
            if missing:
                _write(control, " ".join(f"+{c}" for c in sorted(missing)))

    @staticmethod
    def _seed_cpuset(d: str) -> None:
        # v1 cpuset starts empty and refuses tasks until cpus/mems are set.
        for name in ("cpuset.cpus", "cpuset.mems"):
            if _read(_j(d, name)):
                continue
            parent = os.path.dirname(d)
            while not _read(_j(parent, name)) and parent != os.path.dirname(parent):
                parent = os.path.dirname(parent)
            _write(_j(d, name), _read(_j(parent, name)) or "")

    def apply(self, res: Mapping[str, Any]) -> None:
        mem = res.get("memory") or {}
        cpu = res.get("cpu") or {}
        pids = res.get("pids") or {}
        # A limit nobody can enforce is an error, not a silent no-op (as Docker says
        # "your kernel does not support ...").
        timing = {k: v for k, v in cpu.items() if k in ("quota", "period", "shares")}
        pinning = {k: v for k, v in cpu.items() if k in ("cpus", "mems") and v}
        for wanted, controller, flag in ((mem, "memory", "--memory"),
                                         (timing, "cpu", "--cpus/--cpu-shares"),
                                         (pinning, "cpuset", "--cpuset-cpus/--cpuset-mems"),
                                         (pids, "pids", "--pids-limit")):
            if wanted and self._owner(controller) is None:
                raise OSError(errno.ENOTSUP, f"{flag}: this host has no {controller} cgroup "
                              "controller available to enforce it")
        if (owner := self._owner("memory")) is not None and mem:
            d, version = owner
            limit, swap, soft = mem.get("limit"), mem.get("swap"), mem.get("reservation")
            if version == 2:
                if soft is not None:  # protected from reclaim below it
                    _write(_j(d, "memory.low"), str(soft))
                if limit is not None:
                    _write(_j(d, "memory.max"), str(limit) if limit >= 0 else "max")
                if swap is not None and limit is not None and os.path.exists(
                        _j(d, "memory.swap.max")):
                    # OCI's swap is memory+swap; v2's swap.max is the swap alone.
                    _write(_j(d, "memory.swap.max"),
                           "max" if swap < 0 else str(max(swap - limit, 0)))
            else:
                if soft is not None:  # reclaimed down to it under pressure
                    _write(_j(d, "memory.soft_limit_in_bytes"), str(soft))
                if limit is not None:
                    _write(_j(d, "memory.limit_in_bytes"), str(limit))
                if swap is not None and os.path.exists(_j(d, "memory.memsw.limit_in_bytes")):
                    _write(_j(d, "memory.memsw.limit_in_bytes"), str(swap))
                if mem.get("swappiness") is not None:
                    _write(_j(d, "memory.swappiness"), str(mem["swappiness"]))
                if mem.get("disableOOMKiller"):
                    _write(_j(d, "memory.oom_control"), "1")
            # (v2 has neither swappiness nor an OOM killer switch: discarded, as by
            # Docker, whose CLI warns; cli/run_opts.py does too)
        if (owner := self._owner("cpu")) is not None and cpu:
            d, version = owner
            quota, period, shares = cpu.get("quota"), cpu.get("period"), cpu.get("shares")
            if version == 2:
                if quota is not None or period is not None:
                    q = "max" if quota is None or quota < 0 else str(quota)
                    _write(_j(d, "cpu.max"), f"{q} {period or 100000}")
                if shares:  # runc's conversion of cpu.shares (2..262144) to cpu.weight
                    _write(_j(d, "cpu.weight"), str(1 + ((shares - 2) * 9999) // 262142))
            else:
                if period is not None:
                    _write(_j(d, "cpu.cfs_period_us"), str(period))
                if quota is not None:
                    _write(_j(d, "cpu.cfs_quota_us"), str(quota))
                if shares:
                    _write(_j(d, "cpu.shares"), str(shares))
        if (owner := self._owner("cpuset")) is not None and pinning:
            # the same files on v1 and v2; the kernel refuses CPUs the parent lacks
            for key in ("cpus", "mems"):
                if key in pinning:
                    _write(_j(owner[0], f"cpuset.{key}"), str(pinning[key]))
        if (owner := self._owner("pids")) is not None and pids.get("limit") is not None:
            limit = int(pids["limit"])
            _write(_j(owner[0], "pids.max"), "max" if limit <= 0 else str(limit))
        if (owner := self._owner("devices")) is not None and res.get("devices"):
            self._apply_v1_devices(owner[0], res["devices"])
        v2 = self._v2()
        if (v2 is not None and res.get("devices") and self.device_filter_v2
                and self._owner("devices") is None):
            # v2 has no devices controller: an eBPF program on the cgroup does it
            # (not needed in hybrid mode, where the v1 controller already does).
            from stackctl.engine.runtime.devices import attach_device_filter
            from stackctl.engine.runtime.syscalls import LinuxSyscalls

            attach_device_filter(self.dir(v2), res["devices"], LinuxSyscalls())

    @staticmethod
    def _apply_v1_devices(d: str, rules: list[Mapping[str, Any]]) -> None:
        # v2 device control needs an eBPF program; only v1 is handled here.
        for rule in rules:
            kind = rule.get("type", "a")
            if kind == "a" and rule.get("major") is None and rule.get("minor") is None:
                entry = "a"
            else:
                major = "*" if rule.get("major") is None else str(rule["major"])
                minor = "*" if rule.get("minor") is None else str(rule["minor"])
                entry = f"{kind} {major}:{minor} {rule.get('access', 'rwm')}"
            _write(_j(d, "devices.allow" if rule.get("allow") else "devices.deny"), entry)

    def add(self, pid: int) -> None:
        for h in self.hierarchies:
            _write(_j(self.dir(h), "cgroup.procs"), str(pid))

    def pids(self) -> list[int]:
        for h in self.hierarchies:
            text = _read(_j(self.dir(h), "cgroup.procs"))
            if text is not None:
                return [int(p) for p in text.split()]
        return []

    def stats(self) -> CgroupStats:
        usage = limit = cpu_ns = npids = None
        if (owner := self._owner("memory")) is not None:
            d, version = owner
            if version == 2:
                usage = _int(_read(_j(d, "memory.current")))
                limit = _int(_read(_j(d, "memory.max")))
            else:
                usage = _int(_read(_j(d, "memory.usage_in_bytes")))
                limit = _int(_read(_j(d, "memory.limit_in_bytes")))
                if limit is not None and limit >= 1 << 62:
                    limit = None  # v1 says "unlimited" with a huge number
        if (owner := self._owner("cpuacct")) is not None:
            cpu_ns = _int(_read(_j(owner[0], "cpuacct.usage")))
        elif (owner := self._owner("cpu")) is not None:
            for line in (_read(_j(owner[0], "cpu.stat")) or "").splitlines():
                key, _, val = line.partition(" ")
                if key == "usage_usec":
                    cpu_ns = int(val) * 1000
        if (owner := self._owner("pids")) is not None:
            npids = _int(_read(_j(owner[0], "pids.current")))
        read, written = self._block_io()
        return CgroupStats(usage, limit, cpu_ns, npids, read, written)

    def _block_io(self) -> tuple[int | None, int | None]:
        """Bytes read and written, summed over devices (what ``docker stats`` shows)."""
        if (owner := self._owner("io")) is not None and owner[1] == 2:
            read = written = 0
            for line in (_read(_j(owner[0], "io.stat")) or "").splitlines():
                for field in line.split()[1:]:  # "8:0 rbytes=1 wbytes=2 rios=..."
                    key, _, val = field.partition("=")
                    if key == "rbytes":
                        read += int(val)
                    elif key == "wbytes":
                        written += int(val)
            return read, written
        if (owner := self._owner("blkio")) is not None:
            text = _read(_j(owner[0], "blkio.throttle.io_service_bytes_recursive"))
            if text is None:
                return None, None
            read = written = 0
            for line in text.splitlines():  # "8:0 Read 4096", ..., "Total 8192"
                parts = line.split()
                if len(parts) == 3 and parts[1] == "Read":
                    read += int(parts[2])
                elif len(parts) == 3 and parts[1] == "Write":
                    written += int(parts[2])
            return read, written
        return None, None

    def oom_killed(self) -> bool:
        """Whether the kernel's OOM killer has killed a process in this cgroup."""
        owner = self._owner("memory")
        if owner is None:
            return False
        for name in ("memory.events", "memory.oom_control"):
            for line in (_read(_j(owner[0], name)) or "").splitlines():
                key, _, val = line.partition(" ")
                if key == "oom_kill" and val.strip() not in ("", "0"):
                    return True
        return False

    def freeze(self, timeout: float = 5.0) -> None:
        self._set_frozen(True, timeout)

    def thaw(self, timeout: float = 5.0) -> None:
        self._set_frozen(False, timeout)

    def _set_frozen(self, frozen: bool, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        if (owner := self._owner("freezer")) is not None:
            state = _j(owner[0], "freezer.state")
            want = "FROZEN" if frozen else "THAWED"
            while True:
                _write(state, want)
                if _read(state) == want:
                    return
                if time.monotonic() > deadline:
                    raise OSError(errno.EBUSY, f"cgroup {self.path} did not become {want}")
                time.sleep(0.01)
        v2 = self._v2()
        if v2 is None:
            raise OSError(errno.ENOTSUP, "no freezer: neither v1 freezer nor cgroup.freeze")
        d = self.dir(v2)
        _write(_j(d, "cgroup.freeze"), "1" if frozen else "0")
        while f"frozen {int(frozen)}" not in (_read(_j(d, "cgroup.events")) or ""):
            if time.monotonic() > deadline:
                raise OSError(errno.EBUSY, f"cgroup {self.path} did not (un)freeze")
            time.sleep(0.01)

    def frozen(self) -> bool:
        if (owner := self._owner("freezer")) is not None:
            return _read(_j(owner[0], "freezer.state")) == "FROZEN"
        v2 = self._v2()
        return v2 is not None and "frozen 1" in (_read(_j(self.dir(v2), "cgroup.events")) or "")

    def kill_all(self, sig: int = SIGKILL, timeout: float = 5.0) -> None:
        """Signal every process; with SIGKILL, wait until the cgroup is empty.

        A frozen cgroup is thawed after the signal is queued, so that the
        processes can act on it (and a fork bomb cannot outrun the loop: it is
        frozen while we read the list)."""
        v2 = self._v2()
        if sig == SIGKILL and v2 is not None and os.path.exists(
                _j(self.dir(v2), "cgroup.kill")):
            with suppress(OSError):
                _write(_j(self.dir(v2), "cgroup.kill"), "1")
        can_freeze = self._owner("freezer") is not None or v2 is not None
        deadline = time.monotonic() + timeout
        while pids := self.pids():
            if can_freeze and sig == SIGKILL:
                with suppress(OSError):
                    self.freeze(timeout=1.0)
                pids = self.pids()
            for pid in pids:
                with suppress(ProcessLookupError):
                    os.kill(pid, sig)
            if can_freeze:
                with suppress(OSError):
                    self.thaw(timeout=1.0)
            if sig != SIGKILL:
                return
            if time.monotonic() > deadline:
                raise OSError(errno.EBUSY, f"cgroup {self.path} still has processes {pids}")
            time.sleep(0.005)

    def remove(self, timeout: float = 5.0) -> None:
        """rmdir in every hierarchy, deepest first; retries while the kernel still
        counts exiting tasks (EBUSY). Missing directories are fine."""
        deadline = time.monotonic() + timeout
        for h in self.hierarchies:
            for d in sorted(_subdirs(self.dir(h)), key=lambda p: -p.count("/")):
                while True:
                    try:
                        os.rmdir(d)
                        break
                    except FileNotFoundError:
                        break
                    except OSError as exc:
                        if exc.errno != errno.EBUSY or time.monotonic() > deadline:
                            raise
                        time.sleep(0.01)


def _subdirs(top: str) -> Iterator[str]:
    if not os.path.isdir(top):
        return
    yield top
    for dirpath, dirnames, _ in os.walk(top):
        for name in dirnames:
            yield _j(dirpath, name)
