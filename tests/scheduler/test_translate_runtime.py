"""Service -> ContainerConfig for the runtime keys: cpu_shares, cpuset,
mem_reservation, oom_score_adj, domainname, pid, uts, security_opt, devices.
Bad values are the key's error (``services.a.key``)."""

from __future__ import annotations

from typing import Any

import pytest

from stackctl.engine.containers import ContainerConfig
from stackctl.errors import SchedulerError
from stackctl.scheduler.model import desired_state
from stackctl.scheduler.translate import container_config


def _one(**service: Any) -> ContainerConfig:
    d = desired_state("p", {"services": {"a": {"image": "busybox", **service}}},
                      image_ids={"busybox": "sha256:1"})
    return container_config(d, d.services["a"], name="p-a-1", number=1)


def _refused(where: str, **service: Any) -> None:
    with pytest.raises(SchedulerError, match=where.replace(".", r"\.")):
        _one(**service)


def test_cpu_shares() -> None:
    assert _one(cpu_shares=512).cpu_shares == 512
    assert _one(cpu_shares=0).cpu_shares is None  # Docker's "unset"
    assert _one(cpu_shares=1).cpu_shares == 2  # clamped into the kernel's range, as Docker
    assert _one().cpu_shares is None


def test_cpuset() -> None:
    assert _one(cpuset="0").cpuset_cpus == "0"
    assert _one().cpuset_cpus is None
    _refused("services.a.cpuset", cpuset="4096")
    _refused("services.a.cpuset", cpuset="zero")


def test_mem_reservation() -> None:
    assert _one(mem_reservation="64m").memory_reservation == 64 << 20
    deployed = _one(deploy={"resources": {"reservations": {"memory": "32m"}}})
    assert deployed.memory_reservation == 32 << 20
    assert _one().memory_reservation is None
    _refused("services.a.mem_reservation", mem_reservation="128m", mem_limit="64m")
    _refused("services.a.mem_reservation", mem_reservation="1m")
    _refused("services.a.deploy.resources.reservations.memory",
             deploy={"resources": {"reservations": {"memory": "1k"}}})


def test_oom_score_adj() -> None:
    assert _one(oom_score_adj=-1000).oom_score_adj == -1000
    assert _one().oom_score_adj is None


def test_domainname() -> None:
    assert _one(domainname="corp.example").domainname == "corp.example"
    assert _one().domainname is None
    _refused("services.a.domainname", domainname="x" * 65)


def _with_donor(**service: Any) -> ContainerConfig:
    d = desired_state("p", {"services": {"a": {"image": "busybox", **service},
                                         "db": {"image": "busybox"}}},
                      image_ids={"busybox": "sha256:1"})
    return container_config(d, d.services["a"], name="p-a-1", number=1,
                            resolve_service={"db": "p-db-1"})


def test_pid_and_uts() -> None:
    assert (_one(pid="host").pid, _one(uts="host").uts) == ("host", "host")
    assert (_one().pid, _one().uts) == ("", "")
    assert _one(pid="container:other").pid == "container:other"  # the engine resolves it
    assert _with_donor(pid="service:db").pid == "container:p-db-1"
    _refused("services.a.pid", pid="sideways")
    _refused("services.a.uts", uts="private")
    _refused("services.a.uts", uts="host", hostname="box")
    with pytest.raises(SchedulerError, match=r"services\.a\.pid: service 'db' has no running"):
        _one(pid="service:db")


def test_security_opt() -> None:
    cfg = _one(security_opt=["no-new-privileges:true", "seccomp=unconfined", "label=disable"])
    assert cfg.security_opt == ("no-new-privileges=true", "seccomp=unconfined", "label=disable")
    assert _one().security_opt == ()
    _refused("services.a.security_opt", security_opt=["seccomp=/x.json"])
    _refused("services.a.security_opt", security_opt=["bogus"])


def test_devices() -> None:
    cfg = _one(devices=["/dev/null", "/dev/zero:/dev/z:r",
                        {"source": "/dev/full", "target": "/dev/f", "permissions": "rw"}])
    assert cfg.devices == ("/dev/null:/dev/null:rwm", "/dev/zero:/dev/z:r", "/dev/full:/dev/f:rw")
    assert _one().devices == ()
    _refused("services.a.devices", devices=["/dev/nope-nothing"])
    _refused("services.a.devices", devices=["/dev/null:/dev/x:rwx"])


def test_device_cgroup_rules() -> None:
    assert _one(device_cgroup_rules=["c 13:* rwm", "b 7:0  r"]).device_cgroup_rules == (
        "c 13:* rwm", "b 7:0 r")
    _refused("services.a.device_cgroup_rules", device_cgroup_rules=["c 13 rwm"])


def test_cpu_period_and_quota() -> None:
    cfg = _one(cpu_period=50000, cpu_quota=-1)
    assert (cfg.cpu_period, cfg.cpu_quota) == (50000, -1)
    _refused("services.a.cpu_quota", cpu_quota=50000, cpus=1.5)
    _refused("services.a.cpu_period", cpu_period=10)


def test_mem_swappiness_and_oom_kill_disable() -> None:
    cfg = _one(mem_swappiness=0, oom_kill_disable=True)
    assert (cfg.memory_swappiness, cfg.oom_kill_disable) == (0, True)
    assert (_one(mem_swappiness=-1).memory_swappiness, _one().oom_kill_disable) == (None, False)
    _refused("services.a.mem_swappiness", mem_swappiness=101)
