"""The typer-free ``run`` parser (cli/fastpath.py) agrees with typer, or steps aside.

Its option table is checked against the typer command itself, so a flag added
to run_cmd._run and not to the table fails here; and both parsers read a corpus
of command lines to the same parameters.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
import typer
from typer._click import core as click_core
from typer._click import types as click_types

from stackctl.cli import fastpath
from stackctl.cli.app import build_app


def _command(name: str = "run") -> click_core.Command:
    group = typer.main.get_command(build_app([name]))
    assert isinstance(group, typer.core.TyperGroup)
    return group.commands[name]


def _run_command() -> click_core.Command:
    return _command("run")


def _kind(opt: typer.core.TyperOption) -> str:
    if opt.is_flag:
        return fastpath.FLAG
    if opt.multiple:
        return fastpath.MULTI
    if isinstance(opt.type, click_types.IntParamType):
        return fastpath.INT
    return fastpath.STR


@pytest.mark.parametrize(("name", "table", "defaults", "envvars"), [
    ("run", fastpath.RUN_OPTIONS, fastpath.DEFAULTS, fastpath.ENVVARS),
    ("ps", fastpath.PS_OPTIONS, fastpath.PS_DEFAULTS, {}),
])
def test_option_table_matches_the_typer_command(name: str, table: dict[str, Any],
                                                defaults: dict[str, Any],
                                                envvars: dict[str, str]) -> None:
    command = _command(name)
    options = {p.name: p for p in command.params if isinstance(p, typer.core.TyperOption)}
    assert set(options) - {"help"} == set(table)
    for param, (kind, names) in table.items():
        opt = options[param]
        assert set(names) == set(opt.opts) | set(opt.secondary_opts), param
        assert kind == _kind(opt), param
        if kind in (fastpath.STR, fastpath.INT):
            assert defaults.get(param) == opt.default, param
        assert envvars.get(param) == opt.envvar, param
    if name == "ps":  # and it takes no argument
        assert not [p for p in command.params if isinstance(p, typer.core.TyperArgument)]


def _typer_params(args: list[str]) -> dict[str, Any]:
    ctx = _run_command().make_context("run", list(args))
    return _normal(ctx.params)


def _normal(params: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in params.items():
        if value is None and fastpath.RUN_OPTIONS.get(key, ("",))[0] == fastpath.MULTI:
            value = ()
        if key == "args" and value is None:
            value = ()
        out[key] = tuple(value) if isinstance(value, list | tuple) else value
    return out


CORPUS = [
    ["busybox"],
    ["--rm", "busybox", "true"],
    ["-it", "--rm", "busybox", "sh"],
    ["-dit", "--name", "web", "busybox", "sleep", "9"],
    ["-d", "-p", "8080:80", "-p8081:81/udp", "-P", "nginx"],
    ["-e", "A=1", "-eB=2", "--env=C=3", "--env", "D", "busybox", "env"],
    ["--name=x", "--name", "y", "busybox"],  # the last one wins, as click's
    ["-v", "/a:/b:ro", "--volume=vol:/data", "--tmpfs", "/run", "--mount",
     "type=tmpfs,target=/t", "busybox"],
    ["--pids-limit", "64", "--health-retries=3", "--stop-timeout", "5", "busybox"],
    ["-m", "64m", "--memory-swap=-1", "busybox"],
    ["--network", "none", "--net=host", "--ip", "10.0.0.9", "--network-alias", "a", "img"],
    ["-h", "box", "-w", "/tmp", "-u", "1:1", "--entrypoint", "", "busybox", "-c", "x"],
    ["--restart", "on-failure:3", "--init", "--privileged", "--read-only", "busybox"],
    ["--cap-add", "NET_ADMIN", "--cap-drop=ALL", "--ulimit", "nofile=10:20", "--sysctl",
     "net.ipv4.ip_forward=1", "busybox"],
    ["--ipc", "shareable", "--link", "db:database", "-l", "k=v", "--label=a=b", "busybox"],
    ["--log-opt", "max-size=1m", "--expose", "80", "--no-healthcheck", "busybox"],
    ["--health-cmd", "true", "--health-interval", "1s", "--health-timeout", "2s",
     "--health-start-period", "3s", "--health-start-interval", "1s", "busybox"],
    ["--runtime", "runc", "busybox", "ls", "-l", "--", "-x"],  # the command's own flags
    ["--", "busybox", "--rm"],
    ["-i", "busybox", "-"],
    ["--add-host", "db:10.0.0.5", "--add-host=gw:host-gateway", "--dns", "9.9.9.9",
     "--dns-search", "x.example", "--dns-option=ndots:2", "--shm-size", "128m",
     "--group-add", "wheel", "busybox"],
    ["-c", "512", "--cpu-shares=256", "--cpuset-cpus", "0-1", "--cpuset-mems=0",
     "--memory-reservation", "32m", "--oom-score-adj", "500", "--domainname", "x.example",
     "--pid", "host", "--uts=host", "--security-opt", "no-new-privileges",
     "--security-opt=seccomp=unconfined", "--device", "/dev/fuse:/dev/f:r", "busybox"],
    ["-c512", "--oom-score-adj=-5", "busybox"],
]


@pytest.mark.parametrize("args", CORPUS, ids=[" ".join(a)[:40] for a in CORPUS])
def test_both_parsers_read_the_same_parameters(args: list[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STACKCTL_RUNTIME", raising=False)
    fast = fastpath.parse_run(args)
    assert fast is not None, "the fast path should take this command line"
    assert _normal(fast) == _typer_params(args)


def test_the_runtime_comes_from_the_environment_as_with_typer(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STACKCTL_RUNTIME", "runc")
    fast = fastpath.parse_run(["busybox"])
    assert fast is not None and fast["runtime"] == "runc" == _typer_params(["busybox"])["runtime"]


@pytest.mark.parametrize("args", [
    ["--help"], ["--bogus", "busybox"], ["--rm=true", "busybox"], ["--pids-limit", "x", "b"],
    [], ["--rm"], ["-e"], ["-e", "-x", "busybox"], ["-Z", "busybox"],
])
def test_what_it_does_not_vouch_for_goes_to_typer(args: list[str]) -> None:
    assert fastpath.parse_run(args) is None


PS_CORPUS = [
    [], ["-a"], ["-aq"], ["-q", "--no-trunc"], ["-l"], ["-n", "3"], ["--last=2", "-s"],
    ["-f", "status=exited", "--filter", "label=a=b", "-fname=web"],
    ["--format", "{{.Names}}\t{{.Status}}"], ["--format=json"], ["-an1"],
]


@pytest.mark.parametrize("args", PS_CORPUS, ids=[" ".join(a) or "ps" for a in PS_CORPUS])
def test_both_parsers_read_the_same_ps_parameters(args: list[str]) -> None:
    fast = fastpath.parse_ps(args)
    assert fast is not None, "the fast path should take this command line"
    typed = _command("ps").make_context("ps", list(args)).params
    assert {k: tuple(v) if isinstance(v, list | tuple) else v for k, v in fast.items()} == {
        k: tuple(v or ()) if k == "filter_" else v for k, v in typed.items()}


@pytest.mark.parametrize("args", [
    ["--help"], ["web"], ["-a", "web"], ["-n", "x"], ["--last"], ["--bogus"], ["--", "-a"],
])
def test_ps_lines_it_does_not_vouch_for_go_to_typer(args: list[str]) -> None:
    assert fastpath.parse_ps(args) is None


@pytest.mark.parametrize("argv", [
    ["run", "--help"], ["--version"], ["ps", "--help"], ["--root"], ["--bogus", "run", "x"],
    ["compose", "run", "web"], ["--root", "/r", "rm", "run"], ["compose", "ps"],
    ["container", "ps"],
])
def test_other_command_lines_are_not_taken(argv: list[str]) -> None:
    assert fastpath.try_run(argv) is None


def test_a_bad_flag_value_is_typer_s_error_with_exit_125() -> None:
    res = subprocess.run([sys.executable, "-m", "stackctl", "run", "--pids-limit", "many",
                          "busybox"], capture_output=True, text=True, check=False)
    assert res.returncode == 125
    assert "--pids-limit" in res.stderr and "'many'" in res.stderr
