"""Single-container lifecycle commands with Docker's flags and output shapes:
start, attach, stop, restart, kill, rm, pause, unpause, wait, rename, exec, cp, prune.

``ps`` is in ps_cmd.py, logs/top/stats/inspect in container_info.py, run/create
in run_cmd.py; ``register`` here adds them all. Module level imports typer and
the standard library only; each command imports the engine.
"""

from __future__ import annotations

from typing import Any, Optional

import typer

from stackctl.cli import container_info, ps_cmd, run_cmd
from stackctl.cli._containers import Names, for_each, open_engine

EXEC_SETTINGS = {"allow_interspersed_args": False}


def start(ctx: typer.Context, containers: Names = typer.Argument(...),
          attach: bool = typer.Option(False, "--attach", "-a", help="Attach stdout/stderr."),
          interactive: bool = typer.Option(False, "--interactive", "-i", help="Attach stdin.")
          ) -> None:
    """Start one or more stopped containers."""
    if attach or interactive:
        with open_engine(ctx) as engine:
            rec = engine.start(containers[0], hold=True)
            code = run_cmd.attach_session(engine, rec.id, stdin=interactive,
                                          tty=rec.config.tty)
        raise typer.Exit(code)
    for_each(ctx, containers, lambda e, r: e.start(r), echo=True)


def attach(ctx: typer.Context, container: str = typer.Argument(...),
           no_stdin: bool = typer.Option(False, "--no-stdin", help="Do not attach stdin.")
           ) -> None:
    """Attach this terminal to a running container's output (and input)."""
    with open_engine(ctx) as engine:
        rec = engine.get(container)
        code = run_cmd.attach_session(engine, rec.id, stdin=rec.config.open_stdin and
                                      not no_stdin, tty=rec.config.tty, replay=False)
    raise typer.Exit(code)


def stop(ctx: typer.Context, containers: Names = typer.Argument(...),
         time: Optional[int] = typer.Option(None, "--time", "-t",  # noqa: UP045
                                            help="Seconds to wait before killing.")) -> None:
    """Stop one or more running containers (stop signal, then SIGKILL)."""
    for_each(ctx, containers, lambda e, r: e.stop(r, time), echo=True)


def restart(ctx: typer.Context, containers: Names = typer.Argument(...),
            time: Optional[int] = typer.Option(None, "--time", "-t")) -> None:  # noqa: UP045
    """Restart one or more containers."""
    for_each(ctx, containers, lambda e, r: e.restart(r, time), echo=True)


def kill(ctx: typer.Context, containers: Names = typer.Argument(...),
         signal: str = typer.Option("SIGKILL", "--signal", "-s", help="Signal to send.")) -> None:
    """Kill one or more running containers."""
    for_each(ctx, containers, lambda e, r: e.kill(r, signal), echo=True)


def rm(ctx: typer.Context, containers: Names = typer.Argument(...),
       force: bool = typer.Option(False, "--force", "-f", help="Kill it first if running."),
       volumes: bool = typer.Option(False, "--volumes", "-v", help="Remove anonymous volumes.")
       ) -> None:
    """Remove one or more containers."""
    for_each(ctx, containers, lambda e, r: e.remove(r, force=force, volumes=volumes), echo=True)


def pause(ctx: typer.Context, containers: Names = typer.Argument(...)) -> None:
    """Pause all processes within one or more containers."""
    for_each(ctx, containers, lambda e, r: e.pause(r), echo=True)


def unpause(ctx: typer.Context, containers: Names = typer.Argument(...)) -> None:
    """Unpause all processes within one or more containers."""
    for_each(ctx, containers, lambda e, r: e.unpause(r), echo=True)


def wait(ctx: typer.Context, containers: Names = typer.Argument(...)) -> None:
    """Block until containers stop, then print their exit codes."""
    for_each(ctx, containers, lambda e, r: typer.echo(e.wait(r)))


def rename(ctx: typer.Context, container: str = typer.Argument(...),
           new_name: str = typer.Argument(...)) -> None:
    """Rename a container."""
    with open_engine(ctx) as engine:
        engine.rename(container, new_name)


def exec_(ctx: typer.Context, container: str = typer.Argument(...),
          command: Names = typer.Argument(...),
          interactive: bool = typer.Option(False, "--interactive", "-i"),
          tty: bool = typer.Option(False, "--tty", "-t"),
          detach: bool = typer.Option(False, "--detach", "-d"),
          env: Optional[list[str]] = typer.Option(None, "--env", "-e"),  # noqa: UP045
          user: Optional[str] = typer.Option(None, "--user", "-u"),  # noqa: UP045
          workdir: Optional[str] = typer.Option(None, "--workdir", "-w")) -> None:  # noqa: UP045
    """Run a command in a running container."""
    import subprocess

    with open_engine(ctx) as engine:
        argv = engine.exec_argv(container, command, tty=tty, env=tuple(env or ()), user=user,
                                workdir=workdir, detach=detach)
    stdin = None if interactive or tty else subprocess.DEVNULL
    code = subprocess.run(argv, stdin=stdin, check=False).returncode
    raise typer.Exit(code if code >= 0 else 128 - code)


def cp(ctx: typer.Context, src: str = typer.Argument(...), dest: str = typer.Argument(...),
       archive: bool = typer.Option(False, "--archive", "-a", help="Keep uid/gid.")) -> None:
    """Copy files between a container and the local filesystem (CONTAINER:PATH)."""
    from stackctl.engine.copy import copy_from, copy_to
    from stackctl.errors import UsageError

    src_c, dst_c = _split_cp(src), _split_cp(dest)
    if (src_c is None) == (dst_c is None):
        raise UsageError("cp: exactly one of SRC and DEST must be CONTAINER:PATH",
                         hint="e.g. stackctl cp web:/etc/hosts ./hosts")
    with open_engine(ctx) as engine:
        if src_c is not None:
            copy_from(engine, src_c[0], src_c[1], dest)
        else:
            assert dst_c is not None
            copy_to(engine, src, dst_c[0], dst_c[1], archive=archive)


def _split_cp(arg: str) -> tuple[str, str] | None:
    if arg.startswith(("/", ".")) or ":" not in arg:
        return None
    name, _, path = arg.partition(":")
    return name, path or "/"


def prune(ctx: typer.Context,
          force: bool = typer.Option(False, "--force", "-f", help="Do not prompt.")) -> None:
    """Remove all stopped containers."""
    if not force and not typer.confirm(
            "WARNING! This will remove all stopped containers.\nAre you sure you want to "
            "continue?", default=False):
        raise typer.Exit(1)
    with open_engine(ctx) as engine:
        removed = engine.prune()
    if removed:
        typer.echo("Deleted Containers:")
        for cid in removed:
            typer.echo(cid)
        typer.echo("")
    typer.echo("Total reclaimed space: 0B")



def commands() -> list[tuple[str, Any]]:
    """The single-container commands, by name (run/create: run_cmd.py)."""
    return [("start", start), ("attach", attach), ("stop", stop), ("restart", restart),
            ("kill", kill), ("rm", rm), ("ps", ps_cmd.ps), ("logs", container_info.logs),
            ("top", container_info.top), ("inspect", container_info.inspect), ("wait", wait),
            ("cp", cp), ("rename", rename), ("pause", pause), ("unpause", unpause),
            ("stats", container_info.stats)]


def register(app: typer.Typer) -> None:
    # run/create (run_cmd.py) and the `container` group (container_group.py) are
    # separate modules: typer converts every registered command on each invocation,
    # and the CLI registers only the module that owns the command being run.
    for name, fn in commands():
        app.command(name)(fn)
    app.command("exec", context_settings=EXEC_SETTINGS)(exec_)
