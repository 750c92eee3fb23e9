"""Exit codes as docker's: every command but run/create exits 1 on an error of the
engine (docker's "Error response from daemon"); run/create exit 125."""

from __future__ import annotations

import pytest

from tests.engine.conftest import Cli

pytestmark = pytest.mark.kernel


def test_network_and_port_errors_exit_1(cli: Cli, unique: str) -> None:
    name = f"n-{unique}"
    cli("create", "--network", "none", "--name", name, "busybox", check=True)
    for args, says in [(["port", "nosuch"], "no such container: nosuch"),
                       (["port", name, "81"], f"no public port '81/tcp' published for {name}"),
                       (["network", "create", "none"], "'none' is reserved"),
                       (["network", "connect", "bridge", name], "--network none"),
                       (["network", "rm", f"nonet-{unique}"], "not found")]:
        res = cli(*args)
        assert (res.returncode, says in res.stderr) == (1, True), (args, res.stderr)
    assert cli("run", "--rm", "--network", f"container:nosuch-{unique}", "busybox", "true"
               ).returncode == 125


def test_container_inspect_and_run_spellings(cli: Cli, unique: str) -> None:
    # docker container inspect looks up containers only; inspect finds the image too
    res = cli("container", "inspect", "busybox")
    assert (res.returncode, res.stdout, res.stderr) == (1, "[]\n",
                                                        "Error: No such container: busybox\n")
    assert cli("inspect", "-f", "{{.Os}}", "busybox").stdout == "linux\n"
    # `container run` parses as `run`: a bad command line is run's error, 125
    res = cli("container", "run", "--pids-limit", "many", "busybox")
    assert res.returncode == 125 and "--pids-limit" in res.stderr
    assert cli("ps", "-aq").stdout == ""


def test_pause_says_what_docker_says(cli: Cli, unique: str) -> None:
    up, down = f"p-{unique}", f"s-{unique}"
    cli("run", "-d", "--network", "none", "--name", up, "busybox", "sleep", "60", check=True)
    cli("create", "--network", "none", "--name", down, "busybox", check=True)
    cli("pause", up, check=True)
    res = cli("pause", up)
    assert (res.returncode, res.stderr) == (1, f"Error: container {up} is already paused\n")
    res = cli("pause", down)
    assert res.returncode == 1 and res.stderr.startswith(
        f"Error: container {down} is not running\n")
    cli("unpause", up, check=True)


@pytest.mark.parametrize("args", [["ps", "--no-such-flag"], ["ps", "-n", "many"],
                                  ["logs", "--tail"], ["stop", "-t", "soon", "x"],
                                  ["volume", "ls", "--bogus"], ["container", "ls", "--x"],
                                  ["images", "--x"]])
def test_a_flag_that_does_not_parse_exits_125(cli: Cli, args: list[str]) -> None:
    # docker's every command (cobra's flag error); stackctl's own commands keep 2
    res = cli(*args)
    assert res.returncode == 125 and res.stderr.strip().splitlines()[-1].startswith("Error:")


def test_other_misuse_exits_1_and_own_commands_keep_2(cli: Cli) -> None:
    # docker exits 1 on every error but a flag's (a missing argument, a value the
    # command refuses); stackctl's own commands keep click's and UsageError's 2
    for args in (["rm"], ["logs", "--since", "bogus", "x"], ["ps", "--filter", "colour=red"],
                 ["container", "ls", "--filter", "colour=red"], ["cp", "a", "b"],
                 ["inspect", "--type", "colour", "x"], ["volume", "create", "bad/name"]):
        res = cli(*args)
        assert (res.returncode, "Error: " in res.stderr) == (1, True), args
    assert cli("up", "--no-such-flag").returncode == 2
    assert cli("no-such-command").returncode == 2


def test_rename_to_its_own_name(cli: Cli, unique: str) -> None:
    name = f"r-{unique}"
    cli("create", "--network", "none", "--name", name, "busybox", check=True)
    res = cli("rename", name, name)
    assert res.returncode == 1 and "the same name as its current name" in res.stderr
    res = cli("rename", name, f"/{name}-2")  # docker takes the leading slash
    assert res.returncode == 0 and cli("ps", "-a", "--format", "{{.Names}}").stdout == \
        f"{name}-2\n"


@pytest.mark.parametrize("args", [["container", "prune"], ["volume", "prune"],
                                  ["image", "prune"], ["network", "prune"],
                                  ["system", "prune"]])
def test_prune_prompts_as_docker_and_a_no_is_no_error(cli: Cli, unique: str,
                                                      args: list[str]) -> None:
    cli("create", "--network", "none", "--name", f"p-{unique}", "busybox", check=True)
    for answer in ("n\n", "", "whatever\n"):  # only y or yes goes ahead
        res = cli(*args, input=answer)
        assert res.returncode == 0 and res.stdout.endswith(
            "Are you sure you want to continue? [y/N] "), (args, res.stdout, res.stderr)
    assert cli("ps", "-aq").stdout.strip()  # nothing was pruned
    res = cli("container", "prune", input="YES\n")
    assert res.returncode == 0 and "Deleted Containers:" in res.stdout
