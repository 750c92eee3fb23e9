"""What the image command modules share: the store, the clock, Docker's table shapes.

Module level imports typer and the standard library only (cold start budget).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from datetime import datetime

    from stackctl.engine.images.store import ImageStore


@contextlib.contextmanager
def open_store(ctx: typer.Context) -> Iterator[ImageStore]:
    """The image store of the state root (``--root``). An engine error exits 1, as
    docker's image commands do on an error response from the daemon."""
    from stackctl.engine.images.store import ImageStore
    from stackctl.errors import EngineError

    try:
        with ImageStore(ctx.obj.root) as store:
            yield store
    except EngineError as exc:
        if exc.exit_code == 125:
            exc.exit_code = 1
        raise


def now() -> datetime:
    from datetime import UTC, datetime

    return datetime.now(UTC)


def tab_table(headers: list[str], lines: list[list[str]]) -> str:
    """Docker's tabwriter table, lines whose last cell is empty keeping their padding
    (as ``docker images`` and ``docker history`` print them)."""
    from stackctl.humanize import table

    return table([headers, *lines], keep_padding=True, minwidth=10)


_HEADERS = {"ID": "IMAGE ID", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT",
            "CreatedBy": "CREATED BY", "SharedSize": "SHARED SIZE",
            "UniqueSize": "UNIQUE SIZE", "VirtualSize": "VIRTUAL SIZE"}


def render_template_rows(rows: list[dict[str, str]], fmt: str) -> None:
    """A Go template per row; ``table ...`` adds Docker's header and aligns columns."""
    import re

    from stackctl.cli.render import render_template

    if not fmt.startswith("table "):
        for r in rows:
            typer.echo(render_template(fmt, r))
        return
    template = fmt[len("table "):]
    header = re.sub(r"\{\{\s*\.(\w+)\s*\}\}",
                    lambda m: _HEADERS.get(m.group(1), m.group(1).upper()), template)
    header = header.replace("\\t", "\t")
    lines = [render_template(template, r).split("\t") for r in rows]
    heads = header.split("\t")
    width = max([len(heads), *(len(x) for x in lines)])
    pad = [[*x, *([""] * (width - len(x)))] for x in [heads, *lines]]
    typer.echo(tab_table(pad[0], pad[1:]).rstrip())


__all__ = ["now", "open_store", "render_template_rows", "tab_table"]
