"""Helpers shared by stack_cmds and compose_cmds: open a stack, attach to logs.

Imports only typer and the standard library at module level (cold start);
the scheduler is imported inside the functions.
"""

from __future__ import annotations

import os
import queue
import signal
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import typer

from stackctl.cli.options import GlobalOptions
from stackctl.cli.project_opts import load_options

PROGRESS_HELP = "Progress output: auto, tty, plain, json or quiet."


@dataclass(frozen=True)
class ProjectFlags:
    files: list[str] | None = None
    project_name: str | None = None
    project_directory: str | None = None
    env_files: list[str] | None = None
    profiles: list[str] | None = None


def global_opts(ctx: typer.Context) -> GlobalOptions:
    obj = ctx.find_root().obj
    if isinstance(obj, GlobalOptions):
        return obj
    return GlobalOptions.resolve(None, None, False)


def open_runner(ctx: typer.Context, flags: ProjectFlags, *, services: Sequence[str] = (),
                progress: str = "auto", parallel: int | None = None,
                need_file: bool = True) -> Any:
    """A StackRunner for the stack the flags name. Without a stack file, ``-p``
    alone is enough when ``need_file`` is False (down, ps, logs... by labels)."""
    from stackctl.errors import SpecError
    from stackctl.scheduler.progress import make_sink
    from stackctl.scheduler.stack import StackRunner, load_stack

    g = global_opts(ctx)
    opts = load_options(flags.files, flags.project_name, flags.project_directory,
                        flags.env_files, flags.profiles)
    stack = None
    try:
        stack = load_stack(opts, services)
        project = stack.project
    except SpecError as exc:
        no_file = "no stack file" in exc.message.lower() or "not found" in exc.message.lower()
        if need_file or not flags.project_name or not no_file or flags.files:
            raise
        project = flags.project_name
    env_parallel = os.environ.get("STACKCTL_PARALLEL") or os.environ.get("COMPOSE_PARALLEL_LIMIT")
    if parallel is None and env_parallel and env_parallel.isdigit():
        parallel = int(env_parallel)
    return StackRunner(g.root, g.run_root, project, stack, make_sink(progress),
                       parallel=parallel or None)


def env_flag(name: str) -> bool:
    value = os.environ.get(f"STACKCTL_{name}") or os.environ.get(f"COMPOSE_{name}") or ""
    return value.lower() in ("1", "true", "yes")


_COLORS = ("36", "33", "32", "35", "34", "96", "93", "92", "95", "94")


def attach(runner: Any, services: Sequence[str], *, abort_on_exit: bool = False,
           abort_on_failure: bool = False, exit_code_from: str | None = None,
           timeout: float | None = None, timestamps: bool = False) -> int:
    """Follow the logs of the services' containers with ``web-1  | `` prefixes until
    they all stop. Ctrl-C stops the stack gracefully; a second Ctrl-C kills it.
    Returns the exit code ``up`` should end with."""
    from stackctl.scheduler.plan import plan_stop

    engine = runner.driver.engine()
    observed = runner.observe(runner.driver.desired)
    scope = set(services)
    containers = [c for c in observed.containers
                  if not c.oneoff and (not scope or c.service in scope)]
    if not containers:
        return 0
    color = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    width = max(len(_label(c)) for c in containers)
    lines: queue.Queue[tuple[Any, str | None]] = queue.Queue()

    def follow(c: Any) -> None:
        from stackctl.engine.api import Engine

        with Engine(engine.root, engine.run_root) as eng:
            try:
                for entry in eng.logs(c.name, follow=True):
                    text = entry.log.rstrip("\n")
                    if timestamps:
                        text = f"{entry.time} {text}"
                    lines.put((c, text))
            except Exception as exc:  # a container removed under us ends its stream
                lines.put((c, f"(logs ended: {exc})"))
        lines.put((c, None))

    for c in containers:
        threading.Thread(target=follow, args=(c,), daemon=True).start()
    palette = {c.name: _COLORS[i % len(_COLORS)] for i, c in enumerate(containers)}
    live = {c.name for c in containers}
    code = 0
    interrupted = 0
    stop_thread: threading.Thread | None = None

    def stop_all() -> None:
        plan = plan_stop(runner.driver.desired, runner.observe(runner.driver.desired),
                         services, timeout=timeout)
        runner.execute(plan)

    def on_sigint(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGINT, on_sigint)
    try:
        while live:
            try:
                c, text = lines.get(timeout=0.2)
            except queue.Empty:
                continue
            except KeyboardInterrupt:
                interrupted += 1
                if interrupted == 1:
                    sys.stderr.write("Gracefully stopping... (press Ctrl+C again to force)\n")
                    stop_thread = threading.Thread(target=stop_all, daemon=True)
                    stop_thread.start()
                    code = 130
                else:
                    sys.stderr.write("Killing...\n")
                    for name in list(live):
                        try:
                            engine.kill(name)
                        except Exception:  # already gone: nothing to kill
                            pass
                    break
                continue
            prefix = _label(c).ljust(width) + "  | "
            if color:
                prefix = f"\x1b[{palette[c.name]}m{prefix}\x1b[0m"
            if text is not None:
                sys.stdout.write(prefix + text + "\n")
                sys.stdout.flush()
                continue
            live.discard(c.name)
            rec_code = engine.get(c.name).exit_code
            sys.stdout.write(f"{_label(c)} exited with code {rec_code}\n")
            sys.stdout.flush()
            if exit_code_from and c.service == exit_code_from:
                code = rec_code or 0
            failed = bool(rec_code)
            if (abort_on_exit or (abort_on_failure and failed)) and stop_thread is None:
                if not exit_code_from:
                    code = rec_code or 0
                sys.stderr.write("Aborting on container exit...\n")
                stop_thread = threading.Thread(target=stop_all, daemon=True)
                stop_thread.start()
        if stop_thread is not None:
            stop_thread.join()
    finally:
        signal.signal(signal.SIGINT, old)
    return code


def _label(c: Any) -> str:
    return f"{c.service}-{c.number}"


__all__ = ["PROGRESS_HELP", "ProjectFlags", "attach", "env_flag", "global_opts", "open_runner"]
