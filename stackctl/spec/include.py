"""``include``: other stack files loaded as sub-projects and imported.

    include:
      - ../commons/compose.yaml                 # short form
      - path: [db.yaml, db.override.yaml]       # long form: merged like -f
        project_directory: ../db                # default: the first path's directory
        env_file: ../db/.env                    # default: <project_directory>/.env

Each entry is loaded on its own (its files interpolated with the including
project's environment plus its env files for variables not already set,
its own includes and extends applied, merged), its relative paths made
absolute against its project directory, and its services, networks, volumes,
secrets and configs added to the including file. Defining the same resource
differently on both sides is an error; including a file that is already
being included is an ``include cycle detected`` error.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

from stackctl.errors import Location, SpecError
from stackctl.lightdc import dataclass
from stackctl.spec.dotenv import read_dotenv
from stackctl.spec.extends import rebase_path, rebase_service_paths
from stackctl.spec.options import format_key_path
from stackctl.spec.yamlpos import Pos

__all__ = ["IncludeRequest", "apply_include", "make_paths_absolute"]

_SECTIONS = ("services", "networks", "volumes", "secrets", "configs")
_MAX_DEPTH = 32  # loading recurses per level; cycles are caught separately


@dataclass(frozen=True)
class IncludeRequest:
    """One include entry, resolved: what to load and with which environment."""

    files: tuple[str, ...]  # absolute
    project_directory: str  # absolute
    environment: Mapping[str, str]
    chain: tuple[str, ...]  # files being included, outermost first (for cycles)


# Loads an IncludeRequest into one merged (data, pos), with paths absolute.
SubLoader = Callable[[IncludeRequest], tuple[dict[str, Any], Pos]]


def apply_include(data: dict[str, Any], pos: Pos, *, file: str, base_dir: str,
                  environment: Mapping[str, str], chain: tuple[str, ...],
                  load: SubLoader) -> tuple[dict[str, Any], Pos]:
    """``data`` without its ``include`` key, the included resources added."""
    if "include" not in data:
        return data, pos
    entries = data["include"]
    if entries is None:
        entries = []
    ipos = pos.child("include")
    if not isinstance(entries, list):
        entries = [entries]
        ipos = Pos(ipos.where, [ipos])
    out = {k: v for k, v in data.items() if k != "include"}
    kids = {k: v for k, v in (pos.children or {}).items() if k != "include"} \
        if isinstance(pos.children, dict) else {}
    chain = (*chain, file)
    if len(chain) > _MAX_DEPTH:
        raise SpecError(f"includes nest deeper than {_MAX_DEPTH} files", location=ipos.loc,
                        key_path="include")
    for i, entry in enumerate(entries):
        request = _request(entry, ipos.child(i), i, base_dir, environment, chain)
        sub, sub_pos = load(request)
        _import(out, kids, sub, sub_pos, request.files[0], ipos.child(i).loc)
    return out, Pos(pos.where, kids)


def _request(entry: Any, epos: Pos, index: int, base_dir: str,
             environment: Mapping[str, str], chain: tuple[str, ...]) -> IncludeRequest:
    key_path = format_key_path(("include", index))
    if isinstance(entry, str):
        entry = {"path": entry}
    if not isinstance(entry, dict):
        raise SpecError("an include entry must be a path or a mapping with path",
                        location=epos.loc, key_path=key_path)
    unknown = sorted(set(entry) - {"path", "project_directory", "env_file"})
    if unknown:
        raise SpecError(f"unknown include key {unknown[0]!r}", location=epos.child(unknown[0]).loc,
                        key_path=f"{key_path}.{unknown[0]}",
                        hint="include entries accept path, project_directory and env_file")
    paths = _strings(entry.get("path"), epos, f"{key_path}.path")
    if not paths:
        raise SpecError("include needs a path", location=epos.loc, key_path=key_path)
    files = tuple(_absolute(p, base_dir) for p in paths)
    for f in files:
        if f in chain:
            cycle = " -> ".join([*chain[chain.index(f):], f])
            raise SpecError(f"include cycle detected: {cycle}", location=epos.loc,
                            key_path=key_path, hint="a file cannot include itself")
        if not os.path.isfile(f):
            raise SpecError(f"included file {f} not found", location=epos.loc,
                            key_path=f"{key_path}.path")
    project_dir = entry.get("project_directory")
    if project_dir is not None and not isinstance(project_dir, str):
        raise SpecError("project_directory must be a path", location=epos.loc,
                        key_path=f"{key_path}.project_directory")
    project = _absolute(project_dir, base_dir) if project_dir else os.path.dirname(files[0])
    env_files = _strings(entry.get("env_file"), epos, f"{key_path}.env_file")
    # /dev/null is how an entry says "no env file" (not even the implicit .env).
    env_paths = [_absolute(p, base_dir) for p in env_files if p != "/dev/null"]
    if not env_files and os.path.isfile(os.path.join(project, ".env")):
        env_paths = [os.path.join(project, ".env")]
    env = dict(environment)
    for path in env_paths:
        if not os.path.isfile(path):
            raise SpecError(f"env file {path} not found", location=epos.loc,
                            key_path=f"{key_path}.env_file")
        for k, v in read_dotenv(path, env.get).items():
            env.setdefault(k, v)  # the including project's values win
    return IncludeRequest(files, project, env, chain)


def _strings(value: Any, epos: Pos, key_path: str) -> list[str]:
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    if not all(isinstance(v, str) and v for v in items):
        raise SpecError("expected a path or a list of paths", location=epos.loc,
                        key_path=key_path)
    return list(items)


def _absolute(path: str, base: str) -> str:
    return os.path.normpath(os.path.join(base, os.path.expanduser(path)))


def _import(out: dict[str, Any], kids: dict[str, Pos], sub: dict[str, Any], sub_pos: Pos,
            file: str, loc: Location) -> None:
    for section in _SECTIONS:
        items = sub.get(section)
        if not isinstance(items, dict) or not items:
            continue
        target = out.get(section)
        target = dict(target) if isinstance(target, dict) else {}
        spos = kids.get(section) or Pos.of(loc, {})
        tkids = dict(spos.children) if isinstance(spos.children, dict) else {}
        sub_kids = sub_pos.child(section)
        for name, value in items.items():
            if name in target:
                if target[name] != value:
                    raise SpecError(
                        f"imported compose file {file} defines conflicting {section[:-1]} {name}",
                        location=tkids.get(name, spos).loc,
                        key_path=f"{section}.{name}",
                        hint="rename one of them, or remove the duplicate definition",
                    )
                continue
            target[name] = value
            tkids[name] = sub_kids.child(name)
        out[section] = target
        kids[section] = Pos(spos.where, tkids)


def make_paths_absolute(data: dict[str, Any], project_dir: str) -> dict[str, Any]:
    """Relative host paths of a whole (included) project made absolute."""
    out = dict(data)
    services = out.get("services")
    if isinstance(services, dict):
        out["services"] = {
            name: (rebase_service_paths(svc, project_dir, default_context=True)
                   if isinstance(svc, dict) else svc)
            for name, svc in services.items()
        }
    for section in ("secrets", "configs"):
        items = out.get(section)
        if isinstance(items, dict):
            out[section] = {
                name: ({**item, "file": rebase_path(item["file"], project_dir)}
                       if isinstance(item, dict) and isinstance(item.get("file"), str) else item)
                for name, item in items.items()
            }
    return out
