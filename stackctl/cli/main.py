"""The ``stackctl`` entry point: a plain ``run``/``create``/``ps`` goes the fast
path (cli/fastpath.py, no typer import), ``--help`` prints the pre-rendered help;
everything else goes to the typer app."""

from __future__ import annotations

import sys

from stackctl.timeline import mark

HELP_FILE = "help.txt"  # the top-level help, pre-rendered (cli/app.py renews it)


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    mark("cli: start")
    if args in (["--help"], ["-h"]):  # pre-rendered (cli/app.py HELP_FILE): no typer
        import os

        try:
            with open(os.path.join(os.path.dirname(__file__), HELP_FILE)) as f:
                sys.stdout.write(f.read())
            return
        except OSError:
            pass
    if any(a in ("run", "create", "ps") for a in args):  # fastpath.FAST_COMMANDS
        from stackctl.cli import fastpath

        try:
            code = fastpath.try_run(args)
        except KeyboardInterrupt:
            sys.stderr.write("Interrupted\n")
            raise SystemExit(130) from None
        except BaseException as exc:  # as cli.app.main maps them
            if isinstance(exc, SystemExit):
                raise
            from stackctl.cli.report import debug_requested, report_error

            raise SystemExit(report_error(exc, debug=debug_requested(args))) from None
        if code is not None:
            mark("cli: done")
            if argv is None:
                _exit_now(code)
            raise SystemExit(code)
    from stackctl.cli.app import main as typer_main

    typer_main(args)


def _exit_now(code: int) -> None:
    """End the process without the interpreter's finalization (~5 ms of freeing
    every module on a ``run --rm``): the fast path has closed its engine and
    database, runs no thread and registers no atexit hook; only the streams
    need flushing."""
    import os

    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            code = code or 120  # as the interpreter: output was lost
    os._exit(code)


if __name__ == "__main__":
    main()
