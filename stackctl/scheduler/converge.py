"""``up``'s planner: a PURE function of (desired state, observed state, options).

No I/O, no clock: the same inputs always give the same plan, and the plan's
text rendering is sorted, so it can be shown (``stackctl plan``), diffed in CI
(``stackctl sync``) and golden-tested. The executor carries the decisions made
here out; it makes none of its own.

Reconciling one service (Compose's ``convergence.go`` rules):

1. more containers than replicas: remove the surplus, obsolete ones first,
   then the highest numbers (so low numbers survive a scale-down);
2. each kept container: recreate when its config hash differs (or
   ``--force-recreate``; never with ``--no-recreate``); restart it when a
   dependency it declares ``restart: true`` on was recreated or restarted;
   start it when it is stopped;
3. fewer containers than replicas: create new numbers after the highest kept.

One deliberate difference from Compose: a container that exited 0, of a
service that others wait on with ``service_completed_successfully`` (a
migration job), is not started again. Its work is done, and a second ``up``
with no change must change nothing. Other stopped containers are started.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Literal

from stackctl.errors import SchedulerError
from stackctl.lightdc import dataclass
from stackctl.scheduler import graph as g
from stackctl.scheduler.model import DesiredState, ServiceModel, container_name
from stackctl.scheduler.observe import ObservedContainer, ObservedState
from stackctl.scheduler.ops import (
    BuildImage,
    CreateContainer,
    CreateNetwork,
    CreateVolume,
    Operation,
    PullImage,
    RemoveNetwork,
    StartContainer,
    StopContainer,
)
from stackctl.scheduler.plangraph import Plan, PlanBuilder, remove_container

if TYPE_CHECKING:
    import networkx as nx

Recreate = Literal["diverged", "force", "never"]


@dataclass(frozen=True)
class UpOptions:
    services: tuple[str, ...] = ()  # empty: every active service
    no_deps: bool = False
    recreate: Recreate = "diverged"
    remove_orphans: bool = False
    build: Literal["auto", "always", "never"] = "auto"  # --build / --no-build
    pull: Literal["policy", "always", "missing", "never"] = "policy"
    start: bool = True  # False: create only
    timeout: float | None = None  # stop grace for recreate and removals
    all_resources: bool = False  # --all-resources: also networks/volumes no service uses


def plan_up(desired: DesiredState, observed: ObservedState, opts: UpOptions) -> Plan:
    # Fast path: when the selection needs no graph, plan in plain name order first; if
    # that finds nothing to do, the ordered plan would be empty too (order only
    # matters once something changes), and networkx is never imported.
    if not opts.services or opts.no_deps:
        unknown = sorted(set(opts.services) - set(desired.services))
        if not unknown:
            quick = _plan_up(desired, observed, opts, None)
            if quick.empty:
                return quick
    return _plan_up(desired, observed, opts, g.service_graph(desired.services, desired.edges()))


def _plan_up(desired: DesiredState, observed: ObservedState, opts: UpOptions,
             sgraph: nx.DiGraph | None) -> Plan:
    b = PlanBuilder()
    if sgraph is None:
        selected = set(opts.services) or set(desired.services)
        ordered = sorted(selected)
    else:
        selected = g.select(sgraph, opts.services, with_deps=not opts.no_deps)
        ordered = g.order(sgraph.subgraph(selected))
    _check_names(desired, selected)
    _orphans(b, desired, observed, remove=opts.remove_orphans, timeout=opts.timeout)

    net_ops, vol_ops, image_ops = _resources(b, desired, observed, selected, opts)

    # one-shot services others wait on to complete (the migration pattern)
    completers = {d.service for s in desired.services.values() for d in s.dependencies
                  if d.condition == "service_completed_successfully"}
    ready: dict[str, list[str]] = {}  # service -> the ops after which it is up
    updated: set[str] = set()  # services recreated or restarted: restart: true dependents follow
    for name in ordered:
        svc = desired.services[name]
        restart_because = next(
            (d.service for d in svc.dependencies if d.restart and d.service in updated), None)
        replaced_nets = [k for k in svc.networks if k in net_ops
                         and f"remove network network:{k}" in b.graph]
        if replaced_nets and restart_because is None:
            restart_because = f"network {desired.networks[replaced_nets[0]].name} changed"
        chains, recreated = _reconcile(b, desired.project, svc, observed, opts, restart_because,
                                       completed_ok=name in completers)
        # a network is replaced only once every container on it has stopped
        stops = [c[0] for c in chains if isinstance(b.graph.nodes[c[0]]["op"], StopContainer)]
        b.edge(stops, [f"remove network network:{k}" for k in replaced_nets])
        if recreated:
            updated.add(name)
        # each container's first create-or-start waits for what the service needs
        firsts = [next(o for o in chain if _is_up(b, o)) for chain in chains
                  if any(_is_up(b, o) for o in chain)]
        prereqs = [net_ops[k] for k in svc.networks if k in net_ops]
        prereqs += [vol_ops[k] for k in svc.volumes if k in vol_ops]
        if svc.image in image_ops:
            prereqs.append(image_ops[svc.image])
        b.edge(prereqs, firsts)
        # A plain depends_on orders starts: containers are created while their
        # dependencies start. Sharing a namespace or volumes (network_mode/ipc/pid
        # service:, volumes_from, links) needs the dependency running at create time.
        starts = [next((o for o in chain if isinstance(b.graph.nodes[o]["op"], StartContainer)),
                       first) for chain, first in zip(
                           [c for c in chains if any(_is_up(b, o) for o in c)], firsts,
                           strict=True)]
        for d in svc.dependencies:
            b.edge(ready.get(d.service, []), starts if d.kind == "depends_on" else firsts,
                   required=d.required)
        ready[name] = [chain[-1] for chain in chains if _is_up(b, chain[-1])]
    return b.plan(desired.project)


def _check_names(desired: DesiredState, selected: set[str]) -> None:
    """Two services wanting one container_name fail the whole up, before any change."""
    named: dict[str, str] = {}
    for name in sorted(selected):
        svc = desired.services[name]
        if svc.container_name and svc.replicas > 0:
            other = named.setdefault(svc.container_name, name)
            if other != name:
                raise SchedulerError(
                    f'container name "{svc.container_name}" is already in use by service '
                    f'"{other}": service "{name}" cannot take it too',
                    hint="give each service its own container_name, or none")


def _resources(b: PlanBuilder, desired: DesiredState, observed: ObservedState, selected: set[str],
               opts: UpOptions) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """Networks, volumes and images the selected services need: op ids by key."""
    net_ops: dict[str, str] = {}
    nets = {n for s in selected for n in desired.services[s].networks}
    vols = {v for s in selected for v in desired.services[s].volumes}
    if opts.all_resources:
        nets, vols = nets | set(desired.networks), vols | set(desired.volumes)
    for key in sorted(nets):
        net = desired.networks[key]
        seen = observed.network(net.name)
        if net.external:
            if seen is None:
                raise SchedulerError(
                    f"network {net.name} declared as external, but could not be found",
                    hint=f"create it first: stackctl network create {net.name}")
        elif seen is None:
            net_ops[key] = b.add(CreateNetwork(f"network:{key}", "no existing network",
                                               name=net.name, key=key))
        elif seen.config_hash and seen.config_hash != net.config_hash:
            # replaced; its containers stop before and start after (not recreated)
            cause = "network config changed"
            gone = b.add(RemoveNetwork(f"network:{key}", cause, name=net.name))
            net_ops[key] = b.add(CreateNetwork(f"network:{key}", cause, name=net.name,
                                               key=key), [gone])
    vol_ops: dict[str, str] = {}
    for key in sorted(vols):
        vol = desired.volumes[key]
        if observed.volume(vol.name) is not None:
            continue
        if vol.external:
            raise SchedulerError(
                f"volume {vol.name} declared as external, but could not be found",
                hint=f"create it first: stackctl volume create {vol.name}")
        labels = tuple(sorted((str(k), str(v)) for k, v in
                              (vol.config.get("labels") or {}).items()))
        vol_ops[key] = b.add(CreateVolume(f"volume:{key}", "no existing volume",
                                          name=vol.name, key=key, labels=labels))

    image_ops: dict[str, str] = {}  # image ref -> op id
    for name in sorted(selected):
        svc = desired.services[name]
        if svc.replicas == 0 or svc.image in image_ops:
            continue
        op = _image_op(svc, observed, opts)
        if op is not None:
            image_ops[svc.image] = b.add(op)

    return net_ops, vol_ops, image_ops


def plan_resources(desired: DesiredState, observed: ObservedState, services: Iterable[str],
                   opts: UpOptions | None = None) -> Plan:
    """Only what ``services`` need besides containers (``run`` of a service whose
    dependencies are not to be touched still needs its network)."""
    b = PlanBuilder()
    _resources(b, desired, observed, set(services), opts or UpOptions())
    return b.plan(desired.project)


def _is_up(b: PlanBuilder, op_id: str) -> bool:
    return isinstance(b.graph.nodes[op_id]["op"], CreateContainer | StartContainer)


def _image_op(svc: ServiceModel, observed: ObservedState, opts: UpOptions) -> Operation | None:
    present = svc.image in observed.images
    resource = f"image:{svc.image}"
    if svc.build is not None:
        if opts.build == "always":
            return BuildImage(resource, "--build", image=svc.image, for_service=svc.name)
        if present:
            return None
        if opts.build == "never":
            raise SchedulerError(
                f"service {svc.name!r}: image {svc.image} is not built and --no-build was given",
                hint="run stackctl build first, or drop --no-build")
        return BuildImage(resource, "image not built yet", image=svc.image, for_service=svc.name)
    policy = svc.pull_policy if opts.pull == "policy" else opts.pull
    if policy == "always":
        return PullImage(resource, "pull policy always", image=svc.image)
    if present:
        return None
    if policy == "never":
        raise SchedulerError(
            f"service {svc.name!r}: image {svc.image} is not present and pull_policy is never",
            hint=f"import or pull it first: stackctl pull {svc.image}")
    return PullImage(resource, "image not present", image=svc.image)


def _reconcile(
    b: PlanBuilder, project: str, svc: ServiceModel, observed: ObservedState, opts: UpOptions,
    restart_because: str | None, *, completed_ok: bool = False,
) -> tuple[list[list[str]], bool]:
    """Operations for one service, as one op chain per container; and whether
    running containers were replaced or restarted."""
    out: list[list[str]] = []
    containers = observed.of_service(svc.name)
    actual, expected = len(containers), svc.replicas

    def obsolete(c: ObservedContainer) -> bool:
        if opts.recreate == "never":
            return False
        return opts.recreate == "force" or c.config_hash != svc.config_hash

    def name_of(number: int) -> str:
        return svc.container_name or container_name(project, svc.name, number)

    if actual > expected:
        # obsolete first, then the highest numbers: low numbers survive a scale-down
        ranked = sorted(containers, key=lambda c: (not obsolete(c), -c.number))
        for c in ranked[: actual - expected]:
            out.append(remove_container(b, c, f"scale {actual} -> {expected}", opts.timeout))
        containers = sorted(ranked[actual - expected:], key=lambda c: c.number)

    replaced = False
    for c in containers:
        res = f"service:{svc.name}:{c.number}"
        if obsolete(c):
            cause = "--force-recreate" if opts.recreate == "force" else "config hash changed"
            prev = remove_container(b, c, cause, opts.timeout)
            create = b.add(CreateContainer(res, cause, for_service=svc.name, name=name_of(
                c.number), number=c.number, config_hash=svc.config_hash), [prev[-1]])
            chain = [*prev, create]
            if opts.start:
                chain.append(b.add(StartContainer(res, cause, for_service=svc.name,
                                                  name=name_of(c.number),
                                                  conditions=svc.dependencies), [create]))
            out.append(chain)
            replaced = True
        elif restart_because is not None and c.running and opts.start:
            cause = (restart_because if restart_because.startswith("network ") else
                     f"dependency {restart_because} was updated (restart: true)")
            stop = b.add(StopContainer(res, cause, for_service=svc.name, name=c.name,
                                       timeout=opts.timeout))
            out.append([stop, b.add(StartContainer(res, cause, for_service=svc.name,
                                                    name=c.name, conditions=svc.dependencies),
                                     [stop])])
            replaced = True
        elif completed_ok and c.state == "exited" and c.exit_code == 0:
            continue  # a job others wait on already did its work: running it again is a change
        elif opts.start and c.state in ("created", "exited", "dead"):
            out.append([b.add(StartContainer(res, f"container {c.state}", for_service=svc.name,
                                             name=c.name, conditions=svc.dependencies))])

    next_number = max((c.number for c in containers), default=0) + 1
    cause = "no existing container" if actual == 0 else f"scale {actual} -> {expected}"
    for number in range(next_number, next_number + expected - len(containers)):
        res = f"service:{svc.name}:{number}"
        create = b.add(CreateContainer(res, cause, for_service=svc.name, name=name_of(number),
                                       number=number, config_hash=svc.config_hash))
        chain = [create]
        if opts.start:
            chain.append(b.add(StartContainer(res, cause, for_service=svc.name,
                                              name=name_of(number),
                                              conditions=svc.dependencies), [create]))
        out.append(chain)
    return out, replaced


def _orphans(b: PlanBuilder, desired: DesiredState, observed: ObservedState, *, remove: bool,
             timeout: float | None) -> list[str]:
    known = desired.known_services | frozenset(desired.services)
    orphans = [c for c in observed.containers if c.oneoff or c.service not in known]
    if not orphans:
        return []
    if not remove:
        b.warnings.append(
            f"found orphan containers ({', '.join(sorted(c.name for c in orphans))}) for "
            "this project; run with --remove-orphans to clean them up")
        return []
    out: list[str] = []
    for c in orphans:
        cause = "one-off container" if c.oneoff else f"service {c.service} is not in the stack"
        out += remove_container(b, c, "orphan: " + cause, timeout)
    return out


__all__ = ["Recreate", "UpOptions", "plan_resources", "plan_up"]
