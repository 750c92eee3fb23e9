"""``stackctl run`` and ``stackctl create``: one set of Docker flags, two commands.

Module level imports typer and the standard library only (cold-start budget);
the engine is imported inside the command.
"""

from __future__ import annotations

import sys
from typing import Any, Optional

import typer
from typer.core import TyperCommand

from stackctl.cli.options import GlobalOptions

# Options stop at the image: `run busybox ls -l` passes -l to ls. -h is --hostname here.
RUN_SETTINGS = {"allow_interspersed_args": False, "help_option_names": ["--help"]}

Strs = Optional[list[str]]  # noqa: UP045 - typer needs Optional on 3.11
OStr = Optional[str]  # noqa: UP045
OInt = Optional[int]  # noqa: UP045


def _run(
    ctx: typer.Context,
    image: str = typer.Argument(..., help="Image to run."),
    args: Strs = typer.Argument(None, help="Command and arguments."),
    detach: bool = typer.Option(False, "--detach", "-d", help="Run in background, print id."),
    interactive: bool = typer.Option(False, "--interactive", "-i", help="Keep stdin open."),
    tty: bool = typer.Option(False, "--tty", "-t", help="Allocate a pseudo-terminal."),
    rm: bool = typer.Option(False, "--rm", help="Remove the container when it exits."),
    name: OStr = typer.Option(None, "--name", help="Container name."),
    env: Strs = typer.Option(None, "--env", "-e", help="Set an environment variable."),
    env_file: Strs = typer.Option(None, "--env-file", help="Read variables from a file."),
    volume: Strs = typer.Option(None, "--volume", "-v", help="[SRC:]DST[:ro] mount."),
    tmpfs: Strs = typer.Option(None, "--tmpfs", help="Mount a tmpfs PATH[:OPTIONS]."),
    mount: Strs = typer.Option(None, "--mount", help="type=bind|volume|tmpfs,source=,target=."),
    workdir: OStr = typer.Option(None, "--workdir", "-w", help="Working directory."),
    user: OStr = typer.Option(None, "--user", "-u", help="user[:group] or uid[:gid]."),
    hostname: OStr = typer.Option(None, "--hostname", "-h", help="Container host name."),
    entrypoint: OStr = typer.Option(None, "--entrypoint", help="Override ENTRYPOINT."),
    restart: str = typer.Option("no", "--restart", help="no|always|on-failure[:N]|unless-stopped"),
    memory: OStr = typer.Option(None, "--memory", "-m", help="Memory limit (e.g. 64m)."),
    memory_swap: OStr = typer.Option(None, "--memory-swap", help="Memory+swap, -1=unlimited."),
    cpus: OStr = typer.Option(None, "--cpus", help="Number of CPUs (e.g. 0.5)."),
    pids_limit: OInt = typer.Option(None, "--pids-limit", help="Max processes (-1 = unlimited)."),
    cap_add: Strs = typer.Option(None, "--cap-add", help="Add a Linux capability."),
    cap_drop: Strs = typer.Option(None, "--cap-drop", help="Drop a Linux capability."),
    privileged: bool = typer.Option(False, "--privileged", help="Give extended privileges."),
    read_only: bool = typer.Option(False, "--read-only", help="Mount the root read-only."),
    init: bool = typer.Option(False, "--init", help="Run an init as PID 1."),
    label: Strs = typer.Option(None, "--label", "-l", help="Set a label KEY=VALUE."),
    network: str = typer.Option("bridge", "--network", "--net", help="bridge|none|host|NAME."),
    network_alias: Strs = typer.Option(None, "--network-alias", help="Alias on the network."),
    ip: OStr = typer.Option(None, "--ip", help="A static IPv4 address on the network."),
    publish: Strs = typer.Option(None, "--publish", "-p", help="[ip:][host:]ctr[/proto]"),
    publish_all: bool = typer.Option(False, "--publish-all", "-P",
                                     help="Publish every exposed port on a random port."),
    expose: Strs = typer.Option(None, "--expose", help="Expose a port or range (80/tcp)."),
    health_cmd: OStr = typer.Option(None, "--health-cmd", help="Command to check health."),
    health_interval: OStr = typer.Option(None, "--health-interval", help="e.g. 30s."),
    health_timeout: OStr = typer.Option(None, "--health-timeout", help="e.g. 30s."),
    health_retries: OInt = typer.Option(None, "--health-retries", help="Failures to unhealthy."),
    health_start_period: OStr = typer.Option(None, "--health-start-period", help="e.g. 5s."),
    health_start_interval: OStr = typer.Option(None, "--health-start-interval",
                                               help="Probe interval in the start period."),
    no_healthcheck: bool = typer.Option(False, "--no-healthcheck", help="Disable HEALTHCHECK."),
    stop_signal: OStr = typer.Option(None, "--stop-signal", help="Stop signal."),
    stop_timeout: OInt = typer.Option(None, "--stop-timeout", help="Seconds before SIGKILL."),
    log_opt: Strs = typer.Option(None, "--log-opt", help="max-size=10m, max-file=3."),
    ulimit: Strs = typer.Option(None, "--ulimit", help="NAME=SOFT[:HARD]."),
    sysctl: Strs = typer.Option(None, "--sysctl", help="KEY=VALUE."),
    ipc: str = typer.Option("", "--ipc", metavar="MODE",
                            help="IPC mode: private, shareable, host, none, container:NAME."),
    link: Strs = typer.Option(None, "--link", metavar="NAME[:ALIAS]",
                              help="ALIAS resolves to container NAME in this one."),
    runtime: str = typer.Option("stackctl", "--runtime", envvar="STACKCTL_RUNTIME",
                                help="stackctl (built-in) or runc."),
) -> None:
    """Create and run a new container from an image."""
    from stackctl.cli.run_opts import RunFlags, to_config
    from stackctl.engine.api import Engine
    from stackctl.errors import RuntimeFailure, StackctlError

    try:
        g: GlobalOptions = ctx.obj
        t = tuple
        flags = RunFlags(
            image=image, args=t(args or ()), name=name, env=t(env or ()),
            env_file=t(env_file or ()), volume=t(volume or ()), tmpfs=t(tmpfs or ()),
            mount=t(mount or ()),
            workdir=workdir, user=user, hostname=hostname, entrypoint=entrypoint, restart=restart,
            rm=rm, interactive=interactive, tty=tty, memory=memory, memory_swap=memory_swap,
            cpus=cpus, pids_limit=pids_limit, cap_add=t(cap_add or ()), cap_drop=t(cap_drop or ()),
            privileged=privileged, read_only=read_only, init=init, label=t(label or ()),
            network=network, network_alias=t(network_alias or ()), ip=ip,
            publish=t(publish or ()),
            publish_all=publish_all, expose=t(expose or ()),
            health_cmd=health_cmd, health_interval=health_interval, health_timeout=health_timeout,
            health_retries=health_retries, health_start_period=health_start_period,
            health_start_interval=health_start_interval,
            no_healthcheck=no_healthcheck, stop_signal=stop_signal, stop_timeout=stop_timeout,
            log_opt=t(log_opt or ()), ulimit=t(ulimit or ()), sysctl=t(sysctl or ()),
            runtime=runtime, ipc=ipc, link=t(link or ()))
        config = to_config(flags)
        with Engine(g.root, g.run_root) as engine:
            rec = engine.create(config)
            if ctx.info_name == "create":
                typer.echo(rec.id)
                return
            attached = not detach
            if attached and rm:
                # No detached monitor: this process supervises (saves a Python start-up).
                try:
                    code = engine.run_foreground(rec.id, stdin=interactive, tty=tty)
                except BaseException:
                    _discard(engine, rec.id)
                    raise
                raise typer.Exit(code)
            try:
                engine.start(rec.id, hold=attached)
            except BaseException:
                _discard(engine, rec.id)
                raise
            if detach:
                typer.echo(rec.id)
                return
            code = attach_session(engine, rec.id, stdin=interactive, tty=tty)
        raise typer.Exit(code)
    except StackctlError as exc:
        # docker run: 125 for every error of the engine or of the flags, so a
        # script tells them from the container's own exit code (126, 127 and
        # the command's codes come through as RuntimeFailure or typer.Exit)
        if not isinstance(exc, RuntimeFailure):
            exc.exit_code = 125
        raise


def _discard(engine: object, cid: str) -> None:
    """A container that never ran is not left behind (bad command, user, mount…)."""
    from stackctl.errors import StackctlError

    try:
        engine.remove(cid, force=True, volumes=True)  # type: ignore[attr-defined]
    except StackctlError:
        pass


def attach_session(engine: object, cid: str, *, stdin: bool, tty: bool,
                   replay: bool = True) -> int:
    """Attach this terminal to ``cid`` until it ends; its exit code (removal awaited)."""
    from stackctl.engine.api import Engine
    from stackctl.engine.attach import DETACHED, attach
    from stackctl.errors import NotFound, StackctlError

    assert isinstance(engine, Engine)
    rec = engine.get(cid)
    sock = engine.connect(cid)

    def forward(sig: int) -> None:
        try:
            engine.kill(cid, sig)
        except StackctlError:
            pass

    try:
        code = attach(sock, stdin=stdin, tty=tty, sock_path=engine.paths(cid).sock,
                      on_signal=forward, replay=replay)
    finally:
        sock.close()
    if code == DETACHED:  # Ctrl-P Ctrl-Q: leave it running, like docker
        return 0
    if code is None:
        try:
            code = engine.wait(cid)
        except NotFound:
            code = 0
    if rec.config.auto_remove:
        _await_removal(engine, cid)
    sys.stdout.flush()
    return code


def _await_removal(engine: object, cid: str) -> None:
    import time

    from stackctl.errors import NotFound

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            engine.get(cid)  # type: ignore[attr-defined]
        except NotFound:
            return
        time.sleep(0.01)


class _RunCommand(TyperCommand):
    """``docker run`` exits 125 when its command line does not parse (an unknown
    flag, a missing image) as for any other error of its own; click says 2."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except Exception as exc:
            if getattr(exc, "exit_code", None) == 2:
                exc.exit_code = 125  # type: ignore[attr-defined]
            raise


def register(app: typer.Typer) -> None:
    app.command("run", cls=_RunCommand, context_settings=RUN_SETTINGS)(_run)
    app.command("create", cls=_RunCommand, context_settings=RUN_SETTINGS,
                help="Create a new container (not started).")(_run)
