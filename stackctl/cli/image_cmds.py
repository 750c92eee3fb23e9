"""Image commands: import, images, rmi, tag, image prune; ``register`` adds the rest of
``image ...`` too: history and inspect (image_info.py), save, load, commit and export
(image_archive_cmds.py).

Flags and output shapes follow the docker CLI. Each command opens the store of
the state root (``--root``), makes one library call and renders the result.
Only typer and the standard library are imported at module level (cold start).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import BinaryIO, Optional

import typer

from stackctl.cli._images import now, open_store, render_template_rows, tab_table
from stackctl.cli.image_archive_cmds import commit_cmd, export_cmd, load_cmd, save_cmd
from stackctl.cli.image_info import history_cmd, inspect_cmd
from stackctl.cli.prompt import confirm

# -- import -------------------------------------------------------------------------------


def import_cmd(
    ctx: typer.Context,
    file: str = typer.Argument(..., metavar="FILE|-", help="Rootfs tarball (plain, gz, bz2, xz)."),
    ref: Optional[str] = typer.Argument(None, metavar="[REPOSITORY[:TAG]]"),  # noqa: UP045
    change: list[str] = typer.Option([], "--change", "-c",
                                     help="Apply a Dockerfile instruction (CMD, ENV, ...)."),
    message: str = typer.Option("", "--message", "-m", help="Commit message for the image."),
) -> None:
    """Import the contents of a tarball to create a filesystem image."""
    from stackctl.errors import UsageError

    src: Path | BinaryIO
    if file.startswith(("http://", "https://")):
        raise UsageError(f"import: cannot fetch {file}: importing from a URL is not supported",
                         hint="download the tarball first, then `stackctl import FILE`")
    if file == "-":
        src = sys.stdin.buffer
    else:
        path = Path(file)
        if not path.is_file():
            raise UsageError(f"import: {file}: no such file",
                             hint="give a rootfs tarball, or - to read it from stdin")
        src = path
    with open_store(ctx) as store:
        rec = store.import_tar(src, ref, changes=change, message=message,
                               source_name="-" if file == "-" else file)
    typer.echo(rec.id)


# -- images -------------------------------------------------------------------------------


def images_cmd(
    ctx: typer.Context,
    repository: Optional[str] = typer.Argument(None, metavar="[REPOSITORY[:TAG]]"),  # noqa: UP045
    all_: bool = typer.Option(False, "--all", "-a", help="Show all images (incl. intermediate)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Only show image IDs."),
    digests: bool = typer.Option(False, "--digests", help="Show digests."),
    no_trunc: bool = typer.Option(False, "--no-trunc", help="Don't truncate output."),
    filters: list[str] = typer.Option([], "--filter", "-f", help="Filter (dangling=true, "
                                      "reference=PATTERN, label=K[=V], before=, since=)."),
    fmt: str = typer.Option("", "--format", help="table, json, or a Go template."),
) -> None:
    """List images."""
    from stackctl.engine.images import present

    flt = present.parse_filters([*filters, *([f"reference={repository}"] if repository else [])])
    with open_store(ctx) as store:
        before = store.resolve(flt.before).created if flt.before else None
        since = store.resolve(flt.since).created if flt.since else None
        rows = present.rows(store.list(), now(), show_all=all_, filters=flt,
                            before_created=before, since_created=since)
    if quiet:
        seen: list[str] = []
        for r in rows:
            ident = r.record.id if no_trunc else r.record.short_id
            if ident not in seen:
                seen.append(ident)
        for ident in seen:
            typer.echo(ident)
        return
    _render_rows(rows, fmt, no_trunc=no_trunc, digests=digests)


def _render_rows(rows: list, fmt: str, *, no_trunc: bool, digests: bool) -> None:  # type: ignore[type-arg]
    import json

    if fmt == "json":
        for r in rows:
            # keys sorted, as docker marshals a row (a Go map)
            typer.echo(json.dumps(r.fields(no_trunc), separators=(",", ":"), sort_keys=True,
                                  ensure_ascii=False))
        return
    if fmt and fmt != "table":
        render_template_rows([r.fields(no_trunc) for r in rows], fmt)
        return
    headers = ["REPOSITORY", "TAG", *(["DIGEST"] if digests else []), "IMAGE ID", "CREATED",
               "SIZE"]
    lines = []
    for r in rows:
        f = r.fields(no_trunc)
        lines.append([f["Repository"], f["Tag"], *([f["Digest"]] if digests else []), f["ID"],
                      f["CreatedSince"], f["Size"]])
    typer.echo(tab_table(headers, lines))


# -- rmi, tag -----------------------------------------------------------------------------


def rmi_cmd(
    ctx: typer.Context,
    images: list[str] = typer.Argument(..., metavar="IMAGE..."),
    force: bool = typer.Option(False, "--force", "-f", help="Force removal of the image."),
    no_prune: bool = typer.Option(False, "--no-prune",
                                  help="Do not delete untagged parents."),
) -> None:
    """Remove one or more images."""
    from stackctl.errors import StackctlError

    failed: StackctlError | None = None
    with open_store(ctx) as store:
        for name in images:
            try:
                for event in store.remove(name, force=force, no_prune=no_prune):
                    typer.echo(str(event))
            except StackctlError as exc:  # docker goes on with the others, then fails
                failed = exc
                if len(images) > 1:
                    sys.stderr.write(f"Error: {exc.message}\n")
    if failed is not None:
        if len(images) > 1:
            raise typer.Exit(1)
        failed.exit_code = 1  # docker rmi: 1 on an error response from the daemon
        raise failed


def tag_cmd(
    ctx: typer.Context,
    source: str = typer.Argument(..., metavar="SOURCE_IMAGE[:TAG]"),
    target: str = typer.Argument(..., metavar="TARGET_IMAGE[:TAG]"),
) -> None:
    """Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE."""
    with open_store(ctx) as store:
        store.tag(source, target)


# -- prune ------------------------------------------------------------------------------


def prune_cmd(
    ctx: typer.Context,
    all_: bool = typer.Option(False, "--all", "-a", help="Remove all unused images, not "
                              "just dangling ones."),
    force: bool = typer.Option(False, "--force", "-f", help="Do not prompt for confirmation."),
    filters: list[str] = typer.Option([], "--filter", help="until=24h|TIMESTAMP, "
                                      "label=K[=V], label!=K[=V]."),
) -> None:
    """Remove unused images."""
    from stackctl.cli.render import pruned
    from stackctl.engine.images import present

    keep = present.prune_keep(filters, now())
    if not force:
        what = ("all images without at least one container associated to them" if all_
                else "all dangling images")
        if not confirm(f"WARNING! This will remove {what}.\nAre you sure you want to "
                       "continue?"):
            return
    with open_store(ctx) as store:
        events, freed = store.prune(all_unused=all_, keep=keep)
    typer.echo(pruned([("Deleted Images:", [str(e) for e in events])], freed))


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``. Import heavy layers inside commands."""
    app.command("import")(import_cmd)
    app.command("images")(images_cmd)
    app.command("rmi")(rmi_cmd)
    app.command("tag")(tag_cmd)
    app.command("history")(history_cmd)
    app.command("save")(save_cmd)
    app.command("load")(load_cmd)
    app.command("commit")(commit_cmd)
    app.command("export")(export_cmd)

    image = typer.Typer(help="Manage images.", no_args_is_help=True)
    image.command("ls")(images_cmd)
    image.command("list", hidden=True)(images_cmd)
    image.command("rm")(rmi_cmd)
    image.command("remove", hidden=True)(rmi_cmd)
    image.command("inspect")(inspect_cmd)
    image.command("import")(import_cmd)
    image.command("tag")(tag_cmd)
    image.command("history")(history_cmd)
    image.command("save")(save_cmd)
    image.command("load")(load_cmd)
    image.command("prune")(prune_cmd)
    app.add_typer(image, name="image")
