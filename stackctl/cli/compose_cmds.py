"""``stackctl compose <cmd>``: the Compose command set, scoped to one project.

This module has exec, run, build, pull, push and config, and ``register`` adds
the whole group (compose_view_cmds.py: ps, logs, top, port, images;
compose_lifecycle_cmds.py: create, scale, start, stop, ...; _compose.py: the
group and its shared helpers).

Project flags go before the subcommand, as with ``docker compose``:
``stackctl compose -f a.yaml -p shop ps``. Commands that act on existing
containers (ps, logs, stop, rm...) work from labels, so they need only ``-p``
when the stack file is gone. Only typer and the standard library are imported
at module level (cold start budget).
"""

from __future__ import annotations

import os
import sys
from typing import Annotated, Optional

import typer

# Importing a command module adds its commands to the group, and --help lists them
# in that order: Compose's order, views first (isort must not reorder these).
from stackctl.cli import compose_view_cmds  # noqa: F401  ps, logs, top, port, images

# isort: split
from stackctl.cli import compose_lifecycle_cmds  # noqa: F401  create ... wait

# isort: split
from stackctl.cli._compose import (
    Services,
    compose_app,
    execute_plan,
    project_containers,
    runner_for,
)
from stackctl.cli._stack import ProjectFlags, global_opts


# ---- exec / run ---------------------------------------------------------------------------------
@compose_app.command("exec", help="Run a command in a running service container.",
                     context_settings={"allow_interspersed_args": False})
def exec_(ctx: typer.Context, service: Annotated[str, typer.Argument()],
          command: Annotated[list[str], typer.Argument()],
          no_tty: Annotated[bool, typer.Option("--no-tty", "-T")] = False,
          detach: Annotated[bool, typer.Option("--detach", "-d")] = False,
          env: Annotated[Optional[list[str]], typer.Option("--env", "-e")] = None,  # noqa: UP045
          user: Annotated[Optional[str], typer.Option("--user", "-u")] = None,  # noqa: UP045
          workdir: Annotated[Optional[str], typer.Option("--workdir", "-w")] = None,  # noqa: UP045
          index: Annotated[Optional[int], typer.Option("--index")] = None,  # noqa: UP045
          privileged: Annotated[bool, typer.Option("--privileged")] = False) -> None:
    import subprocess

    from stackctl.errors import SchedulerError

    with runner_for(ctx) as runner:
        found = [c for c in project_containers(runner, [service], all_=False, oneoff=True)
                 if index is None or (c.number == index and not c.oneoff)]
        # the service's own containers first; a one-off only when it is all there is
        found.sort(key=lambda c: (c.oneoff, c.number))
        if not found:
            where = f" container #{index}" if index else ""
            raise SchedulerError(f'service "{service}" is not running{where}')
        tty = not no_tty and sys.stdin.isatty() and sys.stdout.isatty()
        argv = runner.driver.engine().exec_argv(found[0].name, command, tty=tty,
                                                env=tuple(env or ()), user=user,
                                                workdir=workdir, detach=detach,
                                                privileged=privileged)
    code = subprocess.run(argv, stdin=None if tty else subprocess.DEVNULL,
                          check=False).returncode
    raise typer.Exit(code if code >= 0 else 128 - code)


@compose_app.command(help="Run a one-off command in a new container of a service.",
                     context_settings={"allow_interspersed_args": False})
def run(ctx: typer.Context, service: Annotated[str, typer.Argument()],
        command: Annotated[Optional[list[str]], typer.Argument()] = None,  # noqa: UP045
        rm_: Annotated[bool, typer.Option("--rm", help="Remove it when it exits.")] = False,
        detach: Annotated[bool, typer.Option("--detach", "-d")] = False,
        env: Annotated[Optional[list[str]], typer.Option("--env", "-e")] = None,  # noqa: UP045
        name: Annotated[Optional[str], typer.Option("--name")] = None,  # noqa: UP045
        entrypoint: Annotated[Optional[str], typer.Option("--entrypoint")] = None,  # noqa: UP045
        no_deps: Annotated[bool, typer.Option("--no-deps")] = False,
        service_ports: Annotated[bool, typer.Option("--service-ports")] = False,
        no_tty: Annotated[bool, typer.Option("--no-tty", "-T")] = False,
        user: Annotated[Optional[str], typer.Option("--user", "-u")] = None,  # noqa: UP045
        workdir: Annotated[Optional[str], typer.Option("--workdir", "-w")] = None,  # noqa: UP045
        # compose normalizes --volumes to --volume
        volume: Annotated[Optional[list[str]],  # noqa: UP045
                          typer.Option("--volume", "--volumes", "-v")] = None,
        env_from_file: Annotated[Optional[list[str]], typer.Option(  # noqa: UP045
            "--env-from-file", help="Set environment variables from a file.")] = None,
        ) -> None:
    from stackctl.cli._run import run_oneoff

    if env_from_file:  # the file's variables first: a -e of the same name wins
        from stackctl.spec.dotenv import read_dotenv

        from_files = [f"{k}={v}" for f in env_from_file
                      for k, v in read_dotenv(f, os.environ.get).items()]
        env = from_files + (env or [])
    code = run_oneoff(ctx, service, command, rm=rm_, detach=detach, env=env or [], name=name,
                      entrypoint=entrypoint, no_deps=no_deps, service_ports=service_ports,
                      user=user, workdir=workdir, volumes=volume or [],
                      tty=not no_tty and sys.stdin.isatty() and sys.stdout.isatty())
    raise typer.Exit(code)


# ---- images: build / pull / push -----------------------------------------------------------------
@compose_app.command(help="Build the images of services that have a build section.")
def build(ctx: typer.Context, services: Services = None,
          build_arg: Annotated[Optional[list[str]], typer.Option(  # noqa: UP045
              "--build-arg", help="KEY=VALUE build argument (KEY alone: from the "
              "environment); repeatable.")] = None) -> None:
    args: dict[str, str] = {}
    for item in build_arg or ():
        key, eq, value = item.partition("=")
        if eq:
            args[key] = value
        elif key in os.environ:  # as compose does: a bare KEY comes from the environment
            args[key] = os.environ[key]
    _image_ops(ctx, services, build=True, build_args=args)


@compose_app.command(help="Pull the images of services.")
def pull(ctx: typer.Context, services: Services = None) -> None:
    _image_ops(ctx, services, build=False)


def _image_ops(ctx: typer.Context, services: list[str] | None, *, build: bool,
               build_args: dict[str, str] | None = None) -> None:
    from stackctl.scheduler.plan import plan_images

    with runner_for(ctx, services, need_file=True) as runner:
        execute_plan(runner, plan_images(runner.desired(), services or (), build=build,
                                         build_args=build_args))


@compose_app.command(help="Push the images of services to their registries.")
def push(ctx: typer.Context, services: Services = None) -> None:
    from stackctl.errors import SchedulerError

    with runner_for(ctx, services, need_file=True) as runner:
        desired = runner.desired()
        try:
            from stackctl.engine.registry import client
        except ImportError:
            raise SchedulerError("pushing is not available in this build") from None
        for name in sorted(services or desired.services):
            client.push(runner.driver.engine(), desired.services[name].image)


@compose_app.command("config", help="Validate the stack and print it resolved and normalised.")
def config(ctx: typer.Context, services: Services = None,
           fmt: Annotated[str, typer.Option("--format", help="yaml or json.")] = "yaml",
           quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
           list_services: Annotated[bool, typer.Option("--services")] = False,
           list_volumes: Annotated[bool, typer.Option("--volumes")] = False,
           list_profiles: Annotated[bool, typer.Option("--profiles")] = False,
           list_images: Annotated[bool, typer.Option("--images")] = False,
           list_networks: Annotated[bool, typer.Option("--networks")] = False,
           variables: Annotated[bool, typer.Option(
               "--variables", help="Print the variables the stack file uses.")] = False,
           no_interpolate: Annotated[bool, typer.Option("--no-interpolate")] = False) -> None:
    from stackctl.cli._stack import merged_flags
    from stackctl.cli.config_cmd import config as config_cmd

    f = merged_flags(ctx, ProjectFlags())
    config_cmd(services=services, files=f.files, project_name=f.project_name,
               project_directory=f.project_directory, env_files=f.env_files,
               profiles=f.profiles, fmt=fmt, output=None, quiet=quiet,
               list_services=list_services, list_volumes=list_volumes,
               list_networks=list_networks, list_profiles=list_profiles,
               list_images=list_images, schema=False, variables=variables,
               no_interpolate=no_interpolate, no_normalize=False, no_path_resolution=False,
               no_consistency=False)


def register(app: typer.Typer) -> None:
    from stackctl.cli import stack_cmds

    compose_app.command("up", help="Create and start containers.")(stack_cmds.up)
    compose_app.command("down", help="Stop and remove containers, networks.")(stack_cmds.down)
    compose_app.command("plan", help="Show what up would change.")(stack_cmds.plan)
    compose_app.command("ls", help="List stacks.")(stack_cmds.ls)
    app.add_typer(compose_app, name="compose")


__all__ = ["compose_app", "global_opts", "register"]
