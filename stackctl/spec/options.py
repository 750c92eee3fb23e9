"""The contract between the stack-file text pipeline and the models.

``load_raw(LoadOptions) -> RawProject`` (stackctl.spec.raw) reads the files,
interpolates, merges ``-f`` overrides, resolves ``extends`` and ``include``;
``load_project(LoadOptions) -> Project`` (stackctl.spec.project) validates the
raw data into pydantic models, locating every problem through ``positions``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import IO, Any

from stackctl.errors import Location
from stackctl.lightdc import dataclass, field

KeyPath = tuple[str | int, ...]


@dataclass(frozen=True)
class LoadOptions:
    files: tuple[str, ...] = ()  # -f, in order; "-" reads stdin; empty: discover defaults
    project_name: str | None = None  # -p
    project_directory: str | None = None  # --project-directory
    env_files: tuple[str, ...] = ()  # --env-file, in order
    profiles: tuple[str, ...] = ()  # --profile; plus STACKCTL_PROFILES / COMPOSE_PROFILES
    environ: Mapping[str, str] | None = None  # None: os.environ
    interpolate: bool = True
    resolve_paths: bool = True  # relative paths -> absolute against the project directory
    normalize: bool = True  # implicit default network, short -> long syntax, defaults
    stdin: IO[str] | None = None  # for "-"; None: sys.stdin


@dataclass(frozen=True)
class Positions:
    """Where each key path came from: ``("services", "web", "ports", 1)`` -> Location."""

    table: Mapping[KeyPath, Location] = field(default_factory=dict)

    def locate(self, path: KeyPath) -> Location | None:
        """The location of ``path``, or of its nearest ancestor that has one."""
        p = tuple(path)
        while True:
            loc = self.table.get(p)
            if loc is not None or not p:
                return loc
            p = p[:-1]


@dataclass(frozen=True)
class RawProject:
    name: str  # normalised project name
    working_dir: str  # absolute project directory
    files: tuple[str, ...]  # absolute paths of the files loaded ("-" for stdin)
    environment: Mapping[str, str]  # what interpolation saw: process env over .env files
    data: dict[str, Any]  # merged, interpolated; extends and include resolved
    positions: Positions
    warnings: tuple[str, ...] = ()
    # Active profiles: --profile, else STACKCTL_PROFILES / COMPOSE_PROFILES (comma-separated,
    # from the environment or the .env file); B filters services with them. "*" = all.
    profiles: tuple[str, ...] = ()
    env_files: tuple[str, ...] = ()  # absolute paths of the .env / --env-file files read


def format_key_path(path: KeyPath) -> str:
    """``("services", "web", "ports", 1)`` -> ``services.web.ports[1]``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out
