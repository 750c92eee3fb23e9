"""Image commands: import, images, rmi, tag, history, save, load, and ``image ...``.

Flags and output shapes follow the docker CLI. Each command opens the store of
the state root (``--root``), makes one library call and renders the result.
Only typer and the standard library are imported at module level (cold start).
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Optional

import typer

if TYPE_CHECKING:
    from datetime import datetime

    from stackctl.engine.images.store import ImageStore


def _store(ctx: typer.Context) -> ImageStore:
    from stackctl.engine.images.store import ImageStore

    return ImageStore(ctx.obj.root)


def _now() -> datetime:
    from datetime import UTC, datetime

    return datetime.now(UTC)


def _table(headers: list[str], lines: list[list[str]]) -> str:
    """Docker's tabwriter output: columns padded to the widest cell plus 3 spaces."""
    widths = [len(h) for h in headers]
    for line in lines:
        widths = [max(w, len(c)) for w, c in zip(widths, line, strict=True)]
    out = []
    for line in [headers, *lines]:
        cells = [c.ljust(w + 3) for c, w in zip(line[:-1], widths, strict=False)]
        out.append("".join(cells) + line[-1])
    return "\n".join(out)


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
    with _store(ctx) as store:
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
    with _store(ctx) as store:
        before = store.resolve(flt.before).created if flt.before else None
        since = store.resolve(flt.since).created if flt.since else None
        rows = present.rows(store.list(), _now(), show_all=all_, filters=flt,
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
            typer.echo(json.dumps(r.fields(no_trunc), separators=(",", ":")))
        return
    if fmt and fmt != "table":
        _render_template_rows([r.fields(no_trunc) for r in rows], fmt)
        return
    headers = ["REPOSITORY", "TAG", *(["DIGEST"] if digests else []), "IMAGE ID", "CREATED",
               "SIZE"]
    lines = []
    for r in rows:
        f = r.fields(no_trunc)
        lines.append([f["Repository"], f["Tag"], *([f["Digest"]] if digests else []), f["ID"],
                      f["CreatedSince"], f["Size"]])
    typer.echo(_table(headers, lines))


_HEADERS = {"ID": "IMAGE ID", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT",
            "CreatedBy": "CREATED BY", "SharedSize": "SHARED SIZE",
            "UniqueSize": "UNIQUE SIZE", "VirtualSize": "VIRTUAL SIZE"}


def _render_template_rows(rows: list[dict[str, str]], fmt: str) -> None:
    """A Go template per row; ``table ...`` adds Docker's header and aligns columns."""
    import re

    from stackctl.engine.images import present

    if not fmt.startswith("table "):
        for r in rows:
            typer.echo(present.render_template(fmt, r))
        return
    template = fmt[len("table "):]
    header = re.sub(r"\{\{\s*\.(\w+)\s*\}\}",
                    lambda m: _HEADERS.get(m.group(1), m.group(1).upper()), template)
    header = header.replace("\\t", "\t")
    lines = [present.render_template(template, r).split("\t") for r in rows]
    heads = header.split("\t")
    width = max([len(heads), *(len(x) for x in lines)])
    pad = [[*x, *([""] * (width - len(x)))] for x in [heads, *lines]]
    typer.echo(_table(pad[0], pad[1:]).rstrip())


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
    with _store(ctx) as store:
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
        raise failed


def tag_cmd(
    ctx: typer.Context,
    source: str = typer.Argument(..., metavar="SOURCE_IMAGE[:TAG]"),
    target: str = typer.Argument(..., metavar="TARGET_IMAGE[:TAG]"),
) -> None:
    """Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE."""
    with _store(ctx) as store:
        store.tag(source, target)


# -- history, inspect ---------------------------------------------------------------------


def history_cmd(
    ctx: typer.Context,
    image: str = typer.Argument(..., metavar="IMAGE"),
    human: bool = typer.Option(True, "--human", "-H", help="Sizes and dates in human form."),
    no_trunc: bool = typer.Option(False, "--no-trunc", help="Don't truncate output."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Only show image IDs."),
    fmt: str = typer.Option("", "--format", help="table, json, or a Go template."),
) -> None:
    """Show the history of an image."""
    import json

    from stackctl.engine.images import present

    with _store(ctx) as store:
        rec = store.resolve(image)
        sizes = store.layer_sizes(rec)
    history = list(rec.image.history) or []
    entries = []
    layer_i = 0
    for h in history:
        size = 0
        if not h.empty_layer and layer_i < len(sizes):
            size = sizes[layer_i]
            layer_i += 1
        entries.append((h, size))
    entries.reverse()
    now = _now()
    rows = []
    for i, (h, size) in enumerate(entries):
        ident = (rec.id if no_trunc else rec.short_id) if i == 0 else "<missing>"
        created_by = h.created_by
        if not no_trunc and len(created_by) > 45:
            created_by = created_by[:44] + "…"
        rows.append({
            "ID": ident,
            "CreatedSince": present.ago(h.created, now) if human else h.created,
            "CreatedAt": h.created,
            "CreatedBy": created_by,
            "Size": present.human_size(size) if human else str(size),
            "Comment": h.comment,
        })
    if quiet:
        for r in rows:
            typer.echo(r["ID"])
        return
    if fmt == "json":
        for r in rows:
            typer.echo(json.dumps(r, separators=(",", ":")))
        return
    if fmt and fmt != "table":
        _render_template_rows(rows, fmt)
        return
    typer.echo(_table(["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"],
                      [[r["ID"], r["CreatedSince"], r["CreatedBy"], r["Size"], r["Comment"]]
                       for r in rows]))


def inspect_cmd(
    ctx: typer.Context,
    images: list[str] = typer.Argument(..., metavar="IMAGE..."),
    fmt: str = typer.Option("", "--format", "-f", help="Go template, e.g. {{.Config.Cmd}}."),
) -> None:
    """Display detailed information on one or more images."""
    import json

    from stackctl.engine.images import present
    from stackctl.errors import NotFound, StackctlError

    docs = []
    missing: StackctlError | None = None
    with _store(ctx) as store:
        for name in images:
            try:
                rec = store.resolve(name)
            except NotFound as exc:
                missing = exc
                continue
            docs.append(present.inspect(rec, layer_sizes=store.layer_sizes(rec)))
    if fmt:
        for d in docs:
            typer.echo(present.render_template(fmt, d))
    else:
        typer.echo(json.dumps(docs, indent=4))
    if missing is not None:
        raise missing


# -- commit, export ----------------------------------------------------------------------


def commit_cmd(
    ctx: typer.Context,
    container: str = typer.Argument(..., metavar="CONTAINER"),
    repository: Optional[str] = typer.Argument(None, metavar="[REPOSITORY[:TAG]]"),  # noqa: UP045
    author: str = typer.Option("", "--author", "-a", help="Author (e.g. \"Name <mail>\")."),
    message: str = typer.Option("", "--message", "-m", help="Commit message."),
    change: list[str] = typer.Option([], "--change", "-c",
                                      help="Apply a Dockerfile instruction (CMD, ENV, ...)."),
    pause: bool = typer.Option(True, "--pause/--no-pause", "-p",
                               help="Pause the container during commit."),
) -> None:
    """Create a new image from a container's changes."""
    from stackctl.engine.api import Engine
    from stackctl.engine.images import reference
    from stackctl.engine.images.commit import RunOverrides, commit_upper, merged_config
    from stackctl.errors import StackctlError

    if repository is not None:
        reference.parse(repository)  # a bad name fails before anything is written
    g = ctx.obj
    with Engine(g.root, g.run_root) as engine:
        rec = engine.get(container)
        paused = False
        if pause and rec.status == "running":
            with contextlib.suppress(StackctlError):  # freezer missing: commit unfrozen
                engine.pause(rec.id)
                paused = True
        try:
            c = rec.config
            hc = c.healthcheck
            run = RunOverrides(
                command=c.command, entrypoint=c.entrypoint, env=c.env,
                working_dir=c.working_dir, user=c.user, labels=c.labels, expose=c.expose,
                health_test=hc.test if hc else None,
                health_interval=hc.interval if hc else 0.0,
                health_timeout=hc.timeout if hc else 0.0,
                health_retries=hc.retries if hc else 0,
                health_start_period=hc.start_period if hc else 0.0,
                stop_signal=c.stop_signal)
            base = engine.images.get(rec.image_id)
            cmd = [*(c.entrypoint or base.config.entrypoint or ()),
                   *(c.command if c.command is not None else base.config.cmd or ())]
            new = commit_upper(engine.images, base, engine.paths(rec.id).upper,
                               merged_config(base.config, run, change),
                               refs=[repository] if repository else [], author=author,
                               comment=message, created_by=" ".join(cmd))
        finally:
            if paused:
                engine.unpause(rec.id)
    typer.echo(new.id)


def export_cmd(
    ctx: typer.Context,
    container: str = typer.Argument(..., metavar="CONTAINER"),
    output: Optional[str] = typer.Option(None, "--output", "-o",  # noqa: UP045
                                         help="Write to a file instead of stdout."),
) -> None:
    """Export a container's filesystem as a tar archive."""
    from stackctl.engine.api import Engine
    from stackctl.engine.images.commit import export_tree, merged_view
    from stackctl.errors import UsageError

    if output is None and sys.stdout.isatty():
        raise UsageError("cowardly refusing to export to a terminal",
                         hint="use -o FILE or redirect stdout")
    g = ctx.obj
    with Engine(g.root, g.run_root) as engine:
        rec = engine.get(container)
        image = engine.images.get(rec.image_id)
        with merged_view(engine.images, image, engine.paths(rec.id).upper) as tree:
            if output is None:
                export_tree(tree, sys.stdout.buffer)
                return
            dest = Path(output)
            tmp = dest.with_name(f".{dest.name}.tmp")
            try:
                with open(tmp, "wb") as fh:
                    export_tree(tree, fh)
                tmp.replace(dest)
            finally:
                tmp.unlink(missing_ok=True)


# -- save, load, prune --------------------------------------------------------------------


def save_cmd(
    ctx: typer.Context,
    images: list[str] = typer.Argument(..., metavar="IMAGE..."),
    output: Optional[str] = typer.Option(None, "--output", "-o",  # noqa: UP045
                                         help="Write to a file instead of stdout."),
    oci: bool = typer.Option(False, "--oci", help="Write an OCI image layout archive only "
                             "(default: docker-archive, which is also an OCI layout)."),
) -> None:
    """Save one or more images to a tar archive (streamed to stdout by default)."""
    from stackctl.engine.images.archive import save
    from stackctl.errors import UsageError

    if output is None and sys.stdout.isatty():
        raise UsageError("cowardly refusing to save to a terminal",
                         hint="use -o FILE or redirect stdout")
    with _store(ctx) as store:
        if output is None:
            save(store, images, sys.stdout.buffer, docker=not oci)
        else:
            save(store, images, Path(output), docker=not oci)


def load_cmd(
    ctx: typer.Context,
    input_: Optional[str] = typer.Option(None, "--input", "-i",  # noqa: UP045
                                         help="Read from a tar archive file, not stdin."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Suppress the load output."),
) -> None:
    """Load images from a tar archive (docker save format or OCI layout)."""
    from stackctl.engine.images import reference
    from stackctl.engine.images.archive import load
    from stackctl.errors import UsageError

    if input_ is None and sys.stdin.isatty():
        raise UsageError("requested load from stdin, but stdin is empty",
                         hint="use -i FILE or redirect stdin")
    src = Path(input_) if input_ is not None else sys.stdin.buffer
    with _store(ctx) as store:
        loaded = load(store, src)
    if quiet:
        return
    for rec, names in loaded:
        if names:
            for n in names:
                typer.echo(f"Loaded image: {reference.familiar(n)}")
        else:
            typer.echo(f"Loaded image ID: {rec.id}")


def prune_cmd(
    ctx: typer.Context,
    all_: bool = typer.Option(False, "--all", "-a", help="Remove all unused images, not "
                              "just dangling ones."),
    force: bool = typer.Option(False, "--force", "-f", help="Do not prompt for confirmation."),
    filters: list[str] = typer.Option([], "--filter", help="until=24h|TIMESTAMP, "
                                      "label=K[=V], label!=K[=V]."),
) -> None:
    """Remove unused images."""
    from stackctl.engine.images import present

    keep = present.prune_keep(filters, _now())
    if not force:
        what = ("all images without at least one container associated to them" if all_
                else "all dangling images")
        if not typer.confirm(f"WARNING! This will remove {what}.\nAre you sure you want to "
                             "continue?", default=False):
            return
    with _store(ctx) as store:
        events, freed = store.prune(all_unused=all_, keep=keep)
    if events:
        typer.echo("Deleted Images:")
        for e in events:
            typer.echo(str(e))
        typer.echo("")
    typer.echo(f"Total reclaimed space: {present.human_size(freed)}")


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
