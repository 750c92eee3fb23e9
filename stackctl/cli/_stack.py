"""Helpers shared by stack_cmds and the compose_* modules: open a stack, attach to logs.

Imports only typer and the standard library at module level (cold start);
the scheduler is imported inside the functions.
"""

from __future__ import annotations

import heapq
import os
import queue
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any

import typer

from stackctl.cli.options import GlobalOptions
from stackctl.cli.project_opts import load_options
from stackctl.lightdc import dataclass

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
    from stackctl.errors import StackctlError
    from stackctl.scheduler.progress import make_sink
    from stackctl.scheduler.stack import StackRunner, load_stack

    g = global_opts(ctx)
    flags = merged_flags(ctx, flags)
    opts = load_options(flags.files, flags.project_name, flags.project_directory,
                        flags.env_files, flags.profiles)
    stack = None
    try:
        stack = load_stack(opts, services, cache_dir=g.root / "cache" / "stacks")
        project = stack.project
        for w in stack.warnings:
            sys.stderr.write(f"WARNING: {w}\n")
    except StackctlError as exc:
        # without a stack file, -p alone names the project: labels say the rest
        no_file = "no stack file" in exc.message.lower()
        if need_file or not flags.project_name or not no_file or flags.files:
            raise
        project = flags.project_name
    env_parallel = os.environ.get("STACKCTL_PARALLEL") or os.environ.get("COMPOSE_PARALLEL_LIMIT")
    if parallel is None and env_parallel and env_parallel.isdigit():
        parallel = int(env_parallel)
    return StackRunner(g.root, g.run_root, project, stack, make_sink(progress),
                       parallel=parallel or None)


META_KEY = "stackctl.project_flags"
# ``stackctl compose --all-resources <cmd>``: create the networks and volumes no service
# uses too (ctx.meta is shared with the subcommand's context)
ALL_RESOURCES_KEY = "stackctl.all_resources"


def merged_flags(ctx: typer.Context, flags: ProjectFlags) -> ProjectFlags:
    """Flags given to ``stackctl compose`` (before the subcommand) fill in the ones
    the subcommand did not get."""
    base = ctx.meta.get(META_KEY)
    if not isinstance(base, ProjectFlags):
        return flags
    return ProjectFlags(
        files=flags.files or base.files,
        project_name=flags.project_name or base.project_name,
        project_directory=flags.project_directory or base.project_directory,
        env_files=flags.env_files or base.env_files,
        profiles=flags.profiles or base.profiles,
    )


def env_flag(name: str, runner: Any = None) -> bool:
    """A STACKCTL_/COMPOSE_ boolean setting: the process environment first, then the
    project's .env (compose reads COMPOSE_REMOVE_ORPHANS... from there too)."""
    settings = dict(getattr(getattr(runner, "stack", None), "settings", None) or {})
    for key in (f"STACKCTL_{name}", f"COMPOSE_{name}"):
        value = os.environ.get(key, settings.get(key))
        if value is not None:
            return value.lower() in ("1", "true", "yes")
    return False


_COLORS = ("36", "33", "32", "35", "34", "96", "93", "92", "95", "94")


def attach(runner: Any, services: Sequence[str], *, abort_on_exit: bool = False,
           abort_on_failure: bool = False, exit_code_from: str | None = None,
           timeout: float | None = None, timestamps: bool = False,
           watched: Sequence[str] | None = None) -> int:
    """``up`` in the foreground: follow the services' logs until every container
    stops (with ``watched``, until those services' containers have: compose's
    --attach-dependencies). Ctrl-C stops the stack gracefully; a second Ctrl-C
    kills it. Returns the exit code ``up`` ends with."""
    from stackctl.scheduler.plan import plan_stop

    observed = runner.observe(runner.driver.desired)
    scope = set(services)
    containers = [c for c in observed.containers
                  if not c.oneoff and (not scope or c.service in scope)]
    state: dict[str, Any] = {"code": 0, "stopper": None}

    def stop_all() -> None:
        plan = plan_stop(runner.driver.desired, runner.observe(runner.driver.desired),
                         services, timeout=timeout)
        runner.execute(plan)

    def start_stop() -> None:
        if state["stopper"] is None:
            stopper = threading.Thread(target=stop_all, daemon=True)
            state["stopper"] = stopper
            stopper.start()

    def on_exit(c: Any, code: int | None) -> None:
        sys.stdout.write(f"{_label(c)} exited with code {code}\n")
        if exit_code_from and c.service == exit_code_from:
            state["code"] = code or 0
        if abort_on_exit or (abort_on_failure and code):
            if not exit_code_from and state["stopper"] is None:
                state["code"] = code or 0
            if state["stopper"] is None:
                sys.stderr.write("Aborting on container exit...\n")
            start_stop()

    def on_interrupt(count: int) -> bool:
        if count == 1:
            sys.stderr.write("Gracefully stopping... (press Ctrl+C again to force)\n")
            state["code"] = 130
            start_stop()
            return True
        sys.stderr.write("Killing...\n")
        engine = runner.driver.engine()
        for c in containers:
            try:
                engine.kill(c.name)
            except Exception:  # already stopped: nothing to kill
                pass
        return False

    if containers:
        sys.stdout.write("Attaching to " + ", ".join(_label(c) for c in containers) + "\n")
    until = None if watched is None else {c.name for c in containers if c.service in watched}
    stream_logs(runner.driver.engine(), containers, follow=True, timestamps=timestamps,
                on_exit=on_exit, on_interrupt=on_interrupt, until=until)
    if state["stopper"] is not None:
        try:
            state["stopper"].join()
        except KeyboardInterrupt:
            on_interrupt(2)
    return int(state["code"])


def stream_logs(engine: Any, containers: Sequence[Any], *, follow: bool, tail: int | None = None,
                timestamps: bool = False, prefix: bool = True,
                on_exit: Any = None, on_interrupt: Any = None,
                until: set[str] | None = None) -> None:
    """Print the containers' logs with coloured ``web-1  | `` prefixes, interleaved
    as they come. With ``follow``, until every container (every one named in
    ``until``, when given) has stopped (``on_exit`` is told of each) or Ctrl-C
    (``on_interrupt(count)`` says whether to go on)."""
    if not containers:
        return
    color = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    width = max(len(_label(c)) for c in containers)
    # (log time, container, text or None at the end of its stream, from stderr?)
    lines: queue.Queue[tuple[float, Any, str | None, bool]] = queue.Queue()

    def read(c: Any) -> None:
        from stackctl.engine.api import Engine

        with Engine(engine.root, engine.run_root) as eng:
            try:
                for entry in eng.logs(c.name, follow=follow, tail=tail):
                    text = entry.log.rstrip("\n")
                    try:
                        when = float(entry.timestamp)
                    except (ValueError, AttributeError):
                        when = time.time()
                    lines.put((when, c, f"{entry.time} {text}" if timestamps else text,
                               entry.stream == "stderr"))
            except Exception as exc:  # a container removed under us ends its stream
                lines.put((time.time(), c, f"(logs ended: {exc})", True))
            ended = _finished(eng, c.name)
        # the end sorts by the container's own exit time: of two containers that
        # had both exited before we attached, the first to exit is reported first
        # (--abort-on-container-exit takes its code), whichever thread reads faster
        lines.put((ended or time.time(), c, None, False))

    for c in containers:
        threading.Thread(target=read, args=(c,), daemon=True).start()
    palette = {c.name: _COLORS[i % len(_COLORS)] for i, c in enumerate(containers)}
    live = {c.name for c in containers}

    def emit(c: Any, text: str | None, err: bool) -> None:
        if text is None:
            live.discard(c.name)
            if follow and on_exit is not None:
                try:
                    code = engine.get(c.name).exit_code
                except Exception:  # removed meanwhile
                    code = None
                on_exit(c, code)
            return
        head = ""
        if prefix:
            head = _label(c).ljust(width) + "  | "
            if color:
                head = f"\x1b[{palette[c.name]}m{head}\x1b[0m"
        # as compose does: a container's stderr goes to our stderr, stdout to stdout
        out = sys.stderr if err else sys.stdout
        out.write(head + text + "\n")
        out.flush()

    # Lines from several containers arrive through several threads; a short
    # reorder buffer prints them by their log time (a backlog read at once
    # comes out in the order it was written, not thread by thread).
    settle = 0.1
    pending: list[tuple[float, int, Any, str | None, bool]] = []
    oldest = 0.0
    seq = 0
    interrupts = 0
    while live and (until is None or live & until):
        try:
            when, c, text, err = lines.get(timeout=settle / 2)
            if not pending:
                oldest = time.monotonic()
            heapq.heappush(pending, (when, seq, c, text, err))
            seq += 1
            if time.monotonic() - oldest < settle:
                continue
        except queue.Empty:
            pass
        except KeyboardInterrupt:
            interrupts += 1
            if on_interrupt is None or not on_interrupt(interrupts):
                break
            continue
        while pending:
            _, _, c, text, err = heapq.heappop(pending)
            emit(c, text, err)


def _finished(engine: Any, name: str) -> float | None:
    """When ``name`` exited (Unix seconds), None while it runs or once it is gone."""
    from stackctl.engine.logs import parse_time

    try:
        rec = engine.get(name)
        done = str(rec.status) in ("exited", "dead")
        return parse_time(rec.finished_at) if done and rec.finished_at else None
    except Exception:  # removed meanwhile, or an unreadable time
        return None


def _label(c: Any) -> str:
    return f"{c.service}-{c.number}"


__all__ = ["META_KEY", "PROGRESS_HELP", "ProjectFlags", "attach", "env_flag", "global_opts",
           "merged_flags", "open_runner", "stream_logs"]
