"""Real containers through the Engine API: lifecycle, logs, restart policies, exec,
limits, health, volumes, and what is left after rm -f or a killed monitor."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

from stackctl.engine import oci
from stackctl.engine.api import Engine
from stackctl.engine.containers import (
    ContainerConfig,
    ContainerStatus,
    Healthcheck,
    MountRequest,
    RestartPolicy,
)
from stackctl.errors import (
    AlreadyExists,
    Conflict,
    InvalidStateTransition,
    NotFound,
    RuntimeFailure,
    UsageError,
)
from tests.engine.conftest import Cli, eventually, mounts_under

pytestmark = pytest.mark.kernel
S = ContainerStatus


def cfg(*cmd: str, **kw: object) -> ContainerConfig:
    kw.setdefault("image", "busybox")
    kw.setdefault("network", "none")  # bridges are tested through the CLI
    return ContainerConfig(command=cmd or None, **kw)  # type: ignore[arg-type]


def logs_text(engine: Engine, ref: str) -> str:
    return "".join(e.log for e in engine.logs(ref))


def test_run_wait_logs_rm(engine: Engine, unique: str) -> None:
    rec = engine.create(cfg("sh", "-c", "echo out; echo err >&2; hostname; exit 3",
                            name=f"c-{unique}"))
    assert rec.status == S.CREATED and len(rec.id) == 64
    engine.start(rec.id)
    assert engine.wait(f"c-{unique}") == 3
    done = engine.get(rec.id[:10])
    assert done.status == S.EXITED and done.exit_code == 3 and done.finished_at
    entries = list(engine.logs(rec.id))
    assert [(e.stream, e.log) for e in entries if e.stream == "stderr"] == [("stderr", "err\n")]
    assert "out\n" in [e.log for e in entries]
    assert rec.id[:12] + "\n" in [e.log for e in entries]  # hostname = short id
    paths = engine.paths(rec.id)
    assert not mounts_under(paths.run_dir)
    engine.remove(rec.id)
    with pytest.raises(NotFound):
        engine.get(rec.id)
    assert not paths.state_dir.exists()


def test_isolation_pid_hostname_network(engine: Engine) -> None:
    rec = engine.create(cfg("sh", "-c", "ps -o pid,comm; cat /proc/net/dev; "
                            "mount -t tmpfs t /mnt 2>&1; echo 1 > /proc/sys/kernel/ostype 2>&1; "
                            "true", hostname="boxy"))
    engine.start(rec.id)
    assert engine.wait(rec.id) == 0
    out = logs_text(engine, rec.id)
    pids = [ln.split()[0] for ln in out.splitlines() if ln.strip().split()[:1] != ["PID"]
            and ln.strip()[:1].isdigit()]
    assert pids[0] == "1"
    assert "eth0" not in out and "lo:" in out
    assert "permission denied" in out.lower() or "not permitted" in out
    assert "Read-only file system" in out


def test_stop_sends_signal_then_status_exited(engine: Engine) -> None:
    rec = engine.start(engine.create(cfg("sh", "-c", "trap 'echo got-term; exit 0' TERM; "
                                         "echo trapped; while true; do sleep 0.1; done")).id)
    assert rec.status == S.RUNNING and rec.pid
    # a SIGTERM before the trap is set is ignored: the shell is PID 1 (no default action)
    eventually(lambda: "trapped" in logs_text(engine, rec.id))
    stopped = engine.stop(rec.id, timeout=10)
    assert stopped.status == S.EXITED and stopped.exit_code == 0
    assert "got-term" in logs_text(engine, rec.id)
    assert not oci.cgroup_dirs(engine.paths(rec.id).cgroup_name)


def test_stop_escalates_to_sigkill(engine: Engine) -> None:
    rec = engine.start(engine.create(cfg("sh", "-c", "trap '' TERM; while true; do sleep 0.1;"
                                         " done")).id)
    stopped = engine.stop(rec.id, timeout=0.3)
    assert stopped.exit_code == 137


def test_init_forwards_the_stop_signal(engine: Engine) -> None:
    # a plain `sleep` as PID 1 ignores SIGTERM (the kernel shields PID 1); under
    # --init it is PID 2 and dies of the forwarded signal: 128+15, not SIGKILL's 137
    rec = engine.start(engine.create(cfg("sleep", "60", init=True)).id)
    assert engine.stop(rec.id, timeout=20).exit_code == 143


def test_start_again_after_exit_and_restart(engine: Engine) -> None:
    rec = engine.create(cfg("sh", "-c", "echo run"))
    engine.start(rec.id)
    engine.wait(rec.id)
    engine.start(rec.id)
    engine.wait(rec.id)
    assert logs_text(engine, rec.id) == "run\nrun\n"
    with pytest.raises(InvalidStateTransition):
        engine.pause(rec.id)  # not running


def test_restart_on_failure_counts(engine: Engine) -> None:
    rec = engine.start(engine.create(cfg("sh", "-c", "echo try; exit 2",
                                         restart=RestartPolicy("on-failure", 2))).id)
    assert engine.wait(rec.id) == 2
    done = engine.get(rec.id)
    assert done.restart_count == 2 and done.status == S.EXITED
    assert logs_text(engine, rec.id) == "try\ntry\ntry\n"


def test_restart_always_until_stopped(engine: Engine) -> None:
    rec = engine.start(engine.create(cfg("sh", "-c", "exit 0",
                                         restart=RestartPolicy("always"))).id)
    eventually(lambda: engine.get(rec.id).restart_count >= 2, what="two restarts")
    stopped = engine.stop(rec.id, timeout=1)
    assert stopped.status == S.EXITED
    assert not oci.alive(stopped.monitor_pid, stopped.monitor_start)


def test_exec_into_running_container(engine: Engine) -> None:
    rec = engine.start(engine.create(cfg("sleep", "30")).id)
    argv = engine.exec_argv(rec.id, ["sh", "-c", "echo $((6*7)) $FOO; exit 4"],
                            env=("FOO=bar",))
    res = subprocess.run(argv, capture_output=True, text=True, check=False)
    assert (res.returncode, res.stdout) == (4, "42 bar\n")
    with pytest.raises(RuntimeFailure) as exc:
        engine.exec_argv(rec.id, ["no-such-cmd"])
    assert exc.value.exit_code == 127
    titles, rows = engine.top(rec.id)
    assert "PID" in titles and any("sleep 30" in r[-1] for r in rows)
    engine.remove(rec.id, force=True)


def test_pause_unpause(engine: Engine) -> None:
    rec = engine.start(engine.create(cfg("sleep", "30")).id)
    assert engine.pause(rec.id).status == S.PAUSED
    with pytest.raises(Exception, match="paused"):
        engine.pause(rec.id)
    assert engine.unpause(rec.id).status == S.RUNNING
    engine.pause(rec.id)
    engine.remove(rec.id, force=True)  # a paused container is killed too


def test_oom_kill_exits_137(engine: Engine) -> None:
    rec = engine.create(cfg("sh", "-c", "a=$(yes aaaaaaaaaaaaaaaaaaaaaaaaaa | head -c 200000000);"
                            " echo survived", memory=16 << 20, memory_swap=16 << 20))
    engine.start(rec.id)
    assert engine.wait(rec.id) == 137
    assert engine.get(rec.id).oom_killed
    assert engine.inspect(rec.id)["State"]["OOMKilled"] is True


def test_pids_limit(engine: Engine) -> None:
    rec = engine.create(cfg("sh", "-c", "for i in 1 2 3 4 5 6 7 8 9 10; do sleep 3 & done "
                            "2>&1; echo spawned", pids_limit=5))
    engine.start(rec.id)
    engine.wait(rec.id)
    assert "fork" in logs_text(engine, rec.id).lower()


def test_healthcheck_becomes_healthy_then_unhealthy(engine: Engine, tmp_path: Path) -> None:
    flag = tmp_path / "ok"
    flag.mkdir()
    rec = engine.start(engine.create(cfg(
        "sleep", "30", mounts=(MountRequest("bind", "/flag", str(flag)),),
        healthcheck=Healthcheck(("CMD-SHELL", "test -e /flag/x"), interval=0.2, timeout=5,
                                retries=2))).id)
    (flag / "x").touch()
    eventually(lambda: (h := engine.get(rec.id).health) and h.status == "healthy",
               what="healthy")
    (flag / "x").unlink()
    eventually(lambda: (h := engine.get(rec.id).health) and h.status == "unhealthy",
               what="unhealthy")
    health = engine.inspect(rec.id)["State"]["Health"]
    assert health["FailingStreak"] >= 2 and health["Log"][-1]["ExitCode"] == 1
    engine.remove(rec.id, force=True)


def test_named_volume_seeded_and_kept(engine: Engine, unique: str) -> None:
    vol = f"v{unique}"
    a = engine.create(cfg("sh", "-c", "ls /etc; echo hi > /etc/new",
                          mounts=(MountRequest("volume", "/etc", vol),)))
    engine.start(a.id)
    assert engine.wait(a.id) == 0
    assert "passwd" in logs_text(engine, a.id)  # seeded from the image
    b = engine.create(cfg("cat", "/etc/new", mounts=(MountRequest("volume", "/etc", vol),)))
    engine.start(b.id)
    engine.wait(b.id)
    assert logs_text(engine, b.id) == "hi\n"
    with pytest.raises(Conflict):
        engine.volumes.remove(vol)
    engine.remove(a.id, volumes=True)
    engine.remove(b.id, volumes=True)
    assert engine.volumes.get(vol).name == vol  # named volumes outlive rm -v
    engine.volumes.remove(vol)


def test_anonymous_volume_removed_with_rm_v(engine: Engine) -> None:
    rec = engine.create(cfg("true", mounts=(MountRequest("anonymous", "/data"),)))
    engine.start(rec.id)
    engine.wait(rec.id)
    (anon,) = [m.source for m in engine.get(rec.id).config.mounts]
    assert engine.volumes.get(anon).anonymous
    engine.remove(rec.id, volumes=True)
    with pytest.raises(NotFound):
        engine.volumes.get(anon)


def test_bad_input_leaves_nothing(engine: Engine, unique: str, tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        engine.create(cfg("true", image="nosuchimage"))  # type: ignore[misc]
    with pytest.raises(UsageError):
        engine.create(cfg("true", mounts=(MountRequest("bind", "/x", str(tmp_path / "no")),)))
    with pytest.raises(UsageError):
        engine.create(cfg("true", cap_add=("CAP_NOT_A_THING",)))
    assert engine.list(all_=True) == []
    rec = engine.create(cfg("no-such-command", name=f"n-{unique}"))
    with pytest.raises(RuntimeFailure) as exc:
        engine.start(rec.id)
    assert exc.value.exit_code == 127
    assert not mounts_under(engine.run_root)
    assert not oci.cgroup_dirs(engine.paths(rec.id).cgroup_name)
    with pytest.raises(AlreadyExists):
        engine.create(cfg("true", name=f"n-{unique}"))
    engine.remove(rec.id)


def test_rm_force_cleans_everything(engine: Engine) -> None:
    rec = engine.start(engine.create(cfg("sleep", "30")).id)
    paths = engine.paths(rec.id)
    with pytest.raises(Conflict):
        engine.remove(rec.id)
    assert mounts_under(paths.run_dir)
    engine.remove(rec.id, force=True)
    assert not mounts_under(paths.run_dir)
    assert not oci.cgroup_dirs(paths.cgroup_name)
    assert not oci.alive(rec.pid, rec.pid_start)
    assert not oci.alive(rec.monitor_pid, rec.monitor_start)


def test_killed_monitor_ps_tells_the_truth(engine: Engine) -> None:
    rec = engine.start(engine.create(cfg("sleep", "30")).id)
    assert rec.monitor_pid
    os.kill(rec.monitor_pid, signal.SIGKILL)
    eventually(lambda: not oci.alive(rec.monitor_pid, rec.monitor_start))
    # the container itself still runs: ps says running
    assert engine.get(rec.id).status == S.RUNNING
    # and once the process dies, the record is repaired to exited, the mount released
    assert rec.pid
    os.kill(rec.pid, signal.SIGKILL)
    eventually(lambda: engine.get(rec.id).status == S.EXITED, what="repaired to exited")
    assert not mounts_under(engine.paths(rec.id).run_dir)
    engine.remove(rec.id)


def test_one_monitor_supervises_a_set(engine: Engine) -> None:
    a = engine.create(cfg("sh", "-c", "echo a; sleep 30"))
    # b exits when told (an exit racing start_group's return would let go of the monitor)
    b = engine.create(cfg("sh", "-c", "trap 'exit 3' USR1; echo b; sleep 30 & wait"))
    ra, rb = engine.start_group([a.id, b.id])
    assert ra.monitor_pid == rb.monitor_pid and ra.monitor_pid
    eventually(lambda: logs_text(engine, b.id) == "b\n", what="b's trap is set")
    engine.kill(b.id, "SIGUSR1")
    assert engine.wait(b.id) == 3
    assert engine.get(a.id).status == S.RUNNING  # its neighbour's exit does not end it
    eventually(lambda: logs_text(engine, a.id) == "a\n")
    assert logs_text(engine, b.id) == "b\n"
    assert not mounts_under(engine.paths(b.id).run_dir)
    assert engine.stop(a.id, timeout=1).status == S.EXITED
    eventually(lambda: not oci.alive(ra.monitor_pid, ra.monitor_start), what="monitor exit")


def test_healthcheck_timeout_counts_as_failure(engine: Engine) -> None:
    rec = engine.start(engine.create(cfg(
        "sleep", "30", healthcheck=Healthcheck(("CMD", "sleep", "5"), interval=0.2,
                                               timeout=0.3, retries=1))).id)
    eventually(lambda: (h := engine.get(rec.id).health) and h.status == "unhealthy",
               what="unhealthy after a timeout")
    last = engine.inspect(rec.id)["State"]["Health"]["Log"][-1]
    assert last["ExitCode"] != 0 and "timeout" in last["Output"]
    engine.remove(rec.id, force=True)


def test_health_start_interval_probes_quickly_while_starting(engine: Engine) -> None:
    rec = engine.start(engine.create(cfg(
        "sleep", "30", healthcheck=Healthcheck(("CMD", "true"), interval=3600, timeout=5,
                                               start_period=60, start_interval=0.1))).id)
    eventually(lambda: (h := engine.get(rec.id).health) and h.status == "healthy",
               what="healthy from a start-interval probe (the interval is an hour)")
    engine.remove(rec.id, force=True)


def test_restart_of_a_rm_container_restarts_it_and_a_stop_then_removes_it(
        engine: Engine) -> None:
    """docker restart of a --rm container: the container comes back (it is not
    removed by the stop half); a plain stop later removes it."""
    rec = engine.create(cfg("sleep", "300").with_(auto_remove=True))
    engine.start(rec.id)
    again = engine.restart(rec.id, timeout=1)
    assert again.id == rec.id and again.status == S.RUNNING and again.pid != rec.pid
    engine.stop(rec.id, timeout=1)
    eventually(lambda: rec.id not in [r.id for r in engine.list(all_=True)])


def test_restart_of_a_rm_container_through_the_cli(cli: Cli, engine: Engine) -> None:
    cid = cli("run", "-d", "--rm", "--network", "none", "busybox", "sleep", "300",
              check=True).stdout.strip()
    for args in (["restart", "-t", "1"], ["restart", "-s", "KILL"]):
        res = cli(*args, cid)
        assert res.returncode == 0, res.stderr
        assert engine.get(cid).status == S.RUNNING
    cli("stop", "-t", "1", cid, check=True)
    eventually(lambda: cid not in [r.id for r in engine.list(all_=True)])
