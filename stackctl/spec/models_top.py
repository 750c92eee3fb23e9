"""Top-level models: networks, volumes, secrets, configs, and the project itself.

``StackFile`` is what the merged YAML validates into; ``Project`` is what
``load_project`` returns: the stack file after profiles, path resolution and
(optionally) normalisation, plus where it came from.
"""

from collections.abc import Mapping
from typing import Any

from pydantic import Field, model_validator

from stackctl.spec.models_base import Bool, ExtModel, Int, SpecModel, Str, StrDict
from stackctl.spec.models_service import Service

__all__ = [
    "Config",
    "IPAMConfig",
    "IPAMPool",
    "Network",
    "Project",
    "Secret",
    "StackFile",
    "Volume",
]


def _external(data: Any) -> Any:
    """``external: {name: x}`` (deprecated) -> ``name: x, external: true``."""
    if isinstance(data, Mapping) and isinstance(data.get("external"), Mapping):
        ext = dict(data["external"])
        unknown = set(ext) - {"name"}
        if unknown:
            raise ValueError(f"external takes only 'name', got {sorted(unknown)[0]!r}")
        data = {**data, "external": True}
        if "name" in ext:
            if data.get("name") not in (None, ext["name"]):
                raise ValueError(
                    f"name {data['name']!r} and external.name {ext['name']!r} disagree"
                )
            data["name"] = ext["name"]
    return data


class _External(ExtModel):
    @model_validator(mode="before")
    @classmethod
    def _legacy_external(cls, data: Any) -> Any:
        return _external(data)


class IPAMPool(SpecModel):
    subnet: Str | None = None
    gateway: Str | None = None
    ip_range: Str | None = None
    aux_addresses: dict[str, Str] | None = None


class IPAMConfig(ExtModel):
    driver: Str | None = None
    config: list[IPAMPool] | None = None
    options: dict[str, Str] | None = None


class Network(_External):
    name: Str | None = None
    driver: Str | None = None
    driver_opts: dict[str, Str] | None = None
    ipam: IPAMConfig | None = None
    external: Bool | None = None
    internal: Bool | None = None
    enable_ipv4: Bool | None = None
    enable_ipv6: Bool | None = None
    attachable: Bool | None = None
    labels: StrDict | None = None


class Volume(_External):
    name: Str | None = None
    driver: Str | None = None
    driver_opts: dict[str, Str] | None = None
    external: Bool | None = None
    labels: StrDict | None = None


class Secret(_External):
    name: Str | None = None
    file: Str | None = None
    environment: Str | None = None
    external: Bool | None = None
    labels: StrDict | None = None
    driver: Str | None = None
    driver_opts: dict[str, Str] | None = None
    template_driver: Str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> "Secret":
        if not self.external and self.file is None and self.environment is None:
            raise ValueError("needs one of file, environment or external: true")
        return self


class Config(_External):
    name: Str | None = None
    file: Str | None = None
    environment: Str | None = None
    content: Str | None = None
    external: Bool | None = None
    labels: StrDict | None = None
    template_driver: Str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> "Config":
        sources = [s for s in (self.file, self.environment, self.content) if s is not None]
        if not self.external and not sources:
            raise ValueError("needs one of file, environment, content or external: true")
        return self


class AIModel(ExtModel):
    model: Str
    name: Str | None = None
    context_size: Int | None = None
    runtime_flags: list[Str] | None = None


def _nulls_to_empty(value: Any) -> Any:
    """``networks: {front: }`` -> an empty definition (all defaults)."""
    if isinstance(value, Mapping):
        return {k: ({} if v is None else v) for k, v in value.items()}
    return value


class StackFile(ExtModel):
    """The merged stack file, validated. Keys as in the file."""

    version: Str | None = None  # obsolete; accepted and ignored, as compose does
    name: Str | None = None
    include: list[Any] | None = None  # resolved by the text pipeline before validation
    services: dict[str, Service] = Field(default_factory=dict)
    networks: dict[str, Network] = Field(default_factory=dict)
    volumes: dict[str, Volume] = Field(default_factory=dict)
    secrets: dict[str, Secret] = Field(default_factory=dict)
    configs: dict[str, Config] = Field(default_factory=dict)
    models: dict[str, AIModel] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _empty_entries(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        data = dict(data)
        for key in ("networks", "volumes", "secrets", "configs"):
            if key in data:
                data[key] = _nulls_to_empty(data[key])
            if data.get(key, 0) is None:
                data[key] = {}
        if data.get("services", 0) is None:
            data["services"] = {}
        return data


class Project(SpecModel):
    """A loaded project: what ``load_project`` returns and the scheduler consumes.

    ``services`` holds the ACTIVE services only (profiles applied);
    ``disabled_services`` those left out, so ``config --profiles`` and
    ``down`` can still see them.
    """

    name: str
    working_dir: str
    files: tuple[str, ...] = ()
    environment: dict[str, str] = Field(default_factory=dict)
    services: dict[str, Service] = Field(default_factory=dict)
    disabled_services: dict[str, Service] = Field(default_factory=dict)
    networks: dict[str, Network] = Field(default_factory=dict)
    volumes: dict[str, Volume] = Field(default_factory=dict)
    secrets: dict[str, Secret] = Field(default_factory=dict)
    configs: dict[str, Config] = Field(default_factory=dict)
    models: dict[str, AIModel] = Field(default_factory=dict)
    extensions: dict[str, Any] = Field(default_factory=dict)
    profiles: tuple[str, ...] = ()  # the profiles that were enabled
    warnings: tuple[str, ...] = ()

    def all_profiles(self) -> list[str]:
        """Every profile named by any service, sorted (``config --profiles``)."""
        names: set[str] = set()
        for svc in (*self.services.values(), *self.disabled_services.values()):
            names.update(svc.profiles or ())
        return sorted(names)

    def service_names(self) -> list[str]:
        return sorted(self.services)
