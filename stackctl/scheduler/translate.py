"""Service config (canonical compose dict) -> the engine's ContainerConfig.

The one place where stack-file vocabulary becomes engine vocabulary: named
volumes get their project-scoped names, networks their engine names, ports
the ``-p`` spelling, healthcheck durations seconds. Pure apart from looking at
the host's CPUs and device nodes that ``cpuset`` and ``devices`` must name (as
the CLI checks its flags): unit-tested without an engine. The labels written
here are what observe.py reads back.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import Any

from stackctl.engine import devmap, resources
from stackctl.engine.containers import (
    ContainerConfig,
    Healthcheck,
    MountRequest,
    NetworkAttachment,
    RestartPolicy,
    TmpfsMount,
    Ulimit,
)
from stackctl.errors import SchedulerError
from stackctl.net.etc_files import check_nameservers
from stackctl.scheduler import observe as L
from stackctl.scheduler.model import DesiredState, ServiceModel
from stackctl.spec.units import parse_bytes, parse_duration


def labels_for(desired: DesiredState, svc: ServiceModel, number: int, config_hash: str,
               *, oneoff: bool = False) -> dict[str, str]:
    labels = {str(k): str(v) for k, v in (svc.config.get("labels") or {}).items()}
    labels.update({
        L.LABEL_PROJECT: desired.project,
        L.LABEL_SERVICE: svc.name,
        L.LABEL_NUMBER: str(number),
        L.LABEL_HASH: config_hash,
        L.LABEL_ONEOFF: "True" if oneoff else "False",
        L.LABEL_IMAGE: svc.image,
    })
    if desired.working_dir:
        labels[L.LABEL_WORKDIR] = desired.working_dir
    return labels


def container_config(
    desired: DesiredState, svc: ServiceModel, *, name: str, number: int,
    config_hash: str | None = None, oneoff: bool = False,
    resolve_service: Mapping[str, str] | None = None, runtime: str | None = None,
) -> ContainerConfig:
    """``resolve_service`` maps a service name to one of its container names
    (for ``network_mode: service:x`` and ``volumes_from``)."""
    cfg = svc.config
    where = f"services.{svc.name}"
    network, nets = _network(desired, svc, resolve_service or {}, where)
    hc = _healthcheck(cfg.get("healthcheck"), where)
    deploy = cfg.get("deploy") or {}
    limits = ((deploy.get("resources") or {}).get("limits") or {}) if deploy else {}
    reservations = ((deploy.get("resources") or {}).get("reservations") or {}) if deploy else {}
    memory = cfg.get("mem_limit") or limits.get("memory")
    cpus = cfg.get("cpus") or limits.get("cpus")
    pids = cfg.get("pids_limit") or limits.get("pids")
    logging_opts = (cfg.get("logging") or {}).get("options") or {}
    extra: dict[str, Any] = {}
    if runtime:
        extra["runtime"] = runtime
    return ContainerConfig(
        image=svc.image,
        command=_words(cfg.get("command")),
        entrypoint=_words(cfg.get("entrypoint")),
        name=name,
        # KEY without a value (and unset in the caller's environment) stays a bare
        # KEY, which unsets the image's ENV of that name, as with compose
        env=tuple(k if v is None else f"{k}={v}"
                  for k, v in (cfg.get("environment") or {}).items()),
        working_dir=cfg.get("working_dir"),
        user=None if cfg.get("user") is None else str(cfg["user"]),
        hostname=cfg.get("hostname"),
        tty=bool(cfg.get("tty")),
        open_stdin=bool(cfg.get("stdin_open")),
        labels=labels_for(desired, svc, number, config_hash or svc.config_hash, oneoff=oneoff),
        mounts=_mounts(desired, cfg, where),
        tmpfs=_tmpfs(cfg),
        restart=_restart(cfg),
        memory=parse_bytes(memory) if memory is not None else None,
        memory_swap=_swap(cfg.get("memswap_limit")),
        cpus=float(cpus) if cpus is not None else None,
        pids_limit=int(pids) if pids is not None else None,
        cap_add=tuple(cfg.get("cap_add") or ()),
        cap_drop=tuple(cfg.get("cap_drop") or ()),
        privileged=bool(cfg.get("privileged")),
        read_only=bool(cfg.get("read_only")),
        init=bool(cfg.get("init")),
        network=network,
        network_aliases=nets[0].aliases if nets else (),
        networks=nets,
        publish=tuple(_ports(cfg.get("ports") or [])) if network != "host" else (),
        expose=tuple(e if "/" in e else f"{e}/tcp" for e in map(str, cfg.get("expose") or ())),
        healthcheck=hc,
        stop_signal=cfg.get("stop_signal"),
        stop_timeout=(int(parse_duration(cfg["stop_grace_period"]))
                      if cfg.get("stop_grace_period") is not None else None),
        log_max_size=parse_bytes(logging_opts["max-size"]) if "max-size" in logging_opts
        else None,
        log_max_file=int(logging_opts.get("max-file", 1)),
        ulimits=_ulimits(cfg.get("ulimits") or {}),
        sysctls={str(k): str(v) for k, v in _mapping(cfg.get("sysctls")).items()},
        ipc=_ipc(cfg.get("ipc"), resolve_service or {}, where),
        # links: [db:database]: "database" resolves to the service db, in this container
        links=tuple(f"{t}:{a or t}" for t, _, a in (str(x).partition(":")
                                                    for x in cfg.get("links") or ())),
        extra_hosts=_extra_hosts(cfg.get("extra_hosts"), where),
        dns=_checked(check_nameservers, _strs(cfg.get("dns")), f"{where}.dns"),
        dns_search=_strs(cfg.get("dns_search")),
        dns_options=_strs(cfg.get("dns_opt")),
        shm_size=parse_bytes(cfg["shm_size"]) if cfg.get("shm_size") is not None else None,
        group_add=_strs(cfg.get("group_add")),
        cpu_shares=_checked(resources.cpu_shares, cfg.get("cpu_shares"), f"{where}.cpu_shares"),
        cpu_period=_cfs(resources.cpu_period, cfg, "cpu_period", cpus, where),
        cpu_quota=_cfs(resources.cpu_quota, cfg, "cpu_quota", cpus, where),
        cpuset_cpus=_checked(resources.cpuset_cpus, cfg.get("cpuset"), f"{where}.cpuset"),
        memory_reservation=_reservation(cfg, reservations, memory, where),
        memory_swappiness=_checked(resources.memory_swappiness, cfg.get("mem_swappiness"),
                                   f"{where}.mem_swappiness"),
        oom_kill_disable=bool(cfg.get("oom_kill_disable")),
        oom_score_adj=_checked(resources.oom_score_adj, cfg.get("oom_score_adj"),
                               f"{where}.oom_score_adj"),
        domainname=_checked(resources.domainname, cfg.get("domainname"), f"{where}.domainname"),
        pid=_pid(cfg.get("pid"), resolve_service or {}, where),
        uts=_uts(cfg, where),
        security_opt=_security_opt(cfg.get("security_opt"), where),
        devices=_devices(cfg.get("devices"), where),
        device_cgroup_rules=tuple(
            str(_checked(devmap.parse_rule, str(r), f"{where}.device_cgroup_rules"))
            for r in cfg.get("device_cgroup_rules") or ()),
        **extra,
    )


def _cfs(check: Any, cfg: Mapping[str, Any], key: str, cpus: Any, where: str) -> int | None:
    """``cpu_period``/``cpu_quota``, checked as --cpu-period/--cpu-quota (not beside
    ``cpus``)."""
    def checked(value: Any, flag: str) -> int | None:
        return check(value, flag, cpus=float(cpus) if cpus is not None else None,  # type: ignore[no-any-return]
                     cpus_flag=f"{where}.cpus")

    return _checked(checked, cfg.get(key), f"{where}.{key}")  # type: ignore[no-any-return]


def _reservation(cfg: Mapping[str, Any], reservations: Mapping[str, Any], memory: Any,
                 where: str) -> int | None:
    """``mem_reservation``, or ``deploy.resources.reservations.memory`` (compose maps
    both to MemoryReservation), checked against the memory limit as Docker does."""
    key, value = "mem_reservation", cfg.get("mem_reservation")
    if value is None and reservations.get("memory") is not None:
        key, value = "deploy.resources.reservations.memory", reservations["memory"]
    if value is None:
        return None
    limit = parse_bytes(memory) if memory is not None else None

    def check(v: Any, flag: str) -> int | None:
        return resources.memory_reservation(parse_bytes(v), flag, memory=limit,
                                            memory_flag=f"{where}.mem_limit")

    return _checked(check, value, f"{where}.{key}")  # type: ignore[no-any-return]


def _swap(value: Any) -> int | None:
    """``memswap_limit``: memory plus swap, as --memory-swap (-1: unlimited swap)."""
    if value is None:
        return None
    return -1 if str(value).strip() == "-1" else parse_bytes(value)


def _strs(value: Any) -> tuple[str, ...]:
    """A string or a list of them (compose's ``dns: 8.8.8.8`` or ``dns: [...]``)."""
    if value is None:
        return ()
    return (str(value),) if isinstance(value, str | int) else tuple(map(str, value))


def _extra_hosts(value: Any, where: str) -> tuple[str, ...]:
    """``extra_hosts`` (a mapping of host to addresses once loaded, or the list form)
    as ``HOST:IP`` entries, each checked as --add-host checks it."""
    from stackctl.net.etc_files import parse_extra_host

    if isinstance(value, Mapping):
        items = [f"{host}:{ip}" for host, ips in value.items()
                 for ip in ([ips] if isinstance(ips, str) else ips)]
    else:
        items = [str(v) for v in value or ()]
    for item in items:
        _checked(parse_extra_host, item, f"{where}.extra_hosts")
    return tuple(items)


def _checked(check: Any, value: Any, where: str) -> Any:
    """``check(value, flag=where)``, its UsageError as this stack file's error."""
    from stackctl.errors import UsageError

    try:
        return check(value, flag=where)
    except UsageError as exc:
        raise SchedulerError(exc.message, hint=exc.hint) from None


def _words(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return tuple(shlex.split(value))
    return tuple(str(v) for v in value)


def _mapping(value: Any) -> dict[str, Any]:
    if isinstance(value, Mapping):
        return dict(value)
    out: dict[str, Any] = {}
    for item in value or []:
        k, _, v = str(item).partition("=")
        out[k] = v
    return out


def _network(desired: DesiredState, svc: ServiceModel, resolve: Mapping[str, str],
             where: str) -> tuple[str, tuple[NetworkAttachment, ...] | None]:
    """The network mode, and every network the service joins, in compose's order: by
    ``priority`` (highest first), then by key; the first is the primary one (eth0,
    the default route). All of them are in the config, so every start joins them.
    With ``network_mode`` the engine derives them from the mode (None)."""
    mode = svc.config.get("network_mode")
    if mode:
        mode = str(mode)
        if mode.startswith("service:"):
            target = mode.split(":", 1)[1]
            if target not in resolve:
                raise SchedulerError(f"{where}.network_mode: service {target!r} has no "
                                     "running container to share a network with")
            return f"container:{resolve[target]}", None
        return mode, None  # bridge (Docker's default network), host, none, container:
    if not svc.networks:
        return "none", None
    nets = svc.config.get("networks") or {}
    keys = sorted(svc.networks, key=lambda k: (-int(((nets.get(k) or {}).get("priority"))
                                                    or 0), k))
    out = []
    for key in keys:
        entry = nets.get(key) or {}
        aliases = [svc.name, *(entry.get("aliases") or [])]
        ip = entry.get("ipv4_address")
        out.append(NetworkAttachment(desired.networks[key].name,
                                     tuple(dict.fromkeys(str(a) for a in aliases)),
                                     str(ip) if ip else None))
    return out[0].name, tuple(out)


def _ipc(mode: Any, resolve: Mapping[str, str], where: str) -> str:
    """compose's ``ipc:``; ``service:x`` joins one of x's containers (the engine
    stores it by id, and refuses one that is not shareable, as Docker does)."""
    if not mode:
        return "private"
    text = str(mode)
    if text.startswith("service:"):
        return _service_container(text, resolve, f"{where}.ipc", "an IPC")
    return text


def _service_container(mode: str, resolve: Mapping[str, str], key: str, what: str) -> str:
    """``service:x`` of a namespace key as ``container:<one of x's containers>``."""
    target = mode.split(":", 1)[1]
    if target not in resolve:
        raise SchedulerError(f"{key}: service {target!r} has no running container "
                             f"to share {what} namespace with")
    return f"container:{resolve[target]}"


def _pid(mode: Any, resolve: Mapping[str, str], where: str) -> str:
    """compose's ``pid:``: host, ``container:x``, or ``service:x`` (one of x's
    containers, which the engine stores by id and must be running)."""
    from stackctl.engine.pidns import parse_pid

    text = str(mode or "")
    if text.startswith("service:"):
        return _service_container(text, resolve, f"{where}.pid", "a PID")
    return str(_checked(parse_pid, text, f"{where}.pid"))


def _uts(cfg: Mapping[str, Any], where: str) -> str:
    """compose's ``uts: host`` (refused beside hostname or domainname, as Docker)."""
    from stackctl.engine.pidns import parse_uts, uts_conflict

    mode = str(_checked(parse_uts, str(cfg.get("uts") or ""), f"{where}.uts"))
    conflict = uts_conflict(mode, cfg.get("hostname"), cfg.get("domainname"))
    if conflict:
        raise SchedulerError(f"{where}.uts: {conflict}",
                             hint="drop uts: host, or hostname/domainname")
    return mode


def _security_opt(value: Any, where: str) -> tuple[str, ...]:
    """``security_opt``, each checked as --security-opt checks it (the loader has
    warned about the ones this host ignores)."""
    from stackctl import secopts

    opts = tuple(_checked(secopts.normalize, str(o), f"{where}.security_opt")
                 for o in value or ())
    _checked(secopts.interpret, opts, f"{where}.security_opt")
    return opts


def _devices(value: Any, where: str) -> tuple[str, ...]:
    """``devices`` (the short ``HOST[:CONTAINER[:PERMS]]`` or the long form the loader
    makes of it) as ``HOST:CONTAINER:PERMS``, checked as --device checks it."""
    out = []
    for item in value or ():
        if isinstance(item, Mapping):
            item = ":".join(str(item.get(k) or d) for k, d in (
                ("source", ""), ("target", item.get("source")), ("permissions", "rwm")))
        norm = _checked(devmap.parse, str(item), f"{where}.devices")
        _checked(devmap.nodes, norm, f"{where}.devices")
        out.append(str(norm))
    return tuple(out)


def _healthcheck(raw: Any, where: str) -> Healthcheck | None:
    if not isinstance(raw, Mapping):
        return None
    if raw.get("disable"):
        return Healthcheck(("NONE",))
    test = raw.get("test")
    if test is None:
        return None
    if isinstance(test, str):
        test = ["CMD-SHELL", test]
    test = [str(t) for t in test]
    if test[0] == "NONE":
        return Healthcheck(("NONE",))

    def seconds(key: str, default: float) -> float:
        value = raw.get(key)
        try:
            return default if value is None else float(parse_duration(value))
        except ValueError as exc:
            raise SchedulerError(f"{where}.healthcheck.{key}: {exc}") from None

    if raw.get("start_interval") is not None and raw.get("start_period") is None:
        # compose refuses it at create time (probes at start_interval need a period)
        raise SchedulerError(f"{where}: healthcheck.start_interval requires "
                             "healthcheck.start_period to be set",
                             hint="add healthcheck.start_period, or drop start_interval")

    return Healthcheck(
        test=tuple(test),
        interval=seconds("interval", 30.0),
        timeout=seconds("timeout", 30.0),
        retries=int(raw.get("retries", 3)),
        start_period=seconds("start_period", 0.0),
        start_interval=seconds("start_interval", 0.0),
    )


def _mounts(desired: DesiredState, cfg: Mapping[str, Any], where: str
            ) -> tuple[MountRequest, ...]:
    out: list[MountRequest] = []
    for v in cfg.get("volumes") or []:
        if not isinstance(v, Mapping):
            raise SchedulerError(f"{where}.volumes: expected the long form, got {v!r}")
        kind = v.get("type", "volume")
        ro = bool(v.get("read_only"))
        target = str(v["target"])
        if kind == "bind":
            out.append(MountRequest("bind", target, str(v["source"]), ro))
        elif kind == "volume" and v.get("source"):
            out.append(MountRequest("volume", target, desired.volumes[str(v["source"])].name, ro))
        elif kind == "volume":
            out.append(MountRequest("anonymous", target, "", ro))
    out.extend(_file_mounts(desired, cfg, where))
    return tuple(out)


def _file_mounts(desired: DesiredState, cfg: Mapping[str, Any], where: str
                 ) -> list[MountRequest]:
    """Service ``secrets:`` at /run/secrets/<name> and ``configs:`` at /<name> (or their
    ``target``), read-only binds of the top-level entry's ``file``, as compose does."""
    out: list[MountRequest] = []
    for kind, top, base in (("secrets", desired.secrets, "/run/secrets/"),
                            ("configs", desired.configs, "/")):
        for i, ref in enumerate(cfg.get(kind) or []):
            ref = ref if isinstance(ref, Mapping) else {"source": ref}
            source = str(ref["source"])
            entry = top.get(source)
            if entry is None:
                raise SchedulerError(f"{where}.{kind}[{i}]: undefined {kind[:-1]} {source!r}",
                                     hint=f"declare it under the top-level {kind}: key")
            if not entry.get("file"):
                raise SchedulerError(
                    f"{where}.{kind}[{i}]: {kind[:-1]} {source!r} is not file-based",
                    hint=f"only {kind} with file: can be mounted (not content:, "
                         "environment: or external:)")
            target = str(ref.get("target") or source)
            out.append(MountRequest("bind", target if target.startswith("/") else base + target,
                                    str(entry["file"]), True))
    return out


def _tmpfs(cfg: Mapping[str, Any]) -> tuple[TmpfsMount, ...]:
    out = []
    raw = cfg.get("tmpfs") or []
    for item in [raw] if isinstance(raw, str) else raw:
        path, _, opts = str(item).partition(":")
        out.append(TmpfsMount(path, opts))
    for v in cfg.get("volumes") or []:
        if isinstance(v, Mapping) and v.get("type") == "tmpfs":
            size = (v.get("tmpfs") or {}).get("size")
            out.append(TmpfsMount(str(v["target"]), f"size={size}" if size else ""))
    return tuple(out)


def _restart(cfg: Mapping[str, Any]) -> RestartPolicy:
    value = cfg.get("restart")
    if value is None:
        policy = ((cfg.get("deploy") or {}).get("restart_policy") or {})
        cond = policy.get("condition")
        if not cond:
            return RestartPolicy()
        value = {"any": "always", "on-failure": "on-failure", "none": "no"}.get(cond, "no")
        return RestartPolicy(str(value), int(policy.get("max_attempts") or 0))
    name, _, count = str(value).partition(":")
    return RestartPolicy(name, int(count) if count.isdigit() else 0)


def _ports(ports: list[Any]) -> list[str]:
    out = []
    for p in ports:
        if not isinstance(p, Mapping):
            out.append(str(p))
            continue
        spec = f"{p['target']}/{p.get('protocol') or 'tcp'}"
        published = p.get("published")
        if published not in (None, ""):
            spec = f"{published}:{spec}"
        elif p.get("host_ip"):
            spec = f":{spec}"
        if p.get("host_ip"):
            spec = f"{p['host_ip']}:{spec}"
        out.append(spec)
    return out


def _ulimits(raw: Mapping[str, Any]) -> tuple[Ulimit, ...]:
    out = []
    for name, value in sorted(raw.items()):
        if isinstance(value, Mapping):
            out.append(Ulimit(name, int(value["soft"]), int(value["hard"])))
        else:
            out.append(Ulimit(name, int(value), int(value)))
    return tuple(out)


__all__ = ["container_config", "labels_for"]
