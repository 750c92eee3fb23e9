"""``image history`` and ``image inspect``: Docker's shapes for one image's past and config.

Module level imports typer and the standard library only; each command imports
the store.
"""

from __future__ import annotations

import typer

from stackctl.cli._images import now, open_store, render_template_rows, tab_table


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

    with open_store(ctx) as store:
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
    when = now()
    rows = []
    for i, (h, size) in enumerate(entries):
        ident = (rec.id if no_trunc else rec.short_id) if i == 0 else "<missing>"
        created_by = h.created_by
        if not no_trunc and len(created_by) > 45:
            created_by = created_by[:44] + "…"
        rows.append({
            "ID": ident,
            "CreatedSince": present.ago(h.created, when) if human else h.created,
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
            typer.echo(json.dumps(r, separators=(",", ":"), sort_keys=True,  # as docker
                                  ensure_ascii=False))
        return
    if fmt and fmt != "table":
        render_template_rows(rows, fmt)
        return
    typer.echo(tab_table(["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"],
                      [[r["ID"], r["CreatedSince"], r["CreatedBy"], r["Size"], r["Comment"]]
                       for r in rows]))


def inspect_cmd(
    ctx: typer.Context,
    images: list[str] = typer.Argument(..., metavar="IMAGE..."),
    fmt: str = typer.Option("", "--format", "-f", help="Go template, e.g. {{.Config.Cmd}}."),
) -> None:
    """Display detailed information on one or more images."""
    import sys

    from stackctl.cli.render import inspect_text
    from stackctl.engine.images import present
    from stackctl.errors import NotFound

    docs = []
    failed = False
    with open_store(ctx) as store:
        for name in images:
            try:
                rec = store.resolve(name)
            except NotFound:  # docker: reports each missing one, shows the rest, exits 1
                sys.stderr.write(f"Error: No such image: {name}\n")
                failed = True
                continue
            docs.append(present.inspect(rec, layer_sizes=store.layer_sizes(rec)))
    typer.echo(inspect_text(docs, fmt or None), nl=False)
    if failed:
        raise typer.Exit(1)


__all__ = ["history_cmd", "inspect_cmd"]
