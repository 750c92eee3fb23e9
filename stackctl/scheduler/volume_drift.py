"""Project volumes whose definition in the stack file changed since ``up`` made them.

``up`` stores the hash of each volume's definition (labels, driver, driver_opts...)
as its ``stackctl.config-hash`` label. When the file's definition changes, Compose
asks before recreating the volume, as its data is lost; ``up -y`` approves, and
without a terminal to ask on the volume is kept with a warning. Recreating means:
remove the containers that mount it, then the volume; the ``up`` that follows
makes both again from the file.

    drifted(desired, stored)                       pure: keys of the changed volumes
    plan_recreate(desired, observed, keys, ...)    pure: the removals, as a Plan

Volumes made before the hash was stored (no label) and external ones never drift,
as with networks (scheduler/converge.py).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping

from stackctl.scheduler import observe as L
from stackctl.scheduler.model import DesiredState, VolumeModel, canonical_json
from stackctl.scheduler.observe import ObservedState
from stackctl.scheduler.ops import RemoveVolume
from stackctl.scheduler.plangraph import Plan, PlanBuilder, remove_container


def volume_hash(vol: VolumeModel) -> str:
    """What the volume is made of: its definition without the name (which picks the
    volume rather than shaping it)."""
    shaped = {k: v for k, v in vol.config.items() if k not in ("name", "external")}
    return hashlib.sha256(canonical_json(shaped).encode()).hexdigest()


def drifted(desired: DesiredState, stored: Mapping[str, Mapping[str, str]]) -> list[str]:
    """Keys of the project's volumes whose stored hash differs from the file's.

    ``stored`` maps an existing volume's name to its labels. Only volumes this
    project made count: one of another project (or made by hand) is not ours to drop.
    """
    out = []
    for key, vol in sorted(desired.volumes.items()):
        labels = stored.get(vol.name)
        if vol.external or labels is None or labels.get(L.LABEL_PROJECT) != desired.project:
            continue
        old = labels.get(L.LABEL_HASH)
        if old and old != volume_hash(vol):
            out.append(key)
    return out


def plan_recreate(desired: DesiredState, observed: ObservedState, keys: Iterable[str], *,
                  timeout: float | None = None) -> Plan:
    """Remove the containers mounting each volume of ``keys`` (one-offs too), then the
    volume. Creating them again is left to ``up``'s own plan."""
    b = PlanBuilder()
    for key in sorted(keys):
        vol = desired.volumes[key]
        services = {s.name for s in desired.services.values() if key in s.volumes}
        cause = f"volume {vol.name} changed"
        removed: list[str] = []
        for c in observed.containers:
            if c.service in services:
                removed.extend(remove_container(b, c, cause, timeout)[-1:])
        b.add(RemoveVolume(f"volume:{key}", "volume config changed", name=vol.name), removed)
    return b.plan(desired.project)


def prompt(name: str) -> str:
    """Compose's question, word for word."""
    return (f'Volume "{name}" exists but doesn\'t match configuration in compose file. '
            "Recreate (data will be lost)?")


__all__ = ["drifted", "plan_recreate", "prompt", "volume_hash"]
