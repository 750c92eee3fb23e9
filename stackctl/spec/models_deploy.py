"""Service parts for deployment and tooling: deploy (replicas, resources,
restart and update policies, placement), lifecycle hooks, develop/watch and
blkio limits. Split from models_parts to keep modules small.
"""

from typing import Annotated, Literal

from stackctl.spec.models_base import (
    Bool,
    Bytes,
    Command,
    Duration,
    ExtModel,
    Float,
    Int,
    SpecModel,
    Str,
    StrDict,
    StrList,
    StrOrNoneDict,
    lenient,
)

__all__ = [
    "BlkioConfig",
    "Deploy",
    "Develop",
    "DeviceRequest",
    "Hook",
    "Placement",
    "Resource",
    "Resources",
    "RestartPolicy",
    "UpdateConfig",
]


# --- deploy --------------------------------------------------------------------


class UpdateConfig(ExtModel):
    parallelism: Int | None = None
    delay: Duration | None = None
    failure_action: Str | None = None
    monitor: Duration | None = None
    max_failure_ratio: Float | None = None
    order: Annotated[Literal["start-first", "stop-first"], lenient] | None = None


class DeviceRequest(ExtModel):
    capabilities: list[Str] | None = None
    count: Annotated[int | Literal["all"], lenient] | None = None
    device_ids: list[Str] | None = None
    driver: Str | None = None
    options: StrDict | None = None


class DiscreteResource(ExtModel):
    kind: Str
    value: Int


class GenericResource(ExtModel):
    discrete_resource_spec: DiscreteResource | None = None


class Resource(ExtModel):
    cpus: Float | None = None
    memory: Bytes | None = None
    pids: Int | None = None
    devices: list[DeviceRequest] | None = None
    generic_resources: list[GenericResource] | None = None


class Resources(ExtModel):
    limits: Resource | None = None
    reservations: Resource | None = None


class RestartPolicy(ExtModel):
    condition: Annotated[Literal["none", "on-failure", "any"], lenient] | None = None
    delay: Duration | None = None
    max_attempts: Int | None = None
    window: Duration | None = None


class Preference(ExtModel):
    spread: Str


class Placement(ExtModel):
    constraints: list[Str] | None = None
    preferences: list[Preference] | None = None
    max_replicas_per_node: Int | None = None


class Deploy(ExtModel):
    mode: Str | None = None
    replicas: Annotated[int, lenient] | None = None
    labels: StrDict | None = None
    update_config: UpdateConfig | None = None
    rollback_config: UpdateConfig | None = None
    resources: Resources | None = None
    restart_policy: RestartPolicy | None = None
    placement: Placement | None = None
    endpoint_mode: Str | None = None


# --- rarely used parts ---------------------------------------------------------


class Hook(ExtModel):
    command: Command
    user: Str | None = None
    privileged: Bool | None = None
    working_dir: Str | None = None
    environment: StrOrNoneDict | None = None


class Watch(ExtModel):
    path: Str
    action: Annotated[Literal["rebuild", "sync", "restart", "sync+restart", "sync+exec"], lenient]
    target: Str | None = None
    ignore: StrList | None = None
    include: StrList | None = None
    exec: Hook | None = None
    initial_sync: Bool | None = None


class Develop(ExtModel):
    watch: list[Watch] | None = None


class BlkioLimit(SpecModel):
    path: Str
    rate: Bytes


class BlkioWeight(SpecModel):
    path: Str
    weight: Int


class BlkioConfig(SpecModel):
    weight: Int | None = None
    weight_device: list[BlkioWeight] | None = None
    device_read_bps: list[BlkioLimit] | None = None
    device_write_bps: list[BlkioLimit] | None = None
    device_read_iops: list[BlkioLimit] | None = None
    device_write_iops: list[BlkioLimit] | None = None
