"""The typed operations a plan is made of: one per engine call.

Each has a resource id (``service:web:1``, ``network:default``, ``volume:data``,
``image:busybox:latest``), a cause a user can read, and a ``destructive`` flag
for what loses data that the stack file cannot bring back (volumes). The
operation id ``"<verb> <resource>"`` is unique within a plan.
"""

from __future__ import annotations

from typing import Any, ClassVar

from stackctl.lightdc import dataclass
from stackctl.scheduler.model import Dependency


@dataclass(frozen=True)
class Operation:
    resource: str
    cause: str

    verb: ClassVar[str] = ""

    @property
    def id(self) -> str:
        return f"{self.verb} {self.resource}"

    @property
    def destructive(self) -> bool:
        return False

    @property
    def service(self) -> str | None:
        return None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "op": type(self).__name__,
            "resource": self.resource,
            "cause": self.cause,
            "destructive": self.destructive,
        }
        for key, value in self.__dict__.items():
            if key in ("resource", "cause"):
                continue
            if key == "conditions":
                value = [
                    {"service": d.service, "condition": d.condition, "required": d.required}
                    for d in value
                ]
            out[key] = value
        return out


@dataclass(frozen=True)
class CreateNetwork(Operation):
    name: str = ""
    key: str = ""
    verb: ClassVar[str] = "create network"


@dataclass(frozen=True)
class CreateVolume(Operation):
    name: str = ""
    key: str = ""
    labels: tuple[tuple[str, str], ...] = ()  # the file's volume labels
    verb: ClassVar[str] = "create volume"


@dataclass(frozen=True)
class BuildImage(Operation):
    image: str = ""
    for_service: str = ""
    build_args: tuple[tuple[str, str], ...] = ()  # compose build --build-arg, over build.args
    verb: ClassVar[str] = "build image"

    @property
    def service(self) -> str | None:
        return self.for_service


@dataclass(frozen=True)
class PullImage(Operation):
    image: str = ""
    verb: ClassVar[str] = "pull image"


@dataclass(frozen=True)
class _ContainerOp(Operation):
    for_service: str = ""
    name: str = ""

    @property
    def service(self) -> str | None:
        return self.for_service


@dataclass(frozen=True)
class CreateContainer(_ContainerOp):
    number: int = 0
    config_hash: str = ""
    verb: ClassVar[str] = "create container"


@dataclass(frozen=True)
class StartContainer(_ContainerOp):
    # what must hold of other services before this container may start
    conditions: tuple[Dependency, ...] = ()
    verb: ClassVar[str] = "start container"


@dataclass(frozen=True)
class StopContainer(_ContainerOp):
    timeout: float | None = None
    verb: ClassVar[str] = "stop container"


@dataclass(frozen=True)
class RemoveContainer(_ContainerOp):
    volumes: bool = False  # also its anonymous volumes
    verb: ClassVar[str] = "remove container"

    @property
    def destructive(self) -> bool:
        return self.volumes


@dataclass(frozen=True)
class RemoveNetwork(Operation):
    name: str = ""
    verb: ClassVar[str] = "remove network"


@dataclass(frozen=True)
class RemoveVolume(Operation):
    name: str = ""
    verb: ClassVar[str] = "remove volume"

    @property
    def destructive(self) -> bool:
        return True


@dataclass(frozen=True)
class RemoveImage(Operation):
    image: str = ""
    verb: ClassVar[str] = "remove image"


__all__ = [
    "BuildImage",
    "CreateContainer",
    "CreateNetwork",
    "CreateVolume",
    "Operation",
    "PullImage",
    "RemoveContainer",
    "RemoveImage",
    "RemoveNetwork",
    "RemoveVolume",
    "StartContainer",
    "StopContainer",
]
