"""The built-in launcher on the real kernel, and the same bundles under runc.

Each test builds a bundle over an overlay of the busybox rootfs and runs it
attached (`launch run`, like `runc run`), reading what the container saw.
"""

from __future__ import annotations

import os
import re

import pytest

from stackctl.engine.runtime.caps import DOCKER_DEFAULT_CAPS, caps_mask
from stackctl.engine.runtime.cgroups import Cgroup
from stackctl.engine.runtime.rlimits import parse_ulimit
from stackctl.engine.runtime.spec import MountSpec, Resources
from tests.runtime.conftest import Bundle, cap_eff

pytestmark = pytest.mark.kernel
RUNTIMES = ["launch", "runc"]

ISOLATION = """
echo "maxpid: $(ls /proc | grep '^[0-9]' | sort -n | tail -1)"
echo "pid1: $(tr '\\0' ' ' < /proc/1/cmdline | cut -c1-5)"
echo "me: $$"
echo "host: $(hostname)"
echo "links: $(ls /sys/class/net | tr '\\n' ' ')"
mount -t tmpfs none /mnt 2>/dev/null && echo "mount: ok" || echo "mount: refused"
echo 1 2>/dev/null > /proc/sys/kernel/domainname && echo "sysctl: ok" || echo "sysctl: refused"
echo "timer_list: $(wc -l < /proc/timer_list)"
echo "acpi: $(ls /proc/acpi | wc -l)"
echo "keys: $(cat /proc/keys 2>/dev/null | wc -l)"
grep CapEff /proc/self/status
ls /dev | tr '\\n' ' '; echo
cat /proc/self/cgroup
"""


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_isolation_matches_docker(bundle: Bundle, runtime: str) -> None:
    res = bundle.run(bundle.request("sh", "-c", ISOLATION), runtime)
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert "me: 1\n" in out  # PID 1 of its own namespace
    # Only the container's own few processes exist (this kernel has no /proc/kcore:
    # the masking is checked on /proc/timer_list, /proc/keys and /proc/acpi).
    assert int(re.findall(r"maxpid: (\d+)", out)[0]) < 20
    assert "pid1: sh -c" in out
    assert "host: box\n" in out
    assert "links: lo \n" in out  # no host interfaces
    assert "mount: refused" in out
    assert "sysctl: refused" in out
    assert "timer_list: 0\n" in out and "keys: 0\n" in out and "acpi: 0\n" in out
    assert cap_eff(out) == caps_mask(DOCKER_DEFAULT_CAPS)
    for dev in ("null", "zero", "full", "random", "urandom", "tty", "pts", "shm", "mqueue",
                "ptmx", "fd"):
        assert re.search(rf"\b{dev}\b", out), dev
    assert ":memory:/\n" in out  # the cgroup namespace hides the host's hierarchy
    assert not Cgroup(bundle.cgroup).exists()


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_cap_add_and_drop(bundle: Bundle, runtime: str) -> None:
    req = bundle.request("sh", "-c", "grep CapEff /proc/self/status; chown 1000 /etc/hostname "
                         "&& echo chown: ok || echo chown: refused",
                         cap_add=("NET_ADMIN",), cap_drop=("CHOWN", "DAC_OVERRIDE"))
    res = bundle.run(req, runtime)
    assert res.returncode == 0, res.stderr
    mask = cap_eff(res.stdout)
    assert mask & (1 << 12)  # CAP_NET_ADMIN
    assert not mask & 1  # CAP_CHOWN
    assert "chown: refused" in res.stdout


def test_privileged_can_mount(bundle: Bundle) -> None:
    res = bundle.run(bundle.request("sh", "-c", "mount -t tmpfs none /mnt && echo mounted; "
                                    "wc -l < /proc/timer_list | grep -qv '^0$' && echo unmasked",
                                    privileged=True))
    assert res.returncode == 0, res.stderr
    assert "mounted" in res.stdout and "unmasked" in res.stdout


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_read_only_root(bundle: Bundle, runtime: str) -> None:
    req = bundle.request("sh", "-c", "touch /x 2>/dev/null && echo root: rw || echo root: ro; "
                         "touch /dev/shm/x && echo shm: rw", readonly_root=True)
    res = bundle.run(req, runtime)
    assert res.returncode == 0, res.stderr
    assert "root: ro" in res.stdout and "shm: rw" in res.stdout


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_user_and_supplementary_groups(bundle: Bundle, runtime: str) -> None:
    from stackctl.engine.runtime.users import resolve_user

    user = resolve_user(bundle.rootfs, "app")
    req = bundle.request("sh", "-c", "id; grep CapEff /proc/self/status; touch /root/x "
                         "2>/dev/null || echo denied", uid=user.uid, gid=user.gid,
                         additional_gids=user.additional_gids, env=(f"HOME={user.home}",))
    res = bundle.run(req, runtime)
    assert res.returncode == 0, res.stderr
    assert "uid=1000(app) gid=1000(app) groups=10(wheel)" in res.stdout
    assert cap_eff(res.stdout) == 0  # a non-root process keeps no capability, as in Docker
    assert "denied" in res.stdout


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_rlimits(bundle: Bundle, runtime: str) -> None:
    req = bundle.request("sh", "-c", "ulimit -n; ulimit -Hn",
                         rlimits=(parse_ulimit("nofile=512:1024"),))
    res = bundle.run(req, runtime)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["512", "1024"]


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_memory_limit_oom_kills_with_137(bundle: Bundle, runtime: str) -> None:
    # dd allocates a 64 MiB buffer and fills it: over a 16 MiB limit with no swap.
    req = bundle.request("dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1",
                         resources=Resources(memory=16 << 20, memory_swap=16 << 20))
    res = bundle.run(req, runtime)
    assert res.returncode == 137, (res.stdout, res.stderr)
    assert not Cgroup(bundle.cgroup).exists()


def test_pids_limit(bundle: Bundle) -> None:
    # 20 background sleeps cannot all start under a limit of 8 tasks: sh's fork fails.
    res = bundle.run(bundle.request("sh", "-c", "for i in $(seq 20); do sleep 30 & done",
                                    resources=Resources(pids_limit=8)))
    assert res.returncode != 0
    assert "can't fork: Resource temporarily unavailable" in res.stderr
    assert not Cgroup(bundle.cgroup).exists()  # the sleeps died with PID 1


def test_cpu_quota_is_written(bundle: Bundle) -> None:
    res = bundle.run(bundle.request("cat", "/sys/fs/cgroup/cpu/cpu.cfs_quota_us",
                                    "/sys/fs/cgroup/cpu/cpu.cfs_period_us",
                                    resources=Resources(cpus=0.5)))
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["50000", "100000"]


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_not_found_127_and_not_executable_126(bundle: Bundle, runtime: str) -> None:
    # runc exits 1 and Docker maps its message to 127/126; the launcher exits with
    # Docker's code itself, so the engine needs no message parsing.
    res = bundle.run(bundle.request("nope"), runtime)
    assert res.returncode == (127 if runtime == "launch" else 1), res.stderr
    assert 'exec: \\"nope\\": executable file not found in $PATH' in res.stderr.replace(
        '"nope"', '\\"nope\\"')
    res = bundle.run(bundle.request("/etc/passwd"), runtime)
    assert res.returncode == (126 if runtime == "launch" else 1), res.stderr
    assert "permission denied" in res.stderr
    if runtime == "launch":
        assert not (bundle.state_root / "launch" / bundle.id).exists()
    assert not Cgroup(bundle.cgroup).exists()


def test_exit_status_env_cwd_and_mounts(bundle: Bundle, tmp_path: os.PathLike[str]) -> None:
    host = os.path.join(tmp_path, "hostdir")
    os.mkdir(host)
    with open(os.path.join(host, "greeting"), "w") as f:
        f.write("hello\n")
    req = bundle.request(
        "sh", "-c", "cat /data/greeting; pwd; echo $FOO; touch /data/x 2>/dev/null || "
        "echo data: ro; df /scratch | tail -1 | grep -q tmpfs && echo scratch: tmpfs; exit 7",
        env=("FOO=bar",), cwd="/work/dir",
        mounts=(MountSpec("/data", "bind", host, ("rbind", "ro")),
                MountSpec("/scratch", "tmpfs", "tmpfs", ("size=1m",))))
    res = bundle.run(req)
    assert res.returncode == 7, res.stderr
    assert res.stdout.split("\n")[:5] == ["hello", "/work/dir", "bar", "data: ro",
                                          "scratch: tmpfs"]


def test_sysctl_and_hostname_domain(bundle: Bundle) -> None:
    req = bundle.request("cat", "/proc/sys/net/ipv4/ip_forward",
                         sysctls={"net.ipv4.ip_forward": "1"})
    res = bundle.run(req)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "1"


def test_unknown_ulimit_above_host_is_refused_before_any_run() -> None:
    from stackctl.engine.runtime.spec import BundleRequest, build_config
    from stackctl.errors import UsageError

    with pytest.raises(UsageError, match="nofile"):
        build_config(BundleRequest("/nonexistent", ("true",),
                                   rlimits=(parse_ulimit("nofile=999999999"),)))
