"""What a container is: its typed configuration, its record, and its lifecycle.

``ContainerConfig`` is everything a ``run`` can say (the scheduler builds the
same object from a stack file); it is stored as JSON in ``containers.config``.
``ContainerRecord`` is a row of the ``containers`` table, read-only.

The lifecycle is a state machine (runc's ``state_linux.go``, youki's
``ContainerStatus``): every status change goes through ``check_transition``.

    created ──start──► running ──exit──► exited ──start──► running
       │                │  ▲  │                 │
       │          pause │  │  └─restart policy─► restarting ──► running / exited
       │                ▼  │ unpause
       │               paused ──kill──► exited
       └──────────── rm ──────────────► removing ◄── rm -f (any) ; dead ◄── failed cleanup
"""

from __future__ import annotations

import json
from enum import StrEnum

from stackctl.errors import InvalidStateTransition
from stackctl.lightdc import asdict, dataclass, field, fields, replace

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs the monitor ~2 MiB resident; annotations only
    from typing import Any


class ContainerStatus(StrEnum):
    CREATED = "created"
    RUNNING = "running"
    PAUSED = "paused"
    RESTARTING = "restarting"
    EXITED = "exited"
    REMOVING = "removing"
    DEAD = "dead"


S = ContainerStatus
TRANSITIONS: dict[ContainerStatus, frozenset[ContainerStatus]] = {
    S.CREATED: frozenset({S.RUNNING, S.EXITED, S.REMOVING}),
    S.RUNNING: frozenset({S.PAUSED, S.EXITED, S.RESTARTING, S.REMOVING}),
    S.PAUSED: frozenset({S.RUNNING, S.EXITED, S.REMOVING}),
    S.RESTARTING: frozenset({S.RUNNING, S.EXITED, S.REMOVING}),
    S.EXITED: frozenset({S.RUNNING, S.RESTARTING, S.REMOVING}),
    S.REMOVING: frozenset({S.DEAD}),
    S.DEAD: frozenset({S.REMOVING}),
}


def can_transition(from_: ContainerStatus, to: ContainerStatus) -> bool:
    return to in TRANSITIONS[from_]


def check_transition(from_: ContainerStatus, to: ContainerStatus, *, name: str = "") -> None:
    if not can_transition(from_, to):
        hints = {
            (S.RUNNING, S.RUNNING): "it is already running",
            (S.CREATED, S.PAUSED): "start it first",
            (S.EXITED, S.PAUSED): "start it first",
        }
        what = f"container {name}" if name else "container"
        exc = InvalidStateTransition(from_.value, to.value, what=what,
                                     hint=hints.get((from_, to)))
        said = {(S.PAUSED, S.PAUSED): "is already paused",  # docker's words for these
                (S.CREATED, S.PAUSED): "is not running", (S.EXITED, S.PAUSED): "is not running"}
        if (from_, to) in said:
            exc.message = f"{what} {said[from_, to]}"
            exc.args = (exc.message,)
        raise exc


@dataclass(frozen=True)
class MountRequest:
    """A ``-v``/``--mount`` entry. kind: bind (host path), volume (named), anonymous."""

    kind: str
    target: str
    source: str = ""
    read_only: bool = False


@dataclass(frozen=True)
class TmpfsMount:
    target: str
    options: str = ""


@dataclass(frozen=True)
class RestartPolicy:
    name: str = "no"  # no | always | on-failure | unless-stopped
    max_retries: int = 0  # on-failure:N; 0 = unlimited

    def __str__(self) -> str:
        if self.name == "on-failure" and self.max_retries:
            return f"on-failure:{self.max_retries}"
        return self.name


@dataclass(frozen=True)
class Healthcheck:
    """Docker's HEALTHCHECK: test is ["CMD", ...], ["CMD-SHELL", "..."] or ["NONE"]."""

    test: tuple[str, ...]
    interval: float = 30.0
    timeout: float = 30.0
    retries: int = 3
    start_period: float = 0.0
    start_interval: float = 0.0  # probe interval during start_period (0: use interval)


@dataclass(frozen=True)
class Ulimit:
    name: str
    soft: int
    hard: int


@dataclass(frozen=True)
class NetworkAttachment:
    """One bridge network the container joins, set up again at every start:
    ``--network N --network-alias A --ip X``, a service's ``networks:`` entry, or a
    ``network connect`` (Docker keeps those across restarts too)."""

    name: str
    aliases: tuple[str, ...] = ()
    ipv4_address: str | None = None


SHARED_MODES = ("none", "host")


@dataclass(frozen=True)
class ContainerConfig:
    """Everything ``stackctl run`` can say. Defaults are Docker's."""

    image: str
    command: tuple[str, ...] | None = None  # None: the image's CMD
    entrypoint: tuple[str, ...] | None = None  # None: the image's ENTRYPOINT; () clears it
    name: str | None = None
    env: tuple[str, ...] = ()  # "KEY=value", after --env-file merging
    working_dir: str | None = None
    user: str | None = None
    hostname: str | None = None
    tty: bool = False
    open_stdin: bool = False
    labels: dict[str, str] = field(default_factory=dict)
    mounts: tuple[MountRequest, ...] = ()
    tmpfs: tuple[TmpfsMount, ...] = ()
    restart: RestartPolicy = RestartPolicy()
    auto_remove: bool = False
    memory: int | None = None  # bytes
    memory_swap: int | None = None
    cpus: float | None = None
    pids_limit: int | None = None
    cap_add: tuple[str, ...] = ()
    cap_drop: tuple[str, ...] = ()
    privileged: bool = False
    read_only: bool = False
    init: bool = False
    network: str = "bridge"  # bridge (the default network) | <network name> | none | host
    network_aliases: tuple[str, ...] = ()
    # every bridge network in join order (eth0, eth1...): the first is ``network``,
    # the primary one. () after ``network disconnect`` from the last one (loopback
    # only, ``network connect`` still allowed); None in configs stored before it
    # existed: see attachments()
    networks: tuple[NetworkAttachment, ...] | None = None
    publish: tuple[str, ...] = ()  # raw -p specs, handed to the network layer
    publish_all: bool = False  # -P: every exposed port on a random host port
    expose: tuple[str, ...] = ()  # --expose + the image's ExposedPorts ("80/tcp")
    healthcheck: Healthcheck | None = None
    stop_signal: str | None = None
    stop_timeout: int | None = None
    log_max_size: int | None = None  # bytes; None = never rotate
    log_max_file: int = 1
    ulimits: tuple[Ulimit, ...] = ()
    sysctls: dict[str, str] = field(default_factory=dict)
    links: tuple[str, ...] = ()  # "NAME:ALIAS": ALIAS resolves to NAME here (net/dns.py)
    ipc: str = "private"  # private | shareable | host | none | container:<id> (engine/ipc.py)
    runtime: str = "stackctl"  # the built-in launcher, or "runc" (same bundle)
    extra_hosts: tuple[str, ...] = ()  # "NAME:IP" /etc/hosts lines; IP may be host-gateway
    dns: tuple[str, ...] = ()  # resolvers: the embedded DNS relays to them (--dns)
    dns_search: tuple[str, ...] = ()  # resolv.conf search domains (--dns-search)
    dns_options: tuple[str, ...] = ()  # resolv.conf options (--dns-option)
    shm_size: int | None = None  # bytes of the /dev/shm tmpfs; None: Docker's 64 MiB
    group_add: tuple[str, ...] = ()  # supplementary groups, names or ids (--group-add)
    cpu_shares: int | None = None  # relative CPU weight, 2..262144 (--cpu-shares; v2: weight)
    cpu_period: int | None = None  # CFS period in us (--cpu-period; not with cpus)
    cpu_quota: int | None = None  # CFS quota in us per period, -1 unlimited (--cpu-quota)
    cpuset_cpus: str | None = None  # CPUs it may run on, a kernel list "0-2,4" (--cpuset-cpus)
    cpuset_mems: str | None = None  # memory nodes it may allocate on (--cpuset-mems)
    memory_reservation: int | None = None  # bytes: the soft limit (--memory-reservation)
    memory_swappiness: int | None = None  # 0..100; None: the host's (--memory-swappiness)
    oom_kill_disable: bool = False  # the OOM killer spares it (--oom-kill-disable; v1 only)
    oom_score_adj: int | None = None  # -1000..1000 for its processes (--oom-score-adj)
    domainname: str | None = None  # the UTS namespace's NIS domain name (--domainname)
    pid: str = ""  # "" (its own) | host | container:<id> (engine/pidns.py)
    uts: str = ""  # "" (its own) | host
    security_opt: tuple[str, ...] = ()  # Docker's SecurityOpt, KEY=VALUE (stackctl/secopts.py)
    devices: tuple[str, ...] = ()  # "HOST:CONTAINER:PERMS" (--device; engine/devmap.py)
    device_cgroup_rules: tuple[str, ...] = ()  # "c 13:* rwm" (--device-cgroup-rule)

    @property
    def bridged(self) -> bool:
        """On bridge networks (not none, host or another container's namespace)."""
        return self.network not in SHARED_MODES and not self.network.startswith("container:")

    def attachments(self) -> tuple[NetworkAttachment, ...]:
        """The networks to set up at start, primary first."""
        if not self.bridged:
            return ()
        if self.networks is not None:
            return self.networks
        return (NetworkAttachment(self.network, self.network_aliases),)

    def with_attachments(self, nets: tuple[NetworkAttachment, ...]) -> ContainerConfig:
        """This config on exactly ``nets`` (``network connect/disconnect``). With none
        left it keeps its network mode and only loopback, as Docker's does, and may be
        connected again."""
        if not nets:
            return replace(self, network_aliases=(), networks=())
        return replace(self, network=nets[0].name, network_aliases=nets[0].aliases,
                       networks=nets)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ContainerConfig:
        return cls.from_dict(json.loads(text))

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ContainerConfig:
        known = {f.name for f in fields(cls)}
        data = {k: v for k, v in raw.items() if k in known}
        for key in ("command", "entrypoint"):
            if data.get(key) is not None:
                data[key] = tuple(data[key])
        for key in ("env", "cap_add", "cap_drop", "network_aliases", "publish", "expose",
                    "links", "extra_hosts", "dns", "dns_search", "dns_options", "group_add",
                    "security_opt", "devices", "device_cgroup_rules"):
            data[key] = tuple(data.get(key) or ())
        data["mounts"] = tuple(MountRequest(**m) for m in data.get("mounts") or ())
        data["tmpfs"] = tuple(TmpfsMount(**m) for m in data.get("tmpfs") or ())
        data["ulimits"] = tuple(Ulimit(**u) for u in data.get("ulimits") or ())
        data["restart"] = RestartPolicy(**(data.get("restart") or {}))
        if data.get("networks") is not None:
            data["networks"] = tuple(
                NetworkAttachment(n["name"], tuple(n.get("aliases") or ()),
                                  n.get("ipv4_address")) for n in data["networks"])
        hc = data.get("healthcheck")
        data["healthcheck"] = (
            Healthcheck(**{**hc, "test": tuple(hc["test"])}) if hc else None
        )
        return cls(**data)

    def with_(self, **changes: Any) -> ContainerConfig:
        return replace(self, **changes)


@dataclass(frozen=True)
class Health:
    """The healthcheck's recorded state (Docker's State.Health)."""

    status: str = "starting"  # starting | healthy | unhealthy
    failing_streak: int = 0
    log: tuple[dict[str, Any], ...] = ()  # last results: Start, End, ExitCode, Output

    def to_json(self) -> str:
        return json.dumps({"Status": self.status, "FailingStreak": self.failing_streak,
                           "Log": list(self.log)})

    @classmethod
    def from_json(cls, text: str | None) -> Health | None:
        if not text:
            return None
        raw = json.loads(text)
        return cls(raw["Status"], raw["FailingStreak"], tuple(raw["Log"]))


@dataclass(frozen=True)
class ContainerRecord:
    """One row of the ``containers`` table."""

    id: str
    name: str
    image_id: str
    image_ref: str
    config: ContainerConfig
    status: ContainerStatus
    pid: int | None
    monitor_pid: int | None
    exit_code: int | None
    created: str
    started_at: str | None
    finished_at: str | None
    restart_count: int
    health: Health | None
    labels: dict[str, str]
    error: str = ""
    oom_killed: bool = False
    pid_start: int | None = None
    monitor_start: int | None = None

    @property
    def short_id(self) -> str:
        return self.id[:12]

    @property
    def running(self) -> bool:
        return self.status in (S.RUNNING, S.PAUSED, S.RESTARTING)

    @classmethod
    def from_row(cls, row: Any) -> ContainerRecord:
        keys = row.keys()
        return cls(
            id=row["id"],
            name=row["name"],
            image_id=row["image_id"],
            image_ref=row["image_ref"],
            config=ContainerConfig.from_json(row["config"]),
            status=ContainerStatus(row["status"]),
            pid=row["pid"],
            monitor_pid=row["monitor_pid"],
            exit_code=row["exit_code"],
            created=row["created"],
            started_at=row["started_at"],
            finished_at=row["finished_at"],
            restart_count=row["restart_count"],
            health=Health.from_json(row["health"]),
            labels=json.loads(row["labels"] or "{}"),
            error=(row["error"] or "") if "error" in keys else "",
            oom_killed=bool(row["oom_killed"]) if "oom_killed" in keys else False,
            pid_start=row["pid_start"] if "pid_start" in keys else None,
            monitor_start=row["monitor_start"] if "monitor_start" in keys else None,
        )


__all__ = [
    "TRANSITIONS",
    "ContainerConfig",
    "ContainerRecord",
    "ContainerStatus",
    "Health",
    "Healthcheck",
    "MountRequest",
    "NetworkAttachment",
    "RestartPolicy",
    "TmpfsMount",
    "Ulimit",
    "can_transition",
    "check_transition",
]
