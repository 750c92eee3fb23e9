"""--cpu-shares, --cpuset-cpus/--cpuset-mems, --memory-reservation (and compose's
cpu_shares, cpuset, mem_reservation) reach the container's cgroup, through ``run``
(both parsers) and through a stack, as Docker's do; bad values name the flag or key
and leave nothing behind."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stackctl.engine import resources
from stackctl.engine.api import Engine
from tests.engine.conftest import Cli
from tests.engine.run_helpers import PARSERS, host_config, stack_output
from tests.scheduler.stackenv import StackEnv

pytestmark = pytest.mark.kernel

V1 = Path("/sys/fs/cgroup/cpu/cpu.shares").exists()  # hybrid or v1: the cpu controller is v1


def _shares_file() -> str:
    """What the container reads for its CPU weight: v1 cpu.shares, else v2 cpu.weight."""
    return "/sys/fs/cgroup/cpu/cpu.shares" if V1 else "/sys/fs/cgroup/cpu.weight"


def _weight(shares: int) -> str:
    """What the container sees for ``shares`` (runc's conversion on v2)."""
    return str(shares) if V1 else str(1 + ((shares - 2) * 9999) // 262142)


# --- --cpu-shares / cpu_shares -----------------------------------------------------------------

def test_cpu_shares_through_run(cli: Cli) -> None:
    for via in PARSERS:
        res = cli("run", "--rm", *via, "--network", "none", "--cpu-shares", "512", "busybox",
                  "cat", _shares_file())
        assert res.returncode == 0, res.stderr
        assert res.stdout.strip() == _weight(512)
    # -c, and Docker's clamping into the kernel's range
    res = cli("run", "--rm", "--network", "none", "-c", "1000000", "busybox",
              "cat", _shares_file())
    assert res.stdout.strip() == _weight(262144), res.stderr
    assert host_config(cli, "--cpu-shares", "256")["CpuShares"] == 256
    assert host_config(cli)["CpuShares"] == 0  # Docker's "unset"


def test_bad_cpu_shares_exit_125_naming_the_flag(cli: Cli, engine: Engine) -> None:
    res = cli("run", "--rm", "--cpu-shares", "lots", "busybox", "true")
    assert res.returncode == 125 and "--cpu-shares" in res.stderr, res.stderr
    assert engine.list(all_=True) == []


def test_cpu_shares_through_a_stack(stack: StackEnv) -> None:
    stack.write(f"""
        services:
          app:
            image: busybox
            network_mode: none
            cpu_shares: 300
            command: ["cat", "{_shares_file()}"]
        """)
    assert stack_output(stack, "app")[0].strip() == _weight(300)
    assert "cpu_shares" not in stack.cli("config").err  # no "not supported" warning


# --- --cpuset-cpus, --cpuset-mems / cpuset -----------------------------------------------------

ALLOWED = ("sh", "-c", "grep -E '^(Cpus|Mems)_allowed_list' /proc/self/status | cut -f2")
LAST_CPU = str(max(resources.parse_list(resources.host_cpus()) or {0}))


def test_cpuset_through_run(cli: Cli) -> None:
    for via in PARSERS:
        res = cli("run", "--rm", *via, "--network", "none", "--cpuset-cpus", LAST_CPU,
                  "--cpuset-mems", "0", "busybox", *ALLOWED)
        assert res.returncode == 0, res.stderr
        assert res.stdout.split() == [LAST_CPU, "0"]
    hc = host_config(cli, "--cpuset-cpus", f"0,{LAST_CPU}", "--cpuset-mems=0")
    assert (hc["CpusetCpus"], hc["CpusetMems"]) == (f"0,{LAST_CPU}", "0")
    assert (host_config(cli)["CpusetCpus"], host_config(cli)["CpusetMems"]) == ("", "")


@pytest.mark.parametrize(("flag", "value", "says"), [
    ("--cpuset-cpus", "4096", "not available"), ("--cpuset-cpus", "0-", "invalid"),
    ("--cpuset-cpus", "1-0", "invalid"), ("--cpuset-mems", "64", "not available"),
])
def test_bad_cpuset_exits_125_naming_the_flag(cli: Cli, engine: Engine, flag: str, value: str,
                                              says: str) -> None:
    res = cli("run", "--rm", flag, value, "busybox", "true")
    assert res.returncode == 125 and flag in res.stderr and says in res.stderr, res.stderr
    assert engine.list(all_=True) == []


def test_cpuset_through_a_stack(stack: StackEnv) -> None:
    stack.write(f"""
        services:
          app:
            image: busybox
            network_mode: none
            cpuset: "{LAST_CPU}"
            command: {json.dumps(ALLOWED)}
        """)
    assert stack_output(stack, "app")[0].split() == [LAST_CPU, "0"]


# --- --memory-reservation / mem_reservation ----------------------------------------------------

SOFT = ("cat", "/sys/fs/cgroup/memory/memory.soft_limit_in_bytes" if V1
        else "/sys/fs/cgroup/memory.low")


def test_memory_reservation_through_run(cli: Cli) -> None:
    for via in PARSERS:
        res = cli("run", "--rm", *via, "--network", "none", "--memory-reservation", "48m",
                  "-m", "64m", "busybox", *SOFT)
        assert res.returncode == 0, res.stderr
        assert res.stdout.strip() == str(48 << 20)
    hc = host_config(cli, "--memory-reservation", "32m")
    assert (hc["MemoryReservation"], hc["Memory"]) == (32 << 20, 0)
    assert host_config(cli)["MemoryReservation"] == 0


@pytest.mark.parametrize(("flags", "says"), [
    (("--memory-reservation", "lots"), "--memory-reservation"),
    (("--memory-reservation", "1m"), "minimum memory reservation"),
    (("--memory-reservation", "128m", "-m", "64m"), "--memory"),
])
def test_bad_memory_reservation_exits_125(cli: Cli, engine: Engine, flags: tuple[str, ...],
                                          says: str) -> None:
    res = cli("run", "--rm", *flags, "busybox", "true")
    assert res.returncode == 125 and says in res.stderr, res.stderr
    assert "--memory-reservation" in res.stderr
    assert engine.list(all_=True) == []


def test_memory_reservation_through_a_stack(stack: StackEnv) -> None:
    stack.write(f"""
        services:
          app:
            image: busybox
            network_mode: none
            mem_reservation: 40m
            command: {json.dumps(SOFT)}
          deployed:
            image: busybox
            network_mode: none
            deploy: {{resources: {{reservations: {{memory: 24m}}}}}}
            command: {json.dumps(SOFT)}
        """)
    app, deployed = stack_output(stack, "app", "deployed")
    assert (app.strip(), deployed.strip()) == (str(40 << 20), str(24 << 20))


# --- --cpu-period, --cpu-quota / cpu_period, cpu_quota -----------------------------------------

CFS = ("sh", "-c", "cat /sys/fs/cgroup/cpu/cpu.cfs_period_us /sys/fs/cgroup/cpu/cpu.cfs_quota_us"
       if V1 else "cat /sys/fs/cgroup/cpu.max")


def _cfs(period: int, quota: int) -> list[str]:
    return [str(period), str(quota)]


def test_cpu_period_and_quota_through_run(cli: Cli) -> None:
    for via in PARSERS:
        res = cli("run", "--rm", *via, "--network", "none", "--cpu-period", "50000",
                  "--cpu-quota", "25000", "busybox", *CFS)
        assert res.returncode == 0, res.stderr
        assert sorted(res.stdout.split()) == sorted(_cfs(50000, 25000))
    hc = host_config(cli, "--cpu-quota", "150000")
    assert (hc["CpuPeriod"], hc["CpuQuota"], hc["NanoCpus"]) == (0, 150000, 0)


@pytest.mark.parametrize(("flags", "says"), [
    (("--cpu-period", "999"), "less than 1ms"), (("--cpu-quota", "10"), "less than 1ms"),
    (("--cpus", "1", "--cpu-quota", "50000"), "conflicting options: --cpus and --cpu-quota"),
])
def test_bad_cfs_flags_exit_125(cli: Cli, engine: Engine, flags: tuple[str, ...],
                                says: str) -> None:
    res = cli("run", "--rm", *flags, "busybox", "true")
    assert res.returncode == 125 and says in res.stderr, res.stderr
    assert engine.list(all_=True) == []


def test_cpu_period_and_quota_through_a_stack(stack: StackEnv) -> None:
    stack.write(f"""
        services:
          app:
            image: busybox
            network_mode: none
            cpu_period: 20000
            cpu_quota: 10000
            command: {json.dumps(CFS)}
        """)
    assert sorted(stack_output(stack, "app")[0].split()) == sorted(_cfs(20000, 10000))


# --- --memory-swappiness, --oom-kill-disable / mem_swappiness, oom_kill_disable ----------------

MEMV1 = Path("/sys/fs/cgroup/memory/memory.swappiness").exists()
SWAP = ("sh", "-c", "cat /sys/fs/cgroup/memory/memory.swappiness; "
                    "grep oom_kill_disable /sys/fs/cgroup/memory/memory.oom_control")


@pytest.mark.skipif(not MEMV1, reason="cgroup v2 memory: both are discarded (as by Docker)")
def test_swappiness_and_oom_kill_disable_through_run(cli: Cli) -> None:
    for via in PARSERS:
        res = cli("run", "--rm", *via, "--network", "none", "--memory-swappiness", "7",
                  "--oom-kill-disable", "-m", "64m", "busybox", *SWAP)
        assert res.returncode == 0, res.stderr
        assert res.stdout.split() == ["7", "oom_kill_disable", "1"]
        assert "WARNING" not in res.stderr
    res = cli("run", "--rm", "--network", "none", "--oom-kill-disable", "busybox", "true")
    assert res.returncode == 0 and "WARNING: OOM killer is disabled" in res.stderr
    hc = host_config(cli, "--memory-swappiness", "0")
    assert (hc["MemorySwappiness"], hc["OomKillDisable"]) == (0, False)
    assert host_config(cli)["MemorySwappiness"] is None  # -1/unset: the host's


def test_bad_swappiness_exits_125(cli: Cli, engine: Engine) -> None:
    res = cli("run", "--rm", "--memory-swappiness", "101", "busybox", "true")
    assert res.returncode == 125 and "--memory-swappiness" in res.stderr, res.stderr
    assert engine.list(all_=True) == []


@pytest.mark.skipif(not MEMV1, reason="cgroup v2 memory: both are discarded (as by Docker)")
def test_swappiness_through_a_stack(stack: StackEnv) -> None:
    stack.write(f"""
        services:
          app:
            image: busybox
            network_mode: none
            mem_limit: 64m
            mem_swappiness: 0
            oom_kill_disable: true
            command: {json.dumps(SWAP)}
        """)
    assert stack_output(stack, "app")[0].split() == ["0", "oom_kill_disable", "1"]
