"""``stackctl run`` and ``stackctl create``: one set of Docker flags, two commands.

Module level imports typer and the standard library only (cold-start budget);
what the commands do is in cli/run_flow.py, which cli/fastpath.py also calls
when it can parse a plain ``run`` without typer.
"""

from __future__ import annotations

from typing import Any, Optional

import typer
from typer.core import TyperCommand

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
    add_host: Strs = typer.Option(None, "--add-host", metavar="HOST:IP",
                                  help="An /etc/hosts line; IP may be host-gateway."),
    dns: Strs = typer.Option(None, "--dns", help="A DNS server to use."),
    dns_search: Strs = typer.Option(None, "--dns-search", help="A DNS search domain."),
    dns_option: Strs = typer.Option(None, "--dns-option", help="A resolv.conf option."),
    shm_size: OStr = typer.Option(None, "--shm-size", help="Size of /dev/shm (default 64m)."),
    group_add: Strs = typer.Option(None, "--group-add", help="A supplementary group."),
    cpu_shares: OInt = typer.Option(None, "--cpu-shares", "-c",
                                    help="Relative CPU weight (default 1024)."),
    cpu_period: OInt = typer.Option(None, "--cpu-period", help="CFS period (microseconds)."),
    cpu_quota: OInt = typer.Option(None, "--cpu-quota", help="CFS quota (microseconds)."),
    cpuset_cpus: OStr = typer.Option(None, "--cpuset-cpus", metavar="LIST",
                                     help="CPUs it may run on (0-3, 0,1)."),
    cpuset_mems: OStr = typer.Option(None, "--cpuset-mems", metavar="LIST",
                                     help="Memory nodes it may use (0-3, 0,1)."),
    memory_reservation: OStr = typer.Option(None, "--memory-reservation",
                                            help="Memory soft limit (e.g. 32m)."),
    memory_swappiness: OInt = typer.Option(None, "--memory-swappiness",
                                           help="Swappiness 0-100 (-1: the host's)."),
    oom_kill_disable: bool = typer.Option(False, "--oom-kill-disable",
                                          help="Disable the OOM killer (cgroup v1)."),
    oom_score_adj: OInt = typer.Option(None, "--oom-score-adj",
                                       help="OOM killer preference, -1000 to 1000."),
    domainname: OStr = typer.Option(None, "--domainname", help="Container NIS domain name."),
    pid: OStr = typer.Option(None, "--pid", metavar="MODE",
                             help="PID namespace: host or container:NAME."),
    uts: OStr = typer.Option(None, "--uts", metavar="MODE", help="UTS namespace: host."),
    security_opt: Strs = typer.Option(None, "--security-opt", metavar="OPT",
                                      help="no-new-privileges, seccomp=unconfined..."),
    device: Strs = typer.Option(None, "--device", metavar="HOST[:CTR[:PERMS]]",
                                help="Add a host device (PERMS: rwm)."),
    device_cgroup_rule: Strs = typer.Option(None, "--device-cgroup-rule", metavar="RULE",
                                            help="Allow devices: 'c 13:* rwm'."),
) -> None:
    """Create and run a new container from an image."""
    from stackctl.cli.run_flow import run_container

    raise typer.Exit(run_container(ctx.obj, ctx.params, create_only=ctx.info_name == "create"))


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
