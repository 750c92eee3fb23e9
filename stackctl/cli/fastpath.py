"""A plain ``stackctl run``/``create``/``ps`` without importing typer.

Importing typer (and the click it vendors) and converting the command costs
about 60 ms, a third of a ``run --rm busybox true`` and half of a ``ps``. This
module parses those commands' flags itself, for the command lines it fully
understands, and hands the same parameters typer would build to the same code
(cli/run_flow.py, cli/ps_list.py). Anything else (``--help``, an unknown flag,
a value that does not parse, a flag given a value it does not take) returns
None and the caller goes the typer way, so typer stays the one source of help
texts and flag errors.

``RUN_OPTIONS`` and ``PS_OPTIONS`` must match the typer commands' options
(``run_cmd._run``, ``ps_cmd.ps``) name for name and kind; tests/test_fastpath.py
checks them against typer, and checks that both parsers agree on a corpus of
command lines.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

FLAG, STR, INT, MULTI = "flag", "str", "int", "multi"

# parameter -> (kind, option names): as declared in run_cmd._run
RUN_OPTIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    "detach": (FLAG, ("--detach", "-d")),
    "interactive": (FLAG, ("--interactive", "-i")),
    "tty": (FLAG, ("--tty", "-t")),
    "rm": (FLAG, ("--rm",)),
    "name": (STR, ("--name",)),
    "env": (MULTI, ("--env", "-e")),
    "env_file": (MULTI, ("--env-file",)),
    "volume": (MULTI, ("--volume", "-v")),
    "tmpfs": (MULTI, ("--tmpfs",)),
    "mount": (MULTI, ("--mount",)),
    "workdir": (STR, ("--workdir", "-w")),
    "user": (STR, ("--user", "-u")),
    "hostname": (STR, ("--hostname", "-h")),
    "entrypoint": (STR, ("--entrypoint",)),
    "restart": (STR, ("--restart",)),
    "memory": (STR, ("--memory", "-m")),
    "memory_swap": (STR, ("--memory-swap",)),
    "cpus": (STR, ("--cpus",)),
    "pids_limit": (INT, ("--pids-limit",)),
    "cap_add": (MULTI, ("--cap-add",)),
    "cap_drop": (MULTI, ("--cap-drop",)),
    "privileged": (FLAG, ("--privileged",)),
    "read_only": (FLAG, ("--read-only",)),
    "init": (FLAG, ("--init",)),
    "label": (MULTI, ("--label", "-l")),
    "network": (STR, ("--network", "--net")),
    "network_alias": (MULTI, ("--network-alias",)),
    "ip": (STR, ("--ip",)),
    "publish": (MULTI, ("--publish", "-p")),
    "publish_all": (FLAG, ("--publish-all", "-P")),
    "expose": (MULTI, ("--expose",)),
    "health_cmd": (STR, ("--health-cmd",)),
    "health_interval": (STR, ("--health-interval",)),
    "health_timeout": (STR, ("--health-timeout",)),
    "health_retries": (INT, ("--health-retries",)),
    "health_start_period": (STR, ("--health-start-period",)),
    "health_start_interval": (STR, ("--health-start-interval",)),
    "no_healthcheck": (FLAG, ("--no-healthcheck",)),
    "stop_signal": (STR, ("--stop-signal",)),
    "stop_timeout": (INT, ("--stop-timeout",)),
    "log_opt": (MULTI, ("--log-opt",)),
    "ulimit": (MULTI, ("--ulimit",)),
    "sysctl": (MULTI, ("--sysctl",)),
    "ipc": (STR, ("--ipc",)),
    "link": (MULTI, ("--link",)),
    "runtime": (STR, ("--runtime",)),
    "add_host": (MULTI, ("--add-host",)),
    "dns": (MULTI, ("--dns",)),
    "dns_search": (MULTI, ("--dns-search",)),
    "dns_option": (MULTI, ("--dns-option",)),
    "shm_size": (STR, ("--shm-size",)),
    "group_add": (MULTI, ("--group-add",)),
    "cpu_shares": (INT, ("--cpu-shares", "-c")),
    "cpu_period": (INT, ("--cpu-period",)),
    "cpu_quota": (INT, ("--cpu-quota",)),
    "cpuset_cpus": (STR, ("--cpuset-cpus",)),
    "cpuset_mems": (STR, ("--cpuset-mems",)),
    "memory_reservation": (STR, ("--memory-reservation",)),
    "memory_swappiness": (INT, ("--memory-swappiness",)),
    "oom_kill_disable": (FLAG, ("--oom-kill-disable",)),
    "oom_score_adj": (INT, ("--oom-score-adj",)),
    "domainname": (STR, ("--domainname",)),
    "pid": (STR, ("--pid",)),
    "uts": (STR, ("--uts",)),
    "security_opt": (MULTI, ("--security-opt",)),
    "device": (MULTI, ("--device",)),
    "device_cgroup_rule": (MULTI, ("--device-cgroup-rule",)),
}
DEFAULTS: dict[str, Any] = {"restart": "no", "network": "bridge", "ipc": "", "runtime": "stackctl"}
ENVVARS = {"runtime": "STACKCTL_RUNTIME"}

# parameter -> (kind, option names): as declared in ps_cmd.ps
PS_OPTIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    "all_": (FLAG, ("--all", "-a")),
    "quiet": (FLAG, ("--quiet", "-q")),
    "latest": (FLAG, ("--latest", "-l")),
    "last": (INT, ("--last", "-n")),
    "no_trunc": (FLAG, ("--no-trunc",)),
    "size": (FLAG, ("--size", "-s")),
    "filter_": (MULTI, ("--filter", "-f")),
    "fmt": (STR, ("--format",)),
}
PS_DEFAULTS: dict[str, Any] = {"last": -1}


class _Command:
    """One command's options, as its typer declaration has them."""

    def __init__(self, options: dict[str, tuple[str, tuple[str, ...]]],
                 defaults: dict[str, Any], envvars: dict[str, str], *, image: bool) -> None:
        self.options, self.defaults, self.envvars = options, defaults, envvars
        self.image = image  # run/create: IMAGE [COMMAND...] follows; ps: nothing
        self.by_name = {name: (param, kind) for param, (kind, names) in options.items()
                        for name in names}


_RUN = _Command(RUN_OPTIONS, DEFAULTS, ENVVARS, image=True)
_PS = _Command(PS_OPTIONS, PS_DEFAULTS, {}, image=False)


class _Fallback(Exception):
    """Not a command line this parser vouches for: let typer have it."""


def parse_run(args: list[str]) -> dict[str, Any] | None:
    """``run``'s parameters from the tokens after ``run``, as typer would give
    them (click's grammar: options up to the image, then the command), or None."""
    try:
        return _parse(_RUN, args)
    except _Fallback:
        return None


def parse_ps(args: list[str]) -> dict[str, Any] | None:
    """``ps``'s parameters from the tokens after ``ps``, or None."""
    try:
        return _parse(_PS, args)
    except _Fallback:
        return None


def _parse(cmd: _Command, args: list[str]) -> dict[str, Any]:
    params: dict[str, Any] = {p: (False if kind == FLAG else () if kind == MULTI else None)
                              for p, (kind, _n) in cmd.options.items()}
    params.update(cmd.defaults)
    for param, var in cmd.envvars.items():
        if os.environ.get(var):
            params[param] = os.environ[var]
    i = 0
    while i < len(args):
        tok = args[i]
        i += 1
        if tok == "--":
            break
        if not tok.startswith("-") or tok == "-":
            i -= 1
            break
        if tok.startswith("--"):
            name, eq, inline = tok.partition("=")
            param, kind = _option(cmd, name)
            if kind == FLAG:
                if eq:
                    raise _Fallback
                params[param] = True
                continue
            if eq:
                value = inline
            else:
                value, i = _next_value(args, i)
            _store(params, param, kind, value)
            continue
        for pos in range(1, len(tok)):  # -it, -e K=V, -eK=V, -dp 80:80
            param, kind = _option(cmd, "-" + tok[pos])
            if kind == FLAG:
                params[param] = True
                continue
            rest = tok[pos + 1:]
            if rest:
                value = rest
            else:
                value, i = _next_value(args, i)
            _store(params, param, kind, value)
            break
    if not cmd.image:
        if i < len(args):
            raise _Fallback  # an argument ps does not take (or after --): typer says so
        return params
    if i >= len(args):
        raise _Fallback  # no image: typer says what is missing
    params["image"] = args[i]
    params["args"] = tuple(args[i + 1:])
    return params


def _option(cmd: _Command, name: str) -> tuple[str, str]:
    try:
        return cmd.by_name[name]
    except KeyError:
        raise _Fallback from None


def _next_value(args: list[str], i: int) -> tuple[str, int]:
    if i >= len(args) or args[i].startswith("-"):
        raise _Fallback  # missing, or a value that looks like a flag: typer decides
    return args[i], i + 1


def _store(params: dict[str, Any], param: str, kind: str, value: str) -> None:
    if kind == MULTI:
        params[param] = (*params[param], value)
    elif kind == INT:
        try:
            params[param] = int(value)
        except ValueError:
            raise _Fallback from None
    else:
        params[param] = value


_VALUED_GLOBALS = {"--root": "root", "--run-root": "run_root"}


FAST_COMMANDS = ("run", "create", "ps")


def try_run(argv: list[str]) -> int | None:
    """Run ``argv`` (``[global options] run|create|ps ...``) without typer: its exit
    code, or None when typer must handle it."""
    globals_: dict[str, Any] = {"root": None, "run_root": None, "debug": False}
    i = 0
    while i < len(argv) and argv[i].startswith("-"):
        tok = argv[i]
        name, eq, inline = tok.partition("=")
        if tok == "--debug":
            globals_["debug"] = True
        elif name in _VALUED_GLOBALS:
            if eq:
                globals_[_VALUED_GLOBALS[name]] = inline
            elif i + 1 < len(argv) and not argv[i + 1].startswith("-"):
                i += 1
                globals_[_VALUED_GLOBALS[name]] = argv[i]
            else:
                return None
        else:
            return None
        i += 1
    if i >= len(argv) or argv[i] not in FAST_COMMANDS:
        return None
    command = argv[i]
    params = parse_ps(argv[i + 1:]) if command == "ps" else parse_run(argv[i + 1:])
    if params is None:
        return None
    from stackctl.cli.options import GlobalOptions

    g = GlobalOptions.resolve(globals_["root"], globals_["run_root"], globals_["debug"])
    if command == "ps":
        return _ps(g, params)
    from stackctl.cli.run_flow import run_container

    return run_container(g, params, create_only=command == "create")


def _ps(g: Any, params: dict[str, Any]) -> int:
    """``ps`` as cli/ps_cmd.py runs it (an engine error exits 1, as _containers.open_engine
    makes it)."""
    import sys

    from stackctl.cli.ps_list import list_containers
    from stackctl.engine.api import Engine
    from stackctl.errors import EngineError

    try:
        with Engine(g.root, g.run_root) as engine:
            out = list_containers(engine, **params)
    except EngineError as exc:
        if exc.exit_code == 125:
            exc.exit_code = 1
        raise
    sys.stdout.write("".join(text + "\n" for text in out))
    return 0


__all__ = ["FAST_COMMANDS", "PS_OPTIONS", "RUN_OPTIONS", "parse_ps", "parse_run", "try_run"]
