"""``stackctl volume create|ls|inspect|rm|prune`` (Docker's flags and output shapes)."""

from __future__ import annotations

import sys
from typing import Optional

import typer

from stackctl.cli.options import GlobalOptions
from stackctl.cli.prompt import confirm

volume = typer.Typer(help="Manage volumes.", no_args_is_help=True)


def _store(ctx: typer.Context):  # type: ignore[no-untyped-def]
    from stackctl.engine.state import StateStore
    from stackctl.engine.volumes import VolumeStore

    g: GlobalOptions = ctx.obj
    return VolumeStore(g.root, StateStore(g.root))


@volume.command("create")
def create(ctx: typer.Context, name: Optional[str] = typer.Argument(None),  # noqa: UP045
           label: Optional[list[str]] = typer.Option(None, "--label", "-l"),  # noqa: UP045
           driver: str = typer.Option("local", "--driver", "-d"),
           opt: Optional[list[str]] = typer.Option(None, "--opt", "-o",  # noqa: UP045
                                                   help="type=none,o=bind,device=PATH.")
           ) -> None:
    """Create a volume (a random name when none is given)."""
    import secrets

    from stackctl.errors import UsageError

    if driver != "local":
        raise UsageError(f"--driver {driver}: only the local driver exists")
    options = {}
    for o in opt or []:
        key, eq, value = o.partition("=")
        if not eq:
            raise UsageError(f"--opt {o!r}: expected KEY=VALUE", hint="e.g. -o type=none")
        options[key] = value
    labels = {}
    for lab in label or []:
        k, _, v = lab.partition("=")
        labels[k] = v
    vol, _ = _store(ctx).create(name or secrets.token_hex(32), labels=labels,
                                anonymous=name is None, options=options)
    typer.echo(vol.name)


@volume.command("ls")
def ls(ctx: typer.Context, quiet: bool = typer.Option(False, "--quiet", "-q"),
       filter_: Optional[list[str]] = typer.Option(None, "--filter", "-f"),  # noqa: UP045
       fmt: Optional[str] = typer.Option(None, "--format")) -> None:  # noqa: UP045
    """List volumes."""
    from stackctl.cli.render import format_rows, table

    store = _store(ctx)
    vols = store.list()
    for f in filter_ or []:
        key, _, value = f.partition("=")
        if key == "dangling":
            want = value.lower() in ("1", "true")
            vols = [v for v in vols if (not store.users(v.name)) == want]
        elif key == "name":
            vols = [v for v in vols if value in v.name]
        elif key == "label":
            k, sep, val = value.partition("=")
            vols = [v for v in vols if k in v.labels and (not sep or v.labels[k] == val)]
        elif key == "driver":
            vols = [v for v in vols if v.driver == value]
        else:
            from stackctl.errors import UsageError

            raise UsageError(f"--filter {f}: invalid filter {key!r}",
                             hint="volume ls filters: dangling=, driver=, label=, name=")
    if quiet:
        for v in vols:
            typer.echo(v.name)
        return
    rows = [{"Driver": v.driver, "Name": v.name, "Mountpoint": v.mountpoint,
             "Labels": ",".join(f"{k}={val}" for k, val in v.labels.items()),
             "Scope": "local"} for v in vols]
    if fmt:
        typer.echo(format_rows(fmt, rows))
        return
    typer.echo(table(["DRIVER", "VOLUME NAME"], [[r["Driver"], r["Name"]] for r in rows]))


@volume.command("inspect")
def inspect(ctx: typer.Context, names: list[str] = typer.Argument(...),
            fmt: Optional[str] = typer.Option(None, "--format", "-f")) -> None:  # noqa: UP045
    """Display detailed information on volumes."""

    from stackctl.cli.render import inspect_text
    from stackctl.errors import NotFound

    store = _store(ctx)
    out = []
    failed = False
    for n in names:
        try:
            out.append(store.get(n).inspect())
        except NotFound as exc:
            sys.stderr.write(f"Error: {exc.message}\n")
            failed = True
    typer.echo(inspect_text(out, fmt), nl=False)
    if failed:
        raise typer.Exit(1)


@volume.command("rm")
def rm(ctx: typer.Context, names: list[str] = typer.Argument(...),
       force: bool = typer.Option(False, "--force", "-f")) -> None:
    """Remove volumes (refused while a container uses one, even with -f)."""
    from stackctl.cli.report import report_error
    from stackctl.errors import NotFound, StackctlError

    store = _store(ctx)
    failed = False
    for n in names:
        try:
            # docker: -f ignores a missing volume; an in-use one is never removed
            store.remove(n)
            typer.echo(n)
        except NotFound:
            if not force:
                sys.stderr.write(f"Error: no such volume: {n}\n")
                failed = True
        except StackctlError as exc:  # reported, and the others still go
            report_error(exc, debug=False)
            failed = True
    if failed:
        raise typer.Exit(1)


@volume.command("prune")
def prune(ctx: typer.Context, force: bool = typer.Option(False, "--force", "-f"),
          all_: bool = typer.Option(False, "--all", "-a", help="Named volumes too."),
          filters: Optional[list[str]] = typer.Option(  # noqa: UP045
              None, "--filter", help="label=K[=V], label!=K[=V], all=true.")) -> None:
    """Remove unused anonymous volumes (with -a, unused named ones too)."""
    from stackctl.errors import UsageError

    labels: list[tuple[bool, str, str | None]] = []
    for f in filters or []:
        key, _, value = f.partition("=")
        if key == "all":
            all_ = all_ or value.lower() in ("1", "true")
        elif key in ("label", "label!"):
            k, sep, v = value.partition("=")
            labels.append((key == "label!", k, v if sep else None))
        else:
            raise UsageError(f"--filter {f}: invalid filter {key!r}",
                             hint="volume prune filters: label=, label!=, all=")
    what = "all local volumes" if all_ else "anonymous local volumes"
    if not force and not confirm(
            f"WARNING! This will remove {what} not used by at least one "
            "container.\nAre you sure you want to continue?"):
        raise typer.Exit(0)
    from pathlib import Path

    from stackctl.cli.render import pruned
    from stackctl.engine.images.system_df import du

    store = _store(ctx)
    removed, freed = [], 0
    for v in store.list():
        # pruned: unused, anonymous (or -a), every label= matching and no label!= matching
        if (all_ or v.anonymous) and all(
                (k in v.labels and (val is None or v.labels[k] == val)) != negate
                for negate, k, val in labels):
            size = du(Path(v.mountpoint))
            if store.remove_if_unused(v.name):
                removed.append(v.name)
                freed += size
    typer.echo(pruned([("Deleted Volumes:", removed)], freed))


def register(app: typer.Typer) -> None:
    volume.command("list", hidden=True)(ls)
    app.add_typer(volume, name="volume")
