"""The typer application: global options, command registration, error mapping.

Cold start is a budget (150 ms for ``--help``): this module and every command
module import only typer and the standard library at top level. Each command
imports the layer it calls inside its own body.
"""

from __future__ import annotations

import importlib
import sys
from typing import Optional

import typer

from stackctl import __version__
from stackctl.cli.options import GlobalOptions

# Command modules, each with ``register(app)``. Order is the order in --help.
COMMAND_MODULES = (
    "stackctl.cli.stack_cmds",  # up, down, plan, sync, ls
    "stackctl.cli.config_cmd",  # config
    "stackctl.cli.compose_cmds",  # compose <cmd>: the compose command set for stacks
    "stackctl.cli.container_cmds",  # run, create, ps, logs, exec, stop, start, ...
    "stackctl.cli.image_cmds",  # images, import, rmi, tag, history, save, load, ...
    "stackctl.cli.registry_cmds",  # pull, push, login, logout
    "stackctl.cli.build_cmd",  # build
    "stackctl.cli.volume_cmds",  # volume ...
    "stackctl.cli.network_cmds",  # network ...
    "stackctl.cli.system_cmds",  # system df/prune, version
)

app = typer.Typer(
    name="stackctl",
    help="Declarative multi-container stacks on an embedded, daemonless container engine.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"stackctl version {__version__}")
        raise typer.Exit()


@app.callback()
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


for _name in COMMAND_MODULES:
    importlib.import_module(_name).register(app)


def _debug_requested(argv: list[str]) -> bool:
    import os

    return "--debug" in argv or os.environ.get("STACKCTL_DEBUG", "") not in ("", "0")


def report_error(exc: BaseException, *, debug: bool) -> int:
    """Print one clear message (and a hint) for ``exc``; return the exit code."""
    from stackctl.errors import StackctlError

    if debug:
        import traceback

        traceback.print_exception(exc, file=sys.stderr)
    if isinstance(exc, StackctlError):
        sys.stderr.write(f"Error: {exc.message}\n")
        if exc.hint:
            sys.stderr.write(f"Hint: {exc.hint}\n")
        return exc.exit_code
    sys.stderr.write(f"Error: internal error: {type(exc).__name__}: {exc}\n")
    sys.stderr.write("Hint: run again with --debug for the traceback, and report it.\n")
    return 125


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    try:
        app(args=args, prog_name="stackctl")
    except SystemExit:
        raise
    except KeyboardInterrupt:
        sys.stderr.write("Interrupted\n")
        raise SystemExit(130) from None
    except BaseException as exc:  # the one place errors become exit codes
        raise SystemExit(report_error(exc, debug=_debug_requested(args))) from None
