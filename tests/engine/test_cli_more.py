"""More of the single-container CLI: logs -f, start -a, wait, restart, pause, top,
stats, rename, prune, exec -it, inspect of images, and repair after a "reboot"."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess

import pytest

from stackctl.engine import oci
from stackctl.engine.api import Engine
from stackctl.engine.containers import ContainerStatus
from tests.engine.conftest import Cli, eventually, mounts_under, pty_cli, read_until

pytestmark = pytest.mark.kernel


def test_logs_follow_until_exit(cli: Cli, engine: Engine, unique: str) -> None:
    cli("run", "-d", "--network", "none", "--name", f"f-{unique}", "busybox", "sh", "-c",
        "for i in 1 2 3; do echo n$i; sleep 0.2; done", check=True)
    res = cli("logs", "-f", f"f-{unique}", timeout=30)
    assert res.stdout == "n1\nn2\nn3\n"


def test_create_start_attach_wait_restart(cli: Cli, unique: str) -> None:
    name = f"s-{unique}"
    cli("create", "--network", "none", "--name", name, "busybox", "sh", "-c",
        "echo hello; exit 4", check=True)
    assert cli("ps", "-a", "--filter", "status=created", "-q").stdout.strip()
    res = cli("start", "-a", name)
    assert (res.returncode, res.stdout) == (4, "hello\n")
    assert cli("wait", name).stdout == "4\n"
    assert cli("restart", name).returncode == 0
    assert cli("wait", name).stdout == "4\n"
    assert cli("logs", name).stdout == "hello\nhello\n"  # start -a, then restart
    assert cli("rename", name, f"{name}-b").returncode == 0
    assert cli("ps", "-a", "--format", "{{.Names}}").stdout.strip() == f"{name}-b"
    res = cli("container", "prune", "-f")
    assert res.returncode == 0 and "Deleted Containers:" in res.stdout
    assert cli("ps", "-aq").stdout == ""


def test_pause_top_stats_kill(cli: Cli, unique: str) -> None:
    name = f"p-{unique}"
    cli("run", "-d", "--network", "none", "--name", name, "-m", "64m", "busybox",
        "sleep", "60", check=True)
    top = cli("top", name, check=True).stdout.splitlines()
    assert top[0].split()[:2] == ["UID", "PID"] and "sleep 60" in top[1]
    stats = cli("stats", "--no-stream", name, check=True).stdout.splitlines()
    assert stats[0].startswith("CONTAINER ID") and "/ 64MiB" in stats[1]
    assert cli("pause", name).returncode == 0
    assert "(Paused)" in cli("ps", "--format", "{{.Status}}").stdout
    assert cli("unpause", name).returncode == 0
    assert cli("kill", "-s", "TERM", name).returncode == 0  # PID 1 ignores TERM
    assert cli("inspect", "-f", "{{.State.Running}}", name).stdout == "true\n"
    assert cli("kill", name).returncode == 0
    assert cli("inspect", "-f", "{{.State.ExitCode}}", name).stdout == "137\n"
    res = cli("kill", name)
    assert res.returncode == 1 and "not running" in res.stderr


def test_exec_it_through_a_pty(cli: Cli, engine: Engine, unique: str) -> None:
    name = f"x-{unique}"
    cli("run", "-d", "--network", "none", "--name", name, "busybox", "sleep", "60",
        check=True)
    with pty_cli(engine, "exec", "-it", name, "sh") as (proc, tty):
        assert b"# " in read_until(tty, b"# ")
        os.write(tty, b"tty; exit 7\n")
        assert b"/dev/pts/" in read_until(tty, b"/dev/pts/")
        assert proc.wait(timeout=20) == 7


def test_inspect_image_and_missing(cli: Cli) -> None:
    data = json.loads(cli("inspect", "busybox").stdout)[0]
    assert data["Id"].startswith("sha256:")
    res = cli("inspect", "nothing-by-that-name")
    assert res.returncode == 1 and "No such object" in res.stderr


def test_repair_after_reboot(cli: Cli, engine: Engine, unique: str) -> None:
    """A reboot kills every process and empties the run root (a tmpfs)."""
    name = f"r-{unique}"
    cli("run", "-d", "--network", "none", "--name", name, "busybox", "sleep", "60",
        check=True)
    rec = engine.get(name)
    assert rec.monitor_pid and rec.pid
    os.kill(rec.monitor_pid, signal.SIGKILL)
    os.kill(rec.pid, signal.SIGKILL)
    eventually(lambda: not oci.alive(rec.pid, rec.pid_start))
    for m in sorted(mounts_under(engine.run_root), reverse=True):
        subprocess.run(["umount", "-l", m], check=False)
    shutil.rmtree(engine.run_root)
    oci.remove_cgroup(engine.paths(rec.id).cgroup_name)
    ps = cli("ps", "-a", "--format", "{{.Names}} {{.State}}").stdout
    assert f"{name} exited" in ps
    assert engine.get(name).status == ContainerStatus.EXITED
    assert cli("start", name).returncode == 0  # and it starts again
    assert engine.get(name).status == ContainerStatus.RUNNING
    assert cli("rm", "-f", name).returncode == 0


def test_run_flags_reach_the_container(cli: Cli, tmp_path: object) -> None:
    from pathlib import Path

    envf = Path(str(tmp_path)) / "env"
    envf.write_text("# comment\nFROM_FILE=yes\n")
    res = cli("run", "--rm", "--network", "none", "--read-only", "--tmpfs", "/scratch",
              "-w", "/scratch", "-u", "app", "-h", "boxname", "--env-file", str(envf),
              "-e", "A=1", "--entrypoint", "sh", "busybox", "-c",
              "pwd; id -un; hostname; echo $A $FROM_FILE; touch /scratch/ok && echo tmpfs-rw;"
              " touch /nope 2>/dev/null || echo root-ro")
    assert res.returncode == 0, res.stderr
    assert res.stdout.split("\n") == ["/scratch", "app", "boxname", "1 yes", "tmpfs-rw",
                                      "root-ro", ""]


def test_labels_filter_and_log_rotation(cli: Cli, engine: Engine, unique: str) -> None:
    name = f"l-{unique}"
    cli("run", "-d", "--network", "none", "--name", name, "-l", f"team={unique}",
        "--log-opt", "max-size=2k", "--log-opt", "max-file=2", "busybox", "sh", "-c",
        "i=0; while [ $i -lt 200 ]; do echo line-$i; i=$((i+1)); done", check=True)
    assert cli("wait", name).stdout == "0\n"
    assert cli("ps", "-aq", "--filter", f"label=team={unique}").stdout.strip()
    assert cli("ps", "-aq", "--filter", "label=team=other").stdout == ""
    log = engine.paths(engine.get(name).id).log
    assert log.with_name(log.name + ".1").exists() and not log.with_name(log.name + ".2").exists()
    out = cli("logs", name).stdout.splitlines()
    assert out[-1] == "line-199" and len(out) < 200  # the oldest rotated away


def test_detach_keys_leave_it_running(engine: Engine, unique: str) -> None:
    name = f"d-{unique}"
    with pty_cli(engine, "run", "-it", "--network", "none", "--name", name, "busybox",
                 "sh") as (proc, tty):
        assert b"# " in read_until(tty, b"# ")
        os.write(tty, b"\x10\x11")
        assert proc.wait(timeout=20) == 0
    assert engine.get(name).status == ContainerStatus.RUNNING
    engine.remove(name, force=True)


def test_stats_counts_network_bytes(cli: Cli, unique: str) -> None:
    """NET I/O is the container's own interfaces (its gateway pinged), loopback
    excluded; BLOCK I/O comes from the cgroup, in docker's decimal units."""
    name = f"n-{unique}"
    cli("run", "-d", "--name", name, "busybox", "sh", "-c",
        "ping -c 3 -i 0.2 $(ip route | awk '/default/ {print $3}'); ping -c 50 127.0.0.1 "
        ">/dev/null; sleep 60", check=True)
    idle = f"i-{unique}"
    cli("run", "-d", "--network", "none", "--name", idle, "busybox", "sleep", "60",
        check=True)
    eventually(lambda: "3 packets received" in cli("logs", name).stdout, what="the pings")
    out = cli("stats", "--no-stream", "--format", "{{.Name}}|{{.NetIO}}|{{.BlockIO}}",
              name, idle, check=True).stdout.splitlines()
    rows = {n: (net, blk) for n, net, blk in (line.split("|") for line in out)}
    rx, tx = (part.strip() for part in rows[name][0].split("/"))
    assert rx.endswith("B") and rx != "0B" and tx != "0B", rows
    assert rows[idle][0] == "0B / 0B"  # loopback only: nothing counted
    assert all(p.strip()[0].isdigit() and p.strip().endswith("B")
               for p in rows[name][1].split("/"))
    for n in (name, idle):
        cli("rm", "-f", n, check=True)


def test_link_to_no_container_is_refused_at_create(cli: Cli, engine: Engine) -> None:
    # docker: "could not get container for nosuch", exit 125, and nothing created
    res = cli("run", "--rm", "--link", "nosuch:alias", "busybox", "true")
    assert res.returncode == 125 and "--link" in res.stderr and "nosuch" in res.stderr
    assert engine.list(all_=True) == []


def test_run_and_create_through_typer_and_the_fast_path_alike(cli: Cli, engine: Engine) -> None:
    from stackctl.cli import fastpath

    via_typer = ["--label", "-k=v"]  # a value that looks like a flag: the fast path steps aside
    assert fastpath.parse_run([*via_typer, "busybox"]) is None
    assert fastpath.parse_run(["busybox"]) is not None
    for extra in ([], via_typer):
        res = cli("run", "--rm", "--network", "none", *extra, "busybox", "sh", "-c",
                  "echo out; echo err >&2; exit 3")
        assert (res.returncode, res.stdout, res.stderr) == (3, "out\n", "err\n")
        made = cli("create", "--network", "none", *extra, "busybox", check=True).stdout.strip()
        assert len(made) == 64 and engine.get(made).status == ContainerStatus.CREATED
        cli("rm", made, check=True)
    assert engine.list(all_=True) == []


def _timeless(text: str) -> list[list[str]]:
    """ps output as cells, times blanked: "2 seconds ago" may tick between two runs
    (and widen its column)."""
    import re

    ago = re.compile(r"(Less than a second|About an? \w+|\d+ \w+) ago")
    return [[ago.sub("T ago", cell) for cell in re.split(r" {2,}", line.strip())]
            for line in text.splitlines()]


def test_ps_through_the_fast_path_prints_what_typer_prints(cli: Cli, engine: Engine) -> None:
    """``ps`` goes the fast path; ``container ls`` is the same command through typer."""
    from stackctl.cli import fastpath

    made = [cli("create", "--network", "none", "--name", f"ps{i}", "-l", f"n={i}", "busybox",
                "sleep", str(i), check=True).stdout.strip() for i in range(2)]
    cli("run", "--network", "none", "--name", "ps-ran", "busybox", "sh", "-c", "exit 4")
    try:
        for args in (["-a"], ["-aq"], ["-a", "--no-trunc"], ["-n", "1"], ["-a", "-s"],
                     ["-a", "--filter", "label=n=1"], ["-a", "-f", "status=exited"],
                     ["-a", "--format", "{{.Names}} {{.Status}} {{.Label \"n\"}}"],
                     ["-a", "--format", "json"], []):
            assert fastpath.parse_ps(args) is not None
            fast, typed = cli("ps", *args), cli("container", "ls", *args)
            assert (fast.returncode, _timeless(fast.stdout), fast.stderr) == (
                typed.returncode, _timeless(typed.stdout), typed.stderr), args
        assert len(cli("ps", "-aq").stdout.split()) == 3
        bad = cli("ps", "--filter", "bogus=1")
        assert bad.returncode == cli("container", "ls", "--filter", "bogus=1").returncode != 0
        assert "bogus" in bad.stderr
    finally:
        cli("rm", "-f", *made, "ps-ran")


def test_run_it_with_a_pipe_on_stdin_is_refused(cli: Cli, engine: Engine) -> None:
    """docker run -it refuses a stdin that is not a terminal (it waited forever)."""
    for via in ([], ["--label", "-k=v"]):  # the fast path and typer
        res = cli("run", "-it", "--rm", *via, "busybox", "cat", input="x\n", timeout=20)
        assert res.returncode == 1 and "the input device is not a TTY" in res.stderr
    assert engine.list(all_=True) == []
    res = cli("run", "-i", "--rm", "--network", "none", "busybox", "cat", input="piped\n")
    assert (res.returncode, res.stdout) == (0, "piped\n")  # -i alone streams the pipe
