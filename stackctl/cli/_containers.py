"""What the single-container command modules share: the engine, and Docker's loop.

Module level imports typer and the standard library only (cold start budget).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import typer

from stackctl.cli.options import GlobalOptions

if TYPE_CHECKING:
    from stackctl.engine.api import Engine

Names = list[str]  # one or more CONTAINER arguments


@contextlib.contextmanager
def open_engine(ctx: typer.Context) -> Iterator[Engine]:
    """The engine on the state and run roots of the global options.

    An engine error exits 1 here, as every docker command but run/create exits on an
    error response from the daemon (125 is run's code: run_cmd.py keeps it)."""
    from stackctl.engine.api import Engine
    from stackctl.errors import EngineError

    g: GlobalOptions = ctx.obj
    try:
        with Engine(g.root, g.run_root) as engine:
            yield engine
    except EngineError as exc:
        if exc.exit_code == 125:
            exc.exit_code = 1
        raise


def for_each(ctx: typer.Context, refs: list[str], action: Any, *, echo: bool = False) -> None:
    """Apply ``action`` to every container; report failures like Docker, exit 1 at the end."""
    from stackctl.cli.report import report_error
    from stackctl.errors import StackctlError

    failed = False
    with open_engine(ctx) as engine:
        for ref in refs:
            try:
                action(engine, ref)
                if echo:
                    typer.echo(ref)
            except StackctlError as exc:  # reported, and the others still go
                report_error(exc, debug=False)
                failed = True
    if failed:
        raise typer.Exit(1)


__all__ = ["Names", "for_each", "open_engine"]
