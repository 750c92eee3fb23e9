"""run/create as a Docker user expects them, beyond the flags reaching the container:
the options Docker gives a mount by default."""

from __future__ import annotations

import pytest

from tests.engine.conftest import Cli

pytestmark = pytest.mark.kernel


def test_tmpfs_is_noexec_unless_asked(cli: Cli) -> None:
    # docker mounts --tmpfs (and --mount type=tmpfs) noexec,nosuid,nodev; "exec" undoes it
    script = 'cp /bin/busybox /t/ && /t/busybox true; echo "rc=$?"; grep " /t " /proc/mounts'
    res = cli("run", "--rm", "--network", "none", "--tmpfs", "/t", "busybox", "sh", "-c",
              script)
    assert res.stdout.startswith("rc=126\n"), res.stdout + res.stderr
    assert "nosuid,nodev,noexec" in res.stdout
    res = cli("run", "--rm", "--network", "none", "--mount", "type=tmpfs,target=/t",
              "busybox", "sh", "-c", script)
    assert res.stdout.startswith("rc=126\n") and "noexec" in res.stdout
    res = cli("run", "--rm", "--network", "none", "--tmpfs", "/t:exec,mode=1777", "busybox",
              "sh", "-c", script)
    assert res.stdout.startswith("rc=0\n") and "noexec" not in res.stdout


@pytest.mark.parametrize("how", [["stop", "-t", "1"], ["kill"], ["stop", "-s", "KILL"]])
def test_stop_or_kill_a_rm_container(cli: Cli, unique: str, how: list[str]) -> None:
    # docker: the command succeeds and names it, though --rm removes it as it exits
    name = f"rm-{unique}"
    cli("run", "-d", "--rm", "--network", "none", "--name", name, "busybox", "sleep", "60",
        check=True)
    res = cli(*how, name)
    assert (res.returncode, res.stdout, res.stderr) == (0, f"{name}\n", "")
    assert cli("ps", "-aq", "--filter", f"name=^{name}$").stdout == ""


def test_rm_force_a_rm_container(cli: Cli, unique: str) -> None:
    name = f"rmf-{unique}"
    cli("run", "-d", "--rm", "--network", "none", "--name", name, "-v", "/anon", "busybox",
        "sleep", "60", check=True)
    vol = cli("inspect", "-f", "{{range .Mounts}}{{.Name}}{{end}}", name).stdout.strip()
    res = cli("rm", "-f", name)
    assert (res.returncode, res.stdout, res.stderr) == (0, f"{name}\n", "")
    assert cli("ps", "-aq", "--filter", f"name=^{name}$").stdout == ""
    assert cli("volume", "inspect", vol).returncode == 1  # --rm takes its anonymous volume


def test_exec_with_a_tty_gets_term(cli: Cli, unique: str) -> None:
    name = f"t-{unique}"
    cli("run", "-d", "--network", "none", "--name", name, "-e", "KEEP=1", "busybox", "sleep",
        "60", check=True)
    term = 'echo "${TERM:-unset} $KEEP"'
    assert cli("exec", "-t", name, "sh", "-c", term).stdout.replace("\r", "") == "xterm 1\n"
    assert cli("exec", "-t", "-e", "TERM=vt100", name, "sh", "-c", term
               ).stdout.replace("\r", "") == "vt100 1\n"
    assert cli("exec", name, "sh", "-c", term).stdout == "unset 1\n"


def test_exec_tty_from_a_pipe_and_detached(cli: Cli, unique: str) -> None:
    name = f"e-{unique}"
    cli("run", "-d", "--network", "none", "--name", name, "busybox", "sleep", "60",
        check=True)
    # docker refuses -it when stdin is not a terminal: a pty never sees a pipe's end
    res = cli("exec", "-it", name, "cat", input="hi\n", timeout=20)
    assert (res.returncode, res.stderr.splitlines()[0]) == (
        1, "Error: the input device is not a TTY")
    assert cli("exec", "-i", name, "cat", input="hi\n").stdout == "hi\n"
    cli("create", "-it", "--network", "none", "--name", f"{name}-t", "busybox", "sh",
        check=True)
    res = cli("start", "-ai", f"{name}-t", input="exit\n", timeout=20)
    assert res.returncode == 1 and "not a TTY" in res.stderr
    assert cli("ps", "-a", "--filter", "status=created", "--format", "{{.Names}}"
               ).stdout == f"{name}-t\n"  # refused before it started
    # -d with -t runs it in the background as docker does (the launcher refused it)
    cli("exec", "-dit", name, "sh", "-c", "echo done > /tmp/dt", check=True)
    cli("exec", name, "sh", "-c", "while [ ! -s /tmp/dt ]; do sleep 0.05; done", check=True,
        timeout=20)


def test_stop_several_at_once(cli: Cli, unique: str) -> None:
    # docker stops them in parallel; names come back in the order given, a missing
    # one is reported and the exit code is 1
    names = [f"s{i}-{unique}" for i in range(3)]
    for i, name in enumerate(names):
        cli("run", "-d", "--network", "none", "--name", name, *(["--rm"] if i == 1 else []),
            "busybox", "sleep", "60", check=True)
    res = cli("stop", "-t", "1", names[2], f"nosuch-{unique}", names[0], names[1])
    assert (res.returncode, res.stdout) == (1, f"{names[2]}\n{names[0]}\n{names[1]}\n")
    assert res.stderr.startswith(f"Error: no such container: nosuch-{unique}\n")
    assert cli("ps", "-a", "--format", "{{.Names}} {{.State}}").stdout == \
        f"{names[2]} exited\n{names[0]} exited\n"  # the --rm one is gone
