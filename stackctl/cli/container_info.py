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
         details: bool = typer.Option(False, "--details",
                                      help="Show extra details provided to logs."),
         follow: bool = typer.Option(False, "--follow", "-f", help="Follow log output."),
         tail: str = typer.Option("all", "--tail", "-n", help="Lines from the end."),
         timestamps: bool = typer.Option(False, "--timestamps", "-t", help="Show timestamps."),
         since: Optional[str] = typer.Option(None, "--since"),  # noqa: UP045
         until: Optional[str] = typer.Option(None, "--until")) -> None:  # noqa: UP045
    """Fetch the logs of a container."""
    # docker: a negative number or a non-integer --tail means all
    n = int(tail) if tail.strip().isdigit() else None
    out, err = sys.stdout.buffer, sys.stderr.buffer
    with open_engine(ctx) as engine:
        try:
            for e in engine.logs(container, follow=follow, tail=n, since=when(since, "--since"),
                                 until=when(until, "--until")):
                target = err if e.stream == "stderr" else out
                text = e.log.encode()
                if details:  # docker: the --log-opt attributes, then a space (none kept here)
                    text = b" " + text
                target.write((e.time.encode() + b" " + text) if timestamps else text)
                target.flush()
        except KeyboardInterrupt:
            return


def when(text: str | None, flag: str) -> float | None:
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


def top(ctx: typer.Context, container: str = typer.Argument(...),
        ps_args: Optional[list[str]] = typer.Argument(None, metavar="[ps OPTIONS]")  # noqa: UP045
        ) -> None:
    """Display the running processes of a container."""
    from stackctl.humanize import table

    with open_engine(ctx) as engine:
        titles, rows = _ps(engine, container, ps_args) if ps_args else engine.top(container)
    typer.echo(table([titles, *rows], minwidth=20))  # docker top's tabwriter: 20 wide


def _ps(engine: Engine, ref: str, args: list[str]) -> tuple[list[str], list[list[str]]]:
    """docker top CONTAINER [ps OPTIONS]: the host's ps with those options, cut to the
    container's processes by its PID column."""
    import subprocess

    from stackctl.engine import oci
    from stackctl.errors import Conflict, UsageError

    rec = engine.get(ref)
    if not rec.running:
        raise Conflict(f"container {rec.name} is not running")
    pids = {str(p) for p in oci.cgroup_pids(engine.paths(rec.id).cgroup_name)}
    res = subprocess.run(["ps", *args], capture_output=True, text=True, check=False)
    if res.returncode != 0:
        raise UsageError(f"top: ps {' '.join(args)}: {res.stderr.strip() or 'failed'}",
                         hint="ps options as for ps(1), e.g. aux or -o pid,comm")
    lines = res.stdout.splitlines()
    titles = lines[0].split() if lines else []
    if "PID" not in titles:
        raise UsageError(f"top: ps {' '.join(args)}: couldn't find PID field in ps output",
                         hint="keep the pid column, e.g. -o pid,comm")
    at = titles.index("PID")
    rows = [cols for cols in (ln.split(None, len(titles) - 1) for ln in lines[1:])
            if len(cols) > at and cols[at] in pids]
    return titles, rows


def stats(ctx: typer.Context, containers: Optional[list[str]] = typer.Argument(None),  # noqa: UP045
          all_: bool = typer.Option(False, "--all", "-a",
                                    help="Show all containers (default shows just running)."),
          no_stream: bool = typer.Option(False, "--no-stream", help="One sample, then exit."),
          no_trunc: bool = typer.Option(False, "--no-trunc"),
          fmt: Optional[str] = typer.Option(None, "--format")) -> None:  # noqa: UP045
    """Display resource usage of containers (live, every second; --no-stream: once)."""
    import time as _time

    with open_engine(ctx) as engine:
        while True:
            text = _stats_text(engine, containers, all_=all_, no_trunc=no_trunc, fmt=fmt)
            if no_stream:
                typer.echo(text)
                return
            typer.echo("\x1b[2J\x1b[H" + text)  # redraw in place, as docker stats does
            try:
                _time.sleep(0.8)
            except KeyboardInterrupt:
                return


def _stats_text(engine: Engine, containers: list[str] | None, *, all_: bool, no_trunc: bool,
                fmt: str | None) -> str:
    from stackctl.cli.render import bytes_size, format_rows, table
    from stackctl.humanize import human_size

    recs = [engine.get(c) for c in containers] if containers else engine.list(all_=all_)
    live = engine.stats_many([r.id for r in recs if r.running])
    # a stopped container has nothing to sample: docker shows it with zeros
    zero = dict.fromkeys(("cpu_percent", "memory_usage", "memory_limit", "net_rx", "net_tx",
                          "block_read", "block_write", "pids"), 0)
    samples: list[dict[str, Any]] = [live.pop(0) if r.running else
                                     {**zero, "id": r.id, "name": r.name}
                                     for r in recs]
    rows = []
    # {{.Container}}: the name or id as given on the command line (docker), else the id
    given = containers or [s["id"][:12] for s in samples]
    for s, container in zip(samples, given, strict=True):
        pct = s["memory_usage"] / s["memory_limit"] * 100 if s["memory_limit"] else 0.0
        # docker stats: memory in binary units, I/O in decimal ones (3 digits)
        row = {"Container": container,
               "ID": s["id"] if no_trunc else s["id"][:12], "Name": s["name"],
               "CPUPerc": f"{s['cpu_percent']:.2f}%",
               "MemUsage": f"{bytes_size(s['memory_usage'])} / "
                           f"{bytes_size(s['memory_limit'])}",
               "MemPerc": f"{pct:.2f}%",
               "NetIO": f"{human_size(s['net_rx'], 3)} / {human_size(s['net_tx'], 3)}",
               "BlockIO": f"{human_size(s['block_read'], 3)} / "
                          f"{human_size(s['block_write'], 3)}",
               "PIDs": str(s["pids"])}
        rows.append(dict(sorted(row.items())))  # docker's --format json: keys sorted
    if fmt:
        return format_rows(fmt, rows)
    return table(["CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "NET I/O",
                  "BLOCK I/O", "PIDS"],
                 [[r["ID"], r["Name"], r["CPUPerc"], r["MemUsage"], r["MemPerc"], r["NetIO"],
                   r["BlockIO"], r["PIDs"]] for r in rows])


def inspect(ctx: typer.Context, names: Names = typer.Argument(...),
            fmt: Optional[str] = typer.Option(None, "--format", "-f"),  # noqa: UP045
            type_: Optional[str] = typer.Option(None, "--type",  # noqa: UP045
                                                help="container, image or volume."),
            size: bool = typer.Option(False, "--size", "-s",
                                      help="Display total file sizes (containers).")) -> None:
    """Docker-shaped JSON for containers, images and volumes."""
    from stackctl.cli.render import inspect_text
    from stackctl.errors import UsageError

    kinds = ("container", "image", "volume")
    if type_ is None and ctx.parent is not None and ctx.parent.info_name == "container":
        type_ = "container"  # docker container inspect: containers only
    if type_ is not None and type_ not in kinds:
        raise UsageError(f'--type {type_}: "{type_}" is not a valid value for --type',
                         hint="use container, image or volume")
    out: list[Any] = []
    failed = False
    with open_engine(ctx) as engine:
        for name in names:
            # as docker: a container first, then an image, then a volume of that name
            data = next((d for k in kinds if type_ in (None, k)
                         for d in [_object_json(engine, k, name)] if d is not None), None)
            if data is None:
                what = f"{type_}: {name}" if type_ else f"object: {name}"
                sys.stderr.write(f"Error: No such {what}\n")
                failed = True
            else:
                if size and "State" in data:
                    data.update(_sizes(engine, data["Id"]))
                out.append(data)
    typer.echo(inspect_text(out, fmt), nl=False)
    if failed:
        raise typer.Exit(1)


def _sizes(engine: Engine, cid: str) -> dict[str, int]:
    """inspect -s: the writable layer, and with the image under it (docker's fields)."""
    from stackctl.engine.images.system_df import du
    from stackctl.errors import StackctlError

    rw = du(engine.paths(cid).upper)
    try:
        image = int(engine.images.get(engine.get(cid).image_id).size)
    except StackctlError:
        image = 0
    return {"SizeRw": rw, "SizeRootFs": rw + image}


def _object_json(engine: Engine, kind: str, name: str) -> dict[str, Any] | None:
    from stackctl.engine.images.inspect import image_json
    from stackctl.errors import NotFound, StackctlError

    try:
        if kind == "container":
            return engine.inspect(name)
        if kind == "volume":
            return dict(engine.volumes.get(name).inspect())
        return image_json(engine.images, engine.images.resolve(name))
    except NotFound:
        return None
    except StackctlError:
        if kind == "image":  # not an image reference at all
            return None
        raise


__all__ = ["inspect", "logs", "stats", "top"]
