"""Which files make the project, where it lives, its environment and its name.

Follows the compose CLI:

- files: ``-f`` in order (``-`` = stdin); else ``STACKCTL_FILE`` /
  ``COMPOSE_FILE`` (``:``-separated, ``COMPOSE_PATH_SEPARATOR`` to change it);
  else the first default name found in the current directory or, failing
  that, its parents, plus the matching ``*.override.*`` file;
- project directory: ``--project-directory``, else the first file's directory
  (the current directory for stdin);
- environment: ``--env-file`` files in order (later ones win), else those of
  ``STACKCTL_ENV_FILES`` / ``COMPOSE_ENV_FILES`` (comma-separated), else
  ``<project dir>/.env`` if present; the process environment wins over all;
- project name: ``-p`` > ``STACKCTL_PROJECT_NAME`` / ``COMPOSE_PROJECT_NAME``
  > top-level ``name:`` > the project directory's name. Explicit names must
  already be valid; the others are normalised to ``[a-z0-9][a-z0-9_-]*``;
- profiles: ``--profile`` > ``STACKCTL_PROFILES`` / ``COMPOSE_PROFILES``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from stackctl.errors import Location, SpecError, UsageError
from stackctl.lightdc import dataclass
from stackctl.spec.dotenv import read_dotenv
from stackctl.spec.options import LoadOptions

__all__ = [
    "DEFAULT_FILES",
    "OVERRIDE_FILES",
    "ProjectFiles",
    "active_profiles",
    "locate",
    "normalize_project_name",
    "project_name",
]

DEFAULT_FILES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml",
                 "stack.yaml")
OVERRIDE_FILES = tuple(
    name.rsplit(".", 1)[0] + ".override." + name.rsplit(".", 1)[1] for name in DEFAULT_FILES
)
STDIN = "-"


@dataclass(frozen=True)
class ProjectFiles:
    files: tuple[str, ...]  # absolute paths, "-" for stdin
    working_dir: str  # absolute project directory
    env_files: tuple[str, ...]  # absolute paths of the env files read
    environment: Mapping[str, str]  # process environment over the env files
    warnings: tuple[str, ...] = ()


def _first(environ: Mapping[str, str], *names: str) -> str | None:
    for name in names:
        value = environ.get(name)
        if value:
            return value
    return None


def _discover(start: Path) -> tuple[list[Path], list[str]]:
    """Default files in ``start`` or its nearest parent that has one."""
    warnings: list[str] = []
    for directory in (start, *start.parents):
        found = [directory / name for name in DEFAULT_FILES if (directory / name).is_file()]
        if not found:
            continue
        winner = found[0]
        if len(found) > 1:
            warnings.append(
                "Found multiple config files with supported names: "
                + ", ".join(str(f) for f in found) + f"; using {winner}"
            )
        files = [winner]
        matching = OVERRIDE_FILES[DEFAULT_FILES.index(winner.name)]
        overrides = [directory / n for n in OVERRIDE_FILES if (directory / n).is_file()]
        if (directory / matching).is_file():
            files.append(directory / matching)
        elif overrides:
            files.append(overrides[0])
        return files, warnings
    raise UsageError(
        f"no stack file found in {start} or its parents",
        hint="create compose.yaml (or stack.yaml), or name the file with -f",
    )


def locate(opts: LoadOptions, cwd: str | None = None) -> ProjectFiles:
    """Resolve files, project directory and environment for ``opts``."""
    here = str(Path(cwd or os.getcwd()).absolute())
    process_env: Mapping[str, str] = opts.environ if opts.environ is not None else os.environ
    warnings: list[str] = []
    project_dir = _absolute(opts.project_directory, here) if opts.project_directory else None

    # .env of the tentative project dir may name the files (COMPOSE_FILE=...).
    files_from_env = None
    if not opts.files:
        probe_paths = _env_file_paths(opts, project_dir or here, here, process_env)
        probe_env = dict(_read_env_files(probe_paths, process_env))
        probe_env.update(process_env)
        files_from_env = _first(probe_env, "STACKCTL_FILE", "COMPOSE_FILE")
        if files_from_env:
            sep = probe_env.get("COMPOSE_PATH_SEPARATOR") or os.pathsep
            base = project_dir or here
            paths = [_absolute(p, base) for p in files_from_env.split(sep) if p]
        else:
            found, found_warnings = _discover(Path(project_dir or here))
            warnings.extend(found_warnings)
            paths = [str(p) for p in found]
    else:
        paths = [STDIN if f == STDIN else _absolute(f, here) for f in opts.files]

    for path in paths:
        if path != STDIN and not os.path.isfile(path):
            what = "is a directory" if os.path.isdir(path) else "does not exist"
            raise UsageError(f"stack file {path} {what}",
                             hint="check the -f / COMPOSE_FILE path")
    if project_dir is None:
        project_dir = here if paths[0] == STDIN else os.path.dirname(paths[0])
    assert project_dir is not None

    env_paths = _env_file_paths(opts, project_dir, here, process_env)
    environment = dict(_read_env_files(env_paths, process_env))
    environment.update(process_env)
    return ProjectFiles(
        files=tuple(paths),
        working_dir=str(project_dir),
        env_files=tuple(p for p in env_paths if os.path.isfile(p)),
        environment=environment,
        warnings=tuple(warnings),
    )


def _absolute(path: str, base: str | Path) -> str:
    return os.path.normpath(os.path.join(base, os.path.expanduser(path)))


def _env_file_paths(opts: LoadOptions, project_dir: str, here: str,
                    process_env: Mapping[str, str]) -> list[str]:
    if opts.env_files:
        return [_absolute(p, here) for p in opts.env_files]
    listed = _first(process_env, "STACKCTL_ENV_FILES", "COMPOSE_ENV_FILES")
    if listed:  # the environment's equivalent of repeated --env-file
        return [_absolute(p.strip(), here) for p in listed.split(",") if p.strip()]
    return [os.path.join(project_dir, ".env")]


def _read_env_files(paths: list[str], process_env: Mapping[str, str]) -> dict[str, str]:
    """Env files in order, later ones winning. An explicit --env-file must
    exist; the implicit .env is optional."""
    out: dict[str, str] = {}
    for path in paths:
        if not os.path.exists(path):
            if os.path.basename(path) == ".env":
                continue
            raise UsageError(f"env file {path} not found", hint="check the --env-file path")
        if os.path.isdir(path):
            continue

        def lookup(name: str) -> str | None:
            value = process_env.get(name)
            return value if value is not None else out.get(name)

        out.update(read_dotenv(path, lookup))
    return out


_VALID_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*")


def normalize_project_name(name: str) -> str:
    """Lowercase, keep ``[a-z0-9_-]``, drop leading ``_``/``-`` (compose-go's rule)."""
    kept = "".join(c for c in name.lower() if c in "abcdefghijklmnopqrstuvwxyz0123456789_-")
    return kept.lstrip("_-")


def project_name(explicit: str | None, environment: Mapping[str, str],
                 from_file: object, working_dir: str,
                 name_location: Location | None = None) -> str:
    """The project name by compose's precedence (see the module docstring)."""
    imperative = explicit or _first(environment, "STACKCTL_PROJECT_NAME", "COMPOSE_PROJECT_NAME")
    if imperative:
        if not _VALID_NAME.fullmatch(imperative):
            source = "-p" if explicit else "the project name from the environment"
            raise UsageError(
                f'invalid project name "{imperative}" ({source}): it must contain only '
                "lowercase letters, digits, '-' and '_', and start with a letter or digit",
                hint=f"try {normalize_project_name(imperative) or 'myproject'!r}",
            )
        return imperative
    if from_file is not None and from_file != "":
        if not isinstance(from_file, str):
            raise SpecError("the project name must be a string", location=name_location,
                            key_path="name")
        normalized = normalize_project_name(from_file)
        if normalized:
            return normalized
    normalized = normalize_project_name(os.path.basename(os.path.normpath(working_dir)))
    if not normalized:
        raise UsageError(
            f"project name must not be empty: none can be derived from the directory "
            f"{working_dir}",
            hint="set one with -p NAME or a top-level name: key",
        )
    return normalized


def active_profiles(opts: LoadOptions, environment: Mapping[str, str]) -> tuple[str, ...]:
    """``--profile`` values, else the comma-separated environment variable."""
    if opts.profiles:
        raw = list(opts.profiles)
    else:
        raw = (_first(environment, "STACKCTL_PROFILES", "COMPOSE_PROFILES") or "").split(",")
    out: list[str] = []
    for item in raw:
        for name in item.split(","):
            name = name.strip()
            if name and name not in out:
                out.append(name)
    return tuple(out)
