"""--pid host|container:NAME and --uts host (compose's pid:, uts:): the namespace
each mode gives, read from /proc/<pid>/ns on the real kernel, through ``run`` (both
parsers) and a stack; Docker's refusals; a restarted joiner follows its donor."""

from __future__ import annotations

import json
import os

import pytest

from stackctl.engine.api import Engine
from tests.engine.conftest import Cli, eventually
from tests.engine.run_helpers import PARSERS, host_config, stack_output
from tests.scheduler.stackenv import StackEnv

pytestmark = pytest.mark.kernel

# the container's PID namespace, its own pid there, and whether it sees the test's process
PROBE = ("sh", "-c", f"readlink /proc/self/ns/pid; echo $$; test -d /proc/{os.getpid()} "
                     "&& echo sees-host || echo own")
HOST_PIDNS = os.readlink("/proc/self/ns/pid")


def _ns(engine: Engine, name: str, kind: str = "pid") -> str:
    return os.readlink(f"/proc/{engine.get(name).pid}/ns/{kind}")


def test_pid_host_and_private(cli: Cli) -> None:
    for via in PARSERS:
        res = cli("run", "--rm", *via, "--network", "none", "--pid", "host", "busybox", *PROBE)
        assert res.returncode == 0, res.stderr
        ns, pid, sees = res.stdout.split()
        assert (ns, sees) == (HOST_PIDNS, "sees-host") and pid != "1"
    ns, pid, sees = cli("run", "--rm", "--network", "none", "busybox", *PROBE,
                        check=True).stdout.split()
    assert (pid, sees) == ("1", "own") and ns != HOST_PIDNS
    assert host_config(cli, "--pid", "host")["PidMode"] == "host"
    assert host_config(cli)["PidMode"] == ""


def test_pid_container_joins_the_donor(cli: Cli, engine: Engine, unique: str) -> None:
    donor = f"piddonor-{unique}"
    cli("run", "-d", "--name", donor, "--network", "none", "busybox", "sleep", "300",
        check=True)
    for via in PARSERS:
        res = cli("run", "--rm", *via, "--network", "none", "--pid", f"container:{donor}",
                  "busybox", "sh", "-c", "readlink /proc/self/ns/pid; pidof sleep")
        assert res.returncode == 0, res.stderr
        ns, sleeper = res.stdout.split()
        assert ns == _ns(engine, donor) and sleeper == "1"  # the donor's PID 1, seen from it
    hc = host_config(cli, "--pid", f"container:{donor}")
    assert hc["PidMode"] == f"container:{engine.get(donor).id}"  # stored by id


def test_pid_refusals(cli: Cli, engine: Engine, unique: str) -> None:
    idle = f"idle-{unique}"
    cli("create", "--name", idle, "--network", "none", "busybox", "true", check=True)
    res = cli("run", "--rm", "--network", "none", "--pid", f"container:{idle}", "busybox",
              "true")
    assert res.returncode == 125 and f"--pid container:{idle}" in res.stderr, res.stderr
    assert "is not running" in res.stderr
    res = cli("run", "--rm", "--pid", f"container:nope-{unique}", "busybox", "true")
    assert res.returncode == 125 and "no such container" in res.stderr, res.stderr
    res = cli("run", "--rm", "--pid", "sideways", "busybox", "true")
    assert res.returncode == 125 and "--pid 'sideways': invalid PID mode" in res.stderr
    assert [c.name for c in engine.list(all_=True)] == [idle]  # bad input left nothing


def test_a_restarted_joiner_follows_the_donor(cli: Cli, engine: Engine, unique: str) -> None:
    # The donor's restart kills the joiner (its PID namespace dies with the donor's
    # PID 1); the joiner's restart policy must join the donor's new namespace, not
    # the dead pid the bundle named.
    donor, joiner = f"pidd-{unique}", f"pidj-{unique}"
    cli("run", "-d", "--name", donor, "--network", "none", "busybox", "sleep", "300",
        check=True)
    cli("run", "-d", "--name", joiner, "--network", "none", "--pid", f"container:{donor}",
        "--restart", "always", "busybox", "sleep", "300", check=True)
    assert _ns(engine, joiner) == _ns(engine, donor)
    before = engine.get(donor).pid
    cli("restart", "-t", "0", donor, check=True)
    assert engine.get(donor).pid != before
    after = _ns(engine, donor)

    def joined_the_new_one() -> bool:
        rec = engine.get(joiner)
        try:
            return rec.restart_count >= 1 and rec.pid is not None and _ns(engine, joiner) == after
        except OSError:  # between two restarts
            return False

    eventually(joined_the_new_one, timeout=20, what="the joiner in the donor's new namespace")
    assert engine.get(joiner).error == ""


def test_uts_host(cli: Cli) -> None:
    show = ("sh", "-c", "hostname; cat /etc/hostname; echo $HOSTNAME; readlink /proc/self/ns/uts")
    for via in PARSERS:
        res = cli("run", "--rm", *via, "--network", "none", "--uts", "host", "busybox", *show)
        assert res.returncode == 0, res.stderr
        assert res.stdout.split() == [os.uname().nodename] * 3 + [
            os.readlink("/proc/self/ns/uts")]
    assert host_config(cli, "--uts", "host")["UTSMode"] == "host"
    assert host_config(cli)["UTSMode"] == ""


@pytest.mark.parametrize(("flags", "says"), [
    (("--uts", "host", "-h", "box"), "conflicting options: --uts host and --hostname"),
    (("--uts", "host", "--domainname", "x.example"), "--domainname"),
    (("--uts", "private"), "--uts 'private': invalid UTS mode"),
])
def test_uts_refusals(cli: Cli, engine: Engine, flags: tuple[str, ...], says: str) -> None:
    res = cli("run", "--rm", *flags, "busybox", "true")
    assert res.returncode == 125 and says in res.stderr, res.stderr
    assert engine.list(all_=True) == []


def test_pid_and_uts_through_a_stack(stack: StackEnv) -> None:
    stack.write(f"""
        services:
          donor:
            image: busybox
            network_mode: none
            command: FOREVER
          joiner:
            image: busybox
            network_mode: none
            pid: "service:donor"
            command: ["sh", "-c", "pidof sleep"]
          hosted:
            image: busybox
            network_mode: none
            pid: host
            uts: host
            command: {json.dumps([*PROBE[:2], PROBE[2] + '; hostname'])}
        """)
    joiner, hosted = stack_output(stack, "joiner", "hosted")
    assert joiner.split() != []  # the donor's sleep, seen from the joiner
    assert hosted.split() == [HOST_PIDNS, hosted.split()[1], "sees-host", os.uname().nodename]
    assert "services.joiner.pid" not in stack.cli("config").err
