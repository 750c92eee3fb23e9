"""The typer application: global options, command registration, error mapping.

Cold start is a budget (150 ms for ``--help``): this module and every command
module import only typer and the standard library at top level. Each command
imports the layer it calls inside its own body.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any, Optional

import typer
from typer._click.exceptions import NoArgsIsHelpError
from typer._click.exceptions import UsageError as ClickUsageError
from typer.core import TyperGroup

from stackctl import __version__
from stackctl.cli.main import HELP_FILE
from stackctl.cli.options import GlobalOptions
from stackctl.cli.report import debug_requested, report_error

# Command modules, each with ``register(app)``. Order is the order in --help.
COMMAND_MODULES = (
    "stackctl.cli.stack_cmds",  # up, down, plan, sync, ls
    "stackctl.cli.config_cmd",  # config
    "stackctl.cli.compose_cmds",  # compose <cmd>: the compose command set for stacks
    "stackctl.cli.run_cmd",  # run, create
    "stackctl.cli.container_cmds",  # ps, logs, exec, stop, start, ...
    "stackctl.cli.container_group",  # container <cmd>
    "stackctl.cli.image_cmds",  # images, import, rmi, tag, history, save, load, ...
    "stackctl.cli.registry_cmds",  # pull, push, login, logout
    "stackctl.cli.build_cmd",  # build
    "stackctl.cli.volume_cmds",  # volume ...
    "stackctl.cli.network_cmds",  # network ...
    "stackctl.cli.system_cmds",  # system df/prune, version
)

# Which modules define each top-level command or group. typer turns every
# registered command into a click command on each run (~2 ms each, 120+
# commands): registering only the module that owns the invoked command keeps
# the cold start within budget. A name missing here still works (all modules
# are registered), only slower; tests/test_cli_basics.py keeps this complete.
_STACK = ("stackctl.cli.stack_cmds",)
_CONTAINER = ("stackctl.cli.container_cmds",)
_IMAGE = ("stackctl.cli.image_cmds",)
_REGISTRY = ("stackctl.cli.registry_cmds",)
COMMAND_INDEX: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(("up", "down", "plan", "sync", "ls"), _STACK),
    "config": ("stackctl.cli.config_cmd",),
    "compose": ("stackctl.cli.compose_cmds",),
    **dict.fromkeys(("run", "create"), ("stackctl.cli.run_cmd",)),
    **dict.fromkeys(
        ("start", "attach", "stop", "restart", "kill", "rm", "ps", "logs", "top", "inspect",
         "wait", "cp", "rename", "pause", "unpause", "stats", "exec"),
        _CONTAINER,
    ),
    "container": ("stackctl.cli.container_group",),
    **dict.fromkeys(
        ("import", "images", "rmi", "tag", "history", "save", "load", "commit", "export"),
        _IMAGE,
    ),
    "image": _IMAGE + _REGISTRY,  # registry_cmds adds pull/push to the image group
    **dict.fromkeys(("pull", "push", "login", "logout"), _REGISTRY),
    **dict.fromkeys(("build", "builder"), ("stackctl.cli.build_cmd",)),
    "volume": ("stackctl.cli.volume_cmds",),
    **dict.fromkeys(("port", "network"), ("stackctl.cli.network_cmds",)),
    **dict.fromkeys(("version", "system"), ("stackctl.cli.system_cmds",)),
}

# Global options that take a value (so the token after them is not a command).
_VALUED_GLOBALS = ("--root", "--run-root")


# Commands of stackctl's own (no docker counterpart): click's exit code 2 stays.
_OWN_COMMANDS = frozenset(("up", "down", "plan", "sync", "ls", "config", "compose"))


class _App(TyperGroup):
    """The top-level group, where a docker command's usage errors get docker's exit
    codes: 125 for a flag that does not parse (cobra's flag error, for every docker
    command), 1 for any other misuse (a missing argument, a bad value the command
    itself refuses: docker exits 1 on every error but a flag's). click and
    stackctl's UsageError say 2, which stackctl's own commands keep. run and create
    exit 125 for all of them (run_cmd._RunCommand, run_flow)."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except NoArgsIsHelpError as exc:  # bare ``stackctl``: its help, exit 0 as docker
            exc.exit_code = 0
            raise

    def invoke(self, ctx: Any) -> Any:
        from stackctl.errors import StackctlError

        try:
            return super().invoke(ctx)
        except NoArgsIsHelpError as exc:  # ``stackctl volume``: the group's help, exit 0
            exc.exit_code = 0
            raise
        except (ClickUsageError, StackctlError) as exc:
            # the command's name is known once super().invoke has resolved it
            docker = ctx.invoked_subcommand not in (None, "run", "create", *_OWN_COMMANDS)
            if docker and exc.exit_code == 2 and not isinstance(exc, NoArgsIsHelpError):
                flag = isinstance(exc, ClickUsageError) and _flag_error(exc)
                exc.exit_code = 125 if flag else 1
            raise


def _flag_error(exc: ClickUsageError) -> bool:
    """An unknown flag, a flag without its value, or a value of the wrong type."""
    from typer._click.exceptions import (
        BadOptionUsage,
        BadParameter,
        MissingParameter,
        NoSuchOption,
    )

    if isinstance(exc, (NoSuchOption, BadOptionUsage)):
        return True
    return isinstance(exc, BadParameter) and not isinstance(exc, MissingParameter) and \
        getattr(exc.param, "param_type_name", "") == "option"


def new_app() -> typer.Typer:
    app = typer.Typer(
        cls=_App,
        name="stackctl",
        help="Declarative multi-container stacks on an embedded, daemonless container engine.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    app.callback()(_global)
    return app


def command_name(argv: list[str]) -> str | None:
    """The top-level command in ``argv`` (after the global options), if any."""
    it = iter(argv)
    for tok in it:
        if tok in _VALUED_GLOBALS:
            next(it, None)
        elif tok.startswith("-"):
            continue
        else:
            return tok
    return None


def build_app(argv: list[str]) -> typer.Typer:
    """An app with the commands that ``argv`` may need: the owner of the named
    command, or every module (for --help, no command or an unknown one)."""
    name = command_name(argv)
    wanted = COMMAND_INDEX.get(name or "")
    app = new_app()
    for module in COMMAND_MODULES:
        if wanted is None or module in wanted:
            importlib.import_module(module).register(app)
    return app


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"stackctl version {__version__}")
        raise typer.Exit()


def _global(
    ctx: typer.Context,
    root: Optional[str] = typer.Option(  # noqa: UP045 - typer needs Optional on 3.11
        None, "--root", help="State root (default $STACKCTL_ROOT or /var/lib/stackctl)."
    ),
    run_root: Optional[str] = typer.Option(  # noqa: UP045
        None, "--run-root", help="Runtime root (default $STACKCTL_RUN_ROOT or /run/stackctl)."
    ),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks on errors."),
    version: bool = typer.Option(
        False, "--version", callback=_version_callback, is_eager=True, help="Print the version."
    ),
) -> None:
    ctx.obj = GlobalOptions.resolve(root, run_root, debug)


# stackctl/cli/help.txt: `stackctl --help`, pre-rendered and printed by cli/main.py.
# Top-level help needs every command converted by typer (~150 ms); the text only
# changes with the code. A test fails when it differs from render_help();
# `python -m stackctl.cli.app --write-help` renews it.
def render_help() -> str:
    """The top-level help as typer renders it (every command module registered)."""
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), contextlib.suppress(SystemExit):
        build_app(["--help"])(args=["--help"], prog_name="stackctl")
    return buf.getvalue()


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    try:
        build_app(args)(args=args, prog_name="stackctl")
    except SystemExit:
        raise
    except KeyboardInterrupt:
        sys.stderr.write("Interrupted\n")
        raise SystemExit(130) from None
    except BaseException as exc:  # the one place errors become exit codes
        raise SystemExit(report_error(exc, debug=debug_requested(args))) from None


if __name__ == "__main__" and sys.argv[1:] == ["--write-help"]:
    from pathlib import Path

    Path(__file__).with_name(HELP_FILE).write_text(render_help())
