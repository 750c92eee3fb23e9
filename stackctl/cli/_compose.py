"""The ``stackctl compose`` group and what its command modules share.

``compose_app`` carries the project flags (``-f``, ``-p``, ...) in its callback,
before the subcommand, as ``docker compose`` does; the commands are defined in
compose_view_cmds.py, compose_lifecycle_cmds.py and compose_cmds.py, which adds
them to the CLI. Only typer and the standard library are imported at module
level (cold start budget).
"""

from __future__ import annotations

from typing import Annotated, Any, Optional

import typer

from stackctl.cli._stack import ALL_RESOURCES_KEY, META_KEY, ProjectFlags, open_runner
from stackctl.cli.project_opts import (
    EnvFilesOpt,
    FilesOpt,
    ProfilesOpt,
    ProjectDirOpt,
    ProjectNameOpt,
)

compose_app = typer.Typer(
    name="compose",
    help="The Compose command set for one stack (project flags before the command).",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)

Services = Annotated[Optional[list[str]], typer.Argument(help="Services (default: all).")]  # noqa: UP045
Timeout = Annotated[Optional[int], typer.Option("--timeout", "-t", help="Seconds to wait.")]  # noqa: UP045


@compose_app.callback()
def _group(ctx: typer.Context, files: FilesOpt = None, project_name: ProjectNameOpt = None,
           project_directory: ProjectDirOpt = None, env_files: EnvFilesOpt = None,
           profiles: ProfilesOpt = None,
           all_resources: Annotated[bool, typer.Option(
               "--all-resources", help="Include all resources, even those not used by "
               "services.")] = False) -> None:
    ctx.meta[META_KEY] = ProjectFlags(files, project_name, project_directory, env_files,
                                      profiles)
    ctx.meta[ALL_RESOURCES_KEY] = all_resources


def runner_for(ctx: typer.Context, services: list[str] | None = None, *,
               need_file: bool = False, progress: str = "auto") -> Any:
    """A StackRunner for the project the group's flags name (``need_file``: the stack
    file must exist; without it, commands work from the containers' labels)."""
    return open_runner(ctx, ProjectFlags(), services=services or (), progress=progress,
                       need_file=need_file)


def project_containers(runner: Any, services: list[str] | None, *, all_: bool = True,
                       index: int | None = None, oneoff: bool = False) -> list[Any]:
    """The project's containers (ObservedContainer) of ``services``, service-then-number."""
    desired = None
    if runner.stack is not None:
        desired = runner.desired()
    observed = runner.observe(desired)
    scope = set(services or ())
    known = set(desired.services) | set(desired.known_services) if desired else None
    unknown = sorted(scope - known) if known is not None else []
    if unknown:
        from stackctl.errors import SchedulerError

        raise SchedulerError(f"no such service: {', '.join(unknown)}")
    out = [c for c in observed.containers
           if (not scope or c.service in scope) and (oneoff or not c.oneoff)
           and (all_ or c.running) and (index is None or c.number == index)]
    return sorted(out, key=lambda c: (c.service, c.oneoff, c.number))


def records_of(runner: Any, containers: list[Any]) -> list[Any]:
    """The engine's ContainerRecord of each observed container."""
    eng = runner.driver.engine()
    return [eng.get(c.id or c.name) for c in containers]


def execute_plan(runner: Any, plan: Any) -> None:
    """Carry ``plan`` out; any failed operation fails the command."""
    result = runner.execute(plan)
    result.raise_for_failures()


__all__ = ["Services", "Timeout", "compose_app", "execute_plan", "project_containers",
           "records_of", "runner_for"]
