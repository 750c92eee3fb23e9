"""Checks across the stack file, after each part validated on its own; and profiles.

* ``select_services``: which services are active for the enabled profiles, the
  services named on the command line, and everything those need.
* ``reference_problems``: names that point nowhere (depends_on, links,
  network_mode service:X, volumes_from, networks, volumes, secrets, configs).
* ``cycle_problems``: depends_on cycles among the active services, found by a
  plain depth-first search (no graph library in spec/).

Every problem is a located SpecError; callers collect them all into one
SpecValidationError.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from stackctl.errors import SpecError
from stackctl.spec.models_ports import ServiceVolume
from stackctl.spec.models_service import Service
from stackctl.spec.models_top import StackFile
from stackctl.spec.normalize import implied_dependencies
from stackctl.spec.options import KeyPath, Positions
from stackctl.spec.validate import located

__all__ = ["cycle_problems", "name_problems", "reference_problems", "select_services"]


def _needs(svc: Service) -> list[str]:
    deps = [name for name, d in (svc.depends_on or {}).items() if d.required is not False]
    return deps + list(implied_dependencies(svc))


def select_services(
    services: Mapping[str, Service],
    profiles: Iterable[str],
    requested: Sequence[str] = (),
) -> tuple[list[str], list[str]]:
    """(active, disabled) service names, each in file order.

    With no service ``requested``, a service is active when it has no profiles
    or one of its profiles is enabled (``*`` enables all). Naming services
    (``up web``, ``config web``) selects exactly those, whatever their
    profiles, as compose does. Either way, whatever an active service depends
    on comes along.
    """
    enabled = set(profiles)
    unknown = [r for r in requested if r not in services]
    if unknown:
        raise SpecError(
            f"no such service: {unknown[0]}",
            hint="available services: " + ", ".join(sorted(services)),
        )
    active: set[str] = set(requested)
    for name, svc in services.items():
        if requested:
            break
        if not svc.profiles or "*" in enabled or enabled & set(svc.profiles):
            active.add(name)
    stack = list(active)
    while stack:
        for dep in _needs(services[stack.pop()]):
            if dep in services and dep not in active:
                active.add(dep)
                stack.append(dep)
    return [n for n in services if n in active], [n for n in services if n not in active]


def _item_path(data: Any, base: KeyPath, name: str) -> KeyPath:
    """The key path of ``name`` inside a list-or-mapping the user wrote at ``base``."""
    cur = data
    for part in base:
        if isinstance(cur, Mapping):
            cur = cur.get(part)
        elif isinstance(cur, list) and isinstance(part, int) and part < len(cur):
            cur = cur[part]
        else:
            return base
    if isinstance(cur, Mapping) and name in cur:
        return (*base, name)
    if isinstance(cur, list):
        for i, item in enumerate(cur):
            text = (
                item
                if isinstance(item, str)
                else (item.get("source") if isinstance(item, Mapping) else None)
            )
            if isinstance(text, str) and (text == name or text.split(":", 1)[0] == name):
                return (*base, i)
    return base


def reference_problems(
    spec: StackFile, active: Sequence[str], data: Any, positions: Positions
) -> list[SpecError]:
    out: list[SpecError] = []

    def problem(msg: str, base: KeyPath, name: str, hint: str | None = None) -> None:
        if "$" not in name:  # an uninterpolated ${VAR} (config --no-interpolate) names nothing yet
            out.append(located(msg, _item_path(data, base, name), positions, hint=hint))

    for sname in active:
        svc = spec.services[sname]
        at: KeyPath = ("services", sname)
        for dep, d in (svc.depends_on or {}).items():
            if dep not in spec.services and d.required is not False:
                problem(
                    f"service {sname!r} depends on undefined service {dep!r}",
                    (*at, "depends_on"),
                    dep,
                )
        for target in dict.fromkeys(link.split(":", 1)[0] for link in svc.links or ()):
            if target not in spec.services:
                problem(
                    f"service {sname!r} links to undefined service {target!r}",
                    (*at, "links"),
                    target,
                )
        for key, what in (
            ("network_mode", "network"),
            ("ipc", "IPC namespace"),
            ("pid", "PID namespace"),
            ("uts", "UTS namespace"),
        ):
            mode = getattr(svc, key) or ""
            if mode.startswith("service:") and mode[8:] not in spec.services and "$" not in mode:
                out.append(
                    located(
                        f"service {sname!r} uses the {what} of undefined service {mode[8:]!r}",
                        (*at, key),
                        positions,
                    )
                )
        if svc.network_mode is not None and svc.networks is not None:
            out.append(
                located(
                    f"service {sname!r} declares both network_mode and networks; use one",
                    (*at, "networks"),
                    positions,
                )
            )
        for vf in svc.volumes_from or ():
            if not vf.startswith("container:") and vf.split(":", 1)[0] not in spec.services:
                problem(
                    f"service {sname!r} takes volumes from undefined service "
                    f"{vf.split(':', 1)[0]!r}",
                    (*at, "volumes_from"),
                    vf.split(":", 1)[0],
                )
        for net in svc.networks or {}:
            if net not in spec.networks and net != "default":
                problem(
                    f"service {sname!r} refers to undefined network {net!r}",
                    (*at, "networks"),
                    net,
                    hint=f"declare it under the top-level networks: key ({net}: {{}})",
                )
        for i, vol in enumerate(svc.volumes or ()):
            if (
                isinstance(vol, ServiceVolume)
                and vol.type == "volume"
                and vol.source
                and vol.source not in spec.volumes
            ):
                out.append(
                    located(
                        f"service {sname!r} refers to undefined volume {vol.source!r}",
                        (*at, "volumes", i),
                        positions,
                        hint=f"declare it under the top-level volumes: key ({vol.source}: {{}})",
                    )
                )
        groups: list[tuple[str, Any, Mapping[str, Any], KeyPath]] = [
            ("secret", svc.secrets, spec.secrets, (*at, "secrets")),
            ("config", svc.configs, spec.configs, (*at, "configs")),
        ]
        if svc.build is not None:
            groups.append(("secret", svc.build.secrets, spec.secrets, (*at, "build", "secrets")))
        for kind, refs, defs, base in groups:
            for i, ref in enumerate(refs or ()):
                if ref.source not in defs:
                    out.append(
                        located(
                            f"service {sname!r} refers to undefined {kind} {ref.source!r}",
                            (*base, i),
                            positions,
                            hint=f"declare it under the top-level {kind}s: key, "
                            f"with file:, environment: or external: true",
                        )
                    )
    return out


_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9._-]*")


def name_problems(
    spec: StackFile, active: Sequence[str], positions: Positions, *, containers: bool = True
) -> list[SpecError]:
    """Service names compose accepts; (``containers``) no fixed container_name on a
    service that wants several replicas. Two services sharing a container_name
    is left to the engine ("already in use"), as with compose: each may run alone."""
    out: list[SpecError] = []
    for name in spec.services:
        if not _NAME.fullmatch(name):
            out.append(
                located(
                    f"invalid service name {name!r}: use letters, digits, '.', '_' and '-', "
                    "starting with a letter or digit",
                    ("services", name),
                    positions,
                )
            )
    for name in active if containers else ():
        svc = spec.services[name]
        cname = svc.container_name
        if cname is None or "$" in cname:
            continue
        at: KeyPath = ("services", name, "container_name")
        if isinstance(svc.replicas, int) and svc.replicas > 1:
            out.append(
                located(
                    f"service {name!r} sets container_name {cname!r} but wants {svc.replicas} "
                    "replicas: container names must be unique",
                    at,
                    positions,
                    hint="remove container_name to let stackctl number the containers",
                )
            )
    return out


def cycle_problems(spec: StackFile, active: Sequence[str], positions: Positions) -> list[SpecError]:
    """Report each depends_on cycle once, in the order a DFS over the services finds it."""
    active_set = set(active)
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []
    out: list[SpecError] = []

    def visit(name: str) -> None:
        state[name] = 1
        path.append(name)
        for dep in spec.services[name].depends_on or {}:
            if dep not in active_set:
                continue
            if state.get(dep) == 1:
                cycle = [*path[path.index(dep) :], dep]
                out.append(
                    located(
                        "dependency cycle detected: " + " -> ".join(cycle),
                        ("services", cycle[0], "depends_on"),
                        positions,
                        hint="remove one of these depends_on entries",
                    )
                )
            elif dep not in state:
                visit(dep)
        path.pop()
        state[name] = 2

    for name in active:
        if name not in state:
            visit(name)
    return out
