"""Pure transformations of a validated project, as compose-go applies them.

* ``resolve_paths``: relative host paths (build contexts, env/label files, bind
  sources, secret and config files) become absolute against the project
  directory; ``~`` is the user's home.
* ``resolve_environment``: each service's environment becomes one mapping:
  its ``env_file`` entries in order, then ``environment`` over them; a bare
  ``KEY`` takes its value from the project environment. ``label_file`` merges
  into ``labels`` the same way. Files are read through an injected function,
  so this module does no I/O.
* ``normalize``: what ``docker compose config`` adds: the implicit
  ``default`` network, resource names prefixed with the project name, build
  defaults, and the dependencies implied by ``links``, ``network_mode:
  service:x`` and ``volumes_from``.
"""

from __future__ import annotations

import os.path
from collections.abc import Callable, Mapping
from typing import Any

from stackctl.spec.models_parts import Build, DependsOn
from stackctl.spec.models_ports import ServiceVolume
from stackctl.spec.models_service import Service
from stackctl.spec.models_top import Config, Network, Project, Secret, Volume

__all__ = [
    "implied_dependencies",
    "is_remote_context",
    "normalize",
    "resolve_environment",
    "resolve_paths",
]

# Read a KEY=VALUE file (path, required, format, lookup); ``lookup`` resolves
# bare KEYs and ${VAR}s inside it. A missing optional file reads as empty.
EnvFileReader = Callable[
    [str, bool, str | None, Callable[[str], str | None]], dict[str, str | None]
]

_REMOTE = ("http://", "https://", "git://", "git@", "ssh://", "github.com/")
_CONTEXT_SCHEMES = ("docker-image://", "service:", "oci-layout://", "target:")


def is_remote_context(context: str) -> bool:
    return context.startswith(_REMOTE) or context.startswith(_CONTEXT_SCHEMES)


class _Paths:
    def __init__(self, base: str, home: str) -> None:
        self.base = base
        self.home = home

    def abs(self, path: str) -> str:
        if path == "~" or path.startswith("~/"):
            path = self.home + path[1:]
        if os.path.isabs(path) or "$" in path:
            return os.path.normpath(path) if os.path.isabs(path) else path
        return os.path.normpath(os.path.join(self.base, path))

    def bind_source(self, source: str) -> str:
        if source.startswith((".", "~")):
            return self.abs(source)
        return source


def _service_paths(svc: Service, p: _Paths) -> Service:
    update: dict[str, Any] = {}
    if svc.build is not None:
        b = svc.build
        bu: dict[str, Any] = {}
        context = b.context if b.context is not None else "."
        if not is_remote_context(context):
            bu["context"] = p.abs(context)
        if b.additional_contexts:
            bu["additional_contexts"] = {
                k: (v if is_remote_context(v) or "://" in v else p.abs(v))
                for k, v in b.additional_contexts.items()
            }
        update["build"] = b.model_copy(update=bu)
    if svc.env_file:
        update["env_file"] = [e.model_copy(update={"path": p.abs(e.path)}) for e in svc.env_file]
    if svc.label_file:
        update["label_file"] = [p.abs(f) for f in svc.label_file]
    if svc.volumes:
        vols: list[Any] = []
        for v in svc.volumes:
            if isinstance(v, ServiceVolume) and v.type == "bind" and v.source:
                v = v.model_copy(update={"source": p.bind_source(v.source)})
            vols.append(v)
        update["volumes"] = vols
    if svc.extends is not None and svc.extends.file is not None:
        update["extends"] = svc.extends.model_copy(update={"file": p.abs(svc.extends.file)})
    if svc.develop is not None and svc.develop.watch:
        watch = [w.model_copy(update={"path": p.abs(w.path)}) for w in svc.develop.watch]
        update["develop"] = svc.develop.model_copy(update={"watch": watch})
    return svc.model_copy(update=update) if update else svc


def resolve_paths(project: Project, home: str) -> Project:
    p = _Paths(project.working_dir, home)

    def files(defs: Mapping[str, Secret | Config]) -> dict[str, Any]:
        return {
            k: (d.model_copy(update={"file": p.abs(d.file)}) if d.file else d)
            for k, d in defs.items()
        }

    return project.model_copy(
        update={
            "services": {k: _service_paths(s, p) for k, s in project.services.items()},
            "disabled_services": {
                k: _service_paths(s, p) for k, s in project.disabled_services.items()
            },
            "secrets": files(project.secrets),
            "configs": files(project.configs),
            "volumes": {k: _bind_volume(v, p) for k, v in project.volumes.items()},
        }
    )


def _bind_volume(vol: Volume, p: _Paths) -> Volume:
    """A local volume with ``o: bind`` is a bind mount in disguise: its device is a host path."""
    opts = vol.driver_opts or {}
    if (
        vol.driver in (None, "local")
        and "bind" in opts.get("o", "").split(",")
        and "device" in opts
    ):
        return vol.model_copy(update={"driver_opts": {**opts, "device": p.abs(opts["device"])}})
    return vol


def _service_environment(
    svc: Service, lookup: Callable[[str], str | None], read: EnvFileReader
) -> Service:
    update: dict[str, Any] = {}
    if svc.build is not None and svc.build.args and None in svc.build.args.values():
        args = {k: (v if v is not None else lookup(k)) for k, v in svc.build.args.items()}
        update["build"] = svc.build.model_copy(update={"args": args})
    if svc.env_file is None and svc.label_file is None and not svc.environment:
        return svc.model_copy(update=update) if update else svc
    if svc.env_file is not None or svc.environment:
        env: dict[str, str | None] = {}
        for ef in svc.env_file or ():
            env.update(read(ef.path, ef.required, ef.format, lookup))
        for key, value in (svc.environment or {}).items():
            env[key] = value if value is not None else lookup(key)
        update["environment"] = dict(sorted(env.items()))
    if svc.label_file is not None:
        labels: dict[str, str] = {}
        for lf in svc.label_file:
            labels.update({k: v or "" for k, v in read(lf, True, None, lambda _k: None).items()})
        labels.update(svc.labels or {})
        update["labels"] = dict(sorted(labels.items()))
    return svc.model_copy(update=update)


def resolve_environment(
    project: Project, lookup: Callable[[str], str | None], read: EnvFileReader
) -> Project:
    return project.model_copy(
        update={
            "services": {
                k: _service_environment(s, lookup, read) for k, s in project.services.items()
            }
        }
    )


def implied_dependencies(svc: Service) -> dict[str, bool]:
    """Services this one needs without saying so in depends_on -> whether a
    restart of that service restarts this one (links and shared namespaces:
    yes; volumes_from: no), as compose-go infers them."""
    out: dict[str, bool] = {}
    for link in svc.links or ():
        out.setdefault(link.split(":", 1)[0], True)
    for namespace in (svc.network_mode, svc.ipc, svc.pid, svc.uts, svc.cgroup):
        if namespace and namespace.startswith("service:"):
            out.setdefault(namespace[len("service:") :], True)
    for vf in svc.volumes_from or ():
        if not vf.startswith("container:"):
            out.setdefault(vf.split(":", 1)[0], False)
    return out


def _normalize_service(svc: Service, names: set[str]) -> Service:
    update: dict[str, Any] = {}
    if svc.network_mode is None and svc.networks is None:
        update["networks"] = {"default": None}
    if svc.build is not None:
        b: Build = svc.build
        bu: dict[str, Any] = {}
        if b.context is None:
            bu["context"] = "."
        if b.dockerfile is None and b.dockerfile_inline is None:
            bu["dockerfile"] = "Dockerfile"
        if bu:
            update["build"] = b.model_copy(update=bu)
    if svc.pull_policy == "if_not_present":  # compose's older spelling
        update["pull_policy"] = "missing"
    implied = {d: r for d, r in implied_dependencies(svc).items() if d in names}
    if implied:
        deps = dict(svc.depends_on or {})
        for name, restart in implied.items():
            deps.setdefault(name, DependsOn(restart=restart))
        update["depends_on"] = deps
    return svc.model_copy(update=update) if update else svc


def _named(project: Project, key: str, external: bool | None, name: str | None) -> str:
    if name is not None:
        return name
    return key if external is True else f"{project.name}_{key}"


def normalize(project: Project) -> Project:
    names = set(project.services) | set(project.disabled_services)
    services = {k: _normalize_service(s, names) for k, s in project.services.items()}
    networks = dict(project.networks)
    uses_default = any(
        s.networks is not None and "default" in s.networks for s in services.values()
    )
    if uses_default and "default" not in networks:
        networks["default"] = Network()
    networks = {
        k: n.model_copy(update={"name": _named(project, k, n.external, n.name)})
        for k, n in networks.items()
    }
    volumes = {
        k: v.model_copy(update={"name": _named(project, k, v.external, v.name)})
        for k, v in project.volumes.items()
    }
    secrets = {
        k: s.model_copy(update={"name": _named(project, k, s.external, s.name)})
        for k, s in project.secrets.items()
    }
    configs = {
        k: c.model_copy(update={"name": _named(project, k, c.external, c.name)})
        for k, c in project.configs.items()
    }
    return project.model_copy(
        update={
            "services": services,
            "networks": networks,
            "volumes": volumes,
            "secrets": secrets,
            "configs": configs,
        }
    )


__all__ += ["EnvFileReader"]
