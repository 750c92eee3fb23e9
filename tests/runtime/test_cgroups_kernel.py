"""cgroups on the real hierarchy, and the kernel-facing guards around a container."""

from __future__ import annotations

import errno
import json
import os
import subprocess
from pathlib import Path

import pytest

from stackctl.engine.runtime.cgroups import Cgroup
from stackctl.engine.runtime.spec import Resources, build_config
from stackctl.engine.runtime.syscalls import LinuxSyscalls, SyscallError
from stackctl.errors import UsageError
from tests.runtime.conftest import REAPER, REPO, Bundle

pytestmark = pytest.mark.kernel


def _reaper_line(proc: subprocess.Popen[str]) -> dict[str, int]:
    assert proc.stdout is not None
    out: dict[str, int] = json.loads(proc.stdout.readline())
    return out


def test_stats_freeze_and_oom_record(bundle: Bundle) -> None:
    # A detached container that first idles, then allocates past its limit on cue.
    bundle.write(bundle.request(
        "sh", "-c", "while [ ! -e /tmp/go ]; do sleep 0.05; done; "
        "exec dd if=/dev/zero of=/dev/null bs=64M count=1",
        resources=Resources(memory=16 << 20, memory_swap=16 << 20, pids_limit=50)))
    reaper = subprocess.Popen([*REAPER, *bundle.command("launch", "--detach")],
                              stdout=subprocess.PIPE, text=True, cwd=REPO)
    try:
        assert _reaper_line(reaper) == {"launcher": 0}
        pid = bundle.state()["pid"]
        cg = Cgroup(bundle.cgroup)
        stats = cg.stats()
        assert stats.memory_limit == 16 << 20
        assert stats.memory_usage is not None and stats.memory_usage > 0
        assert stats.pids is not None and stats.pids >= 1
        assert stats.cpu_usage_ns is not None

        cg.freeze()
        assert cg.frozen()
        res = bundle.launch("exec", bundle.id, "true", check=False)
        assert res.returncode == 1 and "paused" in res.stderr
        cg.thaw()
        assert not cg.frozen()
        assert not cg.oom_killed()

        bundle.launch("exec", bundle.id, "touch", "/tmp/go")
        assert _reaper_line(reaper) == {"pid": pid, "status": -9}
        assert cg.oom_killed()  # what the engine reports as State.OOMKilled
        bundle.launch("delete", bundle.id)
        assert not cg.exists()
    finally:
        bundle.launch("delete", "--force", bundle.id, check=False)
        reaper.wait(timeout=10)


def test_device_cgroup_blocks_block_devices(bundle: Bundle) -> None:
    res = bundle.run(bundle.request(
        "sh", "-c", "mknod /tmp/disk b 8 0 && echo made; head -c1 /tmp/disk >/dev/null"))
    assert "made" in res.stdout  # CAP_MKNOD is in the default set, as in Docker...
    assert res.returncode != 0 and "Operation not permitted" in res.stderr  # ...opening is not


def test_host_wide_sysctls_are_refused(bundle: Bundle) -> None:
    with pytest.raises(UsageError, match=r"vm\.swappiness .*change the host"):
        build_config(bundle.request("true", sysctls={"vm.swappiness": "10"}))
    with pytest.raises(UsageError, match="host's network namespace"):
        build_config(bundle.request("true", network="host", sysctls={"net.ipv4.ip_forward": "1"}))
    # A hand-written config.json gets the same answer from the launcher itself.
    before = Path("/proc/sys/vm/swappiness").read_text()
    config_path = bundle.write(bundle.request("true"))
    config = json.loads(config_path.read_text())
    config["linux"]["sysctl"] = {"vm.swappiness": "7"}
    config_path.write_text(json.dumps(config))
    res = subprocess.run(bundle.command("launch"), capture_output=True, text=True, cwd=REPO)
    assert res.returncode == 1 and "would change the host" in res.stderr
    assert Path("/proc/sys/vm/swappiness").read_text() == before
    assert not Cgroup(bundle.cgroup).exists()


def test_syscall_errors_carry_errno(tmp_path: Path) -> None:
    sys_ = LinuxSyscalls()
    with pytest.raises(SyscallError) as err:
        sys_.umount2(str(tmp_path / "missing"), 0)
    assert err.value.errno == errno.ENOENT and "umount" in str(err.value)
    with pytest.raises(SyscallError) as err:
        sys_.umount2(str(tmp_path), 0)  # a directory, not a mount point
    assert err.value.errno == errno.EINVAL
    eff, perm, _ = sys_.capget()
    assert eff and perm  # root here


def test_cgroup_kill_all_and_remove_with_live_processes(unique: str) -> None:
    cg = Cgroup(f"/stackctl-test-{unique}")
    cg.create(Resources(pids_limit=10).to_oci())
    procs = [subprocess.Popen(["sleep", "300"]) for _ in range(3)]
    try:
        for p in procs:
            cg.add(p.pid)
        assert sorted(cg.pids()) == sorted(p.pid for p in procs)
        cg.kill_all()
        assert [p.wait(timeout=10) for p in procs] == [-9, -9, -9]
        cg.remove()
        assert not cg.exists()
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        if cg.exists():
            cg.kill_all()
            cg.remove()
    assert os.path.isdir("/sys/fs/cgroup")


@pytest.mark.skipif(not os.path.exists("/sys/fs/cgroup/unified/cgroup.controllers"),
                    reason="no v2 hierarchy mounted at /sys/fs/cgroup/unified")
def test_v2_code_paths_on_the_real_unified_hierarchy(unique: str) -> None:
    # The hybrid host's v2 hierarchy, used as if it were a pure v2 root: freezing
    # (cgroup.freeze + cgroup.events) and killing (cgroup.kill) need no controller.
    cg = Cgroup(f"/stackctl-test-{unique}", "/sys/fs/cgroup/unified")
    assert [h.version for h in cg.hierarchies] == [2]
    cg.create()
    proc = subprocess.Popen(["sleep", "300"])
    try:
        cg.add(proc.pid)
        assert cg.pids() == [proc.pid]
        cg.freeze()
        assert cg.frozen()
        cg.thaw()
        assert not cg.frozen()
        cg.kill_all()
        assert proc.wait(timeout=10) == -9
        cg.remove()
        assert not cg.exists()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if cg.exists():
            cg.kill_all()
            cg.remove()


@pytest.mark.skipif(not os.path.exists("/sys/fs/cgroup/unified/cgroup.controllers"),
                    reason="no v2 hierarchy mounted at /sys/fs/cgroup/unified")
def test_v2_device_filter_program_is_enforced(unique: str, tmp_path: Path) -> None:
    # On the v2 hierarchy alone (no v1 devices controller involved): Docker's rules
    # allow /dev/null, /dev/full...; /dev/kmsg (1:11) and block devices are refused.
    cg = Cgroup(f"/stackctl-test-{unique}", "/sys/fs/cgroup/unified")
    cg.create(Resources().to_oci())
    script = tmp_path / "probe.sh"
    script.write_text(
        "read _\n"  # wait until moved into the cgroup
        "head -c1 /dev/full >/dev/null && echo full: ok\n"
        "head -c1 /dev/kmsg >/dev/null 2>&1 || echo kmsg: refused\n"
        f"mknod {tmp_path}/disk b 7 0 && echo mknod: ok\n"
        f"head -c1 {tmp_path}/disk >/dev/null 2>&1 || echo disk: refused\n")
    proc = subprocess.Popen(["sh", str(script)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)
    try:
        cg.add(proc.pid)
        out, _ = proc.communicate("go\n", timeout=20)
        assert out.split("\n")[:4] == ["full: ok", "kmsg: refused", "mknod: ok",
                                       "disk: refused"]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        cg.kill_all()
        cg.remove()


def test_device_program_shape() -> None:
    from stackctl.engine.runtime.devices import device_program

    rules = Resources().to_oci()["devices"]
    prog = device_program(rules)
    assert len(prog) % 8 == 0
    insns = [prog[i:i + 8] for i in range(0, len(prog), 8)]
    # Docker's list starts with "deny all": tested last, unconditionally, so it is
    # the program's end (no separate default verdict after it).
    assert insns[-1][0] == 0x95 and insns[-2] == bytes([0xB7, 0, 0, 0, 0, 0, 0, 0])
    assert sum(1 for i in insns if i[0] == 0x95) == len(rules)
