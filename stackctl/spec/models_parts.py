"""The nested parts of a service: networks, depends_on, healthcheck, build, deploy...

Each part has one canonical form in the model; the alternative syntaxes compose
accepts (a list where a mapping is allowed, a string where a list is) are turned
into it by the ``before`` converters, so consumers never see two shapes.
"""

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, model_validator
from typing_extensions import TypedDict

from stackctl.spec.models_base import (
    Bool,
    Bytes,
    Duration,
    ExtModel,
    Int,
    SpecModel,
    Str,
    StrDict,
    StrList,
    StrOrNoneDict,
    lenient,
    list_or_dict,
)
from stackctl.spec.models_ports import FileMode

__all__ = [
    "Build",
    "DependsOn",
    "Device",
    "EnvFile",
    "ExtraHosts",
    "FileRef",
    "Healthcheck",
    "Logging",
    "ServiceNetwork",
    "Ulimit",
]


class ServiceNetwork(ExtModel):
    aliases: StrList | None = None
    ipv4_address: Str | None = None
    ipv6_address: Str | None = None
    link_local_ips: StrList | None = None
    mac_address: Str | None = None
    driver_opts: StrDict | None = None
    priority: Int | None = None
    gw_priority: Int | None = None
    interface_name: Str | None = None


def list_to_null_map(value: Any) -> Any:
    """``[a, b]`` -> ``{a: None, b: None}`` (networks, depends_on)."""
    if isinstance(value, list):
        out: dict[Any, Any] = {}
        for item in value:
            if not isinstance(item, str):
                raise ValueError(f"expected a list of names, got {item!r}")
            if item in out:
                raise ValueError(f"{item!r} is listed twice")
            out[item] = None
        return out
    return value


Condition = Literal["service_started", "service_healthy", "service_completed_successfully"]


class DependsOn(ExtModel):
    condition: Annotated[Condition, lenient] = "service_started"
    restart: Bool = False
    required: Bool = True


def _depends_on(value: Any) -> Any:
    value = list_to_null_map(value)
    if isinstance(value, Mapping):
        return {k: ({} if v is None else v) for k, v in value.items()}
    return value


DependsOnMap = Annotated[
    dict[str, DependsOn],
    BeforeValidator(_depends_on, json_schema_input_type=list[str] | dict[str, DependsOn]),
]
NetworksMap = Annotated[
    dict[str, ServiceNetwork | None],
    BeforeValidator(
        list_to_null_map, json_schema_input_type=list[str] | dict[str, ServiceNetwork | None]
    ),
]


def _healthcheck_test(value: Any) -> Any:
    if isinstance(value, str):
        return ["NONE"] if value == "NONE" else ["CMD-SHELL", value]
    if isinstance(value, list) and value:
        head = value[0]
        if head not in ("NONE", "CMD", "CMD-SHELL") and not (isinstance(head, str) and "$" in head):
            raise ValueError(
                f"healthcheck test must start with CMD, CMD-SHELL or NONE, got {head!r}"
            )
    elif isinstance(value, list):
        raise ValueError("healthcheck test must not be empty (use NONE to disable)")
    return value


class Healthcheck(ExtModel):
    test: (
        Annotated[
            list[Str],
            BeforeValidator(_healthcheck_test, json_schema_input_type=str | list[str]),
            lenient,
        ]
        | None
    ) = None
    # field order = compose-go's, which is the order ``config`` prints
    timeout: Duration | None = None
    interval: Duration | None = None
    retries: Int | None = None
    start_period: Duration | None = None
    start_interval: Duration | None = None
    disable: Bool | None = None

    @model_validator(mode="after")
    def _disable_xor_test(self) -> "Healthcheck":
        if self.disable is True and isinstance(self.test, list) and self.test != ["NONE"]:
            raise ValueError("test and disable: true cannot be set together")
        return self


class FileRef(ExtModel):
    """A secret or config granted to a service (``- name`` or the long form)."""

    source: Str
    target: Str | None = None
    uid: Str | None = None
    gid: Str | None = None
    mode: FileMode | None = None


def _file_ref(value: Any) -> Any:
    return {"source": value} if isinstance(value, str) else value


FileRefItem = Annotated[FileRef, BeforeValidator(_file_ref, json_schema_input_type=str | FileRef)]


class Ulimit(SpecModel):
    """``nofile: 1024`` (``single``) or ``nofile: {soft: 1024, hard: 2048}``."""

    single: Int | None = None
    soft: Int | None = None
    hard: Int | None = None

    @model_validator(mode="before")
    @classmethod
    def _single(cls, value: Any) -> Any:
        if isinstance(value, int | str) and not isinstance(value, bool):
            return {"single": value}
        if isinstance(value, Mapping) and set(value) - {"soft", "hard"}:
            extra = sorted(str(k) for k in set(value) - {"soft", "hard"})
            raise ValueError(f"unknown key {extra[0]!r}: a ulimit takes soft and hard")
        if isinstance(value, Mapping) and not {"soft", "hard"} <= set(value):
            raise ValueError("a ulimit mapping needs both soft and hard")
        return value

    @model_validator(mode="after")
    def _order(self) -> "Ulimit":
        if isinstance(self.soft, int) and isinstance(self.hard, int) and self.soft > self.hard:
            raise ValueError(f"soft limit {self.soft} is above hard limit {self.hard}")
        return self


def _extra_hosts(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {
            str(k): ([str(x) for x in v] if isinstance(v, list) else [str(v)])
            for k, v in value.items()
        }
    if isinstance(value, list):
        out: dict[str, list[str]] = {}
        for item in value:
            if not isinstance(item, str):
                raise ValueError(f"expected HOST=IP or HOST:IP, got {item!r}")
            sep = "=" if "=" in item else ":"
            host, found, ip = item.partition(sep)
            if not found or not host or not ip:
                raise ValueError(f"invalid extra host {item!r}: expected HOST=IP or HOST:IP")
            if ip.startswith("[") and ip.endswith("]"):
                ip = ip[1:-1]
            out.setdefault(host, []).append(ip)
        return out
    return value


ExtraHosts = Annotated[
    dict[str, list[Str]],
    BeforeValidator(_extra_hosts, json_schema_input_type=list[str] | dict[str, str | list[str]]),
    lenient,
]


class Logging(ExtModel):
    driver: Str | None = None
    options: StrOrNoneDict | None = None


class Device(SpecModel):
    source: Str
    target: Str | None = None
    permissions: Str | None = None

    @model_validator(mode="before")
    @classmethod
    def _short(cls, value: Any) -> Any:
        if isinstance(value, str):
            parts = value.split(":")
            if len(parts) > 3 or not parts[0]:
                raise ValueError(
                    f"invalid device {value!r}: expected HOST[:CONTAINER[:PERMISSIONS]]"
                )
            out = {"source": parts[0], "target": parts[1] if len(parts) > 1 else parts[0]}
            out["permissions"] = parts[2] if len(parts) > 2 else "rwm"
            return out
        return value


class EnvFile(SpecModel):
    path: Str
    required: Bool = True
    format: Str | None = None


def _env_files(value: Any) -> Any:
    if isinstance(value, str):
        value = [value]
    if isinstance(value, list):
        return [{"path": v} if isinstance(v, str) else v for v in value]
    return value


EnvFiles = Annotated[
    list[EnvFile], BeforeValidator(_env_files, json_schema_input_type=str | list[str | EnvFile])
]


class Extends(SpecModel):
    service: Str
    file: Str | None = None

    @model_validator(mode="before")
    @classmethod
    def _short(cls, value: Any) -> Any:
        return {"service": value} if isinstance(value, str) else value


class _UlimitPair(TypedDict):
    soft: int | str
    hard: int | str


def _same(value: Any) -> Any:
    return value


# What editors are told these accept (``config --schema``): the written forms.
UlimitField = Annotated[
    Ulimit, BeforeValidator(_same, json_schema_input_type=int | str | _UlimitPair)
]
DeviceField = Annotated[Device, BeforeValidator(_same, json_schema_input_type=str | Device)]
ExtendsField = Annotated[Extends, BeforeValidator(_same, json_schema_input_type=str | Extends)]


# --- build ---------------------------------------------------------------------


def _ssh(value: Any) -> Any:
    if isinstance(value, Mapping):
        return [k if v is None else f"{k}={v}" for k, v in value.items()]
    return value


def _build_short(value: Any) -> Any:
    return {"context": value} if isinstance(value, str) else value


class Build(ExtModel):
    context: Str | None = None
    dockerfile: Str | None = None
    dockerfile_inline: Str | None = None
    entitlements: list[Str] | None = None
    args: StrOrNoneDict | None = None
    ssh: Annotated[list[Str], BeforeValidator(_ssh)] | None = None
    labels: StrDict | None = None
    cache_from: list[Str] | None = None
    cache_to: list[Str] | None = None
    no_cache: Bool | None = None
    additional_contexts: StrDict | None = None
    network: Str | None = None
    provenance: Str | None = None
    sbom: Str | None = None
    pull: Bool | None = None
    target: Str | None = None
    shm_size: Bytes | None = None
    extra_hosts: ExtraHosts | None = None
    isolation: Str | None = None
    privileged: Bool | None = None
    secrets: list[FileRefItem] | None = None
    tags: list[Str] | None = None
    ulimits: dict[str, UlimitField] | None = None
    platforms: list[Str] | None = None

    @model_validator(mode="after")
    def _one_dockerfile(self) -> "Build":
        if self.dockerfile is not None and self.dockerfile_inline is not None:
            raise ValueError("dockerfile and dockerfile_inline are mutually exclusive")
        return self


BuildField = Annotated[Build, BeforeValidator(_build_short, json_schema_input_type=str | Build)]


__all__ += ["list_or_dict"]
