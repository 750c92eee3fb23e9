"""``stackctl compose <cmd>``: the Compose command set, scoped to one project.

Project flags go before the subcommand, as with ``docker compose``:
``stackctl compose -f a.yaml -p shop ps``. Commands that act on existing
containers (ps, logs, stop, rm...) work from labels, so they need only ``-p``
when the stack file is gone. Only typer and the standard library are imported
at module level (cold start budget).
"""

from __future__ import annotations

import json
import os
import sys
from typing import Annotated, Any, Optional

import typer

from stackctl.cli._stack import (
    META_KEY,
    ProjectFlags,
    global_opts,
    open_runner,
    stream_logs,
)
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
           profiles: ProfilesOpt = None) -> None:
    ctx.meta[META_KEY] = ProjectFlags(files, project_name, project_directory, env_files,
                                      profiles)


def _runner(ctx: typer.Context, services: list[str] | None = None, *, need_file: bool = False,
            progress: str = "auto") -> Any:
    return open_runner(ctx, ProjectFlags(), services=services or (), progress=progress,
                       need_file=need_file)


def _containers(runner: Any, services: list[str] | None, *, all_: bool = True,
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


def _records(runner: Any, containers: list[Any]) -> list[Any]:
    eng = runner.driver.engine()
    return [eng.get(c.id or c.name) for c in containers]


# ---- ps / logs / top / port / images ---------------------------------------------------------
@compose_app.command(help="List the stack's containers.")
def ps(ctx: typer.Context, services: Services = None,
       all_: Annotated[bool, typer.Option("--all", "-a", help="Also stopped ones.")] = False,
       quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only IDs.")] = False,
       list_services: Annotated[bool, typer.Option("--services", help="Only service names.")
                                ] = False,
       fmt: Annotated[str, typer.Option("--format", help="table or json.")] = "table") -> None:
    from stackctl.cli.ps_cmd import ps_row
    from stackctl.cli.render import table

    with _runner(ctx) as runner:
        found = _containers(runner, services, all_=all_, oneoff=True)
        if list_services:
            for name in sorted({c.service for c in found}):
                typer.echo(name)
            return
        recs = _records(runner, found)
    if quiet:
        for rec in recs:
            typer.echo(rec.id)
        return
    rows = []
    for c, rec in zip(found, recs, strict=True):
        row: dict[str, Any] = dict(ps_row(rec, no_trunc=False))
        row.update(Service=c.service, Name=rec.name, Project=rec.labels.get(
            "stackctl.project", ""), Health=rec.health.status if rec.health else "",
            ExitCode=str(rec.exit_code or 0), Publishers=list(rec.config.publish))
        rows.append(row)
    if fmt == "json":
        typer.echo(json.dumps(rows, indent=2))
        return
    typer.echo(table(["NAME", "IMAGE", "COMMAND", "SERVICE", "CREATED", "STATUS", "PORTS"],
                     [[r["Name"], r["Image"], r["Command"], r["Service"], r["RunningFor"],
                       r["Status"], r["Ports"]] for r in rows]))


@compose_app.command(help="Show the services' logs, prefixed by container.")
def logs(ctx: typer.Context, services: Services = None,
         follow: Annotated[bool, typer.Option("--follow", "-f")] = False,
         tail: Annotated[Optional[str], typer.Option("--tail", help="Lines from the end.")  # noqa: UP045
                         ] = None,
         timestamps: Annotated[bool, typer.Option("--timestamps", "-t")] = False,
         no_prefix: Annotated[bool, typer.Option("--no-log-prefix")] = False,
         index: Annotated[Optional[int], typer.Option("--index")] = None) -> None:  # noqa: UP045
    from stackctl.errors import UsageError

    if tail not in (None, "all") and not str(tail).isdigit():
        raise UsageError(f"--tail {tail!r}: expected a number or all")
    with _runner(ctx) as runner:
        found = _containers(runner, services, index=index)
        stream_logs(runner.driver.engine(), found, follow=follow,
                    tail=int(tail) if tail and tail != "all" else None,
                    timestamps=timestamps, prefix=not no_prefix,
                    on_interrupt=lambda n: False)


@compose_app.command(help="Show the processes running in each container.")
def top(ctx: typer.Context, services: Services = None) -> None:
    from stackctl.cli.render import table

    with _runner(ctx) as runner:
        eng = runner.driver.engine()
        for c in _containers(runner, services, all_=False):
            titles, rows = eng.top(c.name)
            typer.echo(c.name)
            typer.echo(table(titles, rows))
            typer.echo("")


@compose_app.command(help="Print the public address a service's port is published on.")
def port(ctx: typer.Context, service: Annotated[str, typer.Argument()],
         private_port: Annotated[str, typer.Argument()],
         protocol: Annotated[str, typer.Option("--protocol")] = "tcp",
         index: Annotated[int, typer.Option("--index")] = 1) -> None:
    from stackctl.errors import NotFound

    with _runner(ctx) as runner:
        found = _containers(runner, [service], index=index)
        if not found:
            raise NotFound(f'service "{service}" has no container #{index}')
        rec = runner.driver.engine().get(found[0].name)
        published = _published(runner, rec)
    for host_ip, host_port, target, proto in published:
        if str(target) == private_port.split("/")[0] and proto == protocol:
            typer.echo(f"{host_ip or '0.0.0.0'}:{host_port}")
            return
    raise NotFound(f"no port {private_port}/{protocol} published for {service}")


def _published(runner: Any, rec: Any) -> list[tuple[str, int, int, str]]:
    try:
        maps = runner.driver.networks().published_ports(rec.id)
    except Exception:  # no network layer for this container (none/host): none published
        return []
    return [(str(getattr(m, "host_ip", "") or ""), int(m.host_port), int(m.container_port),
             str(getattr(m, "protocol", "tcp"))) for m in maps]


@compose_app.command(help="List the images the stack's containers use.")
def images(ctx: typer.Context, services: Services = None,
           quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False) -> None:
    from stackctl.cli.render import human_size, table

    with _runner(ctx) as runner:
        eng = runner.driver.engine()
        rows = []
        for rec in _records(runner, _containers(runner, services)):
            image = eng.images.get(rec.image_id)
            repo, _, tag = rec.image_ref.rpartition(":") if ":" in rec.image_ref.split("/")[-1] \
                else (rec.image_ref, "", "latest")
            rows.append([rec.name, repo, tag, image.short_id, human_size(image.size)])
    if quiet:
        for r in rows:
            typer.echo(r[3])
        return
    typer.echo(table(["CONTAINER", "REPOSITORY", "TAG", "IMAGE ID", "SIZE"], rows))


# ---- lifecycle of existing containers -------------------------------------------------------
def _execute(runner: Any, plan: Any) -> None:
    result = runner.execute(plan)
    result.raise_for_failures()


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
    with _runner(ctx, services, need_file=True) as runner:
        _done, result = runner.up(opts)
        result.raise_for_failures()


@compose_app.command(help="Set the number of replicas of services: SERVICE=N ...")
def scale(ctx: typer.Context, pairs: Annotated[list[str], typer.Argument(metavar="SERVICE=N")],
          no_deps: Annotated[bool, typer.Option("--no-deps")] = False) -> None:
    from stackctl.cli.stack_cmds import up_options
    from stackctl.scheduler.model import parse_scale

    counts = parse_scale(pairs)
    services = sorted(counts)
    with _runner(ctx, services, need_file=True) as runner:
        opts = up_options(services, no_deps=no_deps, force_recreate=False, no_recreate=False,
                          remove_orphans=False, build=False, no_build=False, pull=None,
                          timeout=None)
        _done, result = runner.up(opts, counts)
        result.raise_for_failures()


@compose_app.command(help="Start existing containers (dependencies first).")
def start(ctx: typer.Context, services: Services = None) -> None:
    from stackctl.scheduler.plan import plan_start

    with _runner(ctx, services, need_file=True) as runner:
        desired = runner.desired()
        _execute(runner, plan_start(desired, runner.observe(desired), services or ()))


@compose_app.command(help="Stop running containers (dependents first).")
def stop(ctx: typer.Context, services: Services = None, timeout: Timeout = None) -> None:
    from stackctl.scheduler.plan import plan_stop

    with _runner(ctx, services) as runner:
        desired = runner.desired() if runner.stack is not None else None
        _execute(runner, plan_stop(desired, runner.observe(desired), services or (),
                                   timeout=float(timeout) if timeout is not None else None))


@compose_app.command(help="Restart containers in place (stop dependents first, start in order).")
def restart(ctx: typer.Context, services: Services = None, timeout: Timeout = None) -> None:
    from stackctl.scheduler.plan import plan_start, plan_stop

    if not services:
        # compose restarts the project's existing containers, those of services whose
        # profile is not active included (up SERVICE activated it): target them all.
        with _runner(ctx, need_file=True) as probe:
            desired = probe.desired()
            known = set(desired.services) | set(desired.known_services)
            services = sorted({c.service for c in _containers(probe, None)} & known) or None
    with _runner(ctx, services, need_file=True) as runner:
        desired = runner.desired()
        _execute(runner, plan_stop(desired, runner.observe(desired), services or (),
                                   timeout=float(timeout) if timeout is not None else None))
        _execute(runner, plan_start(desired, runner.observe(desired), services or ()))


def _each(ctx: typer.Context, services: list[str] | None, verb: str, action: Any, *,
          running: bool = True) -> None:
    from stackctl.scheduler.execute import Event

    with _runner(ctx) as runner:
        eng = runner.driver.engine()
        with runner.sink as sink:
            for c in _containers(runner, services, all_=not running):
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

    with _runner(ctx) as runner:
        eng = runner.driver.engine()
        found = _containers(runner, services)
        if stop_first:
            for c in found:
                if c.running:
                    eng.stop(c.name)
        found = [c for c in _containers(runner, services) if not c.running]
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
    with _runner(ctx) as runner:
        eng = runner.driver.engine()
        for c in _containers(runner, services):
            c_code = eng.wait(c.name)
            typer.echo(str(c_code))
            code = code or c_code
        if down_project:
            from stackctl.scheduler.plan import DownOptions

            runner.down(DownOptions())[1].raise_for_failures()
    raise typer.Exit(code)


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
          index: Annotated[Optional[int], typer.Option("--index")] = None) -> None:  # noqa: UP045
    import subprocess

    from stackctl.errors import SchedulerError

    with _runner(ctx) as runner:
        found = [c for c in _containers(runner, [service], all_=False, oneoff=True)
                 if index is None or (c.number == index and not c.oneoff)]
        # the service's own containers first; a one-off only when it is all there is
        found.sort(key=lambda c: (c.oneoff, c.number))
        if not found:
            where = f" container #{index}" if index else ""
            raise SchedulerError(f'service "{service}" is not running{where}')
        tty = not no_tty and sys.stdin.isatty() and sys.stdout.isatty()
        argv = runner.driver.engine().exec_argv(found[0].name, command, tty=tty,
                                                env=tuple(env or ()), user=user,
                                                workdir=workdir, detach=detach)
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

    with _runner(ctx, services, need_file=True) as runner:
        _execute(runner, plan_images(runner.desired(), services or (), build=build,
                                     build_args=build_args))


@compose_app.command(help="Push the images of services to their registries.")
def push(ctx: typer.Context, services: Services = None) -> None:
    from stackctl.errors import SchedulerError

    with _runner(ctx, services, need_file=True) as runner:
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
