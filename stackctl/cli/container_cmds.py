"""Single-container lifecycle commands with Docker's flags and output shapes:
start, attach, stop, restart, kill, rm, pause, unpause, wait, rename, exec, cp, prune.

``ps`` is in ps_cmd.py, logs/top/stats/inspect in container_info.py, run/create
in run_cmd.py; ``register`` here adds them all. Module level imports typer and
the standard library only; each command imports the engine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

import typer

from stackctl.cli import container_info, ps_cmd, run_flow
from stackctl.cli._containers import Names, for_each, for_each_at_once, open_engine
from stackctl.cli.prompt import confirm

if TYPE_CHECKING:
    from stackctl.engine.api import Engine

EXEC_SETTINGS = {"allow_interspersed_args": False}


def start(ctx: typer.Context, containers: Names = typer.Argument(...),
          attach: bool = typer.Option(False, "--attach", "-a", help="Attach stdout/stderr."),
          interactive: bool = typer.Option(False, "--interactive", "-i", help="Attach stdin.")
          ) -> None:
    """Start one or more stopped containers."""
    if (attach or interactive) and len(containers) > 1:
        from stackctl.errors import UsageError

        raise UsageError("you cannot start and attach multiple containers at once",
                         hint="start -a takes one container; start the others without -a")
    if attach or interactive:
        with open_engine(ctx) as engine:
            _check_tty(interactive and engine.get(containers[0]).config.open_stdin,
                       engine.get(containers[0]).config.tty)
            rec = engine.start(containers[0], hold=True)
            code = run_flow.attach_session(engine, rec.id, stdin=interactive,
                                          tty=rec.config.tty)
        raise typer.Exit(code)
    for_each(ctx, containers, lambda e, r: e.start(r), echo=True)


def attach(ctx: typer.Context, container: str = typer.Argument(...),
           no_stdin: bool = typer.Option(False, "--no-stdin", help="Do not attach stdin.")
           ) -> None:
    """Attach this terminal to a running container's output (and input)."""
    with open_engine(ctx) as engine:
        rec = engine.get(container)
        _check_tty(rec.config.open_stdin and not no_stdin, rec.config.tty)
        code = run_flow.attach_session(engine, rec.id, stdin=rec.config.open_stdin and
                                      not no_stdin, tty=rec.config.tty, replay=False)
    raise typer.Exit(code)


def _check_tty(stdin: bool, tty: bool) -> None:
    """As docker: a container's pty fed from a pipe never sees the pipe's end (the
    session would hang), so stdin must be a terminal then."""
    import sys

    from stackctl.errors import StackctlError

    if stdin and tty and not sys.stdin.isatty():
        raise StackctlError("the input device is not a TTY",
                            hint="run it from a terminal, or without -i")


def stop(ctx: typer.Context, containers: Names = typer.Argument(...),
         time: Optional[int] = typer.Option(None, "--time", "-t",  # noqa: UP045
                                            help="Seconds to wait before killing."),
         signal: Optional[str] = typer.Option(None, "--signal", "-s",  # noqa: UP045
                                              help="Signal to send (default: the "
                                                   "container's stop signal).")) -> None:
    """Stop one or more running containers (stop signal, then SIGKILL)."""
    if len(containers) > 1:  # docker stops them all at once
        for_each_at_once(ctx, containers, lambda e, r: _stop(e, r, time, signal))
        return
    for_each(ctx, containers, lambda e, r: _stop(e, r, time, signal), echo=True)


def restart(ctx: typer.Context, containers: Names = typer.Argument(...),
            time: Optional[int] = typer.Option(None, "--time", "-t"),  # noqa: UP045
            signal: Optional[str] = typer.Option(None, "--signal", "-s",  # noqa: UP045
                                                 help="Signal to stop it with.")) -> None:
    """Restart one or more containers."""
    def again(engine: Engine, ref: str) -> None:
        _stop(engine, ref, time, signal, keep=True)  # a --rm container comes back too
        engine.start(ref)

    for_each(ctx, containers, again, echo=True)


def _stop(engine: Engine, ref: str, time: int | None, signal: str | None, *,
          keep: bool = False) -> None:
    """``stop -s SIG``: SIG instead of the stop signal, SIGKILL after ``time`` seconds.
    ``keep``: a --rm container is not removed (restart)."""
    import time as _time

    if signal is None:
        engine.stop(ref, time, keep=keep)
        return
    rec = engine.get(ref)
    if not rec.running:
        return
    from stackctl.errors import NotFound

    def running() -> bool:  # a --rm container is removed once it exits: stopped
        try:
            return engine.get(rec.id).running
        except NotFound:
            return False

    engine.kill(rec.id, signal, keep=keep)
    grace = time if time is not None else (rec.config.stop_timeout or 10)
    deadline = _time.monotonic() + (grace if grace >= 0 else float("inf"))
    while running() and _time.monotonic() < deadline:
        _time.sleep(0.05)
    if running():
        engine.stop(rec.id, 0, keep=keep)  # still up after the grace period: SIGKILL


def kill(ctx: typer.Context, containers: Names = typer.Argument(...),
         signal: str = typer.Option("SIGKILL", "--signal", "-s", help="Signal to send.")) -> None:
    """Kill one or more running containers."""
    from stackctl.errors import UsageError

    if signal.strip().lstrip("-").isdigit() and int(signal) <= 0:  # docker: not a signal
        raise UsageError(f"--signal {signal}: invalid signal: {signal}",
                         hint="use a name like SIGTERM or a number from 1")
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
    from stackctl.errors import Conflict

    with open_engine(ctx) as engine:
        if engine.get(container).name == new_name.lstrip("/"):
            raise Conflict("renaming a container with the same name as its current name",
                           hint="choose another name")
        engine.rename(container, new_name)


def exec_(ctx: typer.Context, container: str = typer.Argument(...),
          command: Names = typer.Argument(...),
          interactive: bool = typer.Option(False, "--interactive", "-i"),
          tty: bool = typer.Option(False, "--tty", "-t"),
          detach: bool = typer.Option(False, "--detach", "-d"),
          env: Optional[list[str]] = typer.Option(None, "--env", "-e"),  # noqa: UP045
          env_file: Optional[list[str]] = typer.Option(  # noqa: UP045
              None, "--env-file", help="Read environment variables from a file."),
          user: Optional[str] = typer.Option(None, "--user", "-u"),  # noqa: UP045
          workdir: Optional[str] = typer.Option(None, "--workdir", "-w"),  # noqa: UP045
          privileged: bool = typer.Option(False, "--privileged",
                                          help="Give extended privileges to the command."),
          ) -> None:
    """Run a command in a running container."""
    import subprocess

    _check_tty(interactive and not detach, tty)
    # docker: --env-file first, then -e, so a flag overrides the file
    variables = [*(v for f in env_file or [] for v in _env_file(f)), *_env_flags(env or [])]
    with open_engine(ctx) as engine:
        # -d with -t: nothing would ever read the pty, and the launcher holds none for a
        # detached process: it runs without one (docker gives it a pty nobody reads)
        argv = engine.exec_argv(container, command, tty=tty and not detach,
                                env=tuple(variables), user=user,
                                workdir=workdir, detach=detach, privileged=privileged)
    stdin = None if interactive or tty else subprocess.DEVNULL
    code = subprocess.run(argv, stdin=stdin, check=False).returncode
    raise typer.Exit(code if code >= 0 else 128 - code)


def _env_flags(values: list[str]) -> list[str]:
    """``-e NAME`` without a value takes NAME from this environment (dropped if unset)."""
    import os

    out = []
    for v in values:
        if "=" in v:
            out.append(v)
        elif v in os.environ:
            out.append(f"{v}={os.environ[v]}")
    return out


def _env_file(path: str) -> list[str]:
    """docker's --env-file: VAR=VAL lines, # comments, a bare VAR from this environment."""
    from stackctl.errors import UsageError

    try:
        text = open(path, encoding="utf-8").read()  # noqa: SIM115
    except OSError as exc:
        raise UsageError(f"--env-file {path}: {exc.strerror}",
                         hint="give a file of VAR=value lines") from None
    lines = [ln.lstrip() for ln in text.splitlines()]
    for n, ln in enumerate(lines, 1):
        name = ln.split("=", 1)[0]
        if ln and not ln.startswith("#") and (not name or any(c.isspace() for c in name)):
            raise UsageError(f"--env-file {path}:{n}: variable '{name}' contains whitespaces",
                             hint="lines look like VAR=value")
    return _env_flags([ln for ln in lines if ln and not ln.startswith("#")])


def cp(ctx: typer.Context, src: str = typer.Argument(...), dest: str = typer.Argument(...),
       archive: bool = typer.Option(False, "--archive", "-a",
                                    help="Archive mode (copy all uid/gid information)."),
       follow: bool = typer.Option(False, "--follow-link", "-L",
                                   help="Always follow symbol link in SRC_PATH.")) -> None:
    """Copy files between a container and the local filesystem (CONTAINER:PATH)."""
    from stackctl.engine.copy import copy_from, copy_to
    from stackctl.errors import UsageError

    src_c, dst_c = _split_cp(src), _split_cp(dest)
    if (src_c is None) == (dst_c is None):
        raise UsageError("cp: exactly one of SRC and DEST must be CONTAINER:PATH",
                         hint="e.g. stackctl cp web:/etc/hosts ./hosts")
    with open_engine(ctx) as engine:
        if src_c is not None:
            copy_from(engine, src_c[0], src_c[1], dest, archive=archive, follow=follow)
        else:
            assert dst_c is not None
            copy_to(engine, src, dst_c[0], dst_c[1], archive=archive, follow=follow)


def _split_cp(arg: str) -> tuple[str, str] | None:
    if arg.startswith(("/", ".")) or ":" not in arg:
        return None
    name, _, path = arg.partition(":")
    return name, path or "/"


def prune(ctx: typer.Context,
          force: bool = typer.Option(False, "--force", "-f", help="Do not prompt."),
          filters: Optional[list[str]] = typer.Option(  # noqa: UP045
              None, "--filter", help="until=24h|TIMESTAMP, label=K[=V], label!=K[=V].")
          ) -> None:
    """Remove all stopped containers."""
    keep = _prune_keep(filters or [])
    if not force and not confirm(
            "WARNING! This will remove all stopped containers.\nAre you sure you want to "
            "continue?"):
        raise typer.Exit(0)
    from stackctl.cli.render import pruned
    from stackctl.engine.images.system_df import du

    freed = 0
    removed = []
    with open_engine(ctx) as engine:
        for r in engine.list(all_=True):
            if not r.running and not keep(r):
                size = du(engine.paths(r.id).upper)  # what docker reports: the writable layer
                removed.append(engine.remove(r.id))
                freed += size
    typer.echo(pruned([("Deleted Containers:", removed)], freed))


def _prune_keep(filters: list[str]) -> Any:
    """docker container prune --filter: a predicate that says which containers stay."""
    import time as _time

    from stackctl.cli.container_info import when
    from stackctl.engine.logs import parse_time
    from stackctl.errors import UsageError

    until: list[float] = []
    labels: list[tuple[bool, str, str | None]] = []
    for f in filters:
        key, _, value = f.partition("=")
        if key == "until":
            until.append(when(value, "--filter until") or _time.time())
        elif key in ("label", "label!"):
            k, sep, v = value.partition("=")
            labels.append((key == "label!", k, v if sep else None))
        else:
            raise UsageError(f"--filter {f}: invalid filter {key!r}",
                             hint="container prune filters: until=, label=, label!=")

    def keep(rec: Any) -> bool:
        if any(parse_time(rec.created) >= u for u in until):
            return True
        # pruned only if every label= matches and no label!= does
        return any((k in rec.labels and (v is None or rec.labels[k] == v)) == negate
                   for negate, k, v in labels)
    return keep


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
        app.command(name, context_settings=settings(name))(fn)
    app.command("exec", context_settings=EXEC_SETTINGS)(exec_)


def settings(name: str) -> dict[str, Any] | None:
    # top CONTAINER aux / -eo pid,comm: what follows the container goes to ps
    return EXEC_SETTINGS if name == "top" else None
