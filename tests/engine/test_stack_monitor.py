"""One monitor per stack (Engine.start(group=...)): the containers of a group share
one monitor process, which adopts each further container over its group socket;
one container's stop, kill, logs, restart or exit leaves the others running; the
monitor exits once it supervises nothing; a killed stack monitor is repaired."""

from __future__ import annotations

import os
import signal
import threading

import pytest

from stackctl.engine import oci
from stackctl.engine.api import Engine
from stackctl.engine.containers import (
    ContainerConfig,
    ContainerStatus,
    Healthcheck,
    RestartPolicy,
)
from stackctl.errors import RuntimeFailure
from tests.engine.conftest import eventually, mounts_under

pytestmark = pytest.mark.kernel
S = ContainerStatus
FOREVER = ("sh", "-c", "echo up; trap 'exit 0' TERM; sleep 300 & wait")


def cfg(*cmd: str, **kw: object) -> ContainerConfig:
    kw.setdefault("image", "busybox")
    kw.setdefault("network", "none")
    return ContainerConfig(command=cmd or FOREVER, **kw)  # type: ignore[arg-type]


def logs_text(engine: Engine, ref: str) -> str:
    return "".join(e.log for e in engine.logs(ref))


def test_group_shares_one_monitor_and_one_stop_leaves_the_rest(engine: Engine,
                                                               unique: str) -> None:
    group = f"project:{unique}"
    recs = [engine.start(engine.create(cfg()).id, group=group) for _ in range(3)]
    a, b, c = recs
    assert a.monitor_pid and {r.monitor_pid for r in recs} == {a.monitor_pid}
    sock = engine._group_sock(group)
    assert sock.exists()
    for r in recs:
        eventually(lambda r=r: logs_text(engine, r.id) == "up\n", what="each one's own log")

    assert engine.stop(b.id, timeout=5).status == S.EXITED
    assert not mounts_under(engine.paths(b.id).run_dir)  # released by the shared monitor
    assert engine.get(b.id).monitor_pid is None
    assert engine.kill(c.id).status == S.EXITED
    assert engine.get(a.id).status == S.RUNNING
    assert oci.alive(a.monitor_pid, a.monitor_start)

    again = engine.start(b.id, group=group)  # a stopped one is adopted again
    assert again.status == S.RUNNING and again.monitor_pid == a.monitor_pid
    engine.remove(c.id)

    engine.stop(a.id, timeout=5)
    engine.stop(b.id, timeout=5)
    eventually(lambda: not oci.alive(a.monitor_pid, a.monitor_start),
               what="the monitor exits once it supervises nothing")
    assert not sock.exists()


def test_exit_and_restart_policy_of_one_do_not_touch_the_others(engine: Engine,
                                                                unique: str) -> None:
    group = f"project:{unique}"
    keep = engine.start(engine.create(cfg()).id, group=group)
    done = engine.start(engine.create(cfg("sh", "-c", "echo bye; exit 3")).id, group=group)
    flaky = engine.start(engine.create(cfg(
        "sh", "-c", "echo again; exit 1",
        restart=RestartPolicy("on-failure", 2))).id, group=group)
    assert done.monitor_pid == keep.monitor_pid == flaky.monitor_pid
    assert engine.wait(done.id) == 3
    assert logs_text(engine, done.id) == "bye\n"
    eventually(lambda: engine.get(flaky.id).status == S.EXITED
               and engine.get(flaky.id).restart_count == 2, what="two restarts, then exited")
    assert logs_text(engine, flaky.id) == "again\n" * 3
    assert engine.get(keep.id).status == S.RUNNING


def test_concurrent_first_starts_spawn_one_monitor(engine: Engine, unique: str) -> None:
    group = f"project:{unique}"
    ids = [engine.create(cfg()).id for _ in range(4)]
    errors: list[BaseException] = []

    def start(cid: str) -> None:
        try:
            with Engine(engine.root, engine.run_root) as eng:
                eng.start(cid, group=group)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(cid,)) for cid in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    recs = [engine.get(cid) for cid in ids]
    assert all(r.status == S.RUNNING for r in recs)
    assert len({r.monitor_pid for r in recs}) == 1


def test_killed_stack_monitor_is_repaired(engine: Engine, unique: str) -> None:
    group = f"project:{unique}"
    a = engine.start(engine.create(cfg()).id, group=group)
    b = engine.start(engine.create(cfg()).id, group=group)
    assert a.monitor_pid == b.monitor_pid and a.monitor_pid
    os.kill(a.monitor_pid, signal.SIGKILL)
    eventually(lambda: not oci.alive(a.monitor_pid, a.monitor_start))
    # ps tells the truth: the processes still run, orphaned
    assert engine.get(a.id).status == S.RUNNING
    # a later start in the group finds the socket dead and spawns a new monitor
    c = engine.start(engine.create(cfg()).id, group=group)
    assert c.status == S.RUNNING and c.monitor_pid not in (None, a.monitor_pid)
    # an orphan whose process ends is repaired to exited, its mount released
    assert b.pid
    os.kill(b.pid, signal.SIGKILL)
    eventually(lambda: engine.get(b.id).status == S.EXITED, what="repaired to exited")
    assert not mounts_under(engine.paths(b.id).run_dir)
    # stop of an orphan kills it directly; the new monitor's container is untouched
    assert engine.stop(a.id, timeout=2).status == S.EXITED
    assert engine.get(c.id).status == S.RUNNING


def _children(pid: int) -> list[str]:
    out = []
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as f:
            for child in f.read().split():
                with open(f"/proc/{child}/cmdline", "rb") as c:
                    out.append(c.read().replace(b"\0", b" ").decode())
    return out


def test_stack_monitor_forks_its_launchers_and_reports_their_errors(engine: Engine,
                                                                    unique: str) -> None:
    group = f"project:{unique}"
    a = engine.start(engine.create(cfg()).id, group=group)
    assert a.monitor_pid
    assert any("stackctl.engine.runtime.forkserver" in c for c in _children(a.monitor_pid))
    bad = engine.create(cfg("no-such-command"))
    with pytest.raises(RuntimeFailure) as exc:  # the launcher's error, through the server
        engine.start(bad.id, group=group)
    assert exc.value.exit_code == 127 and "no-such-command" in exc.value.message
    assert not mounts_under(engine.paths(bad.id).run_dir)
    tty = engine.start(engine.create(cfg("sh", "-c", "tty; sleep 30", tty=True)).id,
                       group=group)
    eventually(lambda: "/dev/pts/" in logs_text(engine, tty.id), what="a pty via the server")
    assert engine.get(a.id).status == S.RUNNING


def test_stack_monitor_runs_healthchecks_through_its_fork_server(engine: Engine,
                                                                 unique: str) -> None:
    group = f"project:{unique}"
    ok = engine.start(engine.create(cfg(healthcheck=Healthcheck(
        ("CMD-SHELL", "echo fine; exit 0"), interval=0.2))).id, group=group)
    slow = engine.start(engine.create(cfg(healthcheck=Healthcheck(
        ("CMD", "sleep", "5"), interval=0.2, timeout=0.3, retries=1))).id, group=group)
    assert ok.monitor_pid == slow.monitor_pid
    eventually(lambda: (h := engine.get(ok.id).health) and h.status == "healthy",
               what="healthy")
    assert "fine" in engine.inspect(ok.id)["State"]["Health"]["Log"][-1]["Output"]
    eventually(lambda: (h := engine.get(slow.id).health) and h.status == "unhealthy",
               what="unhealthy after a timeout (the forked probe killed)")
    last = engine.inspect(slow.id)["State"]["Health"]["Log"][-1]
    assert last["ExitCode"] != 0 and "timeout" in last["Output"]
