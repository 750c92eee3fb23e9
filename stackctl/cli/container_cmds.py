"""Single-container commands with Docker's flags and output shapes.

run/create live in run_cmd.py; this module registers them too. Module level
imports typer and the standard library only; each command imports the engine.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, Optional

import typer

from stackctl.cli import run_cmd
from stackctl.cli.options import GlobalOptions

if TYPE_CHECKING:
    from collections.abc import Sequence

    from stackctl.engine.api import Engine
    from stackctl.engine.containers import ContainerRecord

Names = list[str]
EXEC_SETTINGS = {"allow_interspersed_args": False}


def _engine(ctx: typer.Context) -> Engine:
    from stackctl.engine.api import Engine

    g: GlobalOptions = ctx.obj
    return Engine(g.root, g.run_root)


def _each(ctx: typer.Context, refs: list[str], action: Any, *, echo: bool = False) -> None:
    """Apply ``action`` to every container; report failures like Docker, exit 1 at the end."""
    from stackctl.errors import StackctlError

    failed = False
    with _engine(ctx) as engine:
        for ref in refs:
            try:
                action(engine, ref)
                if echo:
                    typer.echo(ref)
            except StackctlError as exc:
                sys.stderr.write(f"Error response from daemon: {exc.message}\n")
                if exc.hint:
                    sys.stderr.write(f"Hint: {exc.hint}\n")
                failed = True
    if failed:
        raise typer.Exit(1)


def start(ctx: typer.Context, containers: Names = typer.Argument(...),
          attach: bool = typer.Option(False, "--attach", "-a", help="Attach stdout/stderr."),
          interactive: bool = typer.Option(False, "--interactive", "-i", help="Attach stdin.")
          ) -> None:
    """Start one or more stopped containers."""
    if attach or interactive:
        with _engine(ctx) as engine:
            rec = engine.start(containers[0], hold=True)
            code = run_cmd.attach_session(engine, rec.id, stdin=interactive,
                                          tty=rec.config.tty)
        raise typer.Exit(code)
    _each(ctx, containers, lambda e, r: e.start(r), echo=True)


def attach(ctx: typer.Context, container: str = typer.Argument(...),
           no_stdin: bool = typer.Option(False, "--no-stdin", help="Do not attach stdin.")
           ) -> None:
    """Attach this terminal to a running container's output (and input)."""
    with _engine(ctx) as engine:
        rec = engine.get(container)
        code = run_cmd.attach_session(engine, rec.id, stdin=rec.config.open_stdin and
                                      not no_stdin, tty=rec.config.tty, replay=False)
    raise typer.Exit(code)


def stop(ctx: typer.Context, containers: Names = typer.Argument(...),
         time: Optional[int] = typer.Option(None, "--time", "-t",  # noqa: UP045
                                            help="Seconds to wait before killing.")) -> None:
    """Stop one or more running containers (stop signal, then SIGKILL)."""
    _each(ctx, containers, lambda e, r: e.stop(r, time), echo=True)


def restart(ctx: typer.Context, containers: Names = typer.Argument(...),
            time: Optional[int] = typer.Option(None, "--time", "-t")) -> None:  # noqa: UP045
    """Restart one or more containers."""
    _each(ctx, containers, lambda e, r: e.restart(r, time), echo=True)


def kill(ctx: typer.Context, containers: Names = typer.Argument(...),
         signal: str = typer.Option("SIGKILL", "--signal", "-s", help="Signal to send.")) -> None:
    """Kill one or more running containers."""
    _each(ctx, containers, lambda e, r: e.kill(r, signal), echo=True)


def rm(ctx: typer.Context, containers: Names = typer.Argument(...),
       force: bool = typer.Option(False, "--force", "-f", help="Kill it first if running."),
       volumes: bool = typer.Option(False, "--volumes", "-v", help="Remove anonymous volumes.")
       ) -> None:
    """Remove one or more containers."""
    _each(ctx, containers, lambda e, r: e.remove(r, force=force, volumes=volumes), echo=True)


def pause(ctx: typer.Context, containers: Names = typer.Argument(...)) -> None:
    """Pause all processes within one or more containers."""
    _each(ctx, containers, lambda e, r: e.pause(r), echo=True)


def unpause(ctx: typer.Context, containers: Names = typer.Argument(...)) -> None:
    """Unpause all processes within one or more containers."""
    _each(ctx, containers, lambda e, r: e.unpause(r), echo=True)


def wait(ctx: typer.Context, containers: Names = typer.Argument(...)) -> None:
    """Block until containers stop, then print their exit codes."""
    _each(ctx, containers, lambda e, r: typer.echo(e.wait(r)))


def rename(ctx: typer.Context, container: str = typer.Argument(...),
           new_name: str = typer.Argument(...)) -> None:
    """Rename a container."""
    with _engine(ctx) as engine:
        engine.rename(container, new_name)


# ---- ps ----------------------------------------------------------------------------------------
def ps_row(rec: ContainerRecord, *, no_trunc: bool) -> dict[str, str]:
    from stackctl.cli.render import ago, human_duration
    from stackctl.engine.logs import parse_time

    command = " ".join([*(rec.config.entrypoint or ()), *(rec.config.command or ())])
    command = f'"{command}"' if no_trunc or len(command) <= 20 else f'"{command[:19]}…"'
    status = _status_text(rec, human_duration, parse_time)
    return {
        "ID": rec.id if no_trunc else rec.short_id,
        "Image": rec.image_ref,
        "Command": command,
        "CreatedAt": rec.created,
        "RunningFor": ago(parse_time(rec.created)),
        "Ports": _ports_text(rec.config.publish, rec.config.expose),
        "State": rec.status.value,
        "Status": status,
        "Names": rec.name,
        "Labels": ",".join(f"{k}={v}" for k, v in rec.labels.items()),
        "Networks": rec.config.network,
    }


def _ports_text(publish: Sequence[str], expose: Sequence[str] = ()) -> str:
    """Docker's PORTS column: ``127.0.0.1:8080->80/tcp`` for a published port (not the
    ``-p`` spec as given), ``3306/tcp`` for an exposed one that is not published; by
    container port. A random host port, unknown here, shows as the container port."""
    from stackctl.errors import StackctlError
    from stackctl.net.ports import parse_publish

    entries: list[tuple[int, str, str]] = []
    published: set[str] = set()
    for spec in publish:
        try:
            mappings = parse_publish(spec)
        except StackctlError:
            entries.append((0, "", spec))
            continue
        for m in mappings:
            published.add(f"{m.container_port}/{m.protocol}")
            entries.append((m.container_port, m.protocol, m.display() if m.host_port
                            else f"{m.container_port}/{m.protocol}"))
    for port in expose:
        number, _, proto = port.partition("/")
        key = f"{number}/{proto or 'tcp'}"
        if key not in published and number.isdigit():
            published.add(key)
            entries.append((int(number), proto or "tcp", key))
    return ", ".join(text for _, _, text in sorted(entries))


def _status_text(rec: ContainerRecord, human: Any, parse_time: Any) -> str:
    import time as _time

    s = rec.status.value
    if s in ("running", "paused") and rec.started_at:
        text = "Up " + str(human(_time.time() - parse_time(rec.started_at)))
        if rec.health is not None:
            hs = rec.health.status
            text += f" ({'health: starting' if hs == 'starting' else hs})"
        return text + (" (Paused)" if s == "paused" else "")
    if s == "exited":
        since = parse_time(rec.finished_at) if rec.finished_at else None
        when = f" {human(_time.time() - since)} ago" if since else ""
        return f"Exited ({rec.exit_code or 0}){when}"
    if s == "restarting":
        return f"Restarting ({rec.exit_code or 0}) Less than a second ago"
    return {"created": "Created", "removing": "Removal In Progress", "dead": "Dead"}.get(s, s)


def _match(rec: ContainerRecord, filters: list[str]) -> bool:
    from stackctl.errors import UsageError

    for f in filters:
        key, _, value = f.partition("=")
        if key == "status":
            ok = rec.status.value == value
        elif key == "name":
            ok = value in rec.name
        elif key == "id":
            ok = rec.id.startswith(value)
        elif key == "label":
            k, sep, v = value.partition("=")
            ok = k in rec.labels and (not sep or rec.labels[k] == v)
        elif key == "exited":
            ok = rec.status.value == "exited" and str(rec.exit_code) == value
        elif key == "ancestor":
            ok = rec.image_ref == value or rec.image_id.startswith(value)
        elif key == "health":
            ok = (rec.health.status if rec.health else "none") == value
        else:
            raise UsageError(f"--filter {f}: unknown filter {key!r}",
                             hint="use status, name, id, label, exited, ancestor or health")
        if not ok:
            return False
    return True


def ps(ctx: typer.Context,
       all_: bool = typer.Option(False, "--all", "-a", help="Show all containers."),
       quiet: bool = typer.Option(False, "--quiet", "-q", help="Only ids."),
       latest: bool = typer.Option(False, "--latest", "-l", help="Only the latest created."),
       last: int = typer.Option(-1, "--last", "-n", help="Show n last created."),
       no_trunc: bool = typer.Option(False, "--no-trunc", help="Don't truncate output."),
       filter_: Optional[list[str]] = typer.Option(None, "--filter", "-f",  # noqa: UP045
                                                   help="e.g. status=exited, label=k=v."),
       fmt: Optional[str] = typer.Option(None, "--format",  # noqa: UP045
                                         help="table | json | Go template.")) -> None:
    """List containers."""
    from stackctl.cli.render import format_rows, table

    with _engine(ctx) as engine:
        recs = engine.list(all_=all_ or latest or last >= 0 or bool(filter_))
    recs = [r for r in recs if _match(r, filter_ or [])]
    if latest:
        recs = recs[:1]
    elif last >= 0:
        recs = recs[:last]
    if quiet:
        for r in recs:
            typer.echo(r.id if no_trunc else r.short_id)
        return
    rows = [ps_row(r, no_trunc=no_trunc) for r in recs]
    if fmt and fmt != "table":
        out = format_rows(fmt, rows)
        if out:
            typer.echo(out)
        return
    typer.echo(table(["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS",
                      "NAMES"],
                     [[r["ID"], r["Image"], r["Command"], r["RunningFor"], r["Status"],
                       r["Ports"], r["Names"]] for r in rows]))


# ---- logs / exec / top / stats / inspect --------------------------------------------------------
def logs(ctx: typer.Context, container: str = typer.Argument(...),
         follow: bool = typer.Option(False, "--follow", "-f", help="Follow log output."),
         tail: str = typer.Option("all", "--tail", "-n", help="Lines from the end."),
         timestamps: bool = typer.Option(False, "--timestamps", "-t", help="Show timestamps."),
         since: Optional[str] = typer.Option(None, "--since"),  # noqa: UP045
         until: Optional[str] = typer.Option(None, "--until")) -> None:  # noqa: UP045
    """Fetch the logs of a container."""
    from stackctl.errors import UsageError

    if tail != "all" and not tail.lstrip("-").isdigit():
        raise UsageError(f"--tail {tail}: expected a number or 'all'")
    n = None if tail == "all" or int(tail) < 0 else int(tail)
    out, err = sys.stdout.buffer, sys.stderr.buffer
    with _engine(ctx) as engine:
        try:
            for e in engine.logs(container, follow=follow, tail=n, since=_when(since, "--since"),
                                 until=_when(until, "--until")):
                target = err if e.stream == "stderr" else out
                text = e.log.encode()
                target.write((e.time.encode() + b" " + text) if timestamps else text)
                target.flush()
        except KeyboardInterrupt:
            return


def _when(text: str | None, flag: str) -> float | None:
    """Docker's --since/--until: RFC 3339, a Unix timestamp, or a duration ago (10m)."""
    import time as _time

    from stackctl.engine.logs import parse_time
    from stackctl.errors import UsageError

    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        pass
    try:
        from stackctl.spec.units import parse_duration

        return _time.time() - parse_duration(text)
    except ValueError:
        pass
    try:
        return parse_time(text)
    except ValueError:
        raise UsageError(f"{flag} {text}: expected a timestamp or a duration like 10m") from None


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

    with _engine(ctx) as engine:
        argv = engine.exec_argv(container, command, tty=tty, env=tuple(env or ()), user=user,
                                workdir=workdir, detach=detach)
    stdin = None if interactive or tty else subprocess.DEVNULL
    code = subprocess.run(argv, stdin=stdin, check=False).returncode
    raise typer.Exit(code if code >= 0 else 128 - code)


def top(ctx: typer.Context, container: str = typer.Argument(...)) -> None:
    """Display the running processes of a container."""
    from stackctl.cli.render import table

    with _engine(ctx) as engine:
        titles, rows = engine.top(container)
    typer.echo(table(titles, rows))


def stats(ctx: typer.Context, containers: Optional[list[str]] = typer.Argument(None),  # noqa: UP045
          no_stream: bool = typer.Option(False, "--no-stream", help="One sample, then exit."),
          no_trunc: bool = typer.Option(False, "--no-trunc"),
          fmt: Optional[str] = typer.Option(None, "--format")) -> None:  # noqa: UP045
    """Display resource usage of containers (live, every second; --no-stream: once)."""
    import time as _time

    with _engine(ctx) as engine:
        while True:
            text = _stats_text(engine, containers, no_trunc=no_trunc, fmt=fmt)
            if no_stream:
                typer.echo(text)
                return
            typer.echo("\x1b[2J\x1b[H" + text)  # redraw in place, as docker stats does
            try:
                _time.sleep(0.8)
            except KeyboardInterrupt:
                return


def _stats_text(engine: Engine, containers: list[str] | None, *, no_trunc: bool,
                fmt: str | None) -> str:
    from stackctl.cli.render import bytes_size, format_rows, table

    refs = containers or [r.id for r in engine.list()]
    samples = [engine.stats(r) for r in refs]
    rows = []
    for s in samples:
        pct = s["memory_usage"] / s["memory_limit"] * 100 if s["memory_limit"] else 0.0
        rows.append({"ID": s["id"] if no_trunc else s["id"][:12], "Name": s["name"],
                     "CPUPerc": f"{s['cpu_percent']:.2f}%",
                     "MemUsage": f"{bytes_size(s['memory_usage'])} / "
                                 f"{bytes_size(s['memory_limit'])}",
                     "MemPerc": f"{pct:.2f}%", "NetIO": "0B / 0B", "BlockIO": "0B / 0B",
                     "PIDs": str(s["pids"])})
    if fmt:
        return format_rows(fmt, rows)
    return table(["CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "NET I/O",
                  "BLOCK I/O", "PIDS"],
                 [[r["ID"], r["Name"], r["CPUPerc"], r["MemUsage"], r["MemPerc"], r["NetIO"],
                   r["BlockIO"], r["PIDs"]] for r in rows])


def inspect(ctx: typer.Context, names: Names = typer.Argument(...),
            fmt: Optional[str] = typer.Option(None, "--format", "-f"),  # noqa: UP045
            type_: Optional[str] = typer.Option(None, "--type")) -> None:  # noqa: UP045
    """Docker-shaped JSON for containers (and images)."""
    import json

    from stackctl.cli.render import render_template
    from stackctl.errors import NotFound

    out: list[Any] = []
    failed = False
    with _engine(ctx) as engine:
        for name in names:
            try:
                if type_ == "image":
                    raise NotFound(name)
                out.append(engine.inspect(name))
            except NotFound:
                data = _image_json(engine, name) if type_ != "container" else None
                if data is None:
                    sys.stderr.write(f"Error: No such object: {name}\n")
                    failed = True
                else:
                    out.append(data)
    if fmt:
        for item in out:
            typer.echo(render_template(fmt, item))
    else:
        typer.echo(json.dumps(out, indent=4))
    if failed:
        raise typer.Exit(1)


def _image_json(engine: Engine, name: str) -> dict[str, Any] | None:
    from stackctl.errors import StackctlError

    try:
        rec = engine.images.resolve(name)
    except StackctlError:
        return None
    try:
        import importlib

        image_inspect = importlib.import_module("stackctl.engine.images.inspect")  # D's
        return dict(image_inspect.image_json(engine.images, rec))
    except (ImportError, AttributeError):
        return {"Id": rec.id, "RepoTags": list(rec.refs), "Created": rec.created,
                "Size": rec.size}


def cp(ctx: typer.Context, src: str = typer.Argument(...), dest: str = typer.Argument(...),
       archive: bool = typer.Option(False, "--archive", "-a", help="Keep uid/gid.")) -> None:
    """Copy files between a container and the local filesystem (CONTAINER:PATH)."""
    from stackctl.engine.copy import copy_from, copy_to
    from stackctl.errors import UsageError

    src_c, dst_c = _split_cp(src), _split_cp(dest)
    if (src_c is None) == (dst_c is None):
        raise UsageError("cp: exactly one of SRC and DEST must be CONTAINER:PATH",
                         hint="e.g. stackctl cp web:/etc/hosts ./hosts")
    with _engine(ctx) as engine:
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
    with _engine(ctx) as engine:
        removed = engine.prune()
    if removed:
        typer.echo("Deleted Containers:")
        for cid in removed:
            typer.echo(cid)
        typer.echo("")
    typer.echo("Total reclaimed space: 0B")


def commands() -> list[tuple[str, Any]]:
    """The single-container commands of this module, by name (run/create: run_cmd.py)."""
    return [("start", start), ("attach", attach), ("stop", stop), ("restart", restart),
            ("kill", kill), ("rm", rm), ("ps", ps), ("logs", logs), ("top", top),
            ("inspect", inspect), ("wait", wait), ("cp", cp), ("rename", rename),
            ("pause", pause), ("unpause", unpause), ("stats", stats)]


def register(app: typer.Typer) -> None:
    # run/create (run_cmd.py) and the `container` group (container_group.py) are
    # separate modules: typer converts every registered command on each invocation,
    # and the CLI registers only the module that owns the command being run.
    for name, fn in commands():
        app.command(name)(fn)
    app.command("exec", context_settings=EXEC_SETTINGS)(exec_)
