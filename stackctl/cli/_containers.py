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


def for_each_at_once(ctx: typer.Context, refs: list[str], action: Any) -> None:
    """``for_each`` on every container at once, as docker stops several: one that
    takes its whole grace period does not hold the others up. Each worker has its
    own engine (a store connection belongs to its thread); names and errors are
    printed in the order given, as docker prints them."""
    from concurrent.futures import ThreadPoolExecutor

    from stackctl.cli.report import report_error
    from stackctl.engine.api import Engine
    from stackctl.errors import EngineError, StackctlError

    g: GlobalOptions = ctx.obj

    def one(ref: str) -> StackctlError | None:
        try:
            with Engine(g.root, g.run_root) as engine:
                action(engine, ref)
        except StackctlError as exc:
            if isinstance(exc, EngineError) and exc.exit_code == 125:
                exc.exit_code = 1  # as open_engine: docker's error response
            return exc
        return None

    failed = False
    with ThreadPoolExecutor(max_workers=min(len(refs), 16)) as pool:
        for ref, error in zip(refs, pool.map(one, refs), strict=True):
            if error is None:
                typer.echo(ref)
            else:
                report_error(error, debug=False)
                failed = True
    if failed:
        raise typer.Exit(1)


__all__ = ["Names", "for_each", "for_each_at_once", "open_engine"]
