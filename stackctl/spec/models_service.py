"""The service model: one entry under ``services:``.

Field names are the compose keys, declared in compose-go's order (nearly
alphabetical): the order ``stackctl config`` prints them in, as ``docker
compose config`` does.
Short syntaxes are already expanded (see models_ports / models_parts):
``ports`` and ``volumes`` are long-form lists, ``environment`` and ``labels``
mappings, ``depends_on`` and ``networks`` mappings, ``command`` a list.
"""

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, model_validator

from stackctl.spec.models_base import (
    Bool,
    Bytes,
    Command,
    Duration,
    ExtModel,
    Float,
    Int,
    Str,
    StrDict,
    StrList,
    StrOrNoneDict,
    lenient,
)
from stackctl.spec.models_deploy import BlkioConfig, Deploy, Develop, DeviceRequest, Hook
from stackctl.spec.models_parts import (
    BuildField,
    DependsOnMap,
    DeviceField,
    EnvFiles,
    ExtendsField,
    ExtraHosts,
    FileRefItem,
    Healthcheck,
    Logging,
    NetworksMap,
    UlimitField,
    list_to_null_map,
)
from stackctl.spec.models_ports import PortItem, VolumeItem, expose_item, ports_list

__all__ = ["Service"]

_RESTART = re.compile(r"no|always|unless-stopped|on-failure(:\d+)?")
_PULL = re.compile(r"always|never|missing|if_not_present|build|daily|weekly|every_\w+")


def _restart(value: str) -> str | None:
    if value == "":  # e.g. ${RESTART:-}: no policy, as compose reads it
        return None
    if not _RESTART.fullmatch(value) and "$" not in value:
        raise ValueError(
            f"invalid restart policy {value!r}: expected no, always, on-failure[:N] "
            "or unless-stopped"
        )
    return value


def _pull_policy(value: str) -> str | None:
    if value == "":
        return None
    if not _PULL.fullmatch(value) and "$" not in value:
        raise ValueError(
            f"invalid pull_policy {value!r}: expected always, never, missing, build, "
            "daily, weekly or every_<duration>"
        )
    return value


def _profiles(value: list[str]) -> list[str]:
    for p in value:
        if not re.fullmatch(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*", p) and "$" not in p:
            raise ValueError(f"invalid profile name {p!r}: use letters, digits, _ . -")
    return value


Gpus = Annotated[Literal["all"] | list[DeviceRequest], lenient]


class Service(ExtModel):
    annotations: StrDict | None = None
    attach: Bool | None = None
    blkio_config: BlkioConfig | None = None
    build: BuildField | None = None
    cap_add: list[Str] | None = None
    cap_drop: list[Str] | None = None
    cgroup: Annotated[Literal["host", "private"], lenient] | None = None
    cgroup_parent: Str | None = None
    command: Command | None = None
    configs: list[FileRefItem] | None = None
    container_name: Str | None = None
    cpu_count: Int | None = None
    cpu_percent: Int | None = None
    cpu_period: Int | None = None
    cpu_quota: Int | None = None
    cpu_rt_period: Int | None = None
    cpu_rt_runtime: Int | None = None
    cpu_shares: Int | None = None
    cpus: Float | None = None
    cpuset: Str | None = None
    credential_spec: dict[str, Any] | None = None
    depends_on: DependsOnMap | None = None
    deploy: Deploy | None = None
    develop: Develop | None = None
    device_cgroup_rules: list[Str] | None = None
    devices: list[DeviceField] | None = None
    dns: StrList | None = None
    dns_opt: list[Str] | None = None
    dns_search: StrList | None = None
    domainname: Str | None = None
    entrypoint: Command | None = None
    environment: StrOrNoneDict | None = None
    env_file: EnvFiles | None = None
    expose: list[Annotated[str, BeforeValidator(expose_item), lenient]] | None = None
    extends: ExtendsField | None = None
    external_links: list[Str] | None = None
    extra_hosts: ExtraHosts | None = None
    gpus: Gpus | None = None
    group_add: list[Str] | None = None
    hostname: Str | None = None
    healthcheck: Healthcheck | None = None
    image: Str | None = None
    init: Bool | None = None
    ipc: Str | None = None
    isolation: Str | None = None
    labels: StrDict | None = None
    label_file: StrList | None = None
    links: list[Str] | None = None
    logging: Logging | None = None
    mac_address: Str | None = None
    mem_limit: Bytes | None = None
    mem_reservation: Bytes | None = None
    mem_swappiness: Int | None = None
    memswap_limit: Annotated[int, lenient] | None = None  # -1 = unlimited swap
    models: Annotated[dict[str, Any], BeforeValidator(list_to_null_map)] | None = None
    network_mode: Str | None = None
    networks: NetworksMap | None = None
    oom_kill_disable: Bool | None = None
    oom_score_adj: Annotated[int, Field(ge=-1000, le=1000), lenient] | None = None
    pid: Str | None = None
    pids_limit: Int | None = None
    platform: Str | None = None
    ports: Annotated[list[PortItem], BeforeValidator(ports_list)] | None = None
    post_start: list[Hook] | None = None
    pre_start: list[Hook] | None = None
    pre_stop: list[Hook] | None = None
    privileged: Bool | None = None
    profiles: Annotated[list[Str], AfterValidator(_profiles)] | None = None
    provider: dict[str, Any] | None = None
    pull_policy: Annotated[Str, AfterValidator(_pull_policy)] | None = None
    pull_refresh_after: Str | None = None
    read_only: Bool | None = None
    restart: Annotated[Str, AfterValidator(_restart)] | None = None
    runtime: Str | None = None
    scale: Annotated[int, Field(ge=0), lenient] | None = None
    secrets: list[FileRefItem] | None = None
    security_opt: list[Str] | None = None
    shm_size: Bytes | None = None
    stdin_open: Bool | None = None
    stop_grace_period: Duration | None = None
    stop_signal: Str | None = None
    storage_opt: dict[str, Str] | None = None
    sysctls: StrDict | None = None
    tmpfs: StrList | None = None
    tty: Bool | None = None
    ulimits: dict[str, UlimitField] | None = None
    use_api_socket: Bool | None = None
    user: Str | None = None
    userns_mode: Str | None = None
    uts: Str | None = None
    volumes: list[VolumeItem] | None = None
    volumes_from: list[Str] | None = None
    working_dir: Str | None = None

    @model_validator(mode="before")
    @classmethod
    def _memswap(cls, data: Any) -> Any:
        # memswap_limit is a byte size, but -1 (unlimited) is not one
        if isinstance(data, dict) and "memswap_limit" in data:
            value = data["memswap_limit"]
            if value not in (-1, "-1") and isinstance(value, str | int | float):
                from stackctl.spec.units import UnitError, parse_bytes

                try:
                    data = {**data, "memswap_limit": parse_bytes(value)}
                except UnitError:
                    pass  # left for the int validator to report
        return data

    @model_validator(mode="after")
    def _consistent(self) -> "Service":
        if (
            isinstance(self.scale, int)
            and self.deploy is not None
            and isinstance(self.deploy.replicas, int)
            and self.scale != self.deploy.replicas
        ):
            raise ValueError(
                f"scale ({self.scale}) and deploy.replicas ({self.deploy.replicas}) differ: "
                "set only one"
            )
        if self.image is None and self.build is None and self.provider is None:
            raise ValueError("service has neither an image nor a build context")
        return self

    @property
    def replicas(self) -> int:
        """How many containers this service wants (scale, else deploy.replicas, else 1)."""
        if isinstance(self.scale, int):
            return self.scale
        if self.deploy is not None and isinstance(self.deploy.replicas, int):
            return self.deploy.replicas
        return 1
