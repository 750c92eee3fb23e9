"""Looking into a container: ``logs``, ``top``, ``stats``, ``inspect``.

Module level imports typer and the standard library only; each command imports
the engine.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, Optional

import typer

from stackctl.cli._containers import Names, open_engine

if TYPE_CHECKING:
    from stackctl.engine.api import Engine


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
    with open_engine(ctx) as engine:
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


def top(ctx: typer.Context, container: str = typer.Argument(...)) -> None:
    """Display the running processes of a container."""
    from stackctl.cli.render import table

    with open_engine(ctx) as engine:
        titles, rows = engine.top(container)
    typer.echo(table(titles, rows))


def stats(ctx: typer.Context, containers: Optional[list[str]] = typer.Argument(None),  # noqa: UP045
          no_stream: bool = typer.Option(False, "--no-stream", help="One sample, then exit."),
          no_trunc: bool = typer.Option(False, "--no-trunc"),
          fmt: Optional[str] = typer.Option(None, "--format")) -> None:  # noqa: UP045
    """Display resource usage of containers (live, every second; --no-stream: once)."""
    import time as _time

    with open_engine(ctx) as engine:
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
    from stackctl.humanize import human_size

    refs = containers or [r.id for r in engine.list()]
    rows = []
    for s in engine.stats_many(refs):
        pct = s["memory_usage"] / s["memory_limit"] * 100 if s["memory_limit"] else 0.0
        # docker stats: memory in binary units, I/O in decimal ones (3 digits)
        rows.append({"ID": s["id"] if no_trunc else s["id"][:12], "Name": s["name"],
                     "CPUPerc": f"{s['cpu_percent']:.2f}%",
                     "MemUsage": f"{bytes_size(s['memory_usage'])} / "
                                 f"{bytes_size(s['memory_limit'])}",
                     "MemPerc": f"{pct:.2f}%",
                     "NetIO": f"{human_size(s['net_rx'], 3)} / {human_size(s['net_tx'], 3)}",
                     "BlockIO": f"{human_size(s['block_read'], 3)} / "
                                f"{human_size(s['block_write'], 3)}",
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

    from stackctl.cli.render import inspect_text
    from stackctl.errors import NotFound

    out: list[Any] = []
    failed = False
    with open_engine(ctx) as engine:
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
    typer.echo(inspect_text(out, fmt), nl=False)
    if failed:
        raise typer.Exit(1)


def _image_json(engine: Engine, name: str) -> dict[str, Any] | None:
    from stackctl.engine.images.inspect import image_json
    from stackctl.errors import StackctlError

    try:
        rec = engine.images.resolve(name)
    except StackctlError:
        return None
    return image_json(engine.images, rec)


__all__ = ["inspect", "logs", "stats", "top"]
