"""``stackctl version`` and ``stackctl system ...``."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    @app.command("version", help="Show the stackctl version.")
    def version() -> None:
        import platform

        from stackctl import __version__

        typer.echo(f"stackctl version {__version__}")
        typer.echo(f"python {platform.python_version()}, kernel {platform.release()}")

    system = typer.Typer(help="Manage stackctl (disk usage).", no_args_is_help=True)

    @system.command("df", help="Show disk usage: images, containers, local volumes.")
    def df(ctx: typer.Context,
           verbose: bool = typer.Option(False, "--verbose", "-v", help="Per-object detail."),
           fmt: str = typer.Option("", "--format", help="table or json.")) -> None:
        from stackctl.engine.images.system_df import render_df

        typer.echo(render_df(ctx.obj.root, verbose=verbose, fmt=fmt))

    app.add_typer(system, name="system")

