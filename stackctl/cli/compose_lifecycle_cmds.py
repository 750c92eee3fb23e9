"""``compose create``, ``scale``, ``start``, ``stop``, ``restart``, ``kill``, ``pause``,
``unpause``, ``rm``, ``wait``: the lifecycle of a stack's existing containers.

Ordered changes (start, stop, restart) go through the scheduler's planners, so
dependencies start first and dependents stop first. Only typer and the standard
library are imported at module level.
"""

from __future__ import annotations

import sys
from typing import Annotated, Any, Optional

import typer

from stackctl.cli._compose import (
    Services,
    Timeout,
    compose_app,
    execute_plan,
    project_containers,
    runner_for,
)


@compose_app.command(help="Create the services' containers without starting them.")
def create(ctx: typer.Context, services: Services = None,
           build: Annotated[bool, typer.Option("--build")] = False,
           no_build: Annotated[bool, typer.Option("--no-build")] = False,
           force_recreate: Annotated[bool, typer.Option("--force-recreate")] = False,
           no_recreate: Annotated[bool, typer.Option("--no-recreate")] = False,
           pull: Annotated[Optional[str], typer.Option("--pull")] = None,  # noqa: UP045
           remove_orphans: Annotated[bool, typer.Option("--remove-orphans")] = False) -> None:
    from stackctl.cli.stack_cmds import up_options

    opts = up_options(services, no_deps=False, force_recreate=force_recreate,
                      no_recreate=no_recreate, remove_orphans=remove_orphans, build=build,
                      no_build=no_build, pull=pull, timeout=None, start=False)
    with runner_for(ctx, services, need_file=True) as runner:
        _done, result = runner.up(opts)
        result.raise_for_failures()


@compose_app.command(help="Set the number of replicas of services: SERVICE=N ...")
def scale(ctx: typer.Context, pairs: Annotated[list[str], typer.Argument(metavar="SERVICE=N")],
          no_deps: Annotated[bool, typer.Option("--no-deps")] = False) -> None:
    from stackctl.cli.stack_cmds import up_options
    from stackctl.scheduler.model import parse_scale

    counts = parse_scale(pairs)
    services = sorted(counts)
    with runner_for(ctx, services, need_file=True) as runner:
        opts = up_options(services, no_deps=no_deps, force_recreate=False, no_recreate=False,
                          remove_orphans=False, build=False, no_build=False, pull=None,
                          timeout=None)
        _done, result = runner.up(opts, counts)
        result.raise_for_failures()


@compose_app.command(help="Start existing containers (dependencies first).")
def start(ctx: typer.Context, services: Services = None) -> None:
    from stackctl.scheduler.plan import plan_start

    with runner_for(ctx, services, need_file=True) as runner:
        desired = runner.desired()
        execute_plan(runner, plan_start(desired, runner.observe(desired), services or ()))


@compose_app.command(help="Stop running containers (dependents first).")
def stop(ctx: typer.Context, services: Services = None, timeout: Timeout = None) -> None:
    from stackctl.scheduler.plan import plan_stop

    with runner_for(ctx, services) as runner:
        desired = runner.desired() if runner.stack is not None else None
        execute_plan(runner, plan_stop(desired, runner.observe(desired), services or (),
                                       timeout=float(timeout) if timeout is not None else None))


@compose_app.command(help="Restart containers in place (stop dependents first, start in order).")
def restart(ctx: typer.Context, services: Services = None, timeout: Timeout = None) -> None:
    from stackctl.scheduler.plan import plan_start, plan_stop

    if not services:
        # compose restarts the project's existing containers, those of services whose
        # profile is not active included (up SERVICE activated it): target them all.
        with runner_for(ctx, need_file=True) as probe:
            desired = probe.desired()
            known = set(desired.services) | set(desired.known_services)
            services = sorted({c.service for c in project_containers(probe, None)} & known) or None
    with runner_for(ctx, services, need_file=True) as runner:
        desired = runner.desired()
        execute_plan(runner, plan_stop(desired, runner.observe(desired), services or (),
                                       timeout=float(timeout) if timeout is not None else None))
        execute_plan(runner, plan_start(desired, runner.observe(desired), services or ()))


def _each(ctx: typer.Context, services: list[str] | None, verb: str, action: Any, *,
          running: bool = True) -> None:
    from stackctl.scheduler.execute import Event

    with runner_for(ctx) as runner:
        eng = runner.driver.engine()
        with runner.sink as sink:
            for c in project_containers(runner, services, all_=not running):
                action(eng, c)
                sink.event(Event("Container", c.name, verb, done=True))


@compose_app.command(help="Send a signal to running containers.")
def kill(ctx: typer.Context, services: Services = None,
         sig: Annotated[str, typer.Option("--signal", "-s")] = "SIGKILL") -> None:
    _each(ctx, services, "Killed", lambda eng, c: eng.kill(c.name, sig))


@compose_app.command(help="Pause running containers.")
def pause(ctx: typer.Context, services: Services = None) -> None:
    _each(ctx, services, "Paused", lambda eng, c: eng.pause(c.name))


@compose_app.command(help="Unpause paused containers.")
def unpause(ctx: typer.Context, services: Services = None) -> None:
    _each(ctx, services, "Unpaused", lambda eng, c: eng.unpause(c.name))


@compose_app.command(help="Remove stopped containers.")
def rm(ctx: typer.Context, services: Services = None,
       force: Annotated[bool, typer.Option("--force", "-f", help="Don't ask.")] = False,
       stop_first: Annotated[bool, typer.Option("--stop", "-s", help="Stop them first.")] = False,
       volumes: Annotated[bool, typer.Option("--volumes", "-v", help="Anonymous volumes too.")
                          ] = False) -> None:
    from stackctl.scheduler.execute import Event

    with runner_for(ctx) as runner:
        eng = runner.driver.engine()
        found = project_containers(runner, services)
        if stop_first:
            for c in found:
                if c.running:
                    eng.stop(c.name)
        found = [c for c in project_containers(runner, services) if not c.running]
        if not found:
            runner.sink.message("No stopped containers")
            return
        if not force and sys.stdin.isatty():
            names = ", ".join(c.name for c in found)
            if not typer.confirm(f"Going to remove {names}. Are you sure?", default=False):
                return
        with runner.sink as sink:
            for c in found:
                eng.remove(c.name, volumes=volumes)
                sink.event(Event("Container", c.name, "Removed", done=True))


@compose_app.command(help="Wait for services' containers to stop; print their exit codes.")
def wait(ctx: typer.Context, services: Annotated[list[str], typer.Argument()],
         down_project: Annotated[bool, typer.Option("--down-project")] = False) -> None:
    code = 0
    with runner_for(ctx) as runner:
        eng = runner.driver.engine()
        for c in project_containers(runner, services):
            c_code = eng.wait(c.name)
            typer.echo(str(c_code))
            code = code or c_code
        if down_project:
            from stackctl.scheduler.plan import DownOptions

            runner.down(DownOptions())[1].raise_for_failures()
    raise typer.Exit(code)
