"""``load_project(opts) -> Project``: the one entry point to a stack's definition.

    files + environment ──load_raw──> RawProject (merged dict + positions)
        ──StackFile.model_validate──> typed models       (all problems, located)
        ──checks──> profiles applied, references and cycles checked
        ──resolve──> env_file/label_file read, paths made absolute
        ──normalize──> default network, resource names, build defaults (optional)

Every problem found by validation or by the cross-checks is collected and
raised together as one SpecValidationError; nothing is half-loaded.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

from pydantic import ValidationError

from stackctl.errors import SpecError, SpecValidationError
from stackctl.spec.checks import (
    cycle_problems,
    name_problems,
    reference_problems,
    select_services,
)
from stackctl.spec.models_top import Project, StackFile
from stackctl.spec.normalize import (
    EnvFileReader,
    normalize,
    resolve_environment,
    resolve_paths,
)
from stackctl.spec.options import KeyPath, LoadOptions, RawProject
from stackctl.spec.validate import located, problems_from_validation, sort_problems

__all__ = ["load_project", "project_from_raw"]


def project_from_raw(
    raw: RawProject,
    opts: LoadOptions,
    *,
    services: Sequence[str] = (),
    consistency: bool = True,
    read_env_file: EnvFileReader | None = None,
) -> Project:
    """Validate, check, resolve and (optionally) normalise an already loaded RawProject."""
    try:
        spec = StackFile.model_validate(raw.data, context={"raw": not opts.interpolate})
    except ValidationError as exc:
        problems = problems_from_validation(exc, raw.data, raw.positions, StackFile)
        raise SpecValidationError(sort_problems(problems)) from None
    environ = dict(raw.environment)
    profiles = list(raw.profiles)
    active, disabled = select_services(spec.services, profiles, services)
    problems = reference_problems(spec, active, raw.data, raw.positions) if consistency else []
    problems += cycle_problems(spec, active, raw.positions)
    problems += name_problems(spec, active, raw.positions, containers=consistency)
    problems += _missing_env_files(spec, active, raw)
    if problems:
        raise SpecValidationError(sort_problems(problems))

    project = Project(
        name=raw.name,
        working_dir=raw.working_dir,
        files=raw.files,
        environment=environ,
        services={n: spec.services[n] for n in active},
        disabled_services={n: spec.services[n] for n in disabled},
        networks=spec.networks,
        volumes=spec.volumes,
        secrets=spec.secrets,
        configs=spec.configs,
        models=spec.models,
        extensions=spec.extensions,
        profiles=tuple(profiles),
        warnings=raw.warnings + _obsolete(raw) + _unsupported(raw, active)
        + _security_opt(raw, active),
    )
    reader = read_env_file or _env_file_reader(raw)
    project = resolve_environment(project, environ.get, reader)
    if opts.resolve_paths:
        home = environ.get("HOME") or os.path.expanduser("~")
        project = resolve_paths(project, home)
    if opts.normalize:
        project = normalize(project)
    return project


def load_project(
    opts: LoadOptions, *, services: Sequence[str] = (), consistency: bool = True
) -> Project:
    """Load, validate and resolve the stack described by ``opts``.

    ``services`` names services wanted explicitly (``up web``): then exactly
    those are active, whatever their profiles, plus what they depend on; the
    others are in ``disabled_services`` (still part of the project: not orphans).
    ``consistency`` False skips the checks that names point somewhere
    (``config --no-consistency``); dependency cycles are always errors.
    Raises SpecError (or SpecValidationError with every problem found).
    """
    return project_from_raw(_load_raw(opts), opts, services=services, consistency=consistency)


def _load_raw(opts: LoadOptions) -> RawProject:
    from stackctl.spec.raw import load_raw

    return load_raw(opts)


def _env_file_reader(raw: RawProject) -> EnvFileReader:
    """Read env files (relative to the project directory) with the dotenv parser."""
    from stackctl.spec.dotenv import read_dotenv

    def read(
        path: str, required: bool, fmt: str | None, lookup: Callable[[str], str | None]
    ) -> dict[str, str | None]:
        full = path if os.path.isabs(path) else os.path.join(raw.working_dir, path)
        if not required and not os.path.exists(full):
            return {}
        return dict(read_dotenv(full, lookup, format=fmt))

    return read


def _missing_env_files(spec: StackFile, active: Sequence[str], raw: RawProject) -> list[SpecError]:
    """Required env files and label files that do not exist, located at their entry."""
    out: list[SpecError] = []

    def check(name: str, key: str, i: int, file: str, hint: str) -> None:
        full = os.path.normpath(os.path.join(raw.working_dir, file))
        if os.path.exists(full):
            return
        path: KeyPath = ("services", name, key)
        if isinstance(_at(raw.data, path), list):
            path = (*path, i)
        kind = "env" if key == "env_file" else "label"
        out.append(located(f"{kind} file {full} not found", path, raw.positions, hint=hint))

    for name in active:
        svc = spec.services[name]
        for i, ef in enumerate(svc.env_file or ()):
            if ef.required:
                check(
                    name,
                    "env_file",
                    i,
                    ef.path,
                    "create it, or mark it optional: env_file: [{path: ..., required: false}]",
                )
        for i, lf in enumerate(svc.label_file or ()):
            check(name, "label_file", i, lf, "create it, or remove it from label_file")
    return out


def _at(data: Any, path: KeyPath) -> Any:
    for part in path:
        if isinstance(data, dict):
            data = data.get(part)
        else:
            return None
    return data


# Service keys the compose spec has and stackctl's engine does not apply: said once
# per use, not silently dropped. (Windows-only, build-time and Compose-tooling keys
# such as develop, isolation or credential_spec are left out: they change nothing
# about how a Linux container runs.)
UNSUPPORTED_SERVICE_KEYS = (
    "blkio_config", "cgroup", "cgroup_parent", "cpu_count", "cpu_percent",
    "cpu_rt_period", "cpu_rt_runtime",
    "gpus", "mac_address",
    "post_start", "pre_stop", "storage_opt", "userns_mode",
)


def _unsupported(raw: RawProject, active: Sequence[str]) -> tuple[str, ...]:
    out = []
    services = raw.data.get("services") or {}
    for name in active:
        svc = services.get(name)
        if not isinstance(svc, dict):
            continue
        for key in UNSUPPORTED_SERVICE_KEYS:
            if key in svc:
                loc = raw.positions.locate(("services", name, key))
                out.append(f"{f'{loc}: ' if loc else ''}services.{name}.{key} is not "
                           "supported by stackctl and is ignored")
    return tuple(out)


def _security_opt(raw: RawProject, active: Sequence[str]) -> tuple[str, ...]:
    """``security_opt`` entries this host accepts and ignores (AppArmor, SELinux), said
    as Docker says them; bad entries are the translation's errors."""
    from stackctl import secopts
    from stackctl.errors import UsageError

    out = []
    services = raw.data.get("services") or {}
    for name in active:
        svc = services.get(name)
        opts = svc.get("security_opt") if isinstance(svc, dict) else None
        if not isinstance(opts, list):
            continue
        where = f"services.{name}.security_opt"
        try:
            found = secopts.warnings([str(o) for o in opts], flag=where)
        except UsageError:
            continue
        loc = raw.positions.locate(("services", name, "security_opt"))
        out += [f"{f'{loc}: ' if loc else ''}{text}" for text in found]
    return tuple(out)


def _obsolete(raw: RawProject) -> tuple[str, ...]:
    if "version" in raw.data:
        loc = raw.positions.locate(("version",))
        where = f"{loc}: " if loc else ""
        return (
            f"{where}the attribute `version` is obsolete, it will be ignored; "
            "please remove it to avoid potential confusion",
        )
    return ()
