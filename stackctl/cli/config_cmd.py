"""Commands registered on the stackctl app (see stackctl.cli.app.COMMAND_MODULES)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``. Import heavy layers inside commands."""
