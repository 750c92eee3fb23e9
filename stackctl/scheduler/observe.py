"""What is on the machine for one project: the ONLY place the scheduler reads
the engine. The result is a frozen snapshot the pure planner compares with the
desired state; nothing downstream asks the engine again to decide anything.

Containers are recognised by their labels (Compose's, under our prefix):

    stackctl.project      the project name
    stackctl.service      the service key
    stackctl.number       replica number, 1-based
    stackctl.config-hash  sha256 of the normalised service config + image id
    stackctl.oneoff       "True" for ``compose run`` containers

Networks and volumes carry ``stackctl.project`` and ``stackctl.network`` /
``stackctl.volume`` (the key in the stack file).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from stackctl.lightdc import dataclass, field

LABEL_PROJECT = "stackctl.project"
LABEL_SERVICE = "stackctl.service"
LABEL_NUMBER = "stackctl.number"
LABEL_HASH = "stackctl.config-hash"
LABEL_ONEOFF = "stackctl.oneoff"
LABEL_NETWORK = "stackctl.network"
LABEL_VOLUME = "stackctl.volume"
LABEL_IMAGE = "stackctl.image"  # the image reference the service asked for
LABEL_WORKDIR = "stackctl.project.working_dir"
LABEL_CONFIG_FILES = "stackctl.project.config_files"

RUNNING_STATES = ("running", "restarting")


@dataclass(frozen=True)
class ObservedContainer:
    name: str
    service: str
    number: int
    config_hash: str
    state: str  # created | running | paused | restarting | exited | dead
    oneoff: bool = False
    health: str | None = None  # starting | healthy | unhealthy | None (no healthcheck)
    exit_code: int | None = None
    id: str = ""
    image_id: str = ""
    created: str = ""

    @property
    def running(self) -> bool:
        return self.state in RUNNING_STATES


@dataclass(frozen=True)
class ObservedNetwork:
    name: str
    key: str = ""
    config_hash: str = ""
    id: str = ""


@dataclass(frozen=True)
class ObservedVolume:
    name: str
    key: str = ""


@dataclass(frozen=True)
class ObservedState:
    project: str
    containers: tuple[ObservedContainer, ...] = ()
    networks: tuple[ObservedNetwork, ...] = ()  # project networks + external ones found
    volumes: tuple[ObservedVolume, ...] = ()
    images: Mapping[str, str] = field(default_factory=dict)  # reference -> image id

    def of_service(self, service: str) -> list[ObservedContainer]:
        return sorted(
            (c for c in self.containers if c.service == service and not c.oneoff),
            key=lambda c: c.number,
        )

    def network(self, name: str) -> ObservedNetwork | None:
        return next((n for n in self.networks if n.name == name), None)

    def volume(self, name: str) -> ObservedVolume | None:
        return next((v for v in self.volumes if v.name == name), None)


class EngineReader(Protocol):
    """What observe needs from the engine (``stackctl.engine.api.Engine``)."""

    def list_containers(self, *, all: bool = True,
                        labels: Mapping[str, str] | None = None) -> list[Any]: ...


def container_from_labels(
    name: str, labels: Mapping[str, str], *, state: str, health: str | None = None,
    exit_code: int | None = None, id: str = "", image_id: str = "", created: str = "",
) -> ObservedContainer | None:
    """An ObservedContainer from an engine record's labels; None if not a stack's."""
    service = labels.get(LABEL_SERVICE)
    if not service:
        return None
    try:
        number = int(labels.get(LABEL_NUMBER, "0"))
    except ValueError:
        number = 0
    return ObservedContainer(
        name=name,
        service=service,
        number=number,
        config_hash=labels.get(LABEL_HASH, ""),
        state=state,
        oneoff=labels.get(LABEL_ONEOFF, "").lower() == "true",
        health=health,
        exit_code=exit_code,
        id=id,
        image_id=image_id,
        created=created,
    )


def snapshot(
    project: str,
    containers: Iterable[ObservedContainer],
    networks: Iterable[ObservedNetwork] = (),
    volumes: Iterable[ObservedVolume] = (),
    images: Mapping[str, str] | None = None,
) -> ObservedState:
    """Assemble an ObservedState in a canonical order (tests build them this way too)."""
    return ObservedState(
        project=project,
        containers=tuple(sorted(containers, key=lambda c: (c.service, c.oneoff, c.number))),
        networks=tuple(sorted(networks, key=lambda n: n.name)),
        volumes=tuple(sorted(volumes, key=lambda v: v.name)),
        images=dict(images or {}),
    )


__all__ = [
    "LABEL_CONFIG_FILES",
    "LABEL_HASH",
    "LABEL_IMAGE",
    "LABEL_NETWORK",
    "LABEL_NUMBER",
    "LABEL_ONEOFF",
    "LABEL_PROJECT",
    "LABEL_SERVICE",
    "LABEL_VOLUME",
    "LABEL_WORKDIR",
    "ObservedContainer",
    "ObservedNetwork",
    "ObservedState",
    "ObservedVolume",
    "StackSummary",
    "container_from_labels",
    "list_stacks",
    "observe",
    "observe_images",
    "snapshot",
]


def observe(
    engine: Any,
    project: str,
    *,
    network_names: Iterable[str] = (),
    volume_names: Iterable[str] = (),
    image_refs: Iterable[str] = (),
    networks: Any = None,
) -> ObservedState:
    """Read the engine once: the project's containers, networks, volumes, and
    which of ``image_refs`` are present (with their ids).

    ``engine`` is a ``stackctl.engine.api.Engine``; ``networks`` a
    ``stackctl.net.manager.NetworkManager`` (made from the engine when None).
    Names in ``network_names`` / ``volume_names`` are reported even without our
    labels: external resources the stack refers to.
    """
    containers = []
    for rec in engine.list(all_=True):
        labels = rec.labels or {}
        if labels.get(LABEL_PROJECT) != project:
            continue
        oc = container_from_labels(
            rec.name, labels, state=str(rec.status), health=_health(rec),
            exit_code=rec.exit_code, id=rec.id, image_id=rec.image_id, created=rec.created)
        if oc is not None:
            containers.append(oc)
    wanted_nets = set(network_names)
    nets = []
    for net_id, name, labels in _networks(engine, networks):
        if labels.get(LABEL_PROJECT) == project:
            nets.append(ObservedNetwork(name, labels.get(LABEL_NETWORK, name),
                                        labels.get(LABEL_HASH, ""), net_id))
        elif name in wanted_nets:
            nets.append(ObservedNetwork(name, id=net_id))
    wanted_vols = set(volume_names)
    vols = []
    for vol in engine.volumes.list():
        labels = vol.labels or {}
        if labels.get(LABEL_PROJECT) == project:
            vols.append(ObservedVolume(vol.name, labels.get(LABEL_VOLUME, vol.name)))
        elif vol.name in wanted_vols:
            vols.append(ObservedVolume(vol.name))
    return snapshot(project, containers, nets, vols, observe_images(engine, image_refs))


def _networks(engine: Any, manager: Any) -> list[tuple[str, str, dict[str, str]]]:
    """(id, name, labels) of every network. Without a NetworkManager at hand, the
    rows are read from the state store: importing the network layer (pyroute2)
    costs more than a no-op ``up`` may spend."""
    import json

    if manager is not None:
        return [(i.id, i.name, dict(i.labels or {})) for i in manager.networks()]
    rows = engine.store.db.execute("SELECT id, name, labels FROM networks").fetchall()
    return [(r[0], r[1], json.loads(r[2] or "{}")) for r in rows]


def observe_images(engine: Any, refs: Iterable[str]) -> dict[str, str]:
    """reference -> image id, for the references present in the image store.

    Plain references are looked up in the refs table directly: opening the image
    store costs more than a no-op ``up`` may spend. Anything else (digests, ID
    prefixes) goes through the store's own resolve.
    """
    from stackctl.engine.images import reference
    from stackctl.errors import StackctlError

    found: dict[str, str] = {}
    for ref in sorted(set(refs)):
        try:
            parsed = reference.parse(ref)
            # "sha256:<hex>" parses as name:tag but is an image ID, as docker reads it
            if parsed.digest is None and not ref.lower().startswith("sha256:"):
                row = engine.store.db.execute("SELECT image_id FROM refs WHERE name = ?",
                                              (str(parsed),)).fetchone()
                if row is not None:
                    found[ref] = str(row[0])
                continue
        except StackctlError:
            pass
        try:
            found[ref] = str(engine.images.resolve(ref).id)
        except StackctlError:
            continue
    return found


def _health(rec: Any) -> str | None:
    if rec.health is not None:
        return str(rec.health.status)
    hc = rec.config.healthcheck
    if hc is not None and tuple(hc.test)[:1] != ("NONE",) and str(rec.status) == "running":
        return "starting"
    return None


@dataclass(frozen=True)
class StackSummary:
    name: str
    status: str  # "running(3), exited(1)" as compose ls prints
    config_files: tuple[str, ...] = ()
    running: int = 0


def list_stacks(root: Any, run_root: Any) -> list[StackSummary]:
    """Every project with containers (by label) or a deployment record."""
    import json

    from stackctl.engine.api import Engine

    with Engine(root, run_root) as engine:
        counts: dict[str, dict[str, int]] = {}
        files: dict[str, tuple[str, ...]] = {}
        for rec in engine.list(all_=True):
            project = (rec.labels or {}).get(LABEL_PROJECT)
            if project:
                per = counts.setdefault(project, {})
                per[str(rec.status)] = per.get(str(rec.status), 0) + 1
        for row in engine.store.db.execute("SELECT project, config_files FROM stacks"):
            files[row["project"]] = tuple(json.loads(row["config_files"] or "[]"))
            counts.setdefault(row["project"], {})
    out = []
    for name in sorted(counts):
        per = counts[name]
        status = ", ".join(f"{state}({n})" for state, n in sorted(per.items())) or "empty"
        out.append(StackSummary(name, status, files.get(name, ()),
                                sum(n for s, n in per.items() if s in RUNNING_STATES)))
    return out
