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
