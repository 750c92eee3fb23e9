"""What a container is, as the OCI runtime spec says it: `BundleRequest` -> config.json.

The engine fills one frozen `BundleRequest` (everything `docker run` can say
about the process, its isolation and its limits) and calls `write_bundle`.
`build_config` is pure apart from reading the caller's own rlimits and
capability bounding set (a container can never get more than its creator has),
both injectable. The resulting config.json runs unchanged under the built-in
launcher (`python -m stackctl.engine.runtime.launch`) and under `runc`.

Defaults follow Docker's: the 14 default capabilities, the masked and
read-only /proc and /sys paths of runc/moby, /dev as a small tmpfs with the
six standard devices, /dev/pts (newinstance), /dev/shm, /dev/mqueue, sysfs
read-only, and new mount/PID/UTS/IPC/network/cgroup namespaces.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

from stackctl.engine.runtime.caps import effective_caps, host_capabilities
from stackctl.engine.runtime.rlimits import Rlimit, check_rlimits, default_rlimits
from stackctl.engine.runtime.sysctls import sysctl_problem
from stackctl.errors import UsageError
from stackctl.lightdc import dataclass, field

TYPE_CHECKING = False  # typing costs ~3 ms at start-up; annotations only
if TYPE_CHECKING:
    from typing import Any

    from stackctl.engine.devmap import DeviceNode

__all__ = [
    "DEFAULT_MASKED_PATHS",
    "DEFAULT_READONLY_PATHS",
    "BundleRequest",
    "MountSpec",
    "Resources",
    "Rlimit",
    "build_config",
    "build_process",
    "write_bundle",
    "write_process",
]

OCI_VERSION = "1.0.2"
INIT_ANNOTATION = "org.stackctl.init"  # = pid1.ANNOTATION (not imported: keeps spec light)
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# moby/oci/defaults.go (= runc's): hidden or frozen parts of /proc and /sys.
DEFAULT_MASKED_PATHS: tuple[str, ...] = (
    "/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
    "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
    "/sys/firmware", "/sys/devices/virtual/powercap",
)
DEFAULT_READONLY_PATHS: tuple[str, ...] = (
    "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
)

# (path, char major, minor, mode): what every container's /dev holds.
_DEFAULT_DEVICES: tuple[tuple[str, int, int], ...] = (
    ("/dev/null", 1, 3), ("/dev/zero", 1, 5), ("/dev/full", 1, 7),
    ("/dev/random", 1, 8), ("/dev/urandom", 1, 9), ("/dev/tty", 5, 0),
)


@dataclass(frozen=True)
class MountSpec:
    """One OCI mount: `-v /host:/ctr:ro` is MountSpec("/ctr", "bind", "/host", ("rbind", "ro"))."""

    destination: str
    type: str = "bind"
    source: str = ""
    options: tuple[str, ...] = ()

    def to_oci(self) -> dict[str, Any]:
        out: dict[str, Any] = {"destination": self.destination, "type": self.type,
                               "source": self.source or self.type}
        if self.options:
            out["options"] = list(self.options)
        return out


@dataclass(frozen=True)
class Resources:
    """cgroup limits. memory/memory_swap in bytes; memory_swap is memory+swap as in
    Docker (-1 = unlimited swap); cpus as `--cpus` (1.5 = 150000us per 100000us)."""

    memory: int | None = None
    memory_swap: int | None = None
    memory_reservation: int | None = None  # the soft limit (v1 soft_limit_in_bytes, v2 low)
    memory_swappiness: int | None = None  # 0..100 (v1 only)
    oom_kill_disable: bool = False  # (v1 only)
    cpus: float | None = None
    cpu_period: int = 100_000
    cpu_quota: int | None = None  # --cpu-quota (with cpu_period), when cpus is None
    cpu_shares: int | None = None
    cpuset_cpus: str | None = None  # a kernel list, "0-2,4"
    cpuset_mems: str | None = None
    pids_limit: int | None = None

    def to_oci(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            # Docker's device rules: deny all, allow the standard devices and ptys.
            "devices": [
                {"allow": False, "access": "rwm"},
                *({"allow": True, "type": "c", "major": ma, "minor": mi, "access": "rwm"}
                  for _, ma, mi in _DEFAULT_DEVICES),
                {"allow": True, "type": "c", "major": 5, "minor": 1, "access": "rwm"},
                {"allow": True, "type": "c", "major": 5, "minor": 2, "access": "rwm"},
                {"allow": True, "type": "c", "major": 136, "access": "rwm"},
                {"allow": True, "type": "c", "major": 10, "minor": 200, "access": "rwm"},
                # mknod itself stays allowed (CAP_MKNOD); opening the node does not.
                {"allow": True, "type": "c", "access": "m"},
                {"allow": True, "type": "b", "access": "m"},
            ],
        }
        mem: dict[str, int] = {}
        if self.memory is not None:
            mem["limit"] = self.memory
            if self.memory_swap is not None:
                mem["swap"] = self.memory_swap
        if self.memory_reservation is not None:
            mem["reservation"] = self.memory_reservation
        if self.memory_swappiness is not None:
            mem["swappiness"] = self.memory_swappiness
        if self.oom_kill_disable:
            mem["disableOOMKiller"] = True
        if mem:
            out["memory"] = mem
        cpu: dict[str, int | str] = {}
        if self.cpus is not None:
            cpu = {"quota": round(self.cpus * self.cpu_period), "period": self.cpu_period}
        elif self.cpu_quota is not None or self.cpu_period != 100_000:
            cpu = {"period": self.cpu_period}
            if self.cpu_quota is not None:
                cpu["quota"] = self.cpu_quota
        if self.cpu_shares is not None:
            cpu["shares"] = self.cpu_shares
        if self.cpuset_cpus:
            cpu["cpus"] = self.cpuset_cpus
        if self.cpuset_mems:
            cpu["mems"] = self.cpuset_mems
        if cpu:
            out["cpu"] = cpu
        if self.pids_limit is not None:
            out["pids"] = {"limit": self.pids_limit}
        return out


@dataclass(frozen=True)
class BundleRequest:
    """Everything the engine decides about one container process.

    Namespace fields (`network`, `pid`, `ipc`, `uts`, `cgroupns`) take "new",
    "host", or the absolute path of a namespace file to join (e.g. a persistent
    netns under /run/netns, or /proc/<pid>/ns/net for `--network container:x`).
    `rlimits` empty means Docker-like defaults within the caller's hard limits.
    """

    rootfs: str
    args: tuple[str, ...]
    env: tuple[str, ...] = ()
    cwd: str = "/"
    uid: int = 0
    gid: int = 0
    additional_gids: tuple[int, ...] = ()
    umask: int | None = 0o022
    hostname: str = ""
    domainname: str = ""
    terminal: bool = False
    cap_add: tuple[str, ...] = ()
    cap_drop: tuple[str, ...] = ()
    privileged: bool = False
    no_new_privs: bool = True
    readonly_root: bool = False
    rlimits: tuple[Rlimit, ...] = ()
    mounts: tuple[MountSpec, ...] = ()
    network: str = "new"
    pid: str = "new"
    ipc: str = "new"
    shm: bool = True  # the default tmpfs on /dev/shm (False: none, --ipc none)
    shm_size: int | None = None  # its size in bytes (None: Docker's 64 MiB)
    uts: str = "new"
    cgroupns: str = "new"
    cgroups_path: str | None = None
    resources: Resources = field(default_factory=Resources)
    sysctls: Mapping[str, str] = field(default_factory=dict)
    masked_paths: tuple[str, ...] | None = None
    readonly_paths: tuple[str, ...] | None = None
    oom_score_adj: int | None = None
    annotations: Mapping[str, str] = field(default_factory=dict)
    # Docker's default policy unless "unconfined" (--security-opt seccomp=unconfined)
    # or --privileged; `seccomp_profile` replaces it (--security-opt seccomp=FILE).
    seccomp: str = "default"
    seccomp_profile: Mapping[str, Any] | None = None
    # --init: the built-in launcher keeps a PID 1 that forwards signals and reaps
    # zombies (see pid1.py); an annotation, so runc ignores it.
    init: bool = False
    # --device: host nodes made in /dev, each with a cgroup rule (engine/devmap.py)
    devices: tuple[DeviceNode, ...] = ()
    # --device-cgroup-rule: more allow rules, as OCI linux.resources.devices entries
    device_rules: tuple[Mapping[str, Any], ...] = ()


def _env(req: BundleRequest) -> list[str]:
    env = list(req.env)
    if not any(e.startswith("PATH=") for e in env):
        env.insert(0, f"PATH={DEFAULT_PATH}")
    if req.terminal and not any(e.startswith("TERM=") for e in env):
        env.append("TERM=xterm")
    if not any(e.startswith("HOSTNAME=") for e in env) and req.hostname:
        env.append(f"HOSTNAME={req.hostname}")
    return env


def build_process(
    req: BundleRequest,
    *,
    available_caps: frozenset[str] | None = None,
    caller_limits: Mapping[int, tuple[int, int]] | None = None,
) -> dict[str, Any]:
    """The OCI `process` object (also what `launch exec --process` reads)."""
    caps = list(effective_caps(req.cap_add, req.cap_drop, privileged=req.privileged,
                               available=available_caps if available_caps is not None
                               else host_capabilities()))
    rlimits = check_rlimits(req.rlimits or default_rlimits(caller_limits), caller_limits)
    user: dict[str, Any] = {"uid": req.uid, "gid": req.gid}
    if req.additional_gids:
        user["additionalGids"] = list(req.additional_gids)
    if req.umask is not None:
        user["umask"] = req.umask
    process: dict[str, Any] = {
        "terminal": req.terminal,
        "user": user,
        "args": list(req.args),
        "env": _env(req),
        "cwd": req.cwd or "/",
        # Inheritable and ambient stay empty (CVE-2022-24769); a non-root process
        # then holds no effective capability after execve, exactly as in Docker.
        "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
        "rlimits": [r.to_oci() for r in rlimits],
        "noNewPrivileges": req.no_new_privs,
    }
    if req.oom_score_adj is not None:
        process["oomScoreAdj"] = req.oom_score_adj
    return process


def _namespaces(req: BundleRequest) -> list[dict[str, str]]:
    out = [{"type": "mount"}]
    for kind, value in (("network", req.network), ("pid", req.pid), ("ipc", req.ipc),
                        ("uts", req.uts), ("cgroup", req.cgroupns)):
        if value == "host":
            continue
        entry = {"type": kind}
        if value != "new":
            entry["path"] = value
        out.append(entry)
    return out


def _default_mounts(req: BundleRequest) -> list[MountSpec]:
    mounts = [
        MountSpec("/proc", "proc", "proc", ("nosuid", "noexec", "nodev")),
        MountSpec("/dev", "tmpfs", "tmpfs", ("nosuid", "strictatime", "mode=755", "size=65536k")),
        MountSpec("/dev/pts", "devpts", "devpts",
                  ("nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5")),
        MountSpec("/sys", "sysfs", "sysfs",
                  ("nosuid", "noexec", "nodev", "rw" if req.privileged else "ro")),
        MountSpec("/sys/fs/cgroup", "cgroup", "cgroup",
                  ("nosuid", "noexec", "nodev", "relatime", "rw" if req.privileged else "ro")),
        MountSpec("/dev/mqueue", "mqueue", "mqueue", ("nosuid", "noexec", "nodev")),
        MountSpec("/dev/shm", "tmpfs", "shm",
                  ("nosuid", "noexec", "nodev", "mode=1777",
                   f"size={req.shm_size or 64 << 20}")),
    ]
    if req.network == "host":
        # Without a network namespace of its own a container may not mount a
        # fresh sysfs (it would show the host's interfaces anyway): bind it.
        mounts[3] = MountSpec("/sys", "bind", "/sys", ("rbind", "nosuid", "noexec", "nodev", "ro"))
    taken = {m.destination.rstrip("/") for m in req.mounts}
    if not req.shm:
        taken.add("/dev/shm")
    return [m for m in mounts if m.destination not in taken]


def _seccomp(req: BundleRequest, caps: Mapping[str, Any]) -> dict[str, Any] | None:
    if req.seccomp_profile is not None:
        return dict(req.seccomp_profile)
    if req.privileged or req.seccomp == "unconfined":
        return None
    if req.seccomp != "default":
        raise UsageError(f"--security-opt seccomp={req.seccomp}: expected 'unconfined', "
                         "or a profile file (given as seccomp_profile)")
    if os.uname().machine != "x86_64":
        return None  # the compiler knows x86_64 syscall numbers only
    from stackctl.engine.runtime.seccomp import default_profile

    return default_profile(caps["bounding"])


def _sorted_mounts(mounts: tuple[MountSpec, ...]) -> list[MountSpec]:
    """Parents before children (`/data` before `/data/cache`), as Docker sorts them."""
    return sorted(mounts, key=lambda m: len([p for p in m.destination.split("/") if p]))


def build_config(
    req: BundleRequest,
    *,
    available_caps: frozenset[str] | None = None,
    caller_limits: Mapping[int, tuple[int, int]] | None = None,
) -> dict[str, Any]:
    """The OCI runtime-spec 1.0 config.json for `req` (a JSON-ready dict)."""
    process = build_process(req, available_caps=available_caps, caller_limits=caller_limits)
    resources = req.resources.to_oci()
    # --device: the node, and (after Docker's deny-all and defaults) its access rule
    resources["devices"] += [{"allow": True, "type": d.kind, "major": d.major,
                              "minor": d.minor, "access": d.access} for d in req.devices]
    resources["devices"] += [dict(r) for r in req.device_rules]
    custom = {d.path for d in req.devices}
    linux: dict[str, Any] = {
        "namespaces": _namespaces(req),
        "resources": resources,
        "devices": [
            *({"path": p, "type": "c", "major": ma, "minor": mi, "fileMode": 0o666,
               "uid": 0, "gid": 0}
              for p, ma, mi in _DEFAULT_DEVICES if p not in custom),
            *({"path": d.path, "type": d.kind, "major": d.major, "minor": d.minor,
               "fileMode": d.mode, "uid": d.uid, "gid": d.gid} for d in req.devices),
        ],
        "rootfsPropagation": "rprivate",
    }
    if req.cgroups_path:
        linux["cgroupsPath"] = req.cgroups_path
    if req.sysctls:
        problem = sysctl_problem(req.sysctls, {"ipc": req.ipc, "network": req.network,
                                               "uts": req.uts})
        if problem:
            raise UsageError(f"--sysctl: {problem}",
                             hint="only namespaced sysctls (net.*, kernel.shm*, kernel.msg*, "
                                  "kernel.sem, fs.mqueue.*) can be set per container")
        linux["sysctl"] = dict(req.sysctls)
    if req.domainname and req.uts != "host":
        # Also as the sysctl, as moby wrote it before the spec had the field: runc
        # before 1.2 ignores "domainname" but writes linux.sysctl.
        linux.setdefault("sysctl", {}).setdefault("kernel.domainname", req.domainname)
    masked = req.masked_paths if req.masked_paths is not None else (
        () if req.privileged else DEFAULT_MASKED_PATHS)
    readonly = req.readonly_paths if req.readonly_paths is not None else (
        () if req.privileged else DEFAULT_READONLY_PATHS)
    profile = _seccomp(req, process["capabilities"])
    if profile is not None:
        linux["seccomp"] = profile
    if masked:
        linux["maskedPaths"] = list(masked)
    if readonly:
        linux["readonlyPaths"] = list(readonly)
    config: dict[str, Any] = {
        "ociVersion": OCI_VERSION,
        "process": process,
        "root": {"path": req.rootfs, "readonly": req.readonly_root},
        "mounts": [m.to_oci() for m in (*_default_mounts(req), *_sorted_mounts(req.mounts))],
        "linux": linux,
    }
    if req.hostname and req.uts != "host":
        config["hostname"] = req.hostname
    if req.domainname and req.uts != "host":
        config["domainname"] = req.domainname
    annotations = dict(req.annotations)
    if req.init:
        annotations[INIT_ANNOTATION] = "true"
    if annotations:
        config["annotations"] = annotations
    return config


def write_bundle(bundle_dir: str | os.PathLike[str], req: BundleRequest) -> Path:
    """Write `<bundle_dir>/config.json` (temp + rename); returns its path.

    The config is built first, so bad input (an unknown capability, a ulimit
    above the caller's hard limit) raises before anything touches the disk.
    """
    config = build_config(req)
    bundle = Path(bundle_dir)
    bundle.mkdir(parents=True, exist_ok=True)
    return _write_json(bundle / "config.json", config)


def write_process(path: str | os.PathLike[str], process: Mapping[str, Any]) -> Path:
    """Write a process.json for `launch exec --process` / `runc exec --process`."""
    return _write_json(Path(path), process)


def _write_json(dest: Path, data: Any) -> Path:
    # Compact, as runc writes its state: json.dumps without indent runs the C
    # encoder, json.dump(indent=2) the pure-Python one (~5 ms per start, for a
    # config with Docker's seccomp profile). No fsync: the bundle is written
    # again at every start, and the rename keeps a reader from a torn file.
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    with open(tmp, "w") as f:
        f.write(json.dumps(data))
    os.replace(tmp, dest)
    return dest

