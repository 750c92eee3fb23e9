"""The OCI image configuration, typed.

``ImageConfig`` is the runtime part (the ``config`` object of the OCI image
config: Env, Cmd, Entrypoint, ...); ``Image`` is the whole config blob
(architecture, os, created, author, config, rootfs.diff_ids, history).
Both are frozen; ``replace`` (lightdc.replace) makes changed copies.
JSON keys are the OCI/Docker ones, so the blobs interoperate with
``docker save``/``docker load`` and registries. Unknown keys of a loaded
config are kept in ``extra`` so a round trip does not lose them (the digest
of a loaded image must not change).
"""

from __future__ import annotations

import json
import os

from stackctl.errors import ImageError
from stackctl.lightdc import dataclass, field, fields, replace

TYPE_CHECKING = False  # typing costs ~3 ms at start-up; annotations only
if TYPE_CHECKING:
    from typing import Any

MEDIA_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_INDEX = "application/vnd.oci.image.index.v1+json"
MEDIA_LAYER = "application/vnd.oci.image.layer.v1.tar"
MEDIA_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"


@dataclass(frozen=True)
class Healthcheck:
    test: tuple[str, ...] = ()  # ("CMD", ...), ("CMD-SHELL", "..."), ("NONE",)
    interval: int = 0  # nanoseconds, as Docker stores them
    timeout: int = 0
    start_period: int = 0
    start_interval: int = 0
    retries: int = 0

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"Test": list(self.test)}
        for key, val in (("Interval", self.interval), ("Timeout", self.timeout),
                         ("StartPeriod", self.start_period),
                         ("StartInterval", self.start_interval), ("Retries", self.retries)):
            if val:
                out[key] = val
        return out

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Healthcheck:
        return cls(tuple(d.get("Test") or ()), int(d.get("Interval") or 0),
                   int(d.get("Timeout") or 0), int(d.get("StartPeriod") or 0),
                   int(d.get("StartInterval") or 0), int(d.get("Retries") or 0))


@dataclass(frozen=True)
class ImageConfig:
    """What a container of this image runs with unless overridden."""

    user: str = ""
    exposed_ports: tuple[str, ...] = ()  # "80/tcp"
    env: tuple[str, ...] = ()  # "KEY=value", in order
    entrypoint: tuple[str, ...] | None = None
    cmd: tuple[str, ...] | None = None
    volumes: tuple[str, ...] = ()
    working_dir: str = ""
    labels: tuple[tuple[str, str], ...] = ()
    stop_signal: str = ""
    healthcheck: Healthcheck | None = None
    on_build: tuple[str, ...] = ()
    shell: tuple[str, ...] | None = None
    args_escaped: bool = False

    @property
    def env_dict(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for item in self.env:
            k, _, v = item.partition("=")
            out[k] = v
        return out

    @property
    def labels_dict(self) -> dict[str, str]:
        return dict(self.labels)

    def with_env(self, key: str, value: str) -> ImageConfig:
        """Set ``key`` (replacing in place, as Docker keeps the first position)."""
        new, done = [], False
        for item in self.env:
            if item.partition("=")[0] == key:
                new.append(f"{key}={value}")
                done = True
            else:
                new.append(item)
        if not done:
            new.append(f"{key}={value}")
        return replace(self, env=tuple(new))

    def with_labels(self, labels: dict[str, str]) -> ImageConfig:
        merged = dict(self.labels)
        merged.update(labels)
        return replace(self, labels=tuple(sorted(merged.items())))

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.user:
            out["User"] = self.user
        if self.exposed_ports:
            out["ExposedPorts"] = {p: {} for p in self.exposed_ports}
        if self.env:
            out["Env"] = list(self.env)
        if self.entrypoint is not None:
            out["Entrypoint"] = list(self.entrypoint)
        if self.cmd is not None:
            out["Cmd"] = list(self.cmd)
        if self.volumes:
            out["Volumes"] = {v: {} for v in self.volumes}
        if self.working_dir:
            out["WorkingDir"] = self.working_dir
        if self.labels:
            out["Labels"] = dict(self.labels)
        if self.stop_signal:
            out["StopSignal"] = self.stop_signal
        if self.healthcheck is not None:
            out["Healthcheck"] = self.healthcheck.to_json()
        if self.on_build:
            out["OnBuild"] = list(self.on_build)
        if self.shell is not None:
            out["Shell"] = list(self.shell)
        if self.args_escaped:
            out["ArgsEscaped"] = True
        return out

    @classmethod
    def from_json(cls, d: dict[str, Any] | None) -> ImageConfig:
        d = d or {}
        hc = d.get("Healthcheck")
        ep, cmd, shell = d.get("Entrypoint"), d.get("Cmd"), d.get("Shell")
        return cls(
            user=d.get("User") or "",
            exposed_ports=tuple(sorted((d.get("ExposedPorts") or {}).keys())),
            env=tuple(d.get("Env") or ()),
            entrypoint=tuple(ep) if ep is not None else None,
            cmd=tuple(cmd) if cmd is not None else None,
            volumes=tuple(sorted((d.get("Volumes") or {}).keys())),
            working_dir=d.get("WorkingDir") or "",
            labels=tuple(sorted((d.get("Labels") or {}).items())),
            stop_signal=d.get("StopSignal") or "",
            healthcheck=Healthcheck.from_json(hc) if hc else None,
            on_build=tuple(d.get("OnBuild") or ()),
            shell=tuple(shell) if shell is not None else None,
            args_escaped=bool(d.get("ArgsEscaped")),
        )


@dataclass(frozen=True)
class HistoryEntry:
    created: str = ""
    created_by: str = ""
    author: str = ""
    comment: str = ""
    empty_layer: bool = False

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, val in (("created", self.created), ("created_by", self.created_by),
                         ("author", self.author), ("comment", self.comment)):
            if val:
                out[key] = val
        if self.empty_layer:
            out["empty_layer"] = True
        return out

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> HistoryEntry:
        return cls(d.get("created") or "", d.get("created_by") or "", d.get("author") or "",
                   d.get("comment") or "", bool(d.get("empty_layer")))


@dataclass(frozen=True)
class Image:
    """The OCI image config blob."""

    config: ImageConfig = field(default_factory=ImageConfig)
    diff_ids: tuple[str, ...] = ()
    history: tuple[HistoryEntry, ...] = ()
    created: str = ""
    author: str = ""
    architecture: str = field(default_factory=lambda: host_architecture())
    os: str = "linux"
    variant: str = ""
    extra: tuple[tuple[str, str], ...] = ()  # unknown top-level keys, JSON-encoded values

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.created:
            out["created"] = self.created
        if self.author:
            out["author"] = self.author
        out["architecture"] = self.architecture
        if self.variant:
            out["variant"] = self.variant
        out["os"] = self.os
        out["config"] = self.config.to_json()
        out["rootfs"] = {"type": "layers", "diff_ids": list(self.diff_ids)}
        out["history"] = [h.to_json() for h in self.history]
        for key, raw in self.extra:
            out[key] = json.loads(raw)
        return out

    def to_bytes(self) -> bytes:
        """Canonical bytes: the image ID is the sha256 of exactly these."""
        return json.dumps(self.to_json(), separators=(",", ":"), sort_keys=True).encode()

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Image:
        rootfs = d.get("rootfs") or {}
        if rootfs.get("type", "layers") != "layers":
            raise ImageError(f"unsupported rootfs type {rootfs.get('type')!r} in image config")
        known = {"created", "author", "architecture", "variant", "os", "config", "rootfs",
                 "history", "container_config"}
        extra = tuple(sorted((k, json.dumps(v)) for k, v in d.items() if k not in known))
        return cls(
            config=ImageConfig.from_json(d.get("config")),
            diff_ids=tuple(rootfs.get("diff_ids") or ()),
            history=tuple(HistoryEntry.from_json(h) for h in d.get("history") or ()),
            created=d.get("created") or "",
            author=d.get("author") or "",
            architecture=d.get("architecture") or host_architecture(),
            os=d.get("os") or "linux",
            variant=d.get("variant") or "",
            extra=extra,
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> Image:
        try:
            d = json.loads(data)
        except ValueError as exc:
            raise ImageError(f"image config is not valid JSON: {exc}") from exc
        if not isinstance(d, dict):
            raise ImageError("image config is not a JSON object")
        return cls.from_json(d)


def host_architecture() -> str:
    machine = os.uname().machine
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386"}.get(
        machine, machine)


def now_rfc3339() -> str:
    """UTC with nanosecond-style precision, as Docker writes ``created``."""
    from datetime import UTC, datetime

    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def field_names() -> list[str]:
    return [f.name for f in fields(ImageConfig)]


__all__ = ["DOCKER_CONFIG", "DOCKER_LAYER", "DOCKER_LAYER_GZIP", "DOCKER_MANIFEST",
           "MEDIA_CONFIG", "MEDIA_INDEX", "MEDIA_LAYER", "MEDIA_LAYER_GZIP", "MEDIA_MANIFEST",
           "Healthcheck", "HistoryEntry", "Image", "ImageConfig", "host_architecture",
           "now_rfc3339"]
