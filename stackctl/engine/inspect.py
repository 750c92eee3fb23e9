"""Docker-shaped ``inspect`` JSON for a container record (pure apart from reading paths)."""

from __future__ import annotations

from typing import Any

from stackctl.engine import oci
from stackctl.engine.containers import ContainerRecord, ContainerStatus
from stackctl.engine.volumes import VolumeStore

ZERO_TIME = "0001-01-01T00:00:00Z"


def _ns(seconds: float) -> int:
    return int(seconds * 1_000_000_000)


def container_json(rec: ContainerRecord, paths: oci.ContainerPaths,
                   volumes: VolumeStore) -> dict[str, Any]:
    c = rec.config
    s = rec.status
    state: dict[str, Any] = {
        "Status": s.value,
        "Running": s in (ContainerStatus.RUNNING, ContainerStatus.PAUSED),
        "Paused": s == ContainerStatus.PAUSED,
        "Restarting": s == ContainerStatus.RESTARTING,
        "OOMKilled": rec.oom_killed,
        "Dead": s == ContainerStatus.DEAD,
        "Pid": rec.pid or 0,
        "ExitCode": rec.exit_code or 0,
        "Error": rec.error,
        "StartedAt": rec.started_at or ZERO_TIME,
        "FinishedAt": rec.finished_at or ZERO_TIME,
    }
    if rec.health is not None:
        state["Health"] = {"Status": rec.health.status,
                           "FailingStreak": rec.health.failing_streak,
                           "Log": list(rec.health.log)}
    mounts = []
    for m in c.mounts:
        if m.kind == "bind":
            mounts.append({"Type": "bind", "Source": m.source, "Destination": m.target,
                           "Mode": "ro" if m.read_only else "", "RW": not m.read_only,
                           "Propagation": "rprivate"})
        else:
            mounts.append({"Type": "volume", "Name": m.source,
                           "Source": str(volumes.path(m.source)), "Destination": m.target,
                           "Driver": "local", "Mode": "ro" if m.read_only else "z",
                           "RW": not m.read_only, "Propagation": ""})
    hc = None
    if c.healthcheck is not None:
        hc = {"Test": list(c.healthcheck.test), "Interval": _ns(c.healthcheck.interval),
              "Timeout": _ns(c.healthcheck.timeout), "Retries": c.healthcheck.retries,
              "StartPeriod": _ns(c.healthcheck.start_period),
              "StartInterval": _ns(c.healthcheck.start_interval)}
    config: dict[str, Any] = {
        "Hostname": c.hostname or rec.id[:12],
        "Domainname": c.domainname or "",
        "User": c.user or "",
        "AttachStdin": c.open_stdin,
        "Tty": c.tty,
        "OpenStdin": c.open_stdin,
        "Env": list(c.env),
        "Cmd": list(c.command) if c.command is not None else None,
        "Entrypoint": list(c.entrypoint) if c.entrypoint is not None else None,
        "Image": rec.image_ref,
        "Volumes": {m.target: {} for m in c.mounts if m.kind == "anonymous"} or None,
        "WorkingDir": c.working_dir or "",
        "Labels": rec.labels,
        "StopSignal": c.stop_signal or "SIGTERM",
    }
    exposed = {p if "/" in p else p + "/tcp" for p in c.expose} | set(_port_bindings(c.publish))
    if exposed:
        config["ExposedPorts"] = {p: {} for p in sorted(exposed)}
    if c.stop_timeout is not None:
        config["StopTimeout"] = c.stop_timeout
    if hc is not None:
        config["Healthcheck"] = hc
    host_config: dict[str, Any] = {
        "Binds": [f"{m.source}:{m.target}{':ro' if m.read_only else ''}"
                  for m in c.mounts if m.kind in ("bind", "volume")] or None,
        "NetworkMode": c.network,
        "IpcMode": c.ipc,
        "PidMode": c.pid,
        "UTSMode": c.uts,
        "SecurityOpt": list(c.security_opt) or None,
        "Devices": [dict(zip(("PathOnHost", "PathInContainer", "CgroupPermissions"),
                             d.rsplit(":", 2), strict=True)) for d in c.devices] or None,
        "DeviceCgroupRules": list(c.device_cgroup_rules) or None,
        "Links": [f"/{t}:/{rec.name}/{a}" for t, _, a in (k.rpartition(":") for k in c.links)]
        or None,
        "RestartPolicy": {"Name": c.restart.name, "MaximumRetryCount": c.restart.max_retries},
        "AutoRemove": c.auto_remove,
        "CapAdd": list(c.cap_add) or None,
        "CapDrop": list(c.cap_drop) or None,
        "Privileged": c.privileged,
        "ReadonlyRootfs": c.read_only,
        "Init": c.init,
        "Memory": c.memory or 0,
        "MemorySwap": c.memory_swap or 0,
        "MemoryReservation": c.memory_reservation or 0,
        "MemorySwappiness": c.memory_swappiness,
        "OomKillDisable": c.oom_kill_disable,
        "NanoCpus": int((c.cpus or 0) * 1e9),
        "CpuShares": c.cpu_shares or 0,
        "CpuPeriod": c.cpu_period or 0,
        "CpuQuota": c.cpu_quota or 0,
        "CpusetCpus": c.cpuset_cpus or "",
        "CpusetMems": c.cpuset_mems or "",
        "PidsLimit": c.pids_limit,
        "OomScoreAdj": c.oom_score_adj or 0,
        "Tmpfs": {t.target: t.options for t in c.tmpfs} or None,
        "Ulimits": [{"Name": u.name.removeprefix("RLIMIT_").lower(), "Soft": u.soft,
                     "Hard": u.hard} for u in c.ulimits] or None,
        "Sysctls": dict(c.sysctls) or None,
        "ExtraHosts": list(c.extra_hosts) or None,
        "Dns": list(c.dns),
        "DnsSearch": list(c.dns_search),
        "DnsOptions": list(c.dns_options),
        "ShmSize": c.shm_size or 64 << 20,
        "GroupAdd": list(c.group_add) or None,
        "LogConfig": {"Type": "json-file", "Config": _log_opts(rec)},
        "Runtime": c.runtime,
        "PortBindings": _port_bindings(c.publish),
    }
    argv = [*(c.entrypoint or ()), *(c.command or ())]
    return {
        "Id": rec.id,
        "Created": rec.created,
        "Path": argv[0] if argv else "",
        "Args": argv[1:],
        "State": state,
        "Image": rec.image_id,
        "ResolvConfPath": str(paths.state_dir / "resolv.conf"),
        "HostnamePath": str(paths.state_dir / "hostname"),
        "HostsPath": str(paths.state_dir / "hosts"),
        "LogPath": str(paths.log),
        "Name": "/" + rec.name,
        "RestartCount": rec.restart_count,
        "Driver": "overlay2",
        "Platform": "linux",
        "HostConfig": host_config,
        "GraphDriver": {"Name": "overlay2", "Data": {
            "UpperDir": str(paths.upper), "WorkDir": str(paths.work),
            "MergedDir": str(paths.rootfs)}},
        "Mounts": mounts,
        "Config": config,
        "NetworkSettings": _network_settings(rec, paths),
    }


def _log_opts(rec: ContainerRecord) -> dict[str, str]:
    out = {}
    if rec.config.log_max_size is not None:
        out["max-size"] = str(rec.config.log_max_size)
        out["max-file"] = str(rec.config.log_max_file)
    return out


def _network_settings(rec: ContainerRecord, paths: oci.ContainerPaths) -> dict[str, Any]:
    mode = rec.config.network
    if mode not in ("none", "host") and not mode.startswith("container:"):
        # bridge networks: addresses, gateway, MAC, published ports (stackctl/net)
        from stackctl.net.engine_glue import network_settings

        settings = network_settings(paths.root, paths.run_root, rec.id)
        if settings["Networks"]:
            return settings
    # not running: what the config says it joins at start (Docker shows them too)
    nets = rec.config.attachments()
    # the address fields empty, as docker shows a stopped container's: templates such as
    # {{.NetworkSettings.IPAddress}} print "" instead of failing
    unset = {"Gateway": "", "IPAddress": "", "IPPrefixLen": 0, "MacAddress": ""}
    networks = {a.name: {"Aliases": list(a.aliases) or None,
                         "IPAMConfig": {"IPv4Address": a.ipv4_address} if a.ipv4_address
                         else None, **unset} for a in nets}
    if not rec.config.bridged:
        networks = {mode: {"Aliases": None, **unset}}
    return {"Networks": networks, "Ports": {}, "SandboxKey": "", **unset}


def _port_bindings(publish: tuple[str, ...]) -> dict[str, list[dict[str, str]]]:
    """HostConfig.PortBindings as docker shows it: ``{"80/tcp": [{"HostIp": "",
    "HostPort": "8080"}]}`` (empty strings for an address or port left to choose)."""
    from stackctl.errors import StackctlError
    from stackctl.net.ports import ANY, parse_publish

    out: dict[str, list[dict[str, str]]] = {}
    for spec in publish:
        try:
            mappings = parse_publish(spec)
        except StackctlError:
            continue
        for m in mappings:
            out.setdefault(f"{m.container_port}/{m.protocol}", []).append(
                {"HostIp": "" if m.host_ip == ANY else str(m.host_ip),
                 "HostPort": str(m.host_port) if m.host_port else ""})
    return out


__all__ = ["container_json"]
