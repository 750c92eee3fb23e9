"""``stackctl build``: build an image from a Dockerfile, with docker's flags.

    stackctl build -t app:1 -f Dockerfile --build-arg V=2 --target prod \\
        --no-cache -q --progress plain|tty --label k=v --network host --iidfile F \\
        --runtime stackctl|runc CONTEXT|-
    stackctl builder prune [-a] [-f]

``-`` reads a tar context (or a bare Dockerfile) from stdin. A base image that
is not in the store is pulled from its registry. Progress goes to stderr
(``plain``: BuildKit's numbered lines with timings and the RUN output;
``tty``: one compact line per step); ``-q`` prints only the image ID on
stdout. Only typer and the standard library are imported here; the builder is
imported when the command runs.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer

from stackctl.cli.prompt import confirm

if TYPE_CHECKING:
    from stackctl.engine.build.builder import BuildRequest


class _Plain:
    """BuildKit's ``--progress=plain`` shape: ``#N [stage i/n] TEXT`` ... ``#N DONE 0.1s``."""

    def __init__(self, out: typer.FileTextWrite | None = None) -> None:
        self.out = out or sys.stderr
        self.n = 0
        self.t0 = 0.0

    def _w(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def step(self, vertex: int, stage: str, index: int, count: int, text: str) -> None:
        self.n, self.t0 = vertex, time.monotonic()
        self._w(f"#{vertex} [{stage} {index}/{count}] {text}")

    def cached(self) -> None:
        self._w(f"#{self.n} CACHED")

    def output(self, data: bytes) -> None:
        line = data.decode("utf-8", "replace").rstrip("\n")
        self._w(f"#{self.n} {time.monotonic() - self.t0:.3f} {line}")

    def done(self) -> None:
        self._w(f"#{self.n} DONE {time.monotonic() - self.t0:.1f}s")

    def warning(self, text: str) -> None:
        self._w(text)


class _Tty(_Plain):
    """Compact: ``=> [stage i/n] TEXT 0.1s`` or ``=> CACHED [stage i/n] TEXT``, with
    a RUN's output indented under its step as it comes."""

    def step(self, vertex: int, stage: str, index: int, count: int, text: str) -> None:
        self.n, self.t0 = vertex, time.monotonic()
        self.head, self.shown = f"[{stage} {index}/{count}] {text}", False

    def cached(self) -> None:
        self._w(f" => CACHED {self.head}")

    def output(self, data: bytes) -> None:
        if not self.shown:
            self._w(f" => {self.head}")
            self.shown = True
        self._w("    " + data.decode("utf-8", "replace").rstrip("\n"))

    def done(self) -> None:
        took = f"{time.monotonic() - self.t0:.1f}s"
        self._w(f" => done {took}" if self.shown else f" => {self.head} {took}")


class _Quiet(_Plain):
    def step(self, vertex: int, stage: str, index: int, count: int, text: str) -> None:
        pass

    def cached(self) -> None:
        pass

    def output(self, data: bytes) -> None:
        pass

    def done(self) -> None:
        pass


def _pairs(values: list[str], flag: str) -> dict[str, str]:
    """``--build-arg K=V`` (or ``K`` alone: take it from the environment)."""
    import os

    from stackctl.errors import UsageError

    out: dict[str, str] = {}
    for item in values:
        key, eq, value = item.partition("=")
        if not key:
            raise UsageError(f"{flag} {item!r}: the name is empty", hint=f"write {flag} NAME=value")
        if not eq:
            if key not in os.environ:
                if flag == "--label":
                    value = ""
                else:
                    continue  # docker skips a bare --build-arg that is not in the environment
            else:
                value = os.environ[key]
        out[key] = value
    return out


def _is_archive(head: bytes) -> bool:
    """A tar (plain, gzip, bzip2, xz) rather than a bare Dockerfile."""
    if head.startswith((b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00")):
        return True
    return len(head) >= 262 and head[257:262] == b"ustar"


def _request(context: str, file: Optional[str], tags: list[str], build_args: list[str],  # noqa: UP045
             target: Optional[str], no_cache: bool, labels: list[str],  # noqa: UP045
             tmp: Path) -> BuildRequest:
    from stackctl.engine.build.builder import BuildRequest
    from stackctl.errors import UsageError

    stdin_dockerfile: bytes | None = None
    if context == "-":
        import io

        from stackctl.engine.images import tarsafe

        root = tmp / "context"
        raw = sys.stdin.buffer.read()
        if _is_archive(raw):
            tarsafe.extract(io.BytesIO(raw), root, whiteouts="keep", devices="skip")
        else:  # docker build - < Dockerfile: a Dockerfile and no context
            root.mkdir()
            stdin_dockerfile = raw
    else:
        root = Path(context)
        if not root.is_dir():
            raise UsageError(f"unable to prepare context: path {context!r} not found",
                             hint="give a directory, or '-' to read a tar archive from stdin")
    if stdin_dockerfile is not None:
        data, name = stdin_dockerfile, "Dockerfile"
    elif file == "-":
        if context == "-":
            raise UsageError("cannot read both the context and the Dockerfile from stdin")
        data, name = sys.stdin.buffer.read(), "Dockerfile"
    else:
        path = (root / (file or "Dockerfile")) if context == "-" or not file else Path(file)
        name = file or "Dockerfile"
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise UsageError(f"cannot read the Dockerfile {path}: {exc.strerror}",
                             hint="use -f to name the Dockerfile") from None
    return BuildRequest(root, data, dockerfile_name=name, tags=tuple(tags),
                        build_args=_pairs(build_args, "--build-arg"), target=target,
                        no_cache=no_cache, labels=_pairs(labels, "--label"))


def build(
    ctx: typer.Context,
    context: str = typer.Argument(..., metavar="PATH|-", help="Build context directory, or - "
                                  "for a tar archive on stdin."),
    tag: list[str] = typer.Option([], "--tag", "-t", help="Name and optionally a tag "
                                  "(name:tag); repeatable."),
    file: Optional[str] = typer.Option(None, "--file", "-f",  # noqa: UP045
                                       help="Name of the Dockerfile (default PATH/Dockerfile)."),
    build_arg: list[str] = typer.Option([], "--build-arg", help="Set a build-time variable."),
    target: Optional[str] = typer.Option(None, "--target",  # noqa: UP045
                                         help="Build this stage (and what it needs) only."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Do not use the build cache."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only the image ID."),
    progress: str = typer.Option("auto", "--progress", help="auto, plain, tty or quiet."),
    label: list[str] = typer.Option([], "--label", help="Set metadata on the image."),
    network: str = typer.Option("default", "--network", help="Networking for RUN: default "
                                "(= none: loopback only), none or host."),
    iidfile: Optional[str] = typer.Option(None, "--iidfile",  # noqa: UP045
                                          help="Write the image ID to this file."),
    runtime: str = typer.Option("stackctl", "--runtime", envvar="STACKCTL_RUNTIME",
                                help="OCI runtime for RUN steps: stackctl (built-in) or runc."),
) -> None:
    """Build an image from a Dockerfile."""
    import tempfile

    from stackctl.engine.build.api import registry_puller
    from stackctl.engine.build.builder import Builder
    from stackctl.engine.images.store import ImageStore
    from stackctl.errors import UsageError
    from stackctl.lightdc import replace

    if network not in ("default", "none", "host"):
        raise UsageError(f"--network {network!r}: use default, none or host",
                         hint="build containers have no bridge networking here")
    if runtime not in ("stackctl", "runc"):
        raise UsageError(f"--runtime {runtime}: unknown runtime", hint="use stackctl or runc")
    if progress not in ("auto", "plain", "tty", "quiet"):
        raise UsageError(f"--progress {progress!r}: use auto, plain, tty or quiet")
    if progress == "auto":
        progress = "tty" if sys.stderr.isatty() else "plain"
    sink = _Quiet() if quiet or progress == "quiet" else _Tty() if progress == "tty" \
        else _Plain()
    opts = ctx.obj
    _interrupt_on_sigterm()
    with tempfile.TemporaryDirectory(prefix="stackctl-build-") as tmp:
        req = _request(context, file, tag, build_arg, target, no_cache, label, Path(tmp))
        req = replace(req, network="host" if network == "host" else "none")
        with ImageStore(opts.root) as store:
            pull = registry_puller(store, opts.root, notify=sink.warning)
            result = Builder(store, run_root=opts.run_root, progress=sink, runtime=runtime,
                             pull=pull).build(req)
    if iidfile:
        Path(iidfile).write_text(result.image_id)
    if quiet:
        typer.echo(result.image_id)
        return
    short = result.image_id.split(":", 1)[1][:12]
    sys.stderr.write(f"writing image {result.image_id} done\n")
    for t in result.tags:
        sys.stderr.write(f"naming to {t} done\n")
    sys.stderr.write(f"Successfully built {short} ({result.cached}/{result.steps} steps "
                     "cached)\n")


def _interrupt_on_sigterm() -> None:
    """SIGTERM unwinds like Ctrl-C, so snapshots are unmounted and the build
    container is deleted on the way out."""
    import signal

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


def builder_prune(
    ctx: typer.Context,
    all_: bool = typer.Option(False, "--all", "-a", help="Remove all build cache, not just "
                              "entries whose image is gone (also RUN --mount caches)."),
    force: bool = typer.Option(False, "--force", "-f", help="Do not prompt for confirmation."),
) -> None:
    """Remove build cache."""
    from stackctl.engine.build.cache import BuildCache
    from stackctl.engine.images.store import ImageStore

    if not force:
        what = "all build cache" if all_ else "dangling build cache"
        if not confirm(f"WARNING! This will remove {what}.\nAre you sure you want to "
                       "continue?"):
            raise typer.Exit(0)
    opts = ctx.obj
    with ImageStore(opts.root) as store:
        entries, freed = BuildCache(opts.root).prune(
            lambda image_id: store.exists(image_id), everything=all_)
    typer.echo(f"Deleted build cache objects: {entries}")
    typer.echo(f"Total reclaimed space: {_human(freed)}")


def _human(n: int) -> str:
    size = float(n)
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.3g}{unit}" if unit != "B" else f"{n}B"
        size /= 1000
    return f"{n}B"


def register(app: typer.Typer) -> None:
    """Add ``build`` and ``builder prune`` to the app."""
    app.command("build")(build)
    builder = typer.Typer(name="builder", help="Manage the build cache.", no_args_is_help=True)
    builder.command("prune")(builder_prune)
    app.add_typer(builder, name="builder")
