"""``run``/``create`` flags -> a ``ContainerConfig`` (pure; Docker's flag grammar).

Every bad value raises ``UsageError`` naming the flag, before anything exists.
"""

from __future__ import annotations

import os
from pathlib import Path

from stackctl.engine.containers import (
    ContainerConfig,
    Healthcheck,
    MountRequest,
    NetworkAttachment,
    RestartPolicy,
    TmpfsMount,
    Ulimit,
)
from stackctl.errors import UsageError
from stackctl.lightdc import dataclass, field


@dataclass(frozen=True)
class RunFlags:
    """The raw flag values, as typer hands them over."""

    image: str
    args: tuple[str, ...] = ()
    name: str | None = None
    env: tuple[str, ...] = ()
    env_file: tuple[str, ...] = ()
    volume: tuple[str, ...] = ()
    mount: tuple[str, ...] = ()
    tmpfs: tuple[str, ...] = ()
    workdir: str | None = None
    user: str | None = None
    hostname: str | None = None
    entrypoint: str | None = None
    restart: str = "no"
    rm: bool = False
    interactive: bool = False
    tty: bool = False
    memory: str | None = None
    memory_swap: str | None = None
    cpus: str | None = None
    pids_limit: int | None = None
    cap_add: tuple[str, ...] = ()
    cap_drop: tuple[str, ...] = ()
    privileged: bool = False
    read_only: bool = False
    init: bool = False
    label: tuple[str, ...] = ()
    network: str = "bridge"  # Docker's default: the `bridge` network (stackctl/net)
    network_alias: tuple[str, ...] = ()
    ip: str | None = None  # --ip: a static address on the network
    publish: tuple[str, ...] = ()
    publish_all: bool = False
    expose: tuple[str, ...] = ()
    health_cmd: str | None = None
    health_interval: str | None = None
    health_timeout: str | None = None
    health_retries: int | None = None
    health_start_period: str | None = None
    health_start_interval: str | None = None
    no_healthcheck: bool = False
    stop_signal: str | None = None
    stop_timeout: int | None = None
    log_opt: tuple[str, ...] = ()
    ulimit: tuple[str, ...] = ()
    sysctl: tuple[str, ...] = ()
    runtime: str = "stackctl"
    ipc: str = ""  # "": private (engine/ipc.py)
    link: tuple[str, ...] = ()  # NAME[:ALIAS]
    add_host: tuple[str, ...] = ()
    dns: tuple[str, ...] = ()
    dns_search: tuple[str, ...] = ()
    dns_option: tuple[str, ...] = ()
    shm_size: str | None = None
    group_add: tuple[str, ...] = ()
    cpu_shares: int | None = None
    cpu_period: int | None = None
    cpu_quota: int | None = None
    cpuset_cpus: str | None = None
    cpuset_mems: str | None = None
    memory_reservation: str | None = None
    memory_swappiness: int | None = None
    oom_kill_disable: bool = False
    oom_score_adj: int | None = None
    domainname: str | None = None
    pid: str | None = None  # None: a PID namespace of its own (engine/pidns.py)
    uts: str | None = None
    security_opt: tuple[str, ...] = ()
    device: tuple[str, ...] = ()
    device_cgroup_rule: tuple[str, ...] = ()
    extra: dict[str, str] = field(default_factory=dict)


def parse_volume(spec: str) -> MountRequest:
    """``-v [SRC:]DST[:ro|rw]``: a host path (absolute or ./relative) or a volume name."""
    parts = spec.split(":")
    mode = ""
    if len(parts) >= 2 and set(parts[-1].split(",")) <= {"ro", "rw", "z", "Z", "rprivate",
                                                         "private", "rslave", "nocopy"}:
        mode = parts.pop()
    if len(parts) == 1:
        target = parts[0]
        if not target.startswith("/"):
            raise UsageError(f"-v {spec}: the container path must be absolute")
        return MountRequest("anonymous", target, "", "ro" in mode.split(","))
    if len(parts) != 2 or not parts[0] or not parts[1]:
        raise UsageError(f"-v {spec}: expected [SOURCE:]DESTINATION[:ro]",
                         hint="e.g. -v data:/var/lib/data or -v /host/dir:/dir:ro")
    source, target = parts
    if not target.startswith("/"):
        raise UsageError(f"-v {spec}: the container path {target!r} must be absolute")
    ro = "ro" in mode.split(",")
    if source.startswith(("/", ".", "~")):
        return MountRequest("bind", target, os.path.abspath(os.path.expanduser(source)), ro)
    from stackctl.engine.volumes import VOLUME_NAME_RE

    if not VOLUME_NAME_RE.match(source):
        raise UsageError(f"-v {spec}: {source!r} is not a valid volume name",
                         hint="names match [a-zA-Z0-9][a-zA-Z0-9_.-]+; host paths start with /")
    return MountRequest("volume", target, source, ro)


def parse_mount(spec: str) -> MountRequest | TmpfsMount:
    """``--mount type=bind|volume|tmpfs,source=…,target=…[,readonly]`` (Docker's CSV form)."""
    fields: dict[str, str] = {}
    for part in spec.split(","):
        key, sep, value = part.partition("=")
        key = key.strip().lower()
        if not sep and key in ("readonly", "ro"):
            value = "true"
        fields[key] = value.strip()
    kind = fields.pop("type", "volume")
    target = fields.pop("target", None) or fields.pop("dst", None) or \
        fields.pop("destination", None)
    source = fields.pop("source", None) or fields.pop("src", None) or ""
    ro = fields.pop("readonly", fields.pop("ro", "false")).lower() in ("true", "1", "")
    if not target or not target.startswith("/"):
        raise UsageError(f"--mount {spec}: target must be an absolute path",
                         hint="e.g. --mount type=volume,source=data,target=/data")
    if kind == "tmpfs":
        opts = []
        if "tmpfs-size" in fields:
            opts.append(f"size={fields.pop('tmpfs-size')}")
        if "tmpfs-mode" in fields:
            opts.append(f"mode={fields.pop('tmpfs-mode')}")
        return TmpfsMount(target, ",".join(opts))
    if kind == "bind":
        if not source:
            raise UsageError(f"--mount {spec}: a bind mount needs source=")
        return MountRequest("bind", target, os.path.abspath(os.path.expanduser(source)), ro)
    if kind == "volume":
        return MountRequest("volume" if source else "anonymous", target, source, ro)
    raise UsageError(f"--mount {spec}: unknown type {kind!r}", hint="use bind, volume or tmpfs")


def parse_tmpfs(spec: str) -> TmpfsMount:
    target, _, options = spec.partition(":")
    if not target.startswith("/"):
        raise UsageError(f"--tmpfs {spec}: the path must be absolute")
    return TmpfsMount(target, options)


def parse_restart(text: str) -> RestartPolicy:
    name, _, count = text.partition(":")
    if name not in ("no", "always", "on-failure", "unless-stopped"):
        raise UsageError(f"--restart {text}: unknown policy",
                         hint="use no, always, on-failure[:N] or unless-stopped")
    if count:
        if name != "on-failure":
            raise UsageError(f"--restart {text}: only on-failure takes a retry count")
        if not count.isdigit():
            raise UsageError(f"--restart {text}: {count!r} is not a number")
        return RestartPolicy(name, int(count))
    return RestartPolicy(name)


def read_env_file(path: str) -> list[str]:
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise UsageError(f"--env-file {path}: {exc.strerror}") from None
    out = []
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key = line.partition("=")[0]
        if not key or any(c.isspace() for c in key):
            raise UsageError(f"{path}:{lineno}: invalid variable name {key!r}")
        out.append(line if "=" in line else _from_host(line))
    return [e for e in out if e]


def _from_host(key: str) -> str:
    """``-e KEY`` passes the caller's value, or nothing when the caller has none."""
    return f"{key}={os.environ[key]}" if key in os.environ else ""


def parse_env(env: tuple[str, ...], env_files: tuple[str, ...]) -> tuple[str, ...]:
    out: list[str] = []
    for f in env_files:
        out += read_env_file(f)
    for e in env:
        if e.startswith("="):
            raise UsageError(f"-e {e}: the variable name is empty")
        item = e if "=" in e else _from_host(e)
        if item:
            out.append(item)
    return tuple(out)


def parse_labels(labels: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for lab in labels:
        key, _, value = lab.partition("=")
        if not key:
            raise UsageError(f"--label {lab}: the key is empty")
        out[key] = value
    return out


def _duration(flag: str, text: str | None) -> float | None:
    if text is None:
        return None
    from stackctl.spec.units import UnitError, parse_duration

    try:
        return parse_duration(text)
    except UnitError as exc:
        raise UsageError(f"{flag} {text}: {exc}") from None


def _bytes(flag: str, text: str | None) -> int | None:
    if text is None:
        return None
    if flag == "--memory-swap" and text.strip() == "-1":
        return -1
    from stackctl.spec.units import UnitError, parse_bytes

    try:
        value = parse_bytes(text)
    except UnitError as exc:
        raise UsageError(f"{flag} {text}: {exc}") from None
    if flag == "--memory" and value < 6 * 1024 * 1024:
        raise UsageError(f"{flag} {text}: minimum memory limit allowed is 6MB")
    return value


def parse_health(f: RunFlags) -> Healthcheck | None:
    if f.no_healthcheck:
        return Healthcheck(("NONE",))
    if f.health_cmd is None:
        if any(v is not None for v in (f.health_interval, f.health_timeout, f.health_retries,
                                       f.health_start_period, f.health_start_interval)):
            raise UsageError("--health-* options need --health-cmd (or an image HEALTHCHECK)")
        return None
    retries = f.health_retries if f.health_retries is not None else 3
    if retries < 0:
        raise UsageError("--health-retries cannot be negative")
    return Healthcheck(
        ("CMD-SHELL", f.health_cmd),
        interval=_duration("--health-interval", f.health_interval) or 30.0,
        timeout=_duration("--health-timeout", f.health_timeout) or 30.0,
        retries=retries,
        start_period=_duration("--health-start-period", f.health_start_period) or 0.0,
        start_interval=_duration("--health-start-interval", f.health_start_interval) or 0.0)


def parse_log_opts(opts: tuple[str, ...]) -> tuple[int | None, int]:
    size: int | None = None
    count = 1
    for opt in opts:
        key, _, value = opt.partition("=")
        if key == "max-size":
            size = _bytes("--log-opt max-size", value)
        elif key == "max-file":
            if not value.isdigit() or int(value) < 1:
                raise UsageError(f"--log-opt {opt}: max-file must be a positive number")
            count = int(value)
        else:
            raise UsageError(f"--log-opt {opt}: unknown log option for json-file",
                             hint="json-file takes max-size and max-file")
    return size, count


def parse_ulimits(values: tuple[str, ...]) -> tuple[Ulimit, ...]:
    from stackctl.engine.runtime.rlimits import parse_ulimit

    return tuple(Ulimit(r.type, r.soft, r.hard) for r in map(parse_ulimit, values))


def _attachments(f: RunFlags) -> tuple[NetworkAttachment, ...]:
    """The bridge network ``--network`` names, with its aliases and ``--ip``."""
    bridged = f.network not in ("none", "host") and not f.network.startswith("container:")
    if f.ip is not None:
        if not bridged:
            raise UsageError(f"--ip needs a bridge network, not --network {f.network}")
        from stackctl.net.ipam import parse_address

        parse_address(f.ip, flag="--ip")
    if not bridged:
        return ()
    return (NetworkAttachment(f.network, f.network_alias, f.ip),)


def parse_link(spec: str) -> str:
    """``--link NAME[:ALIAS]`` -> ``NAME:ALIAS`` (ALIAS defaults to NAME)."""
    name, _, alias = spec.strip().partition(":")
    name, alias = name.lstrip("/"), alias or name.lstrip("/")
    if not name or ":" in alias:
        raise UsageError(f"--link {spec!r}: expected NAME or NAME:ALIAS")
    return f"{name}:{alias}"


def to_config(f: RunFlags) -> ContainerConfig:
    from stackctl.engine import pidns, resources
    from stackctl.engine.ipc import parse as parse_ipc

    cpus: float | None = None
    if f.cpus is not None:
        try:
            cpus = float(f.cpus)
        except ValueError:
            raise UsageError(f"--cpus {f.cpus}: not a number") from None
        if cpus <= 0 or cpus > os.cpu_count() * 1.0:  # type: ignore[operator]
            raise UsageError(f"--cpus {f.cpus}: range of CPUs is from 0.01 to {os.cpu_count()}")
    if f.pids_limit is not None and f.pids_limit == 0:
        raise UsageError("--pids-limit 0: use -1 for unlimited or a positive number")
    size, count = parse_log_opts(f.log_opt)
    mount_specs = [parse_mount(m) for m in f.mount]
    sysctls = {}
    for s in f.sysctl:
        key, sep, value = s.partition("=")
        if not sep:
            raise UsageError(f"--sysctl {s}: expected KEY=VALUE")
        sysctls[key] = value
    if f.rm and f.restart != "no":
        raise UsageError("conflicting options: --restart and --rm",
                         hint="a container removed on exit cannot be restarted")
    if f.runtime not in ("runc", "stackctl"):
        raise UsageError(f"--runtime {f.runtime}: unknown runtime", hint="use stackctl or runc")
    return ContainerConfig(
        image=f.image,
        command=tuple(f.args) if f.args else None,
        # Docker takes --entrypoint as one executable name; "" clears the image's.
        entrypoint=((f.entrypoint,) if f.entrypoint else ()) if f.entrypoint is not None
        else None,
        name=f.name,
        env=parse_env(f.env, f.env_file),
        working_dir=f.workdir,
        user=f.user,
        hostname=f.hostname,
        tty=f.tty,
        open_stdin=f.interactive,
        labels=parse_labels(f.label),
        mounts=(*(parse_volume(v) for v in f.volume),
                *(m for m in mount_specs if isinstance(m, MountRequest))),
        tmpfs=(*(parse_tmpfs(t) for t in f.tmpfs),
               *(m for m in mount_specs if isinstance(m, TmpfsMount))),
        restart=parse_restart(f.restart),
        auto_remove=f.rm,
        memory=_bytes("--memory", f.memory),
        memory_swap=_bytes("--memory-swap", f.memory_swap),
        cpus=cpus,
        pids_limit=f.pids_limit if f.pids_limit is None or f.pids_limit > 0 else None,
        cap_add=f.cap_add,
        cap_drop=f.cap_drop,
        privileged=f.privileged,
        read_only=f.read_only,
        init=f.init,
        network=f.network,
        network_aliases=f.network_alias,
        networks=_attachments(f),
        publish=f.publish,
        publish_all=f.publish_all,
        expose=tuple(e if "/" in e else f"{e}/tcp" for e in f.expose),
        healthcheck=parse_health(f),
        stop_signal=f.stop_signal,
        stop_timeout=f.stop_timeout,
        log_max_size=size,
        log_max_file=count,
        ulimits=parse_ulimits(f.ulimit),
        sysctls=sysctls,
        ipc=parse_ipc(f.ipc),
        links=tuple(parse_link(v) for v in f.link),
        runtime=f.runtime,
        extra_hosts=_extra_hosts(f.add_host),
        dns=_nameservers(f.dns),
        dns_search=f.dns_search,
        dns_options=f.dns_option,
        shm_size=_positive_bytes(f.shm_size, "--shm-size"),
        group_add=f.group_add,
        cpu_shares=resources.cpu_shares(f.cpu_shares),
        cpu_period=resources.cpu_period(f.cpu_period, cpus=cpus),
        cpu_quota=resources.cpu_quota(f.cpu_quota, cpus=cpus),
        cpuset_cpus=resources.cpuset_cpus(f.cpuset_cpus),
        cpuset_mems=resources.cpuset_mems(f.cpuset_mems),
        memory_reservation=resources.memory_reservation(
            _bytes("--memory-reservation", f.memory_reservation),
            memory=_bytes("--memory", f.memory)),
        memory_swappiness=_memory_swappiness(f),
        oom_kill_disable=f.oom_kill_disable,
        oom_score_adj=resources.oom_score_adj(f.oom_score_adj),
        domainname=resources.domainname(f.domainname),
        pid=pidns.parse_pid(f.pid),
        uts=_uts(f),
        security_opt=_security_opt(f.security_opt),
        devices=_devices(f.device),
        device_cgroup_rules=_device_rules(f.device_cgroup_rule),
    )


def _device_rules(rules: tuple[str, ...]) -> tuple[str, ...]:
    from stackctl.engine import devmap

    return tuple(devmap.parse_rule(r) for r in rules)


def _memory_swappiness(f: RunFlags) -> int | None:
    """--memory-swappiness, and Docker's warnings about it and --oom-kill-disable:
    both are discarded where the memory controller is cgroup v2's, and an OOM
    killer disabled without a memory limit can exhaust the host."""
    import sys

    from stackctl.engine import resources

    swappiness = resources.memory_swappiness(f.memory_swappiness)
    warn = []
    if (swappiness is not None or f.oom_kill_disable) and not resources.v1_memory_controller():
        warn.append("this host's memory cgroup (v2) has no swappiness or OOM killer switch: "
                    "--memory-swappiness and --oom-kill-disable are discarded")
    elif f.oom_kill_disable and f.memory is None:
        warn.append("OOM killer is disabled for the container, but no memory limit is set, "
                    "this can result in the system running out of resources")
    for text in warn:
        sys.stderr.write(f"WARNING: {text}\n")
    return swappiness


def _devices(specs: tuple[str, ...]) -> tuple[str, ...]:
    """``--device`` entries, the host nodes looked up now so that a missing one
    exits 125 before anything is made (the engine looks again at every start)."""
    from stackctl.engine import devmap

    out = tuple(devmap.parse(s) for s in specs)
    for d in out:
        devmap.nodes(d)
    return out


def _security_opt(opts: tuple[str, ...]) -> tuple[str, ...]:
    """The options as Docker stores them; those this host ignores are said on
    stderr, as Docker's CLI prints its daemon's warnings."""
    import sys

    from stackctl import secopts

    out = tuple(secopts.normalize(o) for o in opts)
    for text in secopts.warnings(out):
        sys.stderr.write(f"WARNING: {text}\n")
    return out


def _uts(f: RunFlags) -> str:
    from stackctl.engine import pidns

    mode = pidns.parse_uts(f.uts)
    conflict = pidns.uts_conflict(mode, f.hostname, f.domainname)
    if conflict:
        raise UsageError(f"conflicting options: --uts {mode} and "
                         f"{'--hostname' if f.hostname else '--domainname'}: {conflict}",
                         hint="drop one of them")
    return mode


def _extra_hosts(specs: tuple[str, ...]) -> tuple[str, ...]:
    from stackctl.net.etc_files import parse_extra_host

    return tuple(f"{n}:{ip}" for n, ip in map(parse_extra_host, specs))


def _nameservers(servers: tuple[str, ...]) -> tuple[str, ...]:
    from stackctl.net.etc_files import check_nameservers

    return check_nameservers(servers)


def _positive_bytes(value: str | None, flag: str) -> int | None:
    if value is None:
        return None
    n = _bytes(flag, value)
    if n is None or n <= 0:
        raise UsageError(f"{flag} {value!r}: must be greater than 0", hint="e.g. 256m")
    return n


__all__ = ["RunFlags", "parse_env", "parse_link", "parse_restart", "parse_tmpfs", "parse_volume",
           "to_config"]
