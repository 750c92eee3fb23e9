"""Stack commands: ``up``, ``down``, ``plan``, ``sync``, ``ls``.

Each turns its flags into scheduler options and makes one library call
(stackctl.scheduler.stack). Only typer and the standard library are imported
at module level (cold start budget).
"""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any, Optional

import typer

from stackctl.cli._stack import (
    ALL_RESOURCES_KEY,
    PROGRESS_HELP,
    ProjectFlags,
    attach,
    env_flag,
    global_opts,
    open_runner,
)
from stackctl.cli.project_opts import (
    EnvFilesOpt,
    FilesOpt,
    ProfilesOpt,
    ProjectDirOpt,
    ProjectNameOpt,
)

ServicesArg = Annotated[
    Optional[list[str]],  # noqa: UP045 - typer needs Optional on 3.11
    typer.Argument(help="Services to act on (default: all active services)."),
]
ProgressOpt = Annotated[str, typer.Option("--progress", metavar="MODE", help=PROGRESS_HELP)]
ParallelOpt = Annotated[
    Optional[int],  # noqa: UP045
    typer.Option("--parallel", metavar="N",
                 help="At most N engine operations at once (default: no limit)."),
]
TimeoutOpt = Annotated[
    Optional[int],  # noqa: UP045
    typer.Option("--timeout", "-t", metavar="SECONDS",
                 help="Seconds to wait for containers to stop."),
]


def register(app: typer.Typer) -> None:
    app.command("up", help="Create and start the stack's containers (converge to the file).")(up)
    app.command("down", help="Stop and remove the stack's containers, networks (volumes -v).")(
        down)
    app.command("plan", help="Show what up would change; exit 0 if nothing, 2 if something.")(
        plan)
    app.command("sync", help="CI: report drift from the stack file and converge to it.")(sync)
    app.command("ls", help="List the stacks on this machine.")(ls)


def _flags(files: list[str] | None, project_name: str | None, project_directory: str | None,
           env_files: list[str] | None, profiles: list[str] | None) -> ProjectFlags:
    return ProjectFlags(files, project_name, project_directory, env_files, profiles)


def up_options(services: list[str] | None, *, no_deps: bool, force_recreate: bool,
               no_recreate: bool, remove_orphans: bool, build: bool, no_build: bool,
               pull: str | None, timeout: int | None, start: bool = True,
               runner: object = None, all_resources: bool = False) -> object:
    from stackctl.errors import UsageError
    from stackctl.scheduler.plan import UpOptions

    if force_recreate and no_recreate:
        raise UsageError("--force-recreate and --no-recreate are incompatible")
    if build and no_build:
        raise UsageError("--build and --no-build are incompatible")
    if pull not in (None, "policy", "always", "missing", "never"):
        raise UsageError(f"--pull {pull!r}: expected always, missing or never")
    return UpOptions(
        services=tuple(services or ()),
        no_deps=no_deps,
        recreate="force" if force_recreate else ("never" if no_recreate else "diverged"),
        remove_orphans=remove_orphans or env_flag("REMOVE_ORPHANS", runner),
        build="always" if build else ("never" if no_build else "auto"),
        pull=pull or "policy",  # type: ignore[arg-type]
        start=start,
        timeout=float(timeout) if timeout is not None else None,
        all_resources=all_resources,
    )


def _drifted_volumes(runner: Any) -> tuple[Any, list[str]]:
    """(desired state, keys of its volumes whose definition changed: volume_drift.py)."""
    from stackctl.scheduler import volume_drift as vd

    if runner.stack is None:
        return None, []
    desired = runner.desired()
    if not desired.volumes:
        return desired, []
    stored = {v.name: v.labels for v in runner.driver.engine().volumes.list()}
    return desired, vd.drifted(desired, stored)


def recreate_drifted_volumes(runner: Any, *, yes: bool, timeout: int | None) -> None:
    """Volumes whose definition in the file changed: recreated when approved (``-y``,
    or yes at compose's prompt on a terminal), else kept with a warning, as compose
    does. Their containers go with them; the ``up`` that follows makes both again."""
    from stackctl.scheduler import volume_drift as vd

    desired, keys = _drifted_volumes(runner)
    approved = []
    for key in keys:
        name = desired.volumes[key].name
        if yes or (sys.stdin.isatty() and typer.confirm(vd.prompt(name), default=False)):
            approved.append(key)
        else:
            runner.sink.message(f'WARNING: volume "{name}" exists but doesn\'t match '
                                "configuration in compose file: kept (up -y recreates it; its "
                                "data will be lost)")
    if approved:
        plan = vd.plan_recreate(desired, runner.observe(desired), approved,
                                timeout=float(timeout) if timeout is not None else None)
        runner.execute(plan).raise_for_failures()


def up(
    ctx: typer.Context,
    services: ServicesArg = None,
    files: FilesOpt = None,
    project_name: ProjectNameOpt = None,
    project_directory: ProjectDirOpt = None,
    env_files: EnvFilesOpt = None,
    profiles: ProfilesOpt = None,
    detach: Annotated[bool, typer.Option("--detach", "-d", help="Run in the background.")] = False,
    build: Annotated[bool, typer.Option("--build", help="Build images before starting.")] = False,
    no_build: Annotated[bool, typer.Option("--no-build", help="Never build images.")] = False,
    pull: Annotated[Optional[str], typer.Option(  # noqa: UP045
        "--pull", metavar="WHEN", help="Pull images: always, missing or never.")] = None,
    force_recreate: Annotated[bool, typer.Option(
        "--force-recreate", help="Recreate containers even if nothing changed.")] = False,
    no_recreate: Annotated[bool, typer.Option(
        "--no-recreate", help="Never recreate existing containers.")] = False,
    no_deps: Annotated[bool, typer.Option(
        "--no-deps", help="Do not start the services' dependencies.")] = False,
    remove_orphans: Annotated[bool, typer.Option(
        "--remove-orphans", help="Remove containers of services not in the file.")] = False,
    scale: Annotated[Optional[list[str]], typer.Option(  # noqa: UP045
        "--scale", metavar="SERVICE=N", help="SERVICE=N replicas; repeatable.")] = None,
    wait: Annotated[bool, typer.Option(
        "--wait", help="Wait until services are running/healthy (implies -d).")] = False,
    wait_timeout: Annotated[Optional[float], typer.Option(  # noqa: UP045
        "--wait-timeout", metavar="SECONDS",
        help="Seconds to wait for --wait and dependency conditions.")] = None,
    abort_on_container_exit: Annotated[bool, typer.Option(
        "--abort-on-container-exit", help="Stop the stack when any container exits.")] = False,
    abort_on_container_failure: Annotated[bool, typer.Option(
        "--abort-on-container-failure", help="Stop the stack when a container fails.")] = False,
    exit_code_from: Annotated[Optional[str], typer.Option(  # noqa: UP045
        "--exit-code-from", metavar="SERVICE", help="Exit with this service's exit code (implies "
        "--abort-on-container-exit).")] = None,
    attach_dependencies: Annotated[bool, typer.Option(
        "--attach-dependencies", help="Also show the dependencies' output (up returns when "
        "the services asked for have exited).")] = False,
    timeout: TimeoutOpt = None,
    no_start: Annotated[bool, typer.Option("--no-start", help="Create, do not start.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan, change nothing.")
                       ] = False,
    progress: ProgressOpt = "auto",
    parallel: ParallelOpt = None,
    yes: Annotated[bool, typer.Option(
        "--yes", "-y", help="Assume yes to prompts (recreate a volume whose definition "
        "changed).")] = False,
) -> None:
    from stackctl.errors import UsageError
    from stackctl.scheduler.model import parse_scale

    if exit_code_from:
        abort_on_container_exit = True
    if detach and (abort_on_container_exit or abort_on_container_failure):
        raise UsageError("--abort-on-container-exit and -d are incompatible")
    scale_map = parse_scale(scale or [])
    flags = _flags(files, project_name, project_directory, env_files, profiles)
    with open_runner(ctx, flags, services=services or (), progress=progress,
                     parallel=parallel) as runner:
        opts = up_options(services, no_deps=no_deps, force_recreate=force_recreate,
                          no_recreate=no_recreate, remove_orphans=remove_orphans, build=build,
                          no_build=no_build, pull=pull, timeout=timeout, start=not no_start,
                          runner=runner, all_resources=bool(ctx.meta.get(ALL_RESOURCES_KEY)))
        if dry_run:
            sys.stdout.write(runner.plan_up(opts, scale_map).render())
            return
        recreate_drifted_volumes(runner, yes=yes, timeout=timeout)
        done, result = runner.up(opts, scale_map, wait_timeout=wait_timeout)
        result.raise_for_failures()
        if done == 0:
            runner.sink.message(f"project {runner.project!r} is up to date: nothing to do")
        if (detach and not wait) or no_start:
            return
        desired = runner.driver.desired
        from stackctl.scheduler import graph as g

        selected = sorted(g.select(g.service_graph(desired.services, desired.edges()),
                                   services or (), with_deps=not no_deps))
        if wait:
            runner.wait_ready(selected, wait_timeout)
            return
        attached = selected if attach_dependencies else (services or selected)
        code = attach(runner, attached, abort_on_exit=abort_on_container_exit,
                      abort_on_failure=abort_on_container_failure,
                      exit_code_from=exit_code_from, timeout=timeout,
                      watched=services if attach_dependencies and services else None)
    raise typer.Exit(code)


def down(
    ctx: typer.Context,
    services: ServicesArg = None,
    files: FilesOpt = None,
    project_name: ProjectNameOpt = None,
    project_directory: ProjectDirOpt = None,
    env_files: EnvFilesOpt = None,
    profiles: ProfilesOpt = None,
    volumes: Annotated[bool, typer.Option(
        "--volumes", "-v", help="Also remove named volumes and anonymous ones.")] = False,
    rmi: Annotated[Optional[str], typer.Option(  # noqa: UP045
        "--rmi", metavar="local|all", help="Remove images: local (built ones) or all.")] = None,
    remove_orphans: Annotated[bool, typer.Option(
        "--remove-orphans", help="Also remove containers of services not in the file.")] = False,
    timeout: TimeoutOpt = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan, change nothing.")
                       ] = False,
    progress: ProgressOpt = "auto",
    parallel: ParallelOpt = None,
) -> None:
    from stackctl.errors import UsageError
    from stackctl.scheduler.plan import DownOptions

    if rmi not in (None, "local", "all"):
        raise UsageError(f"--rmi {rmi!r}: expected local or all")
    flags = _flags(files, project_name, project_directory, env_files, profiles)
    with open_runner(ctx, flags, progress=progress, parallel=parallel,
                     need_file=False) as runner:
        opts = DownOptions(services=tuple(services or ()),
                           remove_orphans=remove_orphans or env_flag("REMOVE_ORPHANS",
                                                                     runner),
                           volumes=volumes, rmi=rmi,  # type: ignore[arg-type]
                           timeout=float(timeout) if timeout is not None else None)
        if dry_run:
            sys.stdout.write(runner.plan_down(opts).render())
            return
        done, result = runner.down(opts)
        result.raise_for_failures()
        if done == 0:
            runner.sink.message(f"project {runner.project!r}: nothing to remove")


def plan(
    ctx: typer.Context,
    services: ServicesArg = None,
    files: FilesOpt = None,
    project_name: ProjectNameOpt = None,
    project_directory: ProjectDirOpt = None,
    env_files: EnvFilesOpt = None,
    profiles: ProfilesOpt = None,
    output: Annotated[str, typer.Option("--output", "-o", metavar="text|json",
                                        help="text or json.")] = "text",
    down_: Annotated[bool, typer.Option("--down", help="Plan a down instead of an up.")] = False,
    build: Annotated[bool, typer.Option("--build", help="As up --build.")] = False,
    force_recreate: Annotated[bool, typer.Option("--force-recreate")] = False,
    no_recreate: Annotated[bool, typer.Option("--no-recreate")] = False,
    no_deps: Annotated[bool, typer.Option("--no-deps")] = False,
    remove_orphans: Annotated[bool, typer.Option("--remove-orphans")] = False,
    scale: Annotated[Optional[list[str]], typer.Option(  # noqa: UP045
        "--scale", metavar="SERVICE=N")] = None,
    volumes: Annotated[bool, typer.Option("--volumes", "-v", help="With --down.")] = False,
) -> None:
    from stackctl.errors import UsageError
    from stackctl.scheduler.model import parse_scale
    from stackctl.scheduler.plan import DownOptions

    if output not in ("text", "json"):
        raise UsageError(f"--output {output!r}: expected text or json")
    flags = _flags(files, project_name, project_directory, env_files, profiles)
    with open_runner(ctx, flags, services=services or (), progress="quiet",
                     need_file=not down_) as runner:
        if down_:
            the_plan = runner.plan_down(DownOptions(
                services=tuple(services or ()), remove_orphans=remove_orphans, volumes=volumes))
        else:
            opts = up_options(services, no_deps=no_deps, force_recreate=force_recreate,
                              no_recreate=no_recreate, remove_orphans=remove_orphans,
                              build=build, no_build=False, pull=None, timeout=None,
                              runner=runner)
            the_plan = runner.plan_up(opts, parse_scale(scale or []))
            desired, drifted = _drifted_volumes(runner)
            for key in drifted:  # not in the plan: only an approved up recreates them
                sys.stderr.write(f"WARNING: volume {desired.volumes[key].name}: its definition "
                                 "changed; up -y recreates it (its data will be lost)\n")
    if output == "json":
        sys.stdout.write(json.dumps(the_plan.to_json(), indent=2) + "\n")
    else:
        sys.stdout.write(the_plan.render())
    raise typer.Exit(0 if the_plan.empty else 2)


def sync(
    ctx: typer.Context,
    files: FilesOpt = None,
    project_name: ProjectNameOpt = None,
    project_directory: ProjectDirOpt = None,
    env_files: EnvFilesOpt = None,
    profiles: ProfilesOpt = None,
    git_ref: Annotated[Optional[str], typer.Option(  # noqa: UP045
        "--git-ref", metavar="REF",
        help="Deploy the stack file as of this git commit/branch/tag.")] = None,
    git_repo: Annotated[str, typer.Option(
        "--git-repo", metavar="DIR",
        help="The git repository holding the stack (with --git-ref).")] = ".",
    check: Annotated[bool, typer.Option(
        "--check", help="Only report drift: exit 0 in sync, 2 drifted.")] = False,
    prune: Annotated[bool, typer.Option(
        "--prune", help="Remove containers of services no longer in the file.")] = True,
    build: Annotated[bool, typer.Option("--build", help="Rebuild images.")] = False,
    wait_timeout: Annotated[Optional[float], typer.Option(  # noqa: UP045
        "--wait-timeout", help="Seconds to wait for services to be ready.")] = 300.0,
    output: Annotated[str, typer.Option("--output", "-o", metavar="text|json",
                                        help="text or json.")] = "text",
    progress: ProgressOpt = "plain",
    parallel: ParallelOpt = None,
) -> None:
    """Exit codes: 0 already in sync; 2 drift found (converged, unless --check);
    1 convergence failed; 15 bad stack file; 125 engine error."""
    from stackctl.errors import UsageError

    if output not in ("text", "json"):
        raise UsageError(f"--output {output!r}: expected text or json")
    if git_ref:
        from stackctl.scheduler.gitsync import checkout

        root = global_opts(ctx).root
        files, project_directory = checkout(git_repo, git_ref, files or [], root / "sync",
                                             project_directory)
        if project_name is None:
            from pathlib import Path

            project_name = Path(git_repo).resolve().name.lower()
    opts = up_options(None, no_deps=False, force_recreate=False, no_recreate=False,
                      remove_orphans=prune, build=build, no_build=False, pull=None,
                      timeout=None)
    flags = _flags(files, project_name, project_directory, env_files, profiles)
    with open_runner(ctx, flags, progress=progress, parallel=parallel) as runner:
        drift = runner.plan_up(opts)
        if output == "json":
            sys.stdout.write(json.dumps({"drift": drift.to_json(), "applied": not check
                                         and not drift.empty}) + "\n")
        else:
            sys.stdout.write(drift.render())
        if drift.empty or check:
            raise typer.Exit(0 if drift.empty else 2)
        _, result = runner.up(opts, wait_timeout=wait_timeout)
        result.raise_for_failures()
        desired = runner.driver.desired
        runner.wait_ready(sorted(desired.services), wait_timeout)
        runner.sink.message(f"project {runner.project!r} converged")
    raise typer.Exit(2)


def ls(
    ctx: typer.Context,
    all_: Annotated[bool, typer.Option("--all", "-a", help="Also stacks with nothing running.")
                    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only names.")] = False,
    fmt: Annotated[str, typer.Option("--format", metavar="table|json",
                                     help="table or json.")] = "table",
) -> None:
    from stackctl.scheduler.observe import list_stacks

    g = global_opts(ctx)
    rows = [r for r in list_stacks(g.root, g.run_root) if all_ or r.running]
    if quiet:
        for r in rows:
            sys.stdout.write(r.name + "\n")
        return
    if fmt == "json":
        sys.stdout.write(json.dumps([{"Name": r.name, "Status": r.status,
                                      "ConfigFiles": ",".join(r.config_files)}
                                     for r in rows], indent=2) + "\n")
        return
    from stackctl.humanize import table

    sys.stdout.write(table([["NAME", "STATUS", "CONFIG FILES"],
                            *([r.name, r.status, ",".join(r.config_files)] for r in rows)],
                           keep_padding=True) + "\n")
