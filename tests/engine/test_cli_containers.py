"""The single-container CLI as a user drives it: fresh processes, real containers."""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor

import pytest

from stackctl.engine.api import Engine
from tests.engine.conftest import Cli, eventually, mounts_under, pty_cli, read_until

pytestmark = pytest.mark.kernel


def test_run_attached_exit_code_and_streams(cli: Cli, engine: Engine) -> None:
    res = cli("run", "--rm", "busybox", "sh", "-c", "echo out; echo err >&2; exit 5")
    assert res.returncode == 5
    assert res.stdout == "out\n" and res.stderr == "err\n"
    assert engine.list(all_=True) == []  # --rm removed it
    assert not mounts_under(engine.run_root)


def test_run_detached_ps_logs_after_cli_exits(cli: Cli, unique: str) -> None:
    res = cli("run", "-d", "--name", f"w-{unique}", "busybox", "sh", "-c",
              "for i in 1 2 3; do echo tick $i; sleep 0.1; done; sleep 30", check=True)
    cid = res.stdout.strip()
    assert len(cid) == 64
    eventually(lambda: "tick 3" in cli("logs", f"w-{unique}").stdout, what="logs")
    ps = cli("ps", check=True).stdout.splitlines()
    assert ps[0].split()[:2] == ["CONTAINER", "ID"]
    assert any(cid[:12] in ln and f"w-{unique}" in ln and "Up " in ln for ln in ps[1:])
    assert cli("ps", "-q", "--no-trunc").stdout.split() == [cid]
    fmt = cli("inspect", "-f", "{{.State.Status}} {{.Name}} {{.Config.Image}}", cid[:8]).stdout
    assert fmt.strip() == f"running /w-{unique} busybox"
    data = json.loads(cli("inspect", f"w-{unique}").stdout)[0]
    assert data["Id"] == cid and data["State"]["Running"] and data["State"]["Pid"] > 0
    assert set(data) >= {"Config", "HostConfig", "Mounts", "NetworkSettings", "State"}
    tail = cli("logs", "--tail", "1", "-t", cid).stdout
    assert tail.endswith("tick 3\n") and tail[:4].isdigit()
    assert cli("stop", "-t", "1", f"w-{unique}").returncode == 0
    assert cli("ps", "-a", "--format", "{{.Status}}").stdout.startswith("Exited (137)")
    assert cli("rm", f"w-{unique}").stdout.strip() == f"w-{unique}"


def test_exec_and_errors(cli: Cli, unique: str) -> None:
    cli("run", "-d", "--name", f"e-{unique}", "busybox", "sleep", "30", check=True)
    res = cli("exec", "-e", "X=1", f"e-{unique}", "sh", "-c", "echo $X; exit 3")
    assert (res.returncode, res.stdout) == (3, "1\n")
    res = cli("exec", f"e-{unique}", "nope")
    assert res.returncode == 127 and "executable file not found" in res.stderr
    res = cli("rm", f"e-{unique}")
    assert res.returncode == 1 and "rm -f" in res.stderr
    assert cli("rm", "-f", f"e-{unique}").returncode == 0


# docker run exits 125 for every error of the engine or its flags' values
@pytest.mark.parametrize(("args", "code", "message"), [
    (["run", "nosuchimage", "true"], 125, "No such image"),
    (["run", "busybox", "nosuchcmd"], 127, "executable file not found"),
    (["run", "-v", "/no/such/dir:/x", "busybox", "true"], 125, "bind source path does not exist"),
    (["run", "--memory", "lots", "busybox", "true"], 125, "--memory"),
    (["run", "--restart", "sometimes", "busybox", "true"], 125, "--restart"),
    (["run", "--cap-add", "CAP_NOPE", "busybox", "true"], 125, "CAP_NOPE"),
    (["run", "-u", "nobody-here", "busybox", "true"], 125, "nobody-here"),
])
def test_bad_input_one_message_nothing_left(cli: Cli, engine: Engine, args: list[str],
                                            code: int, message: str) -> None:
    res = cli(*args)
    assert res.returncode == code, res.stderr
    assert message in res.stderr
    assert res.stderr.startswith("Error: ") and "Traceback" not in res.stderr
    assert engine.list(all_=True) == []
    assert not mounts_under(engine.run_root)


@pytest.mark.parametrize(("args", "message"), [
    (["run", "--no-such-flag", "busybox", "true"], "No such option"),
    (["create"], "Missing argument"),
])
def test_run_command_line_errors_exit_125(cli: Cli, engine: Engine, args: list[str],
                                          message: str) -> None:
    res = cli(*args)  # docker run: 125 for its own errors, flags' included
    assert res.returncode == 125 and message in res.stderr
    assert engine.list(all_=True) == []


def test_name_taken(cli: Cli, unique: str) -> None:
    cli("create", "--name", f"t-{unique}", "busybox", check=True)
    res = cli("run", "--name", f"t-{unique}", "busybox", "true")
    assert res.returncode == 125 and "already in use" in res.stderr


def test_twenty_parallel_run_d(cli: Cli, engine: Engine) -> None:
    with ThreadPoolExecutor(20) as pool:
        results = list(pool.map(lambda _: cli("run", "-d", "busybox", "sleep", "30"),
                                range(20)))
    assert all(r.returncode == 0 for r in results), [r.stderr for r in results]
    ids = {r.stdout.strip() for r in results}
    recs = engine.list()
    assert len(ids) == 20 and {r.id for r in recs} == ids
    assert len({r.name for r in recs}) == 20
    res = cli("rm", "-f", *[i[:12] for i in ids])
    assert res.returncode == 0
    assert engine.list(all_=True) == []


def test_volume_commands(cli: Cli, unique: str) -> None:
    name = f"vol{unique}"
    assert cli("volume", "create", name).stdout.strip() == name
    assert name in cli("volume", "ls", "-q").stdout.split()
    data = json.loads(cli("volume", "inspect", name).stdout)[0]
    assert data["Name"] == name and data["Mountpoint"].endswith("/_data")
    cli("run", "--rm", "-v", f"{name}:/data", "busybox", "sh", "-c", "echo kept > /data/f",
        check=True)
    assert cli("run", "--rm", "-v", f"{name}:/data:ro", "busybox", "cat", "/data/f").stdout \
        == "kept\n"
    assert cli("volume", "rm", name).returncode == 0


def test_cp_both_ways(cli: Cli, unique: str, tmp_path: object) -> None:
    from pathlib import Path

    tmp = Path(str(tmp_path))
    cli("create", "--name", f"cp-{unique}", "busybox", check=True)
    (tmp / "in.txt").write_text("hello\n")
    cli("cp", str(tmp / "in.txt"), f"cp-{unique}:/tmp/in.txt", check=True)
    cli("cp", f"cp-{unique}:/tmp/in.txt", str(tmp / "out.txt"), check=True)
    assert (tmp / "out.txt").read_text() == "hello\n"
    cli("cp", f"cp-{unique}:/etc", str(tmp / "etc"), check=True)
    assert (tmp / "etc" / "passwd").exists()


@pytest.mark.parametrize("rm", [["--rm"], []], ids=["in-process", "detached-monitor"])
def test_run_it_through_a_pty(engine: Engine, rm: list[str]) -> None:
    with pty_cli(engine, "run", "-it", *rm, "busybox", "sh", winsize=(33, 111)) as (proc, tty):
        # type only once the shell prompts, as a user would: ash flushes earlier input
        assert b"# " in read_until(tty, b"# ")
        os.write(tty, b"stty size; echo tty-$((40+2)); tty\n")
        out = read_until(tty, b"/dev/pts/")
        assert b"33 111" in out and b"tty-42" in out
        os.write(tty, b"exit 3\n")
        read_until(tty, b"\x00", timeout=5)
        assert proc.wait(timeout=20) == 3
    if rm:
        eventually(lambda: engine.list(all_=True) == [], what="--rm removal")
    else:
        (rec,) = engine.list(all_=True)
        assert rec.exit_code == 3 and rec.status.value == "exited"


def test_run_it_ctrl_d_ends_it(engine: Engine) -> None:
    with pty_cli(engine, "run", "-it", "--rm", "busybox", "sh") as (proc, tty):
        assert b"# " in read_until(tty, b"# ")
        os.write(tty, b"echo ready-$((1+1))\n")
        assert b"ready-2" in read_until(tty, b"ready-2\r\n/ # ")  # prompting again
        os.write(tty, b"\x04")
        assert proc.wait(timeout=20) == 0


def test_interactive_stdin_without_tty(cli: Cli) -> None:
    res = cli("run", "-i", "--rm", "busybox", "sh", "-c", "tr a-z A-Z", input="shout\n")
    assert (res.returncode, res.stdout) == (0, "SHOUT\n")
