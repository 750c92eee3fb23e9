"""``stackctl container <cmd>``: Docker's management-command spelling of the
single-container commands (``container ls``, ``container rm``, ``container prune``…).

A module of its own so that ``stackctl run`` or ``stackctl ps`` does not pay for
converting this group's twenty commands (see COMMAND_INDEX in app.py).
"""

from __future__ import annotations

import typer

from stackctl.cli import container_cmds, ps_cmd, run_cmd


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="Manage containers.", no_args_is_help=True)
    for name, fn in [*container_cmds.commands(), ("ls", ps_cmd.ps), ("list", ps_cmd.ps),
                     ("prune", container_cmds.prune)]:
        group.command(name, context_settings=container_cmds.settings(name))(fn)
    group.command("exec", context_settings=container_cmds.EXEC_SETTINGS)(container_cmds.exec_)
    # as `stackctl run`: a command line that does not parse exits 125
    group.command("run", cls=run_cmd._RunCommand, context_settings=run_cmd.RUN_SETTINGS
                  )(run_cmd._run)
    group.command("create", cls=run_cmd._RunCommand, context_settings=run_cmd.RUN_SETTINGS,
                  help="Create a new container (not started).")(run_cmd._run)
    app.add_typer(group, name="container")
