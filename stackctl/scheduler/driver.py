"""The real Driver: one plan operation -> one call into the engine layers.

``Engine`` (containers, volumes), ``NetworkManager`` (networks) and the image
store are not shared between threads (each holds one SQLite connection, and a
transaction must not interleave with another thread's), so every worker
thread gets its own set, opened on first use and closed with the driver.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from stackctl.errors import SchedulerError
from stackctl.scheduler import observe as L
from stackctl.scheduler.model import DesiredState
from stackctl.scheduler.observe import ObservedContainer, container_from_labels
from stackctl.scheduler.ops import (
    BuildImage,
    CreateContainer,
    CreateNetwork,
    CreateVolume,
    Operation,
    PullImage,
    RemoveContainer,
    RemoveImage,
    RemoveNetwork,
    RemoveVolume,
    StartContainer,
    StopContainer,
)
from stackctl.scheduler.translate import container_config


class EngineDriver:
    def __init__(self, root: Path, run_root: Path, desired: DesiredState | None, *,
                 project: str, runtime: str | None = None) -> None:
        self.root = Path(root)
        self.run_root = Path(run_root)
        self.desired = desired
        self.project = project
        self.runtime = runtime
        self._local = threading.local()
        self._opened: list[Any] = []
        self._lock = threading.Lock()

    # ---- per-thread engine handles ----------------------------------------------------------
    def engine(self) -> Any:
        eng = getattr(self._local, "engine", None)
        if eng is None:
            from stackctl.engine.api import Engine

            eng = Engine(self.root, self.run_root)
            self._local.engine = eng
            with self._lock:
                self._opened.append(eng)
        return eng

    def networks(self) -> Any:
        net = getattr(self._local, "networks", None)
        if net is None:
            from stackctl.net.manager import NetworkManager

            eng = self.engine()
            net = NetworkManager(eng.root, eng.run_root, eng.store)
            self._local.networks = net
        return net

    def close(self) -> None:
        with self._lock:
            opened, self._opened = self._opened, []
        for eng in opened:
            eng.close()

    # ---- Driver -------------------------------------------------------------------------------
    def containers(self, service: str) -> Sequence[ObservedContainer]:
        out = []
        for rec in self.engine().list(all_=True):
            labels = rec.labels or {}
            if labels.get(L.LABEL_PROJECT) != self.project or labels.get(
                    L.LABEL_SERVICE) != service or labels.get(L.LABEL_ONEOFF) == "True":
                continue
            oc = container_from_labels(rec.name, labels, state=str(rec.status),
                                       health=L._health(rec), exit_code=rec.exit_code,
                                       id=rec.id)
            if oc is not None:
                out.append(oc)
        return out

    def apply(self, op: Operation) -> None:
        eng = self.engine()
        if isinstance(op, CreateContainer):
            eng.create(self._container_config(op))
        elif isinstance(op, StartContainer):
            # joins every network of its config (translate.py); one monitor process
            # per stack: the first start spawns it, later starts are adopted by it
            eng.start(op.name, group=f"project:{self.project}")
        elif isinstance(op, StopContainer):
            eng.stop(op.name, op.timeout)
        elif isinstance(op, RemoveContainer):
            eng.remove(op.name, force=True, volumes=op.volumes)
        elif isinstance(op, CreateNetwork):
            self._create_network(op)
        elif isinstance(op, RemoveNetwork):
            self.networks().remove(op.name)
        elif isinstance(op, CreateVolume):
            eng.volumes.create(op.name, labels=self._volume_labels(op),
                               options=self._volume_options(op))
        elif isinstance(op, RemoveVolume):
            eng.volumes.remove(op.name)
        elif isinstance(op, RemoveImage):
            eng.images.remove(op.image)
        elif isinstance(op, BuildImage):
            self._build(op)
        elif isinstance(op, PullImage):
            self._pull(op)
        else:  # pragma: no cover - every op type is handled above
            raise SchedulerError(f"no driver for {type(op).__name__}")

    def _need_desired(self) -> DesiredState:
        if self.desired is None:
            raise SchedulerError("this operation needs the stack file")
        return self.desired

    def _container_config(self, op: CreateContainer) -> Any:
        desired = self._need_desired()
        svc = desired.services[op.for_service]
        resolve: dict[str, str] = {}
        for dep in svc.dependencies:
            if dep.kind in ("network_mode", "ipc", "pid", "volumes_from"):
                running = [c for c in self.containers(dep.service) if c.running]
                if running:
                    resolve[dep.service] = running[0].name
        return container_config(desired, svc, name=op.name, number=op.number,
                                config_hash=op.config_hash, resolve_service=resolve,
                                runtime=self.runtime)

    def _volume_labels(self, op: CreateVolume) -> dict[str, str]:
        """The file's labels, the project's, and the definition's hash, by which a
        later ``up`` sees the definition changed (scheduler/volume_drift.py)."""
        from stackctl.scheduler.volume_drift import volume_hash

        labels = {**dict(op.labels), L.LABEL_PROJECT: self.project, L.LABEL_VOLUME: op.key}
        vol = self.desired.volumes.get(op.key) if self.desired is not None else None
        if vol is not None:
            labels[L.LABEL_HASH] = volume_hash(vol)
        return labels

    def _volume_options(self, op: CreateVolume) -> dict[str, str]:
        """The file's driver_opts (engine/volumes.py says which it supports)."""
        vol = self.desired.volumes.get(op.key) if self.desired is not None else None
        spec = getattr(vol, "config", None) or {}
        driver = spec.get("driver") or "local"
        if driver != "local":
            raise SchedulerError(f"volume {op.key!r}: driver {driver!r} is not available",
                                 hint="stackctl has the local driver only")
        return {str(k): str(v) for k, v in (spec.get("driver_opts") or {}).items()}

    def _create_network(self, op: CreateNetwork) -> None:
        desired = self._need_desired()
        net = desired.networks[op.key]
        spec = net.config
        ipam = (spec.get("ipam") or {}).get("config") or []
        first = ipam[0] if ipam else {}
        self.networks().create(
            op.name,
            subnet=first.get("subnet"),
            gateway=first.get("gateway"),
            internal=bool(spec.get("internal")),
            labels={**{str(k): str(v) for k, v in (spec.get("labels") or {}).items()},
                    L.LABEL_PROJECT: self.project, L.LABEL_NETWORK: op.key,
                    L.LABEL_HASH: net.config_hash},
            options={str(k): str(v) for k, v in (spec.get("driver_opts") or {}).items()},
        )

    def _build(self, op: BuildImage) -> None:
        desired = self._need_desired()
        svc = desired.services[op.for_service]
        try:
            from stackctl.engine.build import api as build_api
        except ImportError:
            raise SchedulerError(
                f"service {svc.name!r} needs a build, and this stackctl has no builder yet",
                hint=f"build the image {svc.image} by other means, or use image:") from None
        build = dict(svc.build or {})
        if op.build_args:  # --build-arg wins over the file's build.args
            args = build.get("args") or {}
            if not isinstance(args, Mapping):
                args = dict(str(a).partition("=")[::2] for a in args)
            build["args"] = {**args, **dict(op.build_args)}
        build_api.build_for_service(self.engine(), build, tag=svc.image)

    def _pull(self, op: PullImage) -> None:
        try:
            from stackctl.engine.registry import client
        except ImportError:
            raise SchedulerError(
                f"image {op.image} is not present and pulling is not available",
                hint=f"import it first: stackctl import <rootfs.tar> {op.image}") from None
        client.pull(self.engine(), op.image)


__all__ = ["EngineDriver"]
