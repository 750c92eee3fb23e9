"""--device HOST[:CONTAINER[:PERMS]] (compose's devices): the node in the container's
/dev and the cgroup rule that lets it be opened with PERMS only, through ``run``
(both parsers) and a stack; bad specs and missing nodes exit 125 naming the flag."""

from __future__ import annotations

import json
import os
import stat

import pytest

from stackctl.engine.api import Engine
from tests.engine.conftest import Cli
from tests.engine.run_helpers import PARSERS, host_config, stack_output
from tests.scheduler.stackenv import StackEnv

pytestmark = pytest.mark.kernel


def _char_device() -> str:
    """A character device of the host outside Docker's default set."""
    for path in ("/dev/fuse", "/dev/loop-control"):  # (kmsg needs CAP_SYSLOG)
        if os.path.exists(path) and stat.S_ISCHR(os.stat(path).st_mode):
            return path
    pytest.skip("no spare character device on this host")


def _numbers(path: str) -> str:
    rdev = os.stat(path).st_rdev
    return f"{os.major(rdev)}, {os.minor(rdev)}"


# the node's type and numbers, then whether it opens for reading and for writing
PROBE = ("sh", "-c", "ls -l {p} | cut -c1; ls -l {p} | tr -s ' ' | cut -d' ' -f5-6; "
                     "(dd if={p} count=0 2>/dev/null && echo r-ok) || echo r-denied; "
                     "(dd of={p} count=0 2>/dev/null && echo w-ok) || echo w-denied")


def _probe(path: str) -> tuple[str, ...]:
    return (*PROBE[:2], PROBE[2].format(p=path))


def test_device_through_run(cli: Cli) -> None:
    dev = _char_device()
    for via in PARSERS:
        res = cli("run", "--rm", *via, "--network", "none", "--device", f"{dev}:/dev/mine:r",
                  "busybox", *_probe("/dev/mine"))
        assert res.returncode == 0, res.stderr
        assert res.stdout.splitlines() == ["c", _numbers(dev), "r-ok", "w-denied"]
    # without it, a node made by hand with the same numbers does not open (the cgroup)
    major, minor = _numbers(dev).split(", ")
    res = cli("run", "--rm", "--network", "none", "busybox", "sh", "-c",
              f"mknod /tmp/n c {major} {minor} && (dd if=/tmp/n count=0 2>/dev/null "
              "&& echo r-ok || echo r-denied)")
    assert res.stdout.split() == ["r-denied"], res.stderr
    hc = host_config(cli, "--device", dev, "--device", f"{dev}:rw")
    assert hc["Devices"] == [
        {"PathOnHost": dev, "PathInContainer": dev, "CgroupPermissions": "rwm"},
        {"PathOnHost": dev, "PathInContainer": dev, "CgroupPermissions": "rw"}]
    assert host_config(cli)["Devices"] is None


@pytest.mark.parametrize(("value", "says"), [
    ("/dev/nope-nothing", "error gathering device information"),
    ("/etc/hostname", "not a device node"),
    ("/dev/null:/dev/x:rwx", "invalid permissions"),
    ("/dev/null:dev/x", "must be absolute"),
    ("/a:/b:r:w", "expected HOST"),
])
def test_bad_devices_exit_125_naming_the_flag(cli: Cli, engine: Engine, value: str,
                                              says: str) -> None:
    res = cli("run", "--rm", "--device", value, "busybox", "true")
    assert res.returncode == 125 and "--device" in res.stderr and says in res.stderr, \
        res.stderr
    assert engine.list(all_=True) == []


def test_devices_through_a_stack(stack: StackEnv) -> None:
    dev = _char_device()
    stack.write(f"""
        services:
          app:
            image: busybox
            network_mode: none
            devices: ["{dev}:/dev/theirs:r"]
            command: {json.dumps(_probe("/dev/theirs"))}
        """)
    assert stack_output(stack, "app")[0].splitlines() == ["c", _numbers(dev), "r-ok",
                                                          "w-denied"]


# --- --device-cgroup-rule / device_cgroup_rules ------------------------------------------------

def test_device_cgroup_rule_through_run(cli: Cli) -> None:
    major, minor = _numbers(_char_device()).split(", ")
    made = (f"mknod /tmp/n c {major} {minor}; "
            "(dd if=/tmp/n count=0 2>/dev/null && echo r-ok) || echo r-denied; "
            "(dd of=/tmp/n count=0 2>/dev/null && echo w-ok) || echo w-denied")
    for via in PARSERS:
        res = cli("run", "--rm", *via, "--network", "none", "--device-cgroup-rule",
                  f"c {major}:* r", "busybox", "sh", "-c", made)
        assert res.returncode == 0, res.stderr
        assert res.stdout.split() == ["r-ok", "w-denied"]
    hc = host_config(cli, "--device-cgroup-rule", "c  13:*  rwm")
    assert hc["DeviceCgroupRules"] == ["c 13:* rwm"]
    res = cli("run", "--rm", "--device-cgroup-rule", "x 1:2 r", "busybox", "true")
    assert res.returncode == 125 and "--device-cgroup-rule" in res.stderr, res.stderr


def test_device_cgroup_rules_through_a_stack(stack: StackEnv) -> None:
    major, minor = _numbers(_char_device()).split(", ")
    stack.write(f"""
        services:
          app:
            image: busybox
            network_mode: none
            device_cgroup_rules: ["c {major}:{minor} rw"]
            command: {json.dumps(["sh", "-c", f"mknod /tmp/n c {major} {minor} && "
                                  "dd if=/tmp/n count=0 2>/dev/null && echo r-ok"])}
        """)
    assert stack_output(stack, "app")[0].split() == ["r-ok"]
