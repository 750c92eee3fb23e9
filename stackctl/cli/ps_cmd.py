"""``ps``: list containers with Docker's columns, filters and formats.

The typer command; what it prints comes from cli/ps_list.py, which the
typer-free fast path (cli/fastpath.py) calls too. Module level imports typer
and the standard library only.
"""

from __future__ import annotations

from typing import Optional

import typer

from stackctl.cli._containers import open_engine
from stackctl.cli.ps_list import ports_text, ps_row


def ps(ctx: typer.Context,
       all_: bool = typer.Option(False, "--all", "-a", help="Show all containers."),
       quiet: bool = typer.Option(False, "--quiet", "-q", help="Only ids."),
       latest: bool = typer.Option(False, "--latest", "-l", help="Only the latest created."),
       last: int = typer.Option(-1, "--last", "-n", help="Show n last created."),
       no_trunc: bool = typer.Option(False, "--no-trunc", help="Don't truncate output."),
       size: bool = typer.Option(False, "--size", "-s", help="Display total file sizes."),
       filter_: Optional[list[str]] = typer.Option(None, "--filter", "-f",  # noqa: UP045
                                                   help="e.g. status=exited, label=k=v."),
       fmt: Optional[str] = typer.Option(None, "--format",  # noqa: UP045
                                         help="table | json | Go template.")) -> None:
    """List containers."""
    from stackctl.cli.ps_list import list_containers

    with open_engine(ctx) as engine:
        out = list_containers(engine, all_=all_, quiet=quiet, latest=latest, last=last,
                              no_trunc=no_trunc, size=size, filter_=filter_, fmt=fmt)
    for text in out:
        typer.echo(text)


__all__ = ["ports_text", "ps", "ps_row"]
