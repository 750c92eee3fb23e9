"""Turning a container record into something a runtime can run.

``effective_config`` merges the image's defaults into a ``ContainerConfig`` at
create time (Docker stores the merged config too). ``prepare`` does the side
effects of ``start`` in order — rootfs overlay mount, volumes (created and
seeded), /etc files, user lookup, bundle — and undoes what it did if a later
step fails, so a failed start leaves nothing mounted.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from stackctl.engine import oci
from stackctl.engine.containers import ContainerConfig, Healthcheck, MountRequest
from stackctl.engine.runtime.securejoin import secure_join
from stackctl.engine.volumes import VolumeStore
from stackctl.errors import RuntimeFailure, UsageError
from stackctl.lightdc import replace

TYPE_CHECKING = False  # typing costs ~3 ms at start-up; annotations only
if TYPE_CHECKING:
    from typing import Any

NS = 1_000_000_000

# Docker's defaults for a container in a network namespace of its own (moby, since
# 20.10): any user may bind ports below 1024 (nginx as USER nginx on :80) and send
# ICMP echo without CAP_NET_RAW. The container's own sysctls win.
NETNS_SYSCTLS = {"net.ipv4.ip_unprivileged_port_start": "0",
                 "net.ipv4.ping_group_range": "0 2147483647"}


def _sysctls(config: ContainerConfig, netns: str) -> dict[str, str]:
    shared = netns == "host" or config.network.startswith("container:")
    # ip_unprivileged_port_start exists since Linux 4.11
    if shared or not os.path.exists("/proc/sys/net/ipv4/ip_unprivileged_port_start"):
        return dict(config.sysctls)
    return {**NETNS_SYSCTLS, **config.sysctls}


def effective_config(config: ContainerConfig, image: Any) -> ContainerConfig:
    """``config`` with the image's STOPSIGNAL, HEALTHCHECK, labels and VOLUMEs merged in.

    ``image`` is an ImageConfig (engine/images/config.py). Anonymous volumes get
    their generated names here, so the stored config says exactly what is mounted.
    """
    changes: dict[str, Any] = {}
    # Docker stores the effective command: the image's ENTRYPOINT/CMD unless overridden;
    # --entrypoint also resets the image's CMD. command_line() gives the same argv.
    if config.entrypoint is None:
        changes["entrypoint"] = tuple(image.entrypoint or ())
        if config.command is None:
            changes["command"] = tuple(image.cmd or ())
    elif config.command is None:
        changes["command"] = ()
    if config.stop_signal is None and image.stop_signal:
        changes["stop_signal"] = image.stop_signal
    if config.healthcheck is None and image.healthcheck is not None and image.healthcheck.test:
        hc = image.healthcheck
        changes["healthcheck"] = Healthcheck(
            test=tuple(hc.test), interval=(hc.interval / NS) or 30.0,
            timeout=(hc.timeout / NS) or 30.0, retries=hc.retries or 3,
            start_period=hc.start_period / NS, start_interval=hc.start_interval / NS)
    exposed = tuple(sorted({*config.expose, *image.exposed_ports}))
    if exposed != config.expose:
        changes["expose"] = exposed  # for -P (stackctl/net publishes them)
    labels = {**dict(image.labels), **config.labels}
    if labels != config.labels:
        changes["labels"] = labels
    targets = {m.target.rstrip("/") or "/" for m in config.mounts}
    targets |= {t.target.rstrip("/") for t in config.tmpfs}
    mounts = []
    for m in config.mounts:
        if m.kind == "anonymous" and not m.source:
            m = replace(m, source=os.urandom(32).hex())
        mounts.append(m)
    for vol in image.volumes:
        if vol.rstrip("/") not in targets:
            mounts.append(MountRequest("anonymous", vol, os.urandom(32).hex()))
    changes["mounts"] = tuple(mounts)
    return replace(config, **changes)


def command_line(config: ContainerConfig, image: Any) -> list[str]:
    """Docker's rule: --entrypoint resets the image's CMD; a given command replaces CMD."""
    if config.entrypoint is not None:
        entry = list(config.entrypoint)
        cmd = list(config.command or ())
    else:
        entry = list(image.entrypoint or ())
        cmd = list(config.command) if config.command is not None else list(image.cmd or ())
    args = entry + cmd
    if not args:
        raise UsageError("no command specified",
                         hint="give a command after the image, or build the image with CMD")
    return args


def merged_env(config: ContainerConfig, image: Any, hostname: str) -> tuple[str, ...]:
    env: dict[str, str] = {}
    for item in (*image.env, f"HOSTNAME={hostname}", *config.env):
        key, eq, value = item.partition("=")
        if not eq:  # a bare KEY unsets it (docker's ReplaceOrAppendEnvValues)
            env.pop(key, None)
            continue
        env[key] = value
    return tuple(f"{k}={v}" for k, v in env.items())


def check_mounts(config: ContainerConfig) -> None:
    """Bad mount input is refused at create time, before anything exists."""
    for m in config.mounts:
        if not m.target.startswith("/"):
            raise UsageError(f"invalid mount target {m.target!r}: it must be an absolute path")
        if m.kind == "bind" and not os.path.exists(m.source):
            raise UsageError(f"bind source path does not exist: {m.source}",
                             hint="create it first, or use a named volume (-v name:/path)")


def resolve_in_root(rootfs: Path, path: str) -> Path:
    """``path`` inside ``rootfs`` with symlinks resolved as the container would."""
    try:
        return Path(secure_join(str(rootfs), path, max_links=40))  # Linux's MAXSYMLINKS
    except OSError as exc:
        if exc.errno != errno.ELOOP:
            raise
        raise UsageError(f"too many levels of symbolic links in {path}") from None


def find_executable(rootfs: Path, arg0: str, env: tuple[str, ...], cwd: str) -> bool:
    """Does ``arg0`` name an executable in the container (PATH lookup like execvp)?"""
    if "/" in arg0:
        p = resolve_in_root(rootfs, arg0 if arg0.startswith("/") else f"{cwd}/{arg0}")
        return p.exists()
    path = next((e[5:] for e in env if e.startswith("PATH=")),
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
    for d in path.split(":"):
        p = resolve_in_root(rootfs, f"{d or '.'}/{arg0}")
        if p.is_file():
            return True
    return False


def mount_rootfs(paths: oci.ContainerPaths, lowers: list[Path], *, readonly: bool) -> None:
    from stackctl.engine.runtime import mounts as rmounts
    from stackctl.engine.runtime.syscalls import LinuxSyscalls

    paths.upper.mkdir(parents=True, exist_ok=True)
    paths.work.mkdir(parents=True, exist_ok=True)
    paths.rootfs.mkdir(parents=True, exist_ok=True)
    oci.umount(paths.rootfs)  # a stale mount from a crash
    plan = rmounts.prepare_rootfs([str(p) for p in reversed(lowers)], str(paths.upper),
                                  str(paths.work), str(paths.rootfs))
    rmounts.mount_all(plan, LinuxSyscalls())
    del readonly  # the OCI config's root.readonly makes it read-only inside


def write_etc_files(paths: oci.ContainerPaths, config: ContainerConfig, hostname: str) -> None:
    """hostname; for ``none`` and ``host`` also hosts and resolv.conf (the host's,
    with --add-host lines, and --dns/--dns-search/--dns-option in place of the
    host's nameservers, search domains and options, as Docker writes them)."""
    d = paths.state_dir
    (d / "hostname").write_text(hostname + "\n")
    if config.network not in ("none", "host"):
        return  # bridge networks: stackctl/net wrote hosts and resolv.conf (DNS at 127.0.0.11)
    from stackctl.net import etc_files

    if config.network == "host":
        hosts = Path("/etc/hosts").read_text()
    else:
        hosts = ("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
                 f"127.0.1.1\t{hostname}\n")
    # host-gateway: the host itself, which a host-network container reaches on loopback
    extra = etc_files.hosts_lines(config.extra_hosts,
                                  "127.0.0.1" if config.network == "host" else None)
    (d / "hosts").write_text(hosts + "".join(ln + "\n" for ln in extra))
    try:
        resolv = Path("/etc/resolv.conf").read_text()
    except OSError:
        resolv = ""
    (d / "resolv.conf").write_text(etc_files.resolv_conf(
        resolv, nameservers=config.dns, search=config.dns_search, options=config.dns_options))


def bundle_mounts(paths: oci.ContainerPaths, config: ContainerConfig, volumes: VolumeStore,
                  shm: Path | None = None) -> list[Any]:
    """The OCI mounts: volumes (created + seeded on first use), binds, tmpfs, /etc files,
    and ``shm`` on /dev/shm (a shared IPC mode, engine/ipc.py)."""
    from stackctl.engine.runtime.spec import MountSpec

    out: list[MountSpec] = []
    for m in config.mounts:
        ro = ("ro",) if m.read_only else ()
        if m.kind == "bind":
            out.append(MountSpec(m.target, "bind", m.source, ("rbind", "rprivate", *ro)))
            continue
        _vol, new = volumes.create(m.source, anonymous=m.kind == "anonymous")
        if new:
            volumes.seed(m.source, resolve_in_root(paths.rootfs, m.target))
        out.append(MountSpec(m.target, "bind", str(volumes.source(m.source)),
                             ("rbind", "rprivate", *ro)))
    for t in config.tmpfs:
        opts = tuple(o for o in t.options.split(",") if o) or ()
        # docker: noexec,nosuid,nodev unless the options say otherwise (exec wins: later)
        out.append(MountSpec(t.target, "tmpfs", "tmpfs", ("noexec", "nosuid", "nodev", *opts)))
    taken = {m.destination for m in out}
    if shm is not None and "/dev/shm" not in taken:  # an explicit mount there wins
        out.append(MountSpec("/dev/shm", "bind", str(shm),
                             ("rbind", "rprivate", "nosuid", "nodev", "noexec")))
    for name in ("hostname", "hosts", "resolv.conf"):
        if f"/etc/{name}" not in taken:
            out.append(MountSpec(f"/etc/{name}", "bind", str(paths.state_dir / name),
                                 ("rbind", "rprivate")))
    return out


def build_request(paths: oci.ContainerPaths, config: ContainerConfig, image: Any,
                  volumes: VolumeStore, netns: str, ipc: Any = None, pid: str = "new") -> Any:
    """The launcher's BundleRequest for this container (rootfs already mounted).
    ``ipc``: an engine.ipc.IpcSetup (None: a private namespace); ``pid``: the PID
    namespace (engine/pidns.py: "new", "host" or the donor's namespace file)."""
    from stackctl.engine.runtime.rlimits import Rlimit
    from stackctl.engine.runtime.spec import BundleRequest, Resources
    from stackctl.engine.runtime.users import resolve_user

    # --uts host: the host's own name, which the container's /etc/hostname and
    # $HOSTNAME then agree with (Docker refuses --hostname there)
    hostname = config.hostname or (os.uname().nodename if config.uts == "host"
                                   else paths.id[:12])
    user = resolve_user(paths.rootfs, config.user or image.user or "",
                        group_add=config.group_add)
    env = merged_env(config, image, hostname)
    if not any(e.startswith("HOME=") for e in env):
        env = (*env, f"HOME={user.home or '/'}")
    cwd = config.working_dir or image.working_dir or "/"
    args = command_line(config, image)
    target = resolve_in_root(paths.rootfs, cwd)
    if not target.exists():
        target.mkdir(parents=True, exist_ok=True)
    if not find_executable(paths.rootfs, args[0], env, cwd):
        raise RuntimeFailure(
            f'exec: "{args[0]}": executable file not found in $PATH', exit_code=127,
            hint="check the command, or the image's ENTRYPOINT/CMD")
    process = _process_options(config)
    write_etc_files(paths, config, hostname)
    return BundleRequest(
        rootfs=str(paths.rootfs), args=tuple(args), env=env, cwd=cwd,
        uid=user.uid, gid=user.gid, additional_gids=user.additional_gids,
        hostname=hostname, domainname=config.domainname or "", terminal=config.tty,
        cap_add=config.cap_add, cap_drop=config.cap_drop, privileged=config.privileged,
        readonly_root=config.read_only,
        rlimits=tuple(Rlimit(u.name, u.soft, u.hard) for u in config.ulimits),
        mounts=tuple(bundle_mounts(paths, config, volumes, ipc.shm if ipc else None)),
        network=netns, pid=pid,
        uts="host" if config.network == "host" or config.uts == "host" else "new",
        ipc=ipc.namespace if ipc else "new", shm=not (ipc and ipc.no_shm),
        shm_size=config.shm_size,
        cgroups_path="/" + paths.cgroup_name,
        resources=Resources(memory=config.memory, memory_swap=config.memory_swap,
                            memory_reservation=config.memory_reservation,
                            memory_swappiness=config.memory_swappiness,
                            oom_kill_disable=config.oom_kill_disable,
                            cpus=config.cpus, pids_limit=config.pids_limit,
                            cpu_shares=config.cpu_shares, cpu_quota=config.cpu_quota,
                            cpu_period=config.cpu_period or 100_000,
                            cpuset_cpus=config.cpuset_cpus,
                            cpuset_mems=config.cpuset_mems),
        sysctls=_sysctls(config, netns),
        annotations={"org.stackctl.id": paths.id},
        init=config.init,  # the built-in launcher's PID 1 (runc ignores it)
        **process,
    )


def _process_options(config: ContainerConfig) -> dict[str, Any]:
    """The BundleRequest fields of --oom-score-adj, --security-opt, --device and
    --device-cgroup-rule,
    checked against this host (its capabilities, its device nodes) at every start."""
    from stackctl.engine import devmap
    from stackctl.engine.resources import oom_score_adj_problem
    from stackctl.secopts import interpret

    if config.oom_score_adj is not None:
        problem = oom_score_adj_problem(config.oom_score_adj)
        if problem:
            raise UsageError(f"--oom-score-adj {config.oom_score_adj}: {problem}",
                             hint="use a value of 0 or more on this host")
    security = interpret(config.security_opt)
    return {
        "oom_score_adj": config.oom_score_adj,
        # Docker's default: off, so setuid binaries (su, sudo) work unless asked for
        "no_new_privs": security.no_new_privileges,
        "seccomp": security.seccomp,
        "masked_paths": () if security.unmasked_paths else None,
        "readonly_paths": () if security.unmasked_paths else None,
        "devices": tuple(n for d in config.devices for n in devmap.nodes(d)),
        "device_rules": tuple(devmap.rule_to_oci(r) for r in config.device_cgroup_rules),
    }


__all__ = ["build_request", "check_mounts", "command_line", "effective_config",
           "find_executable", "merged_env", "mount_rootfs", "resolve_in_root"]
