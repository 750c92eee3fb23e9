"""``extends``: a service built on another one, in the same file or another.

    services:
      web:
        extends: base                  # same file
      api:
        extends: {file: common.yaml, service: app}

The base is resolved first (extends chains nest), then the extending service
is merged onto it with the ``-f`` merge rules (merge.py). Relative paths of a
base that comes from another file (``build`` context, ``env_file``,
``label_file``, bind-mount sources) are rebased from that file's directory to
the directory of the extending document, so they keep pointing at the same
place. A base may declare ``depends_on``, ``links``, ``volumes_from`` or
``service:`` modes: they are inherited (compose-go dropped that restriction,
compose-spec#470), and validation then checks the services they name.
Cycles are errors. Positions of inherited keys point into the base file.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from stackctl.errors import SpecError
from stackctl.lightdc import dataclass, field
from stackctl.spec.merge import merge
from stackctl.spec.options import format_key_path
from stackctl.spec.yamlpos import Pos

__all__ = ["LoadedFile", "rebase_service_paths", "resolve_extends"]


@dataclass
class LoadedFile:
    """A parsed, interpolated file and the directory its relative paths start from."""

    file: str  # absolute path (or "<stdin>")
    base_dir: str
    data: dict[str, Any]
    pos: Pos


FileLoader = Callable[[str], LoadedFile]
_MAX_CHAIN = 64  # resolution recurses along the chain; real chains are a few links


@dataclass
class _Doc:
    source: LoadedFile
    services: dict[str, Any]
    services_pos: Pos
    resolved: dict[str, tuple[Any, Pos]] = field(default_factory=dict)


def resolve_extends(doc: LoadedFile, load: FileLoader) -> tuple[dict[str, Any], Pos]:
    """``doc`` with every ``extends`` of its services resolved (a new tree).
    ``load(path)`` reads another file (absolute path) for ``extends.file``."""
    services = doc.data.get("services")
    if not isinstance(services, dict) or not any(
        isinstance(s, dict) and "extends" in s for s in services.values()
    ):
        return doc.data, doc.pos
    resolver = _Resolver(load)
    main = resolver.doc_for(doc)
    for name in services:
        resolver.service(main, name, ())
    out_services = dict(services)
    kids = dict(main.services_pos.children) if isinstance(main.services_pos.children,
                                                           dict) else {}
    for name, (value, pos) in main.resolved.items():
        out_services[name] = value
        kids[name] = pos
    data = dict(doc.data)
    data["services"] = out_services
    root_kids = dict(doc.pos.children) if isinstance(doc.pos.children, dict) else {}
    root_kids["services"] = Pos(main.services_pos.where, kids)
    return data, Pos(doc.pos.where, root_kids)


class _Resolver:
    def __init__(self, load: FileLoader) -> None:
        self.load = load
        self.docs: dict[str, _Doc] = {}

    def doc_for(self, loaded: LoadedFile) -> _Doc:
        doc = self.docs.get(loaded.file)
        if doc is None:
            services = loaded.data.get("services")
            doc = _Doc(loaded, services if isinstance(services, dict) else {},
                       loaded.pos.child("services"))
            self.docs[loaded.file] = doc
        return doc

    def service(self, doc: _Doc, name: str, chain: tuple[tuple[str, str], ...],
                ) -> tuple[Any, Pos]:
        if name in doc.resolved:
            return doc.resolved[name]
        svc = doc.services[name]
        spos = doc.services_pos.child(name)
        if not isinstance(svc, dict) or "extends" not in svc:
            return svc, spos
        here = (doc.source.file, name)
        if len(chain) >= _MAX_CHAIN:
            raise SpecError(f"extends chain longer than {_MAX_CHAIN} services",
                            location=spos.child("extends").loc,
                            key_path=f"services.{name}.extends")
        if here in chain:
            names = [n for _, n in chain[chain.index(here):]] + [name]
            raise SpecError(f"extends cycle detected: {' -> '.join(names)}",
                            location=spos.child("extends").loc,
                            key_path=f"services.{name}.extends",
                            hint="a service cannot extend itself, directly or through others")
        ext = svc["extends"]
        epos = spos.child("extends")
        key_path = format_key_path(("services", name, "extends"))
        ref: Any
        file: Any
        if isinstance(ext, str):
            ref, file = ext, None
        elif isinstance(ext, dict):
            ref, file = ext.get("service"), ext.get("file")
        else:
            raise SpecError("extends must be a service name or a mapping with service (and file)",
                            location=epos.loc, key_path=key_path)
        if not isinstance(ref, str) or not ref:
            raise SpecError("extends needs the name of the service to extend",
                            location=epos.loc, key_path=key_path,
                            hint="write extends: {service: NAME} or extends: NAME")
        target = doc
        if file is not None:
            if not isinstance(file, str) or not file:
                raise SpecError("extends.file must be a path", location=epos.loc,
                                key_path=key_path + ".file")
            path = os.path.normpath(os.path.join(doc.source.base_dir, os.path.expanduser(file)))
            if not os.path.isfile(path):
                raise SpecError(f"cannot extend service {name!r}: file {path} not found",
                                location=epos.child("file").loc, key_path=key_path + ".file")
            target = self.docs.get(path) or self.doc_for(self.load(path))
        if ref not in target.services:
            where = f" in {file}" if file is not None else ""
            candidates = ", ".join(sorted(target.services)) or "none"
            raise SpecError(f'cannot extend service "{name}": service "{ref}" not found{where}',
                            location=epos.loc, key_path=key_path,
                            hint=f"services there: {candidates}")
        base, bpos = self.service(target, ref, (*chain, here))
        own = {k: v for k, v in svc.items() if k != "extends"}
        own_kids = {k: v for k, v in (spos.children or {}).items() if k != "extends"} \
            if isinstance(spos.children, dict) else {}
        own_pos = Pos(spos.where, own_kids)
        if base is None:
            result: tuple[Any, Pos] = (own, own_pos)
        else:
            if not isinstance(base, dict):
                raise SpecError(f'cannot extend service "{ref}": it is not a mapping',
                                location=bpos.loc)
            if target is not doc:
                prefix = os.path.relpath(target.source.base_dir, doc.source.base_dir)
                base = rebase_service_paths(base, prefix)
            merged, mpos = merge(base, bpos, own, own_pos, ("services", name))
            result = (merged, Pos(spos.where, mpos.children))
        doc.resolved[name] = result
        return result


# -- relative paths ------------------------------------------------------------

def _is_remote(path: str) -> bool:
    return "://" in path or path.startswith(("git@", "github.com/"))


def rebase_path(path: str, prefix: str) -> str:
    """``path`` (relative to some directory D) made relative to another directory
    from which D is ``prefix``. Absolute, home-relative and remote paths stay."""
    if not path or os.path.isabs(path) or path.startswith("~") or _is_remote(path):
        return path
    if prefix in ("", "."):
        return path
    return os.path.normpath(os.path.join(prefix, path))


def _rebase_volume(item: Any, prefix: str) -> Any:
    if isinstance(item, str):
        source, sep, rest = item.partition(":")
        # Short syntax: only "."-relative sources are host paths ("data:/x" is a volume).
        if sep and (source == "." or source.startswith(("./", "../"))):
            return rebase_path(source, prefix) + sep + rest
        return item
    if isinstance(item, dict) and item.get("type") == "bind" and isinstance(item.get("source"),
                                                                            str):
        return {**item, "source": rebase_path(item["source"], prefix)}
    return item


def _rebase_env_file(item: Any, prefix: str) -> Any:
    if isinstance(item, str):
        return rebase_path(item, prefix)
    if isinstance(item, dict) and isinstance(item.get("path"), str):
        return {**item, "path": rebase_path(item["path"], prefix)}
    return item


def rebase_service_paths(service: dict[str, Any], prefix: str,
                         default_context: bool = False) -> dict[str, Any]:
    """A copy of ``service`` with its relative host paths rebased by ``prefix``.
    ``default_context`` gives a build mapping without ``context`` the context
    ``prefix`` (an included project's directory: its builds start there)."""
    out = dict(service)
    build = out.get("build")
    if isinstance(build, str):
        out["build"] = rebase_path(build, prefix)
    elif isinstance(build, dict):
        build = dict(build)
        context = build.get("context")
        if isinstance(context, str):
            build["context"] = rebase_path(context, prefix)
        elif context is None and default_context:
            build["context"] = prefix
        contexts = build.get("additional_contexts")
        if isinstance(contexts, dict):
            build["additional_contexts"] = {
                k: (rebase_path(v, prefix) if isinstance(v, str) and not v.startswith(
                    ("docker-image://", "service:", "target:", "oci-layout://")) else v)
                for k, v in contexts.items()
            }
        out["build"] = build
    for key in ("env_file", "label_file"):
        value = out.get(key)
        if isinstance(value, list):
            out[key] = [_rebase_env_file(v, prefix) for v in value]
        elif value is not None:
            out[key] = _rebase_env_file(value, prefix)
    volumes = out.get("volumes")
    if isinstance(volumes, list):
        out["volumes"] = [_rebase_volume(v, prefix) for v in volumes]
    return out
