"""Detached containers (state, exec, kill, delete), terminals and joined namespaces."""

from __future__ import annotations

import json
import os
import select
import socket
import subprocess
import time
from pathlib import Path

import pytest

from stackctl.engine.runtime.cgroups import Cgroup
from stackctl.engine.runtime.console import recv_master
from stackctl.engine.runtime.spec import build_process, write_process
from stackctl.engine.runtime.users import resolve_user
from tests.runtime.conftest import LAUNCH, REAPER, REPO, Bundle

pytestmark = pytest.mark.kernel


def _line(proc: subprocess.Popen[str]) -> dict[str, int]:
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line, "reaper ended early"
    out: dict[str, int] = json.loads(line)
    return out


def test_detached_state_exec_kill_delete(bundle: Bundle, tmp_path: Path) -> None:
    bundle.write(bundle.request("sleep", "300"))
    pid_file = tmp_path / "pid"
    reaper = subprocess.Popen(
        [*REAPER, *bundle.command("launch", "--detach", "--pid-file", str(pid_file))],
        stdout=subprocess.PIPE, text=True, cwd=REPO)
    try:
        assert _line(reaper) == {"launcher": 0}
        pid = int(pid_file.read_text())
        assert bundle.state()["status"] == "running"
        assert bundle.state()["pid"] == pid
        assert Cgroup(bundle.cgroup).pids() == [pid]

        # exec by container id: same namespaces (hostname, PID 1 is sleep) and cgroup
        res = bundle.launch("exec", bundle.id, "sh", "-c",
                            "hostname; tr '\\0' ' ' < /proc/1/cmdline; echo; cat /proc/self/cgroup"
                            " | grep memory")
        assert res.stdout.splitlines() == ["box", "sleep 300 ", "4:memory:/"]

        # exec by pid with a process.json for another user (what the engine does)
        user = resolve_user(bundle.rootfs, "app")
        process = build_process(bundle.request("sh", "-c", "id -u; id -G; pwd", uid=user.uid,
                                               gid=user.gid, cwd="/tmp",
                                               additional_gids=user.additional_gids))
        write_process(tmp_path / "process.json", process)
        res = bundle.launch("exec", "--pid", str(pid), "--process",
                            str(tmp_path / "process.json"))
        assert res.stdout.split() == ["1000", "1000", "10", "/tmp"]

        # the engine's form: --pid, runc's flags; the base process is read from PID
        res = bundle.launch("exec", "--pid", str(pid), "--env", "FOO=bar", "--user", "app",
                            "--cwd", "/home", "--", "sh", "-c",
                            "echo $FOO $HOME $(id -u) $(id -G) $(pwd); ulimit -n")
        assert res.stdout.split() == ["bar", "/home/app", "1000", "1000", "10", "/home",
                                      "20000"]
        res = bundle.launch("exec", "--pid", str(pid), "--user", "bob", "--", "true",
                            check=False)
        assert res.returncode == 126 and "unable to find user bob" in res.stderr

        res = bundle.launch("exec", bundle.id, "nope", check=False)
        assert res.returncode == 127
        assert 'exec: "nope": executable file not found in $PATH' in res.stderr

        res = bundle.launch("delete", bundle.id, check=False)
        assert res.returncode == 1 and "not stopped" in res.stderr

        bundle.launch("kill", bundle.id, "KILL")
        assert _line(reaper) == {"pid": pid, "status": -9}
        assert reaper.wait(timeout=10) == 0
        assert bundle.state()["status"] == "stopped"
        bundle.launch("delete", bundle.id)
        assert not (bundle.state_root / "launch" / bundle.id).exists()
        assert not Cgroup(bundle.cgroup).exists()
    finally:
        bundle.launch("delete", "--force", bundle.id, check=False)
        reaper.wait(timeout=10)


def test_delete_force_kills_every_process(bundle: Bundle) -> None:
    bundle.write(bundle.request("sh", "-c", "sleep 300 & sleep 300 & wait"))
    reaper = subprocess.Popen([*REAPER, *bundle.command("launch", "--detach")],
                              stdout=subprocess.PIPE, text=True, cwd=REPO)
    try:
        assert _line(reaper) == {"launcher": 0}
        deadline = time.monotonic() + 10
        while len(Cgroup(bundle.cgroup).pids()) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        bundle.launch("delete", "--force", bundle.id)
        assert reaper.wait(timeout=10) == 0
        assert not Cgroup(bundle.cgroup).exists()
    finally:
        bundle.launch("delete", "--force", bundle.id, check=False)
        reaper.wait(timeout=10)


def test_kill_all_signals_every_process(bundle: Bundle) -> None:
    # PID 1 ignores SIGTERM without a handler; the sleeps do not: kill --all reaches them.
    bundle.write(bundle.request("sh", "-c", "sleep 300 & sleep 300 & wait"))
    reaper = subprocess.Popen([*REAPER, *bundle.command("launch", "--detach")],
                              stdout=subprocess.PIPE, text=True, cwd=REPO)
    try:
        assert _line(reaper) == {"launcher": 0}
        cg = Cgroup(bundle.cgroup)
        deadline = time.monotonic() + 10
        while len(cg.pids()) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        pid = bundle.state()["pid"]
        bundle.launch("kill", "--all", bundle.id, "TERM")
        assert _line(reaper) == {"pid": pid, "status": 0}  # sh's wait returned: sleeps died
        bundle.launch("delete", bundle.id)
        assert not cg.exists()
    finally:
        bundle.launch("delete", "--force", bundle.id, check=False)
        reaper.wait(timeout=10)


def _read_until(fd: int, needle: bytes, timeout: float = 10.0) -> bytes:
    buf = b""
    deadline = time.monotonic() + timeout
    while needle not in buf:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"{needle!r} not seen in {buf!r}")
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            buf += chunk
    return buf


def test_console_socket_gives_a_working_pty(bundle: Bundle, tmp_path: Path) -> None:
    sock_path = str(tmp_path / "console.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(sock_path)
    server.listen(1)
    bundle.write(bundle.request("sh", terminal=True))
    proc = subprocess.Popen(bundle.command("launch", "--console-socket", sock_path),
                            cwd=REPO, stdin=subprocess.DEVNULL, stderr=subprocess.PIPE)
    master = -1
    try:
        server.settimeout(20)
        conn, _ = server.accept()
        with conn:
            master, name = recv_master(conn)
        assert name.startswith("/dev/pts/")
        os.write(master, b"tty; ls -l /dev/console; echo x$((40+2))\n")
        out = _read_until(master, b"x42")
        assert b"/dev/pts/0" in out
        os.write(master, b"exit 3\n")
        assert proc.wait(timeout=20) == 3
    finally:
        if master >= 0:
            os.close(master)
        server.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_joins_a_network_namespace_by_path(bundle: Bundle, unique: str) -> None:
    name = f"stackctl-test-{unique}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        path = f"/run/netns/{name}"
        res = bundle.run(bundle.request("readlink", "/proc/self/ns/net", network=path))
        assert res.returncode == 0, res.stderr
        assert res.stdout.strip() == f"net:[{os.stat(path).st_ino}]"
    finally:
        subprocess.run(["ip", "netns", "del", name], check=True)


def test_host_network_sees_host_interfaces(bundle: Bundle) -> None:
    res = bundle.run(bundle.request("ls", "/sys/class/net", network="host"))
    assert res.returncode == 0, res.stderr
    assert set(os.listdir("/sys/class/net")) == set(res.stdout.split())


def test_bad_bundle_and_duplicate_id_leave_nothing(bundle: Bundle) -> None:
    res = subprocess.run([*LAUNCH, "--root", str(bundle.state_root), "run", "--bundle",
                          "/nonexistent", bundle.id], capture_output=True, text=True, cwd=REPO)
    assert res.returncode == 1 and "/nonexistent/config.json" in res.stderr
    bundle.write(bundle.request("true"))
    (bundle.state_root / "launch" / bundle.id).mkdir(parents=True)
    res = subprocess.run(bundle.command("launch"), capture_output=True, text=True, cwd=REPO)
    assert res.returncode == 1 and "exists already" in res.stderr
    assert not Cgroup(bundle.cgroup).exists()


def _drive_pty(cmd: list[str], script: bytes, needle: bytes) -> tuple[int, bytes]:
    """Run `cmd` with a pty as its stdio (a user's terminal), type `script`."""
    master, slave = os.openpty()
    proc = subprocess.Popen(cmd, cwd=REPO, stdin=slave, stdout=slave, stderr=slave)
    os.close(slave)
    try:
        out = _read_until(master, b"# ")  # the shell's prompt: it runs, raw mode is set
        os.write(master, script)
        out += _read_until(master, needle)
        return proc.wait(timeout=20), out
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("init", [False, True])
def test_attached_terminal_without_console_socket_is_relayed(bundle: Bundle, init: bool
                                                              ) -> None:
    bundle.write(bundle.request("sh", terminal=True, init=init))
    code, out = _drive_pty(bundle.command("launch"),
                           b"tty; stty size; echo x$((40+2)); exit 5\r", b"x42")
    assert code == 5
    assert b"/dev/pts/0" in out


def test_exec_with_tty(bundle: Bundle) -> None:
    bundle.write(bundle.request("sleep", "300"))
    reaper = subprocess.Popen([*REAPER, *bundle.command("launch", "--detach")],
                              stdout=subprocess.PIPE, text=True, cwd=REPO)
    try:
        assert _line(reaper) == {"launcher": 0}
        pid = bundle.state()["pid"]
        code, out = _drive_pty(
            [*LAUNCH, "--root", str(bundle.state_root / "launch"), "exec", "--pid", str(pid),
             "--tty", "--", "sh"], b"tty; echo y$((40+3)); exit 4\r", b"y43")
        assert code == 4
        assert b"/dev/pts/" in out
    finally:
        bundle.launch("delete", "--force", bundle.id, check=False)
        reaper.wait(timeout=10)


def test_unwritable_pid_file_takes_the_container_down(bundle: Bundle, tmp_path: Path) -> None:
    bundle.write(bundle.request("sleep", "300"))
    res = subprocess.run(bundle.command("launch", "--detach", "--pid-file",
                                        str(tmp_path / "missing" / "pid")),
                         capture_output=True, text=True, cwd=REPO, timeout=30)
    assert res.returncode == 1 and "cannot record the container" in res.stderr
    assert not Cgroup(bundle.cgroup).exists()
    assert not (bundle.state_root / "launch" / bundle.id).exists()


def test_init_forwards_signals_and_reaps(bundle: Bundle) -> None:
    # The command is PID 2 under the launcher's init; orphans are reaped.
    res = bundle.run(bundle.request(
        "sh", "-c", "echo me: $$; (sleep 0.2 &); sleep 1; echo zombies: "
        "$(grep -l '^State:.Z' /proc/[0-9]*/status 2>/dev/null | wc -l)", init=True))
    assert res.returncode == 0, res.stderr
    assert "me: 2\n" in res.stdout and "zombies: 0\n" in res.stdout
    # Plain `sleep` ignores SIGTERM as PID 1; under --init it gets it and dies: 143.
    bundle.write(bundle.request("sleep", "300", init=True))
    reaper = subprocess.Popen([*REAPER, *bundle.command("launch", "--detach")],
                              stdout=subprocess.PIPE, text=True, cwd=REPO)
    try:
        assert _line(reaper) == {"launcher": 0}
        pid = bundle.state()["pid"]
        deadline = time.monotonic() + 10
        while len(Cgroup(bundle.cgroup).pids()) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        bundle.launch("kill", bundle.id, "TERM")
        assert _line(reaper) == {"pid": pid, "status": 143}
        bundle.launch("delete", bundle.id)
    finally:
        bundle.launch("delete", "--force", bundle.id, check=False)
        reaper.wait(timeout=10)
    res = bundle.run(bundle.request("nope", init=True))
    assert res.returncode == 127 and "executable file not found" in res.stderr
