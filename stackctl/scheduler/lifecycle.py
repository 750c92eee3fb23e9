"""Planners for the other stack commands: ``down``, ``stop``, ``start``, ``build``, ``pull``.

Pure like ``up``'s (converge.py): observed and desired state in, a Plan out.
Containers stop in reverse dependency order (a dependency stops only once its
dependents have) and start in dependency order, with conditions awaited.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Literal

from stackctl.errors import SchedulerError
from stackctl.lightdc import dataclass
from stackctl.scheduler import graph as g
from stackctl.scheduler.model import DesiredState
from stackctl.scheduler.observe import ObservedState
from stackctl.scheduler.ops import (
    BuildImage,
    PullImage,
    RemoveImage,
    RemoveNetwork,
    RemoveVolume,
    StartContainer,
    StopContainer,
)
from stackctl.scheduler.plangraph import Plan, PlanBuilder, remove_container, resource_id


@dataclass(frozen=True)
class DownOptions:
    services: tuple[str, ...] = ()
    remove_orphans: bool = False
    volumes: bool = False
    rmi: Literal["local", "all"] | None = None
    timeout: float | None = None


def plan_down(desired: DesiredState | None, observed: ObservedState, opts: DownOptions) -> Plan:
    """Tear down: containers in reverse dependency order, then networks, volumes, images.

    ``desired`` may be None (no stack file): then the labels alone say what to remove.
    """
    b = PlanBuilder()
    known = (desired.known_services | frozenset(desired.services)) if desired else None
    if opts.services:
        if desired is not None:
            g.select(g.service_graph(desired.services, desired.edges()), opts.services,
                     with_deps=False)
        scope = set(opts.services)
        victims = [c for c in observed.containers if c.service in scope and not c.oneoff]
    else:
        victims = [c for c in observed.containers
                   if known is None or c.oneoff or c.service in known or opts.remove_orphans]
        if known is not None and not opts.remove_orphans:
            left = sorted(c.name for c in observed.containers if c not in victims)
            if left:
                b.warnings.append(f"found orphan containers ({', '.join(left)}) for this "
                                  "project; run with --remove-orphans to clean them up")
    stops: dict[str, list[str]] = {}
    removals: list[str] = []
    for c in victims:
        ids = remove_container(b, c, "down", opts.timeout, volumes=opts.volumes)
        if not c.oneoff:
            stops.setdefault(c.service, []).append(ids[0])
        removals.append(ids[-1])
    if desired is not None:
        # a dependency stops only once everything that needs it has stopped
        for e in desired.edges():
            b.edge(stops.get(e.dependent, []), stops.get(e.prerequisite, []))
    if opts.services:
        return b.plan(observed.project)
    kept = [c.name for c in observed.containers if c not in victims]
    for net in observed.networks:
        if not net.key:
            continue  # not ours (an external network the stack uses)
        if kept:
            b.warnings.append(f"network {net.name} kept: still used by {', '.join(kept)}")
        else:
            b.add(RemoveNetwork(f"network:{net.key}", "down", name=net.name), removals)
    if opts.volumes:
        for vol in observed.volumes:
            b.add(RemoveVolume(f"volume:{vol.key or vol.name}", "down -v", name=vol.name),
                  removals)
    if opts.rmi and desired is not None:
        for ref in sorted({s.image for s in desired.services.values()
                           if opts.rmi == "all" or not s.config.get("image")}):
            if ref in observed.images:
                b.add(RemoveImage(f"image:{ref}", f"down --rmi {opts.rmi}", image=ref), removals)
    return b.plan(observed.project)


def plan_stop(desired: DesiredState | None, observed: ObservedState, services: Iterable[str] = (),
              *, timeout: float | None = None) -> Plan:
    """``stop``: running containers of ``services`` (all when empty), dependents first."""
    b = PlanBuilder()
    scope = set(services)
    stops: dict[str, list[str]] = {}
    for c in observed.containers:
        if c.oneoff or (scope and c.service not in scope) or c.state in ("created", "exited",
                                                                          "dead"):
            continue
        stops.setdefault(c.service, []).append(b.add(StopContainer(
            resource_id(c), "stop", for_service=c.service, name=c.name, timeout=timeout)))
    if desired is not None:
        for e in desired.edges():
            b.edge(stops.get(e.dependent, []), stops.get(e.prerequisite, []))
    return b.plan(observed.project)


def plan_start(desired: DesiredState, observed: ObservedState, services: Iterable[str] = ()
               ) -> Plan:
    """``start``: existing stopped containers, dependencies first, conditions awaited."""
    b = PlanBuilder()
    wanted = list(services)
    scope = set(desired.services)
    if wanted:  # the services and what they need, as compose start does
        scope = g.select(g.service_graph(desired.services, desired.edges()), wanted)
    starts: dict[str, list[str]] = {}
    for c in observed.containers:
        svc = desired.services.get(c.service)
        if c.oneoff or c.service not in scope or c.running or c.state == "paused":
            continue
        conditions = svc.dependencies if svc is not None else ()
        starts.setdefault(c.service, []).append(b.add(StartContainer(
            resource_id(c), "start", for_service=c.service, name=c.name,
            conditions=conditions)))
    for e in desired.edges():
        b.edge(starts.get(e.prerequisite, []), starts.get(e.dependent, []), required=e.required)
    return b.plan(observed.project)


def plan_images(desired: DesiredState, services: Iterable[str] = (), *, build: bool,
                build_args: Mapping[str, str] | None = None) -> Plan:
    """``build``: every selected service with a build section; ``pull``: every
    selected image that is not built locally (one pull per reference)."""
    b = PlanBuilder()
    chosen = sorted(services) or sorted(desired.services)
    for name in chosen:
        svc = desired.services.get(name)
        if svc is None:
            raise SchedulerError(f"no such service: {name}")
        res = f"image:{svc.image}"
        if build and svc.build is not None:
            b.add(BuildImage(res, "build", image=svc.image, for_service=name,
                             build_args=tuple(sorted((build_args or {}).items()))))
        elif not build and svc.build is None and f"pull image {res}" not in b.graph:
            b.add(PullImage(res, "pull", image=svc.image))
    return b.plan(desired.project)

__all__ = ["DownOptions", "plan_down", "plan_images", "plan_start", "plan_stop"]
