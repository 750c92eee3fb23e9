"""Registry commands: pull, push, login, logout (docker's flags and output shapes).

Plain-HTTP registries: loopback hosts (localhost:*, 127.0.0.1:*) always; others
with ``--insecure`` or listed in ``STACKCTL_INSECURE_REGISTRIES``. Logins are
kept in ``<root>/auth.json`` (0600). Only typer and the standard library are
imported at module level (cold start); the registry client is imported inside
each command.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Optional

import typer

if TYPE_CHECKING:
    from stackctl.engine.images.reference import Reference
    from stackctl.engine.images.store import ImageStore
    from stackctl.engine.registry.client import RegistryClient

_INSECURE_HELP = "Use plain HTTP for this registry (as STACKCTL_INSECURE_REGISTRIES does)."


def _say(line: str) -> None:
    from stackctl.cli.registry_progress import say

    say(line)


def pull_cmd(
    ctx: typer.Context,
    ref: str = typer.Argument(..., metavar="NAME[:TAG|@DIGEST]"),
    all_tags: bool = typer.Option(False, "--all-tags", "-a",
                                  help="Download all tagged images in the repository."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Suppress verbose output."),
    platform: Optional[str] = typer.Option(  # noqa: UP045 - typer needs Optional on 3.11
        None, "--platform", help="Pull this platform (os/arch[/variant]) of a multi-platform "
        "image; default: this host's."),
    insecure: bool = typer.Option(False, "--insecure", help=_INSECURE_HELP),
) -> None:
    """Download an image from a registry."""
    from stackctl.engine.images import reference
    from stackctl.engine.images.store import ImageStore
    from stackctl.engine.registry.client import RegistryClient
    from stackctl.errors import UsageError

    r = reference.parse(ref, default_tag=False)
    if all_tags and (r.tag or r.digest):
        raise UsageError("tag can't be used with --all-tags/-a", hint=f"give just {r.name}")
    with ImageStore(ctx.obj.root) as store, \
            RegistryClient.open(ctx.obj.root, r.domain, insecure=insecure) as client:
        if all_tags:
            tags = client.list_tags(r.path, what=f"pull of {r.familiar()}")
            if not tags:
                raise UsageError(f"{r.familiar()} has no tags on its registry",
                                 hint="push a tagged image first")
            for tag in sorted(tags):
                _pull_one(store, client, r.with_tag(tag), quiet, platform)
            typer.echo(r.name)
            return
        if r.tag is None and r.digest is None:
            r = reference.parse(ref)
            if not quiet:
                _say("Using default tag: latest")
        typer.echo(_pull_one(store, client, r, quiet, platform))


def _pull_one(store: ImageStore, client: RegistryClient, r: Reference, quiet: bool,
              platform: str | None) -> str:
    """Pull one reference with docker's progress lines; return the reference pulled."""
    from stackctl.cli.registry_progress import PlainPull, TtyPull, warn
    from stackctl.engine.registry.pull import PullEvent, pull_image

    if not quiet:
        _say(f"{r.tag or r.digest}: Pulling from {r.path}")

    def only_warnings(ev: PullEvent) -> None:
        if ev.kind == "warning":
            warn(ev.detail)

    progress = only_warnings if quiet else TtyPull() if sys.stdout.isatty() else PlainPull()
    res = pull_image(store, str(r), platform=platform, client=client, progress=progress)
    if not quiet:
        _say(f"Digest: {res.digest}")
        status = "Image is up to date for" if res.up_to_date else "Downloaded newer image for"
        _say(f"Status: {status} {r.familiar()}")
    return res.reference


def push_cmd(
    ctx: typer.Context,
    ref: str = typer.Argument(..., metavar="NAME[:TAG]"),
    all_tags: bool = typer.Option(False, "--all-tags", "-a",
                                  help="Push every local tag of the repository."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Suppress verbose output."),
    insecure: bool = typer.Option(False, "--insecure", help=_INSECURE_HELP),
    compress: bool = typer.Option(False, "--compress", help="Push gzip copies of "
                                  "uncompressed layers (smaller uploads; the registry's "
                                  "manifest digest then differs from the local one)."),
) -> None:
    """Upload an image to a registry."""
    from stackctl.engine.images import reference
    from stackctl.engine.images.store import ImageStore
    from stackctl.engine.registry.client import RegistryClient
    from stackctl.engine.registry.push import PushEvent, push_image
    from stackctl.errors import NotFound, UsageError

    r = reference.parse(ref, default_tag=False)
    if all_tags and (r.tag or r.digest):
        raise UsageError("tag can't be used with --all-tags/-a", hint=f"give just {r.name}")

    def progress(ev: PushEvent) -> None:
        if quiet:
            return
        text = {"exists": "Layer already exists", "pushed": "Pushed",
                "mounted": f"Mounted from {ev.detail}"}.get(ev.kind)
        if text:
            _say(f"{ev.id}: {text}")

    with ImageStore(ctx.obj.root) as store, \
            RegistryClient.open(ctx.obj.root, r.domain, insecure=insecure) as client:
        if all_tags:
            targets = sorted({t for rec in store.list() for t in rec.refs
                              if "@" not in t and reference.parse(t).name == r.name})
            if not targets:
                raise NotFound(f"An image does not exist locally with the tag: "
                               f"{r.familiar_name}", hint="tag an image into that repository")
        else:
            if r.tag is None and r.digest is None:
                r = reference.parse(ref)
                if not quiet:
                    _say("Using default tag: latest")
            targets = [str(r)]
        if not quiet:
            _say(f"The push refers to repository [{r.name}]")
        for target in targets:
            res = push_image(store, target, client=client, progress=progress,
                             compress=compress)
            if quiet:
                typer.echo(res.reference)
            else:
                typer.echo(f"{res.tag or r.digest}: digest: {res.digest} size: {res.size}")


def login_cmd(
    ctx: typer.Context,
    server: Optional[str] = typer.Argument(None, metavar="[SERVER]"),  # noqa: UP045
    username: Optional[str] = typer.Option(None, "--username", "-u", help="Username."),  # noqa: UP045
    password: Optional[str] = typer.Option(None, "--password", "-p", help="Password."),  # noqa: UP045
    password_stdin: bool = typer.Option(False, "--password-stdin",
                                        help="Take the password from stdin."),
    insecure: bool = typer.Option(False, "--insecure", help=_INSECURE_HELP),
) -> None:
    """Log in to a registry (default: Docker Hub); the login is saved in <root>/auth.json."""
    from stackctl.engine.registry.login import login
    from stackctl.errors import UsageError

    host = server or "docker.io"
    if password is not None and password_stdin:
        raise UsageError("--password and --password-stdin are mutually exclusive",
                         hint="give the password one way")
    if password_stdin:
        if not username:
            raise UsageError("Must provide --username with --password-stdin",
                             hint="stackctl login -u USER --password-stdin HOST")
        password = sys.stdin.read().rstrip("\r\n")
    elif password is not None:
        sys.stderr.write("WARNING! Using --password via the CLI is insecure. "
                         "Use --password-stdin.\n")
    if username is None or password is None:
        if not sys.stdin.isatty():
            raise UsageError("Cannot perform an interactive login from a non TTY device",
                             hint="give -u USER and --password-stdin")
        import getpass

        if username is None:
            username = input("Username: ").strip()
        if password is None:
            password = getpass.getpass("Password: ")
    login(ctx.obj.root, host, username, password, insecure=insecure)
    sys.stderr.write(f"WARNING! Your password will be stored unencrypted in "
                     f"{ctx.obj.root / 'auth.json'} (readable by its owner only).\n")
    typer.echo("Login Succeeded")


def logout_cmd(
    ctx: typer.Context,
    server: Optional[str] = typer.Argument(None, metavar="[SERVER]"),  # noqa: UP045
) -> None:
    """Log out from a registry (forget the saved login)."""
    from stackctl.engine.registry.login import logout

    domain, had = logout(ctx.obj.root, server or "docker.io")
    shown = server or domain
    typer.echo(f"Removing login credentials for {shown}" if had else f"Not logged in to {shown}")


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``. Import heavy layers inside commands."""
    app.command("pull")(pull_cmd)
    app.command("push")(push_cmd)
    app.command("login")(login_cmd)
    app.command("logout")(logout_cmd)
    # ``image pull`` / ``image push`` as docker has them, in the ``image`` group that
    # image_cmds registered before this module (COMMAND_MODULES order)
    for group in app.registered_groups:
        if group.name == "image" and group.typer_instance is not None:
            group.typer_instance.command("pull")(pull_cmd)
            group.typer_instance.command("push")(push_cmd)
