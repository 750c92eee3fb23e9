"""The desired state the planner sees, derived from a loaded stack.

The input is the canonical, normalised compose dict of a project (what
``stackctl config --format json`` prints: the spec layer's serialisation), so
this module needs no pydantic and its tests are plain literals. The output is
frozen values: per service the replica count, the image to run (or build), its
dependencies and its normalised config; per network and volume the engine name.

The config hash (label ``stackctl.config-hash``) is sha256 over the canonical
JSON of the service config plus the image id. Keys that say how many or in
which order containers run, not what each one is, are left out (as Compose's
``ServiceHash`` does): changing ``deploy.replicas`` scales, it does not recreate.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

from stackctl import lightdc
from stackctl.errors import SchedulerError, UsageError
from stackctl.lightdc import dataclass, field
from stackctl.scheduler.graph import Edge

# Keys of a service that do not change what a container is.
HASH_EXCLUDED = ("build", "pull_policy", "scale", "depends_on", "profiles")

CONDITIONS = ("service_started", "service_healthy", "service_completed_successfully")


@dataclass(frozen=True)
class Dependency:
    """``service`` must meet ``condition`` before the dependent starts."""

    service: str
    condition: str = "service_started"
    restart: bool = False  # restart the dependent when this one is updated
    required: bool = True
    kind: str = "depends_on"


@dataclass(frozen=True)
class ServiceModel:
    name: str
    replicas: int
    image: str  # the reference containers run: ``image:`` or ``<project>-<service>``
    build: Mapping[str, Any] | None
    pull_policy: str  # always | missing | never | build (compose spellings normalised)
    container_name: str | None
    dependencies: tuple[Dependency, ...]
    networks: tuple[str, ...]  # network keys, sorted
    volumes: tuple[str, ...]  # named volume keys, sorted
    has_healthcheck: bool
    config: Mapping[str, Any] = field(repr=False, compare=False)
    image_id: str | None = None  # None: not in the image store yet
    config_hash: str = ""


@dataclass(frozen=True)
class NetworkModel:
    key: str
    name: str
    external: bool = False
    config: Mapping[str, Any] = field(default_factory=dict, compare=False)
    config_hash: str = ""


@dataclass(frozen=True)
class VolumeModel:
    key: str
    name: str
    external: bool = False
    config: Mapping[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class DesiredState:
    project: str
    services: Mapping[str, ServiceModel]  # the active services
    networks: Mapping[str, NetworkModel]
    volumes: Mapping[str, VolumeModel]
    known_services: frozenset[str] = frozenset()  # active + inactive (profiles): not orphans
    working_dir: str = ""
    # top-level secrets: / configs: by key (file, content, environment...), which
    # services mount under /run/secrets/ and / (translate.py)
    secrets: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    configs: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def edges(self) -> list[Edge]:
        return [
            Edge(d.service, s.name, d.kind, d.required)
            for s in self.services.values()
            for d in s.dependencies
            if d.service in self.services
        ]


def canonical_json(value: Any) -> str:
    """The one serialisation that hashes are taken over: sorted keys, no spaces."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def config_hash(config: Mapping[str, Any], image_id: str | None) -> str:
    cfg = {k: v for k, v in config.items() if k not in HASH_EXCLUDED}
    deploy = cfg.get("deploy")
    if isinstance(deploy, Mapping) and "replicas" in deploy:
        cfg["deploy"] = {k: v for k, v in deploy.items() if k != "replicas"}
    text = canonical_json(cfg) + "\n" + (image_id or "")
    return hashlib.sha256(text.encode()).hexdigest()


def container_name(project: str, service: str, number: int, *, oneoff: bool = False) -> str:
    return f"{project}-{service}-{'run-' if oneoff else ''}{number}"


def parse_scale(items: Iterable[str]) -> dict[str, int]:
    """``--scale web=3`` values -> {"web": 3}."""
    out: dict[str, int] = {}
    for item in items:
        name, sep, count = item.partition("=")
        if not sep or not name or not count.isdigit():
            raise UsageError(
                f"--scale {item!r}: expected SERVICE=NUMBER", hint="e.g. --scale web=3"
            )
        out[name] = int(count)
    return out


def desired_state(
    project: str,
    config: Mapping[str, Any],
    *,
    image_ids: Mapping[str, str] | None = None,
    scale: Mapping[str, int] | None = None,
    inactive_services: Iterable[str] = (),
    working_dir: str = "",
) -> DesiredState:
    """Build the desired state from a canonical project dict.

    ``image_ids`` maps image references to image ids (from the image store);
    ``scale`` overrides replica counts (``--scale``).
    """
    image_ids = image_ids or {}
    scale = dict(scale or {})
    raw_services: Mapping[str, Any] = config.get("services") or {}
    unknown = sorted(set(scale) - set(raw_services))
    if unknown:
        raise UsageError(f"--scale: no such service: {', '.join(unknown)}")
    services: dict[str, ServiceModel] = {}
    used_networks: set[str] = set()
    for name in sorted(raw_services):
        svc = _service(project, name, raw_services[name] or {}, image_ids, scale.get(name))
        services[name] = svc
        used_networks.update(svc.networks)
    networks = _networks(project, config.get("networks") or {}, used_networks)
    volumes = {
        key: VolumeModel(
            key=key,
            name=str((v or {}).get("name") or f"{project}_{key}"),
            external=bool((v or {}).get("external")),
            config=dict(v or {}),
        )
        for key, v in sorted((config.get("volumes") or {}).items())
    }
    for svc in services.values():
        missing = [v for v in svc.volumes if v not in volumes]
        if missing:
            raise SchedulerError(
                f"service {svc.name!r} refers to undefined volume {missing[0]!r}",
                hint="declare it under the top-level volumes: key",
            )
        # What the container is made of includes the engine names its keys resolve to:
        # pointing a volume key at another volume (or network) changes the container.
        resolved: dict[str, Any] = {"volumes": {k: volumes[k].name for k in svc.volumes},
                                    "networks": {k: networks[k].name for k in svc.networks}}
        for kind in ("secrets", "configs"):  # what the mounted files are made of
            used = {str(r["source"]): (config.get(kind) or {}).get(str(r["source"]))
                    for r in svc.config.get(kind) or [] if isinstance(r, Mapping)}
            if used:
                resolved[kind] = used
        services[svc.name] = lightdc.replace(
            svc, config_hash=config_hash({**svc.config, "x-stackctl-resolved": resolved},
                                         svc.image_id))
    return DesiredState(
        project=project,
        services=services,
        networks=networks,
        volumes=volumes,
        known_services=frozenset(services) | frozenset(inactive_services),
        working_dir=working_dir,
        secrets={str(k): dict(v or {}) for k, v in (config.get("secrets") or {}).items()},
        configs={str(k): dict(v or {}) for k, v in (config.get("configs") or {}).items()},
    )


def _service(
    project: str,
    name: str,
    cfg: Mapping[str, Any],
    image_ids: Mapping[str, str],
    scale: int | None,
) -> ServiceModel:
    build = cfg.get("build")
    if isinstance(build, str):
        build = {"context": build}
    image = str(cfg.get("image") or f"{project}-{name}")
    if not cfg.get("image") and not build:
        raise SchedulerError(
            f"service {name!r} has neither an image nor a build section",
            hint=f"add services.{name}.image or services.{name}.build",
        )
    replicas = scale if scale is not None else _replicas(cfg)
    container = cfg.get("container_name")
    if container and replicas > 1:
        raise SchedulerError(
            f"service {name!r} sets container_name {container!r} and cannot scale to {replicas}",
            hint="container names are unique: remove container_name to run replicas",
        )
    image_id = image_ids.get(image)
    hc = cfg.get("healthcheck")
    has_hc = isinstance(hc, Mapping) and not hc.get("disable") and hc.get("test") not in (
        None, ["NONE"], "NONE")
    return ServiceModel(
        name=name,
        replicas=replicas,
        image=image,
        build=dict(build) if isinstance(build, Mapping) else None,
        pull_policy=_pull_policy(cfg.get("pull_policy"), bool(build)),
        container_name=str(container) if container else None,
        dependencies=dependencies_of(cfg),
        networks=_service_networks(cfg),
        volumes=tuple(sorted({
            str(v["source"]) for v in cfg.get("volumes") or []
            if isinstance(v, Mapping) and v.get("type", "volume") == "volume" and v.get("source")
        })),
        has_healthcheck=bool(has_hc),
        config=cfg,
        image_id=image_id,
        config_hash=config_hash(cfg, image_id),
    )


def _replicas(cfg: Mapping[str, Any]) -> int:
    deploy = cfg.get("deploy") or {}
    value = deploy.get("replicas") if isinstance(deploy, Mapping) else None
    if value is None:
        value = cfg.get("scale", 1)
    return int(value)


def _pull_policy(value: Any, has_build: bool) -> str:
    policy = str(value or ("build" if has_build else "missing")).lower()
    return {"if_not_present": "missing", "": "missing", "daily": "missing",
            "weekly": "missing"}.get(policy, policy)


def dependencies_of(cfg: Mapping[str, Any]) -> tuple[Dependency, ...]:
    """depends_on plus the implicit edges: network_mode/ipc/pid service:X,
    volumes_from X, links X[:alias]."""
    deps: dict[str, Dependency] = {}
    raw = cfg.get("depends_on") or {}
    if isinstance(raw, list):
        raw = {str(n): {} for n in raw}
    for svc, spec in raw.items():
        spec = spec or {}
        condition = str(spec.get("condition") or "service_started")
        if condition not in CONDITIONS:
            raise SchedulerError(f"depends_on {svc!r}: unknown condition {condition!r}",
                                 hint="use one of " + ", ".join(CONDITIONS))
        deps[str(svc)] = Dependency(
            str(svc), condition, bool(spec.get("restart", False)),
            bool(spec.get("required", True)))
    implicit: list[tuple[str, str]] = []
    for key in ("network_mode", "ipc", "pid"):
        value = cfg.get(key)
        if isinstance(value, str) and value.startswith("service:"):
            implicit.append((value.split(":", 1)[1], key))
    for item in cfg.get("volumes_from") or []:
        text = str(item)
        if not text.startswith("container:"):
            implicit.append((text.split(":", 1)[0], "volumes_from"))
    for item in cfg.get("links") or []:
        implicit.append((str(item).split(":", 1)[0], "links"))
    for svc, kind in implicit:
        # compose's loader adds a depends_on of its own for ipc/pid/network_mode
        # service:X; the implicit kind must still win (X must run before the create)
        dep = deps.get(svc)
        deps[svc] = Dependency(svc, kind=kind) if dep is None else lightdc.replace(
            dep, kind=kind)
    return tuple(deps[k] for k in sorted(deps))


def _service_networks(cfg: Mapping[str, Any]) -> tuple[str, ...]:
    if cfg.get("network_mode"):
        return ()
    nets = cfg.get("networks")
    if nets is None:
        return ("default",)
    return tuple(sorted(str(n) for n in nets))


def _networks(
    project: str, raw: Mapping[str, Any], used: set[str]
) -> dict[str, NetworkModel]:
    out: dict[str, NetworkModel] = {}
    for key in sorted(set(raw) | used):
        spec = dict(raw.get(key) or {})
        if key not in raw and key != "default":
            raise SchedulerError(
                f"a service uses undefined network {key!r}",
                hint="declare it under the top-level networks: key",
            )
        name = str(spec.get("name") or f"{project}_{key}")
        hashed = {k: v for k, v in spec.items() if k not in ("name", "external")}
        out[key] = NetworkModel(
            key=key, name=name, external=bool(spec.get("external")), config=spec,
            config_hash=hashlib.sha256(canonical_json(hashed).encode()).hexdigest(),
        )
    return out


__all__ = [
    "CONDITIONS",
    "Dependency",
    "DesiredState",
    "NetworkModel",
    "ServiceModel",
    "VolumeModel",
    "canonical_json",
    "config_hash",
    "container_name",
    "dependencies_of",
    "desired_state",
    "parse_scale",
]
