"""The files the launcher writes for --cpu-shares, --cpuset-*, --memory-reservation,
on a plain directory laid out as a cgroup v2 and as a v1 hierarchy (the kernel
tests run on this host's hybrid layout only; these cover the other branches)."""

from __future__ import annotations

from pathlib import Path

from stackctl.engine.runtime.cgroups import Cgroup
from stackctl.engine.runtime.spec import Resources

RES = Resources(cpu_shares=512, cpuset_cpus="0-1", cpuset_mems="0",
                memory_reservation=32 << 20).to_oci()


def test_cgroup_v2(tmp_path: Path) -> None:
    (tmp_path / "cgroup.controllers").write_text("cpuset cpu io memory pids\n")
    Cgroup("/stackctl-t", root=tmp_path, device_filter_v2=False).create(RES)
    d = tmp_path / "stackctl-t"
    # cpuset is enabled for a pinned container only (with the others)
    assert set((tmp_path / "cgroup.subtree_control").read_text().split()) == {
        "+cpu", "+cpuset", "+io", "+memory", "+pids"}
    assert (d / "cpu.weight").read_text() == str(1 + (510 * 9999) // 262142)
    assert (d / "cpuset.cpus").read_text() == "0-1"
    assert (d / "cpuset.mems").read_text() == "0"
    assert (d / "memory.low").read_text() == str(32 << 20)


def test_cgroup_v2_unpinned_leaves_cpuset_alone(tmp_path: Path) -> None:
    (tmp_path / "cgroup.controllers").write_text("cpuset cpu io memory pids\n")
    Cgroup("/stackctl-t", root=tmp_path, device_filter_v2=False).create(
        Resources(cpu_shares=512).to_oci())
    assert "+cpuset" not in (tmp_path / "cgroup.subtree_control").read_text().split()
    assert not (tmp_path / "stackctl-t" / "cpuset.cpus").exists()


def test_cgroup_v1(tmp_path: Path) -> None:
    for name in ("cpu", "cpuset", "memory"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "cgroup.procs").write_text("")
    (tmp_path / "cpuset" / "cpuset.cpus").write_text("0-3")
    (tmp_path / "cpuset" / "cpuset.mems").write_text("0")
    Cgroup("/stackctl-t", root=tmp_path).create(RES)
    assert (tmp_path / "cpu/stackctl-t/cpu.shares").read_text() == "512"
    assert (tmp_path / "cpuset/stackctl-t/cpuset.cpus").read_text() == "0-1"
    assert (tmp_path / "memory/stackctl-t/memory.soft_limit_in_bytes").read_text() == str(
        32 << 20)
