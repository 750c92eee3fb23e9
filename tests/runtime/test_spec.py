"""Pure tests of BundleRequest -> config.json, capabilities, ulimits and user lookup."""

from __future__ import annotations

import json
import resource
from pathlib import Path

import pytest

from stackctl.engine.runtime.caps import DOCKER_DEFAULT_CAPS, effective_caps
from stackctl.engine.runtime.rlimits import Rlimit, parse_ulimit
from stackctl.engine.runtime.spec import (
    DEFAULT_MASKED_PATHS,
    BundleRequest,
    MountSpec,
    Resources,
    build_config,
    write_bundle,
)
from stackctl.engine.runtime.users import resolve_user
from stackctl.errors import NotFound, UsageError

ALL = frozenset(f"CAP_{n}" for n in ("CHOWN", "NET_ADMIN", "SYS_ADMIN", "KILL", "MKNOD"))
LIMITS = {resource.RLIMIT_NOFILE: (1024, 20000)}


def config(**kw: object) -> dict:
    req = BundleRequest(rootfs="rootfs", args=("sh",), **kw)  # type: ignore[arg-type]
    return build_config(req, caller_limits=LIMITS)


def test_defaults_are_dockers() -> None:
    c = config(hostname="web", cgroups_path="/stackctl-abc")
    proc = c["process"]
    assert set(proc["capabilities"]["bounding"]) <= set(DOCKER_DEFAULT_CAPS)
    assert "inheritable" not in proc["capabilities"]
    assert proc["noNewPrivileges"] is True
    assert proc["rlimits"] == [{"type": "RLIMIT_NOFILE", "soft": 20000, "hard": 20000}]
    assert proc["env"][0].startswith("PATH=")
    assert c["hostname"] == "web"
    kinds = [n["type"] for n in c["linux"]["namespaces"]]
    assert kinds == ["mount", "network", "pid", "ipc", "uts", "cgroup"]
    assert c["linux"]["cgroupsPath"] == "/stackctl-abc"
    assert c["linux"]["maskedPaths"] == list(DEFAULT_MASKED_PATHS)
    assert "/proc/sys" in c["linux"]["readonlyPaths"]
    dests = [m["destination"] for m in c["mounts"]]
    assert dests[:3] == ["/proc", "/dev", "/dev/pts"]
    assert {"/sys", "/dev/shm", "/dev/mqueue"} <= set(dests)


def test_network_path_host_and_user_mounts() -> None:
    c = config(network="/run/netns/stackctl-x", pid="host",
               mounts=(MountSpec("/data", "bind", "/srv/data", ("rbind", "ro")),
                       MountSpec("/dev/shm", "tmpfs", "tmpfs", ("size=1m",))))
    ns = c["linux"]["namespaces"]
    assert {"type": "network", "path": "/run/netns/stackctl-x"} in ns
    assert all(n["type"] != "pid" for n in ns)
    shm = [m for m in c["mounts"] if m["destination"] == "/dev/shm"]
    assert shm == [{"destination": "/dev/shm", "type": "tmpfs", "source": "tmpfs",
                    "options": ["size=1m"]}]
    assert c["mounts"][-2]["source"] == "/srv/data"


def test_resources() -> None:
    res = config(resources=Resources(memory=64 << 20, memory_swap=64 << 20, cpus=1.5,
                                     pids_limit=20))["linux"]["resources"]
    assert res["memory"] == {"limit": 64 << 20, "swap": 64 << 20}
    assert res["cpu"] == {"quota": 150000, "period": 100000}
    assert res["pids"] == {"limit": 20}


def test_caps_add_drop_privileged() -> None:
    assert "CAP_NET_ADMIN" in effective_caps(["net_admin"], available=ALL)
    assert "CAP_CHOWN" not in effective_caps([], ["CHOWN"], available=ALL)
    assert effective_caps(["KILL"], ["ALL"], available=ALL) == ("CAP_KILL",)
    assert set(effective_caps(["ALL"], ["SYS_ADMIN"], available=ALL)) == ALL - {"CAP_SYS_ADMIN"}
    assert set(effective_caps(privileged=True, available=ALL)) == ALL
    with pytest.raises(UsageError, match="--cap-add NOPE"):
        effective_caps(["NOPE"], available=ALL)
    c = config(privileged=True)
    assert "maskedPaths" not in c["linux"]


def test_ulimits() -> None:
    assert parse_ulimit("nofile=1024:4096") == Rlimit("RLIMIT_NOFILE", 1024, 4096)
    assert parse_ulimit("nproc=-1") == Rlimit("RLIMIT_NPROC", -1, -1)
    with pytest.raises(UsageError, match="--ulimit bogus=1"):
        parse_ulimit("bogus=1")
    with pytest.raises(UsageError, match="soft limit"):
        parse_ulimit("nofile=10:5")
    with pytest.raises(UsageError, match="hard limit 20000") as err:
        config(rlimits=(parse_ulimit("nofile=30000"),))
    assert err.value.hint and "CAP_SYS_RESOURCE" in err.value.hint
    ok = config(rlimits=(parse_ulimit("nofile=512:1024"),))
    assert ok["process"]["rlimits"] == [{"type": "RLIMIT_NOFILE", "soft": 512, "hard": 1024}]


def test_write_bundle_is_atomic_and_validates_first(tmp_path: Path) -> None:
    with pytest.raises(UsageError):
        write_bundle(tmp_path / "b", BundleRequest("rootfs", ("sh",), cap_add=("NOPE",)))
    assert not (tmp_path / "b").exists()
    path = write_bundle(tmp_path / "b", BundleRequest("rootfs", ("sh",)))
    assert json.loads(path.read_text())["root"]["path"] == "rootfs"
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == ["config.json"]


@pytest.fixture
def rootfs(tmp_path: Path) -> Path:
    etc = tmp_path / "r" / "etc"
    etc.mkdir(parents=True)
    (etc / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n"
                                "app:x:1000:1000:app:/home/app:/bin/sh\n")
    (etc / "group").write_text("root:x:0:\nwheel:x:10:app\naudio:x:29:root,app\n"
                               "app:x:1000:\n")
    return tmp_path / "r"


def test_users(rootfs: Path) -> None:
    assert resolve_user(rootfs, "").uid == 0
    app = resolve_user(rootfs, "app")
    assert (app.uid, app.gid, app.additional_gids, app.home) == (1000, 1000, (10, 29),
                                                                 "/home/app")
    assert resolve_user(rootfs, "1000").additional_gids == (10, 29)
    assert resolve_user(rootfs, "app:wheel").gid == 10
    assert resolve_user(rootfs, "app:wheel").additional_gids == ()
    assert resolve_user(rootfs, "4242:4343") == resolve_user(rootfs, "4242:4343")
    anon = resolve_user(rootfs, "4242")
    assert (anon.uid, anon.gid, anon.name) == (4242, 0, None)
    assert resolve_user(rootfs, "app", group_add=("root", "77")).additional_gids == (10, 29, 0,
                                                                                      77)
    with pytest.raises(NotFound, match="unable to find user bob"):
        resolve_user(rootfs, "bob")
    with pytest.raises(NotFound, match="unable to find group staff"):
        resolve_user(rootfs, "app:staff")


def test_users_symlink_cannot_escape(tmp_path: Path) -> None:
    (tmp_path / "r" / "etc").mkdir(parents=True)
    (tmp_path / "r" / "etc" / "passwd").symlink_to("/etc/passwd")
    with pytest.raises(NotFound):
        resolve_user(tmp_path / "r", "root")  # the host's root must not be found


def test_sysctls_only_when_namespaced() -> None:
    from stackctl.engine.runtime.sysctls import sysctl_problem

    ns = {"ipc": "new", "network": "/run/netns/x", "uts": "new"}
    assert sysctl_problem(["net.ipv4.ip_forward", "kernel.shmmax", "fs.mqueue.msg_max",
                           "kernel.domainname"], ns) is None
    assert "change the host" in (sysctl_problem(["kernel.panic"], ns) or "")
    assert "IPC" in (sysctl_problem(["kernel.sem"], {**ns, "ipc": "host"}) or "")
    assert "network" in (sysctl_problem(["net.core.somaxconn"], {}) or "")
    assert config(sysctls={"net.ipv4.ip_forward": "1"})["linux"]["sysctl"] == {
        "net.ipv4.ip_forward": "1"}
    with pytest.raises(UsageError, match=r"--sysctl: sysctl vm\.swappiness"):
        config(sysctls={"vm.swappiness": "1"})
