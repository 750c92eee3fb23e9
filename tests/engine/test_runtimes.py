"""The same containers under both runtimes: the built-in launcher (the default)
and runc, which runs the very same bundle (a conformance check of the former)."""

from __future__ import annotations

import io
import os
import subprocess

import pytest

from stackctl.engine.api import Engine
from stackctl.engine.attach import attach
from stackctl.engine.containers import ContainerConfig, ContainerStatus
from stackctl.errors import RuntimeFailure
from tests.engine.conftest import eventually

pytestmark = [pytest.mark.kernel, pytest.mark.parametrize("runtime", ["stackctl", "runc"])]


def test_run_exit_code_logs_stop_exec(engine: Engine, runtime: str) -> None:
    rec = engine.create(ContainerConfig(image="busybox", runtime=runtime, network="none", command=(
        "sh", "-c", "trap 'exit 9' TERM; echo started; while true; do sleep 0.1; done")))
    engine.start(rec.id)
    # the trap first: a SIGTERM before it is ignored (the shell is PID 1)
    eventually(lambda: [e.log for e in engine.logs(rec.id)] == ["started\n"])
    argv = engine.exec_argv(rec.id, ["sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '; exit 2"])
    res = subprocess.run(argv, capture_output=True, text=True, check=False)
    assert res.returncode == 2 and res.stdout.startswith("sh -c trap 'exit 9' TERM; echo started")
    done = engine.stop(rec.id, timeout=5)
    assert (done.status, done.exit_code) == (ContainerStatus.EXITED, 9)
    assert [e.log for e in engine.logs(rec.id)] == ["started\n"]


def test_command_not_found_is_127(engine: Engine, runtime: str) -> None:
    rec = engine.create(ContainerConfig(image="busybox", runtime=runtime, network="none",
                                        command=("/bin/nope",)))
    with pytest.raises(RuntimeFailure) as exc:
        engine.start(rec.id)
    assert exc.value.exit_code == 127


def test_tty_through_the_console_socket(engine: Engine, runtime: str) -> None:
    rec = engine.create(ContainerConfig(image="busybox", runtime=runtime, network="none", tty=True,
                                        open_stdin=True, command=("sh",)))
    engine.start(rec.id, hold=True)
    r, w = os.pipe()
    os.write(w, b"tty; echo $TERM; exit 6\n")
    os.close(w)
    out = io.BytesIO()
    try:
        code = attach(engine.connect(rec.id), stdin=True, tty=True, stdin_fd=r, stdout=out,
                      stderr=out)
    finally:
        os.close(r)
    assert code == 6
    text = out.getvalue().decode()
    assert "/dev/pts/0" in text and "xterm" in text


def test_exec_privileged_gets_every_capability(engine: Engine, runtime: str) -> None:
    # docker exec --privileged: all capabilities for the exec'd process only
    rec = engine.create(ContainerConfig(image="busybox", runtime=runtime, network="none",
                                        command=("sleep", "30")))
    engine.start(rec.id)
    try:
        masks = {}
        for privileged in (False, True):
            argv = engine.exec_argv(rec.id, ["sh", "-c", "grep CapEff /proc/self/status"],
                                    privileged=privileged)
            res = subprocess.run(argv, capture_output=True, text=True, check=True)
            masks[privileged] = int(res.stdout.split()[1], 16)
        sys_admin = 1 << 21
        assert not masks[False] & sys_admin and masks[True] & sys_admin
        assert masks[True] & masks[False] == masks[False]  # a superset of the default set
    finally:
        engine.remove(rec.id, force=True)
