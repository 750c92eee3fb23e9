"""The project flags every stack command shares: -f, -p, --project-directory,
--env-file, --profile.

Use them as parameter annotations, then build the LoadOptions in one call::

    from stackctl.cli.project_opts import (EnvFilesOpt, FilesOpt, ProfilesOpt,
        ProjectDirOpt, ProjectNameOpt, load_options)

    @app.command()
    def up(files: FilesOpt = None, project_name: ProjectNameOpt = None,
           project_directory: ProjectDirOpt = None, env_files: EnvFilesOpt = None,
           profiles: ProfilesOpt = None) -> None:
        opts = load_options(files, project_name, project_directory, env_files, profiles)
        from stackctl.spec import load_project
        project = load_project(opts)

Only typer and the standard library are imported here (CLI cold start budget).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Optional

import typer

if TYPE_CHECKING:
    from stackctl.spec.options import LoadOptions

__all__ = [
    "EnvFilesOpt",
    "FilesOpt",
    "ProfilesOpt",
    "ProjectDirOpt",
    "ProjectNameOpt",
    "load_options",
]

_PANEL = "Project options"

FilesOpt = Annotated[
    Optional[list[str]],  # noqa: UP045 - typer needs Optional on 3.11
    typer.Option(
        "--file",
        "-f",
        metavar="FILE",
        help="Stack file; repeat to merge overrides in order; '-' reads stdin. "
        "Default: compose.yaml (or docker-compose.yml, stack.yaml) and its override.",
        rich_help_panel=_PANEL,
    ),
]
ProjectNameOpt = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option(
        "--project-name",
        "-p",
        metavar="NAME",
        help="Project name (default: $STACKCTL_PROJECT_NAME, the file's name:, "
        "else the project directory's name).",
        rich_help_panel=_PANEL,
    ),
]
ProjectDirOpt = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option(
        "--project-directory",
        metavar="DIR",
        help="Directory relative paths and .env are taken from (default: the first file's).",
        rich_help_panel=_PANEL,
    ),
]
EnvFilesOpt = Annotated[
    Optional[list[str]],  # noqa: UP045
    typer.Option(
        "--env-file",
        metavar="PATH",
        help="Environment file for interpolation, instead of the project's .env; repeatable.",
        rich_help_panel=_PANEL,
    ),
]
ProfilesOpt = Annotated[
    Optional[list[str]],  # noqa: UP045
    typer.Option(
        "--profile",
        metavar="PROFILE",
        help="Enable services of this profile ('*' for all); repeatable. "
        "Default: $STACKCTL_PROFILES.",
        rich_help_panel=_PANEL,
    ),
]


def load_options(
    files: list[str] | None,
    project_name: str | None,
    project_directory: str | None,
    env_files: list[str] | None,
    profiles: list[str] | None,
    *,
    interpolate: bool = True,
    resolve_paths: bool = True,
    normalize: bool = True,
) -> LoadOptions:
    """The LoadOptions for these flag values (comma-separated --profile values split)."""
    from stackctl.spec.options import LoadOptions

    split = [p.strip() for value in profiles or () for p in value.split(",") if p.strip()]
    return LoadOptions(
        files=tuple(files or ()),
        project_name=project_name,
        project_directory=project_directory,
        env_files=tuple(env_files or ()),
        profiles=tuple(split),
        interpolate=interpolate,
        resolve_paths=resolve_paths,
        normalize=normalize,
    )
