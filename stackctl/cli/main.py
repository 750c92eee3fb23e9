"""The ``stackctl`` entry point: a plain ``run``/``create`` goes the fast path
(cli/fastpath.py, no typer import); everything else goes to the typer app."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if len(args) > 1 and ("run" in args or "create" in args):
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
            raise SystemExit(code)
    from stackctl.cli.app import main as typer_main

    typer_main(args)


if __name__ == "__main__":
    main()
