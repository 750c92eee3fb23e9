"""The one place errors become a message and an exit code (no typer: the fast
``run`` path in cli/fastpath.py reports through it too)."""

from __future__ import annotations

import os
import sys


def debug_requested(argv: list[str]) -> bool:
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


__all__ = ["debug_requested", "report_error"]
