"""ps --filter and -n as docker's: values of one key are alternatives, labels must
all match, and only -a, -l, -n N or a status filter list stopped containers."""

from __future__ import annotations

import pytest

from tests.engine.conftest import Cli

pytestmark = pytest.mark.kernel


def test_filters_combine_as_docker_s(cli: Cli, unique: str) -> None:
    up, three, four = f"up-{unique}", f"three-{unique}", f"four-{unique}"
    cli("run", "-d", "--network", "none", "--name", up, "-l", "a=1", "-l", "b=2", "busybox",
        "sleep", "60", check=True)
    for name, code in ((three, 3), (four, 4)):
        cli("run", "--network", "none", "--name", name, "-l", "a=1", "busybox", "sh", "-c",
            f"exit {code}")

    def ps(*args: str) -> list[str]:
        return cli("ps", "--format", "{{.Names}}", *args, check=True).stdout.split()

    assert ps("--filter", "label=a=1") == [up]  # no -a: running ones only
    assert ps("-a", "--filter", "label=a=1", "--filter", "label=b=2") == [up]  # AND
    assert ps("--filter", "status=running", "--filter", "status=exited") == [four, three, up]
    assert ps("-a", "--filter", "exited=3", "--filter", "exited=4") == [four, three]
    assert ps("--filter", f"name={three}", "--filter", f"name={up}") == [up]
    assert ps("-n", "0") == ps() and ps("-n", "2") == [four, three]
    res = cli("ps", "--filter", "exited=x")
    assert res.returncode != 0 and "exited=x" in res.stderr


def test_json_rows_have_docker_s_sorted_keys(cli: Cli, unique: str) -> None:
    import json

    cli("create", "--network", "none", "--name", f"j-{unique}", "busybox", check=True)
    cli("volume", "create", f"v-{unique}", check=True)
    for args in (["ps", "-a", "--format", "json"], ["ps", "-a", "--format", "{{json .}}"],
                 ["images", "--format", "json"], ["volume", "ls", "--format", "json"],
                 ["history", "--format", "json", "busybox"]):
        line = cli(*args, check=True).stdout.splitlines()[0]
        keys = list(json.loads(line))
        assert keys == sorted(keys), args


def test_tables_are_as_wide_as_docker_s(cli: Cli, unique: str) -> None:
    # docker's list formatter pads every column to 10 at least; top's, to 20
    cli("volume", "create", f"v-{unique}", check=True)
    assert cli("volume", "ls").stdout == f"DRIVER    VOLUME NAME\nlocal     v-{unique}\n"
    assert cli("images").stdout.startswith("REPOSITORY   TAG       IMAGE ID       CREATED")
    name = f"top-{unique}"
    cli("run", "-d", "--network", "none", "--name", name, "busybox", "sleep", "60",
        check=True)
    assert cli("top", name).stdout.startswith("UID" + " " * 17 + "PID" + " " * 17 + "PPID")
