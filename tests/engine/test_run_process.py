"""--oom-score-adj, --domainname (and compose's oom_score_adj, domainname) reach the
container's processes, through ``run`` (both parsers) and a stack, as Docker's do;
bad values name the flag or key and leave nothing behind."""

from __future__ import annotations

import json
import shutil

import pytest

from stackctl.engine import resources
from stackctl.engine.api import Engine
from tests.engine.conftest import Cli
from tests.engine.run_helpers import PARSERS, host_config, stack_output
from tests.scheduler.stackenv import StackEnv

pytestmark = pytest.mark.kernel

CAN_LOWER = resources.oom_score_adj_problem(-500) is None  # CAP_SYS_RESOURCE (not here)


# --- --oom-score-adj / oom_score_adj -----------------------------------------------------------

def test_oom_score_adj_through_run(cli: Cli) -> None:
    for via, value in zip(PARSERS, ("500", "-500" if CAN_LOWER else "1000"), strict=True):
        res = cli("run", "--rm", *via, "--network", "none", "--oom-score-adj", value,
                  "busybox", "cat", "/proc/self/oom_score_adj")
        assert res.returncode == 0, res.stderr
        assert res.stdout.strip() == value
    assert host_config(cli, "--oom-score-adj=700")["OomScoreAdj"] == 700
    assert host_config(cli)["OomScoreAdj"] == 0


@pytest.mark.parametrize("value", ["1001", "-1001", "high"])
def test_bad_oom_score_adj_exits_125_naming_the_flag(cli: Cli, engine: Engine,
                                                     value: str) -> None:
    res = cli("run", "--rm", f"--oom-score-adj={value}", "busybox", "true")
    assert res.returncode == 125 and "--oom-score-adj" in res.stderr, res.stderr
    assert engine.list(all_=True) == []


@pytest.mark.skipif(CAN_LOWER, reason="this host lets stackctl lower OOM scores")
def test_a_score_the_host_forbids_says_why(cli: Cli, engine: Engine) -> None:
    res = cli("run", "--rm", "--network", "none", "--oom-score-adj", "-500", "busybox", "true")
    assert res.returncode == 125 and "CAP_SYS_RESOURCE" in res.stderr, res.stderr
    assert "--oom-score-adj -500" in res.stderr
    assert engine.list(all_=True) == []


def test_oom_score_adj_through_a_stack(stack: StackEnv) -> None:
    stack.write(f"""
        services:
          app:
            image: busybox
            network_mode: none
            oom_score_adj: 333
            command: {json.dumps(["cat", "/proc/self/oom_score_adj"])}
        """)
    assert stack_output(stack, "app")[0].strip() == "333"


# --- --domainname / domainname -----------------------------------------------------------------

SHOW_UTS = ("sh", "-c", "hostname; cat /proc/sys/kernel/domainname")


def test_domainname_through_run(cli: Cli) -> None:
    for via in PARSERS:
        res = cli("run", "--rm", *via, "--network", "none", "-h", "box",
                  "--domainname", "corp.example", "busybox", *SHOW_UTS)
        assert res.returncode == 0, res.stderr
        assert res.stdout.split() == ["box", "corp.example"]
    made = cli("create", "--domainname", "a.example", "busybox", check=True).stdout.strip()
    out = cli("inspect", "--format", "{{.Config.Domainname}}", made, check=True).stdout
    cli("rm", made, check=True)
    assert out.strip() == "a.example"
    res = cli("run", "--rm", "--network", "none", "busybox", "cat", "/proc/sys/kernel/domainname")
    assert res.stdout.strip() == "(none)"  # the kernel's default in a new UTS namespace
    if shutil.which("runc"):  # runc before 1.2 reads only the sysctl the bundle also has
        res = cli("run", "--rm", "--runtime", "runc", "--network", "none", "--domainname",
                  "r.example", "busybox", "cat", "/proc/sys/kernel/domainname")
        assert res.stdout.strip() == "r.example", res.stderr


@pytest.mark.parametrize("value", ["x" * 65, "two words"])
def test_bad_domainname_exits_125_naming_the_flag(cli: Cli, engine: Engine, value: str) -> None:
    res = cli("run", "--rm", "--domainname", value, "busybox", "true")
    assert res.returncode == 125 and "--domainname" in res.stderr, res.stderr
    assert engine.list(all_=True) == []


def test_domainname_through_a_stack(stack: StackEnv) -> None:
    stack.write(f"""
        services:
          app:
            image: busybox
            network_mode: none
            hostname: web
            domainname: stack.example
            command: {json.dumps(SHOW_UTS)}
        """)
    assert stack_output(stack, "app")[0].split() == ["web", "stack.example"]
