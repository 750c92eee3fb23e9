"""--security-opt (compose's security_opt): no-new-privileges, seccomp=unconfined,
systempaths=unconfined, and apparmor=/label= accepted with a warning on a host
without AppArmor/SELinux, as Docker does; read from /proc/self/status and
/proc/mounts in the container, through ``run`` (both parsers) and a stack."""

from __future__ import annotations

import json

import pytest

from stackctl import secopts
from stackctl.engine.api import Engine
from tests.engine.conftest import Cli
from tests.engine.run_helpers import PARSERS, host_config, stack_output
from tests.scheduler.stackenv import StackEnv

pytestmark = pytest.mark.kernel

# NoNewPrivs, Seccomp (0 none, 2 filter), and whether /proc/sys is read-only (mounted over)
SHOW = ("sh", "-c", "grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status | cut -f2; "
                    "grep -c ' /proc/sys ' /proc/mounts || true")
NO_LSM = not (secopts.host_has_apparmor() or secopts.host_has_selinux())


def _show(cli: Cli, *flags: str) -> list[str]:
    res = cli("run", "--rm", "--network", "none", *flags, "busybox", *SHOW)
    assert res.returncode == 0, res.stderr
    return res.stdout.split()


def test_defaults_are_dockers(cli: Cli) -> None:
    assert _show(cli) == ["0", "2", "1"]  # setuid works, default seccomp, paths masked
    assert host_config(cli)["SecurityOpt"] is None


def test_each_option(cli: Cli) -> None:
    for via in PARSERS:
        assert _show(cli, *via, "--security-opt", "no-new-privileges") == ["1", "2", "1"]
    assert _show(cli, "--security-opt", "no-new-privileges:true") == ["1", "2", "1"]
    assert _show(cli, "--security-opt=no-new-privileges=false") == ["0", "2", "1"]
    assert _show(cli, "--security-opt", "seccomp=unconfined") == ["0", "0", "1"]
    assert _show(cli, "--security-opt", "systempaths=unconfined") == ["0", "2", "0"]
    hc = host_config(cli, "--security-opt", "no-new-privileges", "--security-opt",
                     "seccomp:unconfined")
    assert hc["SecurityOpt"] == ["no-new-privileges", "seccomp=unconfined"]


@pytest.mark.skipif(not NO_LSM, reason="the host has AppArmor or SELinux")
def test_apparmor_and_label_are_ignored_with_a_warning(cli: Cli) -> None:
    res = cli("run", "--rm", "--network", "none", "--security-opt", "apparmor=docker-default",
              "--security-opt", "label=type:svirt_t", "busybox", "true")
    assert res.returncode == 0, res.stderr
    assert "WARNING: --security-opt apparmor=docker-default: this host has no AppArmor" \
        in res.stderr
    assert "label=type:svirt_t: this host has no SELinux" in res.stderr
    res = cli("run", "--rm", "--network", "none", "--security-opt", "label=disable",
              "--security-opt", "apparmor=unconfined", "busybox", "true")
    assert res.returncode == 0 and "WARNING" not in res.stderr, res.stderr


@pytest.mark.parametrize(("value", "says"), [
    ("seccomp=/tmp/profile.json", "profile files are not supported"),
    ("no-new-privileges=maybe", "invalid value"),
    ("bogus=1", "unknown security option"),
    ("label=colour:red", "invalid label option"),
    ("seccomp", "invalid security option"),
])
def test_bad_options_exit_125_naming_the_flag(cli: Cli, engine: Engine, value: str,
                                              says: str) -> None:
    res = cli("run", "--rm", "--security-opt", value, "busybox", "true")
    assert res.returncode == 125 and "--security-opt" in res.stderr and says in res.stderr, \
        res.stderr
    assert engine.list(all_=True) == []


def test_security_opt_through_a_stack(stack: StackEnv) -> None:
    stack.write(f"""
        services:
          app:
            image: busybox
            network_mode: none
            security_opt: [no-new-privileges:true, seccomp:unconfined, apparmor:docker-default]
            command: {json.dumps(SHOW)}
        """)
    assert stack_output(stack, "app")[0].split() == ["1", "0", "1"]
    if NO_LSM:
        assert "services.app.security_opt apparmor=docker-default: this host has no AppArmor" \
            in stack.cli("config").err
