"""Images to and from files and containers: ``save``, ``load``, ``commit``, ``export``.

Module level imports typer and the standard library only; each command imports
the engine or the store.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Optional

import typer

from stackctl.cli._containers import open_engine
from stackctl.cli._images import open_store


def save_cmd(
    ctx: typer.Context,
    images: list[str] = typer.Argument(..., metavar="IMAGE..."),
    output: Optional[str] = typer.Option(None, "--output", "-o",  # noqa: UP045
                                         help="Write to a file instead of stdout."),
    oci: bool = typer.Option(False, "--oci", help="Write an OCI image layout archive only "
                             "(default: docker-archive, which is also an OCI layout)."),
) -> None:
    """Save one or more images to a tar archive (streamed to stdout by default)."""
    from stackctl.engine.images.archive import save
    from stackctl.errors import UsageError

    if output is None and sys.stdout.isatty():
        raise UsageError("cowardly refusing to save to a terminal",
                         hint="use -o FILE or redirect stdout")
    with open_store(ctx) as store:
        if output is None:
            save(store, images, sys.stdout.buffer, docker=not oci)
        else:
            save(store, images, Path(output), docker=not oci)


def load_cmd(
    ctx: typer.Context,
    input_: Optional[str] = typer.Option(None, "--input", "-i",  # noqa: UP045
                                         help="Read from a tar archive file, not stdin."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Suppress the load output."),
) -> None:
    """Load images from a tar archive (docker save format or OCI layout)."""
    from stackctl.engine.images import reference
    from stackctl.engine.images.archive import load
    from stackctl.errors import UsageError

    if input_ is None and sys.stdin.isatty():
        raise UsageError("requested load from stdin, but stdin is empty",
                         hint="use -i FILE or redirect stdin")
    src = Path(input_) if input_ is not None else sys.stdin.buffer
    with open_store(ctx) as store:
        loaded = load(store, src)
    if quiet:
        return
    for rec, names in loaded:
        if names:
            for n in names:
                typer.echo(f"Loaded image: {reference.familiar(n)}")
        else:
            typer.echo(f"Loaded image ID: {rec.id}")


def commit_cmd(
    ctx: typer.Context,
    container: Optional[str] = typer.Argument(None, metavar="CONTAINER"),  # noqa: UP045
    repository: Optional[str] = typer.Argument(None, metavar="[REPOSITORY[:TAG]]"),  # noqa: UP045
    author: str = typer.Option("", "--author", "-a", help="Author (e.g. \"Name <mail>\")."),
    message: str = typer.Option("", "--message", "-m", help="Commit message."),
    change: list[str] = typer.Option([], "--change", "-c",
                                      help="Apply a Dockerfile instruction (CMD, ENV, ...)."),
    pause_flag: str = typer.Option("true", "--pause", "-p",
                                   metavar="[=true|false]",
                                   help="Pause the container during commit."),
    no_pause: bool = typer.Option(False, "--no-pause", hidden=True),
) -> None:
    """Create a new image from a container's changes."""
    from stackctl.engine.images import reference
    from stackctl.engine.images.commit import RunOverrides, commit_upper, merged_config
    from stackctl.errors import StackctlError, UsageError

    # docker: --pause is a bool flag, so --pause=false is how its users turn it off; a
    # bare --pause takes the next word as its value here, which is then the container
    args = [a for a in (container, repository) if a is not None]
    pause = not no_pause
    if pause_flag.lower() in ("false", "0"):
        pause = False
    elif pause_flag.lower() not in ("true", "1"):
        args.insert(0, pause_flag)
    if not 1 <= len(args) <= 2:
        raise UsageError("commit: expected CONTAINER [REPOSITORY[:TAG]]",
                         hint="e.g. stackctl commit --pause=false web me/web:snapshot")
    container, repository = args[0], (args[1] if len(args) == 2 else None)
    if repository is not None:
        reference.parse(repository)  # a bad name fails before anything is written
    with open_engine(ctx) as engine:
        rec = engine.get(container)
        paused = False
        if pause and rec.status == "running":
            with contextlib.suppress(StackctlError):  # freezer missing: commit unfrozen
                engine.pause(rec.id)
                paused = True
        try:
            c = rec.config
            hc = c.healthcheck
            run = RunOverrides(
                command=c.command, entrypoint=c.entrypoint, env=c.env,
                working_dir=c.working_dir, user=c.user, labels=c.labels, expose=c.expose,
                health_test=hc.test if hc else None,
                health_interval=hc.interval if hc else 0.0,
                health_timeout=hc.timeout if hc else 0.0,
                health_retries=hc.retries if hc else 0,
                health_start_period=hc.start_period if hc else 0.0,
                stop_signal=c.stop_signal)
            base = engine.images.get(rec.image_id)
            cmd = [*(c.entrypoint or base.config.entrypoint or ()),
                   *(c.command if c.command is not None else base.config.cmd or ())]
            new = commit_upper(engine.images, base, engine.paths(rec.id).upper,
                               merged_config(base.config, run, change),
                               refs=[repository] if repository else [], author=author,
                               comment=message, created_by=" ".join(cmd))
        finally:
            if paused:
                engine.unpause(rec.id)
    typer.echo(new.id)


def export_cmd(
    ctx: typer.Context,
    container: str = typer.Argument(..., metavar="CONTAINER"),
    output: Optional[str] = typer.Option(None, "--output", "-o",  # noqa: UP045
                                         help="Write to a file instead of stdout."),
) -> None:
    """Export a container's filesystem as a tar archive."""
    from stackctl.engine.images.commit import export_tree, merged_view
    from stackctl.errors import UsageError

    if output is None and sys.stdout.isatty():
        raise UsageError("cowardly refusing to export to a terminal",
                         hint="use -o FILE or redirect stdout")
    with open_engine(ctx) as engine:
        rec = engine.get(container)
        image = engine.images.get(rec.image_id)
        with merged_view(engine.images, image, engine.paths(rec.id).upper) as tree:
            if output is None:
                export_tree(tree, sys.stdout.buffer)
                return
            dest = Path(output)
            tmp = dest.with_name(f".{dest.name}.tmp")
            try:
                with open(tmp, "wb") as fh:
                    export_tree(tree, fh)
                tmp.replace(dest)
            finally:
                tmp.unlink(missing_ok=True)


__all__ = ["commit_cmd", "export_cmd", "load_cmd", "save_cmd"]
