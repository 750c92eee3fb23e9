"""Pure tests (no root): mount plans, option parsing, path joining, cgroup files, CLI."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from stackctl.engine.runtime import syscalls as sc
from stackctl.engine.runtime.cgroups import Cgroup, Hierarchy, detect
from stackctl.engine.runtime.launch import LaunchError, parse_args
from stackctl.engine.runtime.mountopts import parse_options
from stackctl.engine.runtime.mounts import (
    MOUNT_DATA_MAX,
    Mount,
    mount_all,
    prepare_rootfs,
    unmount_all,
)
from stackctl.engine.runtime.rootfs import secure_join
from stackctl.engine.runtime.spec import Resources
from stackctl.errors import EngineError


def test_overlay_options() -> None:
    [m] = prepare_rootfs(["/l/2", "/l/1"], "/c/up", "/c/work", "/c/rootfs")
    assert m == Mount("overlay", "/c/rootfs", "overlay", 0,
                      "lowerdir=/l/2:/l/1,upperdir=/c/up,workdir=/c/work")


def test_overlay_escapes_separators() -> None:
    [m] = prepare_rootfs(["/l/a:b", "/l/c,d"], "/u", "/w", "/t")
    assert m.data == "lowerdir=/l/a\\:b:/l/c\\,d,upperdir=/u,workdir=/w"


def test_single_readonly_layer_is_a_bind() -> None:
    plan = prepare_rootfs(["/l/1"], None, None, "/t")
    assert [m.flags for m in plan] == [sc.MS_BIND | sc.MS_REC,
                                       sc.MS_BIND | sc.MS_REMOUNT | sc.MS_RDONLY]


def test_long_lowerdir_goes_relative_with_a_cwd() -> None:
    base = "/var/lib/stackctl/a-rather-long-state-root/layers/sha256"
    lowers = [f"{base}/{i:064x}/diff" for i in range(50)]
    [m] = prepare_rootfs(lowers, f"{base}/c/up", f"{base}/c/work", "/run/c/rootfs")
    assert m.cwd == base
    assert m.data is not None and len(m.data) <= MOUNT_DATA_MAX
    assert m.data.startswith(f"lowerdir={0:064x}/diff:")
    # beyond that: the new mount API, one fsconfig string per layer
    many = [f"{base}/{i:064x}/diff" for i in range(400)]
    [m] = prepare_rootfs(many, f"{base}/up", f"{base}/work", "/t")
    assert m.data is None and len(m.fsconfig) == 402
    assert m.fsconfig[0] == ("lowerdir+", many[0]) and m.fsconfig[-1] == ("workdir",
                                                                           f"{base}/work")
    with pytest.raises(EngineError, match="too many layers"):
        prepare_rootfs([f"{base}/{i:064x}/diff" for i in range(501)], None, None, "/t")


def test_mount_all_unwinds_on_failure(tmp_path: Path) -> None:
    fake = sc.RecordingSyscalls()
    plan = [Mount("a", "/t1", "tmpfs"), Mount("b", "/t2", "tmpfs")]
    mount_all(plan, fake)
    assert [c[0] for c in fake.calls] == ["mount", "mount"]

    class FailSecond(sc.RecordingSyscalls):
        def mount(self, source: str | None, target: str, fstype: str | None, flags: int,
                  data: str | None) -> None:
            super().mount(source, target, fstype, flags, data)
            if target == "/t2":
                raise sc.SyscallError(errno.EINVAL, "mount")

    failing = FailSecond()
    with pytest.raises(OSError):
        mount_all(plan, failing)
    assert failing.calls[-1] == ("umount2", "/t1", sc.MNT_DETACH)


def test_mount_all_chdirs_for_relative_options(tmp_path: Path) -> None:
    fake = sc.RecordingSyscalls()
    here = os.getcwd()
    seen: list[str] = []

    class Spy(sc.RecordingSyscalls):
        def mount(self, *args: object) -> None:  # type: ignore[override]
            seen.append(os.getcwd())

    mount_all([Mount("overlay", "/t", "overlay", 0, "lowerdir=a", cwd=str(tmp_path))], Spy())
    assert seen == [str(tmp_path)] and os.getcwd() == here
    unmount_all([Mount("x", "/t", None)], fake)
    assert fake.calls == [("umount2", "/t", sc.MNT_DETACH)]


def test_parse_options() -> None:
    flags, prop, data = parse_options(["nosuid", "noexec", "rbind", "ro", "rprivate",
                                       "mode=755", "size=1m"])
    assert flags == sc.MS_NOSUID | sc.MS_NOEXEC | sc.MS_BIND | sc.MS_REC | sc.MS_RDONLY
    assert prop == sc.MS_PRIVATE | sc.MS_REC
    assert data == "mode=755,size=1m"
    assert parse_options(["ro", "rw"])[0] == 0


def test_secure_join_never_escapes(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "evil").symlink_to("/../../../host")
    (root / "rel").symlink_to("../../..")
    assert secure_join(str(root), "/etc/evil/x") == f"{root}/host/x"
    assert secure_join(str(root), "/rel/etc") == f"{root}/etc"
    assert secure_join(str(root), "/../../a/./b") == f"{root}/a/b"


def _fake_v1(tmp_path: Path) -> Path:
    root = tmp_path / "cg"
    for name in ("memory", "cpu,cpuacct", "pids", "freezer", "systemd"):
        (root / name).mkdir(parents=True)
        (root / name / "cgroup.procs").write_text("")
    (root / "cpu").symlink_to("cpu,cpuacct")
    (root / "unified").mkdir()
    (root / "unified" / "cgroup.controllers").write_text("memory hugetlb\n")
    return root


def test_detect_hybrid_and_pure_v2(tmp_path: Path) -> None:
    found = {h.mountpoint.rsplit("/", 1)[1]: h for h in detect(_fake_v1(tmp_path))}
    assert set(found) == {"memory", "cpu,cpuacct", "pids", "freezer", "systemd", "unified"}
    assert found["cpu,cpuacct"].controllers == {"cpu", "cpuacct"}
    assert found["systemd"].controllers == frozenset()
    # memory is bound to v1, so the v2 hierarchy only drives hugetlb
    assert found["unified"] == Hierarchy(str(tmp_path / "cg" / "unified"), 2,
                                         frozenset({"hugetlb"}))
    v2 = tmp_path / "v2"
    v2.mkdir()
    (v2 / "cgroup.controllers").write_text("cpu memory pids\n")
    assert detect(v2) == [Hierarchy(str(v2), 2, frozenset({"cpu", "memory", "pids"}))]


def test_v1_limits_written_to_the_owning_hierarchy(tmp_path: Path) -> None:
    root = _fake_v1(tmp_path)
    cg = Cgroup("/stackctl-x", root, device_filter_v2=False)
    cg.create(Resources(memory=1 << 20, cpus=1.5, pids_limit=7).to_oci())
    assert (root / "memory/stackctl-x/memory.limit_in_bytes").read_text() == "1048576"
    assert (root / "cpu,cpuacct/stackctl-x/cpu.cfs_quota_us").read_text() == "150000"
    assert (root / "pids/stackctl-x/pids.max").read_text() == "7"
    assert cg.exists()
    for f in list((root).rglob("stackctl-x/*")):
        f.unlink()  # a real cgroupfs has no files to delete before rmdir
    cg.remove()
    assert not cg.exists()


def test_v2_limits_enable_controllers_in_ancestors(tmp_path: Path) -> None:
    root = tmp_path / "v2"
    root.mkdir()
    (root / "cgroup.controllers").write_text("cpu memory pids io\n")
    cg = Cgroup("/stackctl/one", root, device_filter_v2=False)
    cg.create(Resources(memory=64 << 20, memory_swap=96 << 20, cpus=0.5, pids_limit=3).to_oci())
    assert set((root / "cgroup.subtree_control").read_text().split()) == {
        "+cpu", "+io", "+memory", "+pids"}
    assert (root / "stackctl/cgroup.subtree_control").exists()
    d = root / "stackctl/one"
    assert (d / "memory.max").read_text() == str(64 << 20)
    assert (d / "cpu.max").read_text() == "50000 100000"
    assert (d / "pids.max").read_text() == "3"
    assert not (d / "memory.swap.max").exists()  # no swap accounting here: left alone


def test_launch_command_line() -> None:
    o = parse_args(["--root", "/r", "run", "-b", "/b", "--detach", "--pid-file=/p", "c1"])
    assert (o.root, o.command, o.bundle, o.detach, o.pid_file, o.id) == (
        "/r", "run", "/b", True, "/p", "c1")
    o = parse_args(["exec", "c1", "sh", "-c", "echo --detach"])
    assert o.id == "c1" and o.args == ["sh", "-c", "echo --detach"] and not o.detach
    o = parse_args(["exec", "--pid", "42", "--process", "p.json", "-d"])
    assert (o.pid, o.process, o.detach, o.id) == (42, "p.json", True, "")
    assert parse_args(["kill", "c1", "KILL"]).signal == "KILL"
    # the engine's form: --pid, runc's exec flags, then -- and the command
    o = parse_args(["exec", "--pid", "7", "--tty", "-e", "A=1", "--env=B=2", "--user", "app",
                    "--cwd", "/w", "--", "sh", "-c", "x"])
    assert (o.pid, o.tty, o.env, o.user, o.cwd, o.args) == (7, True, ["A=1", "B=2"], "app",
                                                           "/w", ["sh", "-c", "x"])
    assert parse_args(["exec", "c1", "--", "ls", "-l"]).args == ["ls", "-l"]
    assert parse_args(["exec", "--", "c1", "ls"]).args == ["ls"]
    for bad in (["run"], ["frob", "x"], ["run", "--bogus", "x"], ["run", "a", "b"],
                ["exec", "--pid", "x"]):
        with pytest.raises(LaunchError):
            parse_args(bad)


def test_limit_without_its_controller_is_an_error(tmp_path: Path) -> None:
    root = tmp_path / "v2"
    root.mkdir()
    (root / "cgroup.controllers").write_text("cpu pids\n")  # no memory controller
    cg = Cgroup("/stackctl-y", root, device_filter_v2=False)
    with pytest.raises(OSError, match="--memory: this host has no memory cgroup controller"):
        cg.create(Resources(memory=1 << 20).to_oci())
    assert not (root / "stackctl-y").exists()  # nothing left behind


def test_container_mount_plan_through_the_seam(tmp_path: Path) -> None:
    """The container-side plan (rootfs.prepare) against the recording fake: the
    order of mount(2) calls for Docker's default mounts, devices made with the
    right numbers, cgroup mounts held back for after the cgroup namespace."""
    from stackctl.engine.runtime import rootfs
    from stackctl.engine.runtime.spec import BundleRequest, build_config

    root = tmp_path / "rootfs"
    root.mkdir()
    config = build_config(BundleRequest(str(root), ("true",)))
    fake = sc.RecordingSyscalls()
    deferred = rootfs.prepare(config, str(root), fake, defer_cgroup=True)
    mounts = [c for c in fake.calls if c[0] == "mount"]
    assert mounts[0] == ("mount", None, "/", None, sc.MS_REC | sc.MS_PRIVATE, None)
    assert mounts[1] == ("mount", str(root), str(root), None, sc.MS_BIND | sc.MS_REC, None)
    assert [(m[2].removeprefix(str(root)), m[3]) for m in mounts[2:]] == [
        ("/proc", "proc"), ("/dev", "tmpfs"), ("/dev/pts", "devpts"), ("/sys", "sysfs"),
        ("/dev/mqueue", "mqueue"), ("/dev/shm", "tmpfs")]
    assert mounts[5][4] & sc.MS_RDONLY  # sysfs read-only
    assert [m["destination"] for m in deferred] == ["/sys/fs/cgroup"]
    nodes = {c[1].removeprefix(str(root)): os.major(c[3]) * 256 + os.minor(c[3])
             for c in fake.calls if c[0] == "mknod"}
    assert nodes == {"/dev/null": 259, "/dev/zero": 261, "/dev/full": 263,
                     "/dev/random": 264, "/dev/urandom": 265, "/dev/tty": 1280}
    assert ("chmod", f"{root}/dev/null", 0o666) in fake.calls
    assert os.readlink(root / "dev" / "ptmx") == "pts/ptmx"


def test_launcher_import_set_stays_small() -> None:
    """Every container start pays for the launcher's imports: the run path (parent,
    container init, cgroups, seccomp) must not pull in these heavy modules."""
    import subprocess
    import sys

    from stackctl.engine.runtime.launch import launcher_argv

    repo = str(Path(__file__).resolve().parents[2])
    code = (f"import sys; sys.path.insert(0, {repo!r}); "
            "import stackctl.engine.runtime.launch, stackctl.engine.runtime.init, "
            "stackctl.engine.runtime.cgroups, stackctl.engine.runtime.seccomp, "
            "stackctl.engine.runtime._exec; print(' '.join(sorted(sys.modules)))")
    out = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    heavy = {"typing", "dataclasses", "pathlib", "json", "re", "enum", "argparse", "socket",
             "inspect", "contextlib", "stackctl.errors"}
    assert heavy.isdisjoint(out), heavy & set(out)
    assert launcher_argv()[1] == "-S"
