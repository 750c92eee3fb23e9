"""The stack-file models, in one import: ``from stackctl.spec.models import Service``.

Split by theme to keep modules small: models_base (scalar types, base classes),
models_ports (ports, volumes), models_parts (networks, depends_on, healthcheck,
build, deploy...), models_service (Service), models_top (networks, volumes,
secrets, configs, StackFile, Project).
"""

from __future__ import annotations

from stackctl.spec.models_base import ExtModel, SpecModel
from stackctl.spec.models_deploy import Deploy
from stackctl.spec.models_parts import (
    Build,
    DependsOn,
    Device,
    EnvFile,
    FileRef,
    Healthcheck,
    Logging,
    ServiceNetwork,
    Ulimit,
)
from stackctl.spec.models_ports import (
    ServicePort,
    ServiceVolume,
    VolumeBind,
    VolumeTmpfs,
    VolumeVolume,
    expand_ports,
    parse_volume,
)
from stackctl.spec.models_service import Service
from stackctl.spec.models_top import (
    Config,
    IPAMConfig,
    IPAMPool,
    Network,
    Project,
    Secret,
    StackFile,
    Volume,
)

__all__ = [
    "Build",
    "Config",
    "DependsOn",
    "Deploy",
    "Device",
    "EnvFile",
    "ExtModel",
    "FileRef",
    "Healthcheck",
    "IPAMConfig",
    "IPAMPool",
    "Logging",
    "Network",
    "Project",
    "Secret",
    "Service",
    "ServiceNetwork",
    "ServicePort",
    "ServiceVolume",
    "SpecModel",
    "StackFile",
    "Ulimit",
    "Volume",
    "VolumeBind",
    "VolumeTmpfs",
    "VolumeVolume",
    "expand_ports",
    "parse_volume",
]
