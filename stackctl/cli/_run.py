"""``stackctl compose run``: a one-off container of a service.

Its dependencies are brought up first (unless ``--no-deps``), through the same
planner and executor as ``up``; then a container with the service's config,
the one-off label and the overrides on the command line is created and
attached to (or left running with ``-d``). Only typer and the standard library
at module level.
"""

from __future__ import annotations

import os
import secrets
from typing import Any

import typer

from stackctl import lightdc
from stackctl.cli._stack import ProjectFlags, env_flag, merged_flags, open_runner
from stackctl.cli.project_opts import load_options


def run_oneoff(ctx: typer.Context, service: str, command: list[str] | None, *, rm: bool,
               detach: bool, env: list[str], name: str | None, entrypoint: str | None,
               no_deps: bool, service_ports: bool, user: str | None, workdir: str | None,
               volumes: list[str], tty: bool) -> int:
    import shlex

    from stackctl.cli.run_flow import attach_session
    from stackctl.engine.containers import MountRequest, RestartPolicy
    from stackctl.errors import SchedulerError, UsageError
    from stackctl.scheduler import graph as g
    from stackctl.scheduler.plan import UpOptions
    from stackctl.scheduler.translate import container_config

    with open_runner(ctx, ProjectFlags(), services=[service], need_file=True,
                     progress="auto") as runner:
        desired = runner.desired()
        svc = desired.services.get(service)
        if svc is None:
            raise SchedulerError(f"no such service: {service}")
        deps = g.select(g.service_graph(desired.services, desired.edges()), [service]) - {
            service}
        from stackctl.scheduler.plan import plan_resources

        runner.execute(plan_resources(desired, runner.observe(desired), [service])
                       ).raise_for_failures()
        if deps and not no_deps:
            _done, result = runner.up(UpOptions(services=tuple(sorted(deps)),
                                                remove_orphans=env_flag("REMOVE_ORPHANS",
                                                                       runner)))
            result.raise_for_failures()
        observed = runner.observe(desired)
        number = max((c.number for c in observed.containers if c.oneoff), default=0) + 1
        cname = name or f"{desired.project}-{service}-run-{secrets.token_hex(6)}"
        resolve = {c.service: c.name for c in observed.containers if c.running and not c.oneoff}
        cfg = container_config(desired, svc, name=cname, number=number, oneoff=True,
                               resolve_service=resolve, runtime=runner.runtime)
        extra_env = []
        project_env = _project_environment(ctx) if any("=" not in e for e in env) else {}
        for item in env:
            if "=" in item:
                extra_env.append(item)
            elif item in project_env:
                extra_env.append(f"{item}={project_env[item]}")
        mounts = list(cfg.mounts)
        for v in volumes:
            parts = v.split(":")
            if len(parts) < 2:
                raise UsageError(f"--volume {v!r}: expected SOURCE:TARGET[:ro]")
            src = os.path.abspath(parts[0]) if parts[0].startswith((".", "/")) else parts[0]
            kind = "bind" if src.startswith("/") else "volume"
            mounts.append(MountRequest(kind, parts[1], src, len(parts) > 2 and parts[2] == "ro"))
        changes: dict[str, Any] = {
            "env": cfg.env + tuple(extra_env),
            "mounts": tuple(mounts),
            "restart": RestartPolicy(),
            "auto_remove": rm,
            "tty": tty,
            "open_stdin": True,  # compose run is interactive by default (-i)
        }
        if command:
            changes["command"] = tuple(command)
        if entrypoint is not None:
            changes["entrypoint"] = tuple(shlex.split(entrypoint))
            if not command:
                changes["command"] = ()
        if user is not None:
            changes["user"] = user
        if workdir is not None:
            changes["working_dir"] = workdir
        if not service_ports:
            changes["publish"] = ()
        cfg = lightdc.replace(cfg, **changes)
        engine = runner.driver.engine()
        rec = engine.create(cfg)
        try:
            engine.start(rec.id, hold=not detach)
        except BaseException:
            try:
                engine.remove(rec.id, force=True, volumes=True)
            except Exception:  # best effort: the start error is the one to report
                pass
            raise
        if detach:
            typer.echo(rec.name)
            return 0
        return int(attach_session(engine, rec.id, stdin=tty, tty=tty))


__all__ = ["run_oneoff"]


def _project_environment(ctx: typer.Context) -> dict[str, str]:
    """The project's environment (the process's over its env files: --env-file,
    COMPOSE_ENV_FILES or .env): a bare ``-e KEY`` takes its value from there, as
    compose run does, not from the process environment alone."""
    from stackctl.spec.files import locate

    f = merged_flags(ctx, ProjectFlags())
    opts = load_options(f.files, f.project_name, f.project_directory, f.env_files, f.profiles)
    return dict(locate(opts).environment)
