"""Acceptance of the single-container commands against Docker's behaviour (issue #3):
flags a Docker user reaches for, and the edge cases Docker documents (several
containers with a missing one among them, a stopped one, --filter keys)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from stackctl.engine.api import Engine
from tests.engine.conftest import Cli, cli_env

pytestmark = pytest.mark.kernel


def test_inspect_templates_types_and_missing(cli: Cli, unique: str) -> None:
    name, vol = f"i-{unique}", f"v-{unique}"
    cli("volume", "create", "--label", "tier=db", vol, check=True)
    cli("create", "--network", "none", "--name", name, "-l", "k=v", "-e", "A=1",
        "-v", f"{vol}:/data", "busybox", "true", check=True)
    fmt = ('{{range .Mounts}}{{.Name}}:{{.Destination}}{{end}} {{index .Config.Labels "k"}} '
           '{{json .Config.Cmd}} {{len .Config.Env}}')
    env = json.loads(cli("inspect", name).stdout)[0]["Config"]["Env"]
    assert cli("inspect", "-f", fmt, name, check=True).stdout == \
        f'{vol}:/data v ["true"] {len(env)}\n'
    # docker inspect: a volume by name too, --type narrows, every object is looked up
    assert cli("inspect", "-f", "{{.Labels.tier}}", vol).stdout == "db\n"
    res = cli("inspect", "--type", "volume", "-f", "{{.Name}}", vol, "nope")
    assert (res.returncode, res.stdout) == (1, f"{vol}\n")
    assert res.stderr == "Error: No such volume: nope\n"
    assert cli("inspect", "--type", "image", name).returncode == 1
    assert cli("inspect", "--type", "network", name).returncode != 0
    res = cli("image", "inspect", "-f", "{{.Os}}", "busybox", "nope")
    assert (res.returncode, res.stdout, res.stderr) == (1, "linux\n",
                                                        "Error: No such image: nope\n")


def test_ps_filters_and_placeholders(cli: Cli, unique: str) -> None:
    a, b = f"a-{unique}", f"b-{unique}"
    cli("create", "--network", "none", "--name", a, "-l", "tier=front", "-v", "/scratch",
        "busybox", "true", check=True)
    cli("create", "--network", "none", "--name", b, "busybox", "true", check=True)
    ps = lambda *f: cli("ps", "-a", "--format", "{{.Names}}", *f, check=True).stdout.split()  # noqa: E731
    assert ps("--filter", f"before={b}") == [a]
    assert ps("--filter", f"since={a}") == [b]
    assert ps("--filter", f"name=^a-{unique}$") == [a]  # a regular expression, as in docker
    assert ps("--filter", "volume=/scratch") == [a]
    assert ps("--filter", "network=none") == [b, a]
    out = cli("ps", "-a", "--filter", f"name={a}", "--format",
              '{{.Label "tier"}} {{.LocalVolumes}} {{len .Mounts}}', check=True).stdout
    assert out == "front 1 15\n"  # an anonymous volume's name, cut to 15 as docker does
    row = json.loads(cli("ps", "-a", "--filter", f"name={a}", "--format", "json").stdout)
    assert "Label" not in row and row["LocalVolumes"] == "1"
    assert row["CreatedAt"].endswith(" +0000 UTC")  # Go's time.String(), as docker ps
    res = cli("ps", "--filter", "colour=red")
    assert res.returncode != 0 and "invalid filter 'colour'" in res.stderr
    res = cli("ps", "--filter", "status=sleeping")
    assert res.returncode != 0 and "value for status: sleeping" in res.stderr


def test_exec_env_file_top_ps_options_stop_signal(cli: Cli, unique: str, tmp_path: Path
                                                  ) -> None:
    name = f"x-{unique}"
    # sh as PID 1 ignores TERM; it exits on USR1, so stop -s USR1 ends it within the grace
    cli("run", "-d", "--network", "none", "--name", name, "busybox", "sh", "-c",
        "trap 'exit 3' USR1; while :; do sleep 0.1; done", check=True)
    env_file = tmp_path / "env"
    env_file.write_text("# comment\nA=from-file\nB=b\nHOME_FROM_HOST\n")
    res = cli("exec", "--env-file", str(env_file), "-e", "A=flag", name, "sh", "-c",
              'echo "$A $B ${HOME_FROM_HOST:-unset}"', check=True)
    assert res.stdout == "flag b unset\n"  # -e wins over the file; unset names are dropped
    env_file.write_text("BAD NAME=1\n")
    res = cli("exec", "--env-file", str(env_file), name, "true")
    assert res.returncode != 0 and "whitespace" in res.stderr
    top = cli("top", name, "-o", "pid,comm", check=True).stdout.splitlines()
    assert top[0].split() == ["PID", "COMMAND"] and any(ln.endswith("sh") for ln in top[1:])
    assert cli("top", name, "-o", "comm").returncode != 0  # docker: no PID column
    assert cli("stop", "-s", "USR1", "-t", "30", name, check=True).stdout == f"{name}\n"
    assert cli("inspect", "-f", "{{.State.ExitCode}}", name).stdout == "3\n"


def test_several_containers_missing_one(cli: Cli, unique: str) -> None:
    a, b = f"m1-{unique}", f"m2-{unique}"
    for n in (a, b):
        cli("run", "-d", "--network", "none", "--name", n, "busybox", "sh", "-c", "exit 5",
            check=True)
    res = cli("wait", a, "nope", b)
    assert (res.returncode, res.stdout) == (1, "5\n5\n")
    assert "No such container: nope" in res.stderr.replace("no such", "No such")
    res = cli("rm", a, "nope", b)
    assert (res.returncode, res.stdout) == (1, f"{a}\n{b}\n")
    assert cli("ps", "-aq").stdout == ""


def test_stats_all_and_logs_details(cli: Cli, unique: str) -> None:
    name = f"s-{unique}"
    cli("run", "--network", "none", "--name", name, "busybox", "echo", "hi", check=True)
    assert cli("stats", "--no-stream", "--format", "{{.Name}}").stdout.strip() == ""
    out = cli("stats", "--no-stream", "-a", "--format", "{{.Name}} {{.CPUPerc}} {{.PIDs}}",
              check=True).stdout
    assert out == f"{name} 0.00% 0\n"  # a stopped container: zeros, as docker shows it
    assert cli("stats", "--no-stream", "--format", "{{.Container}}", name).stdout == f"{name}\n"
    row = json.loads(cli("stats", "--no-stream", "--format", "json", name).stdout)
    assert list(row) == sorted(row) and row["Container"] == name
    assert cli("logs", "--details", name, check=True).stdout == " hi\n"
    # docker: a negative or non-integer --tail means all; 0 means none
    assert [cli("logs", "--tail", t, name).stdout for t in ("x", "-1", "0")] == ["hi\n",
                                                                            "hi\n", ""]
    # --since/--until: relative, Unix and RFC 3339 times
    assert cli("logs", "--since", "1h", name).stdout == "hi\n"
    assert cli("logs", "--until", "2000-01-01T00:00:00Z", name).stdout == ""
    assert cli("logs", "--since", "2000-01-01", name).stdout == "hi\n"
    assert cli("logs", "--until", "946684800", name).stdout == ""


def test_container_prune_filters(cli: Cli, unique: str) -> None:
    keep, drop = f"k-{unique}", f"d-{unique}"
    cli("create", "--network", "none", "--name", keep, "-l", "keep=1", "busybox", check=True)
    cli("create", "--network", "none", "--name", drop, "busybox", check=True)
    res = cli("container", "prune", "-f", "--filter", "label!=keep")
    assert res.returncode == 0 and res.stdout.startswith("Deleted Containers:\n")
    assert cli("ps", "-a", "--format", "{{.Names}}").stdout == f"{keep}\n"
    assert cli("container", "prune", "-f", "--filter", "until=1h").stdout == \
        "Total reclaimed space: 0B\n"  # created less than an hour ago: kept
    assert cli("container", "prune", "-f", "--filter", "colour=red").returncode != 0
    assert cli("ps", "-aq").stdout.strip()


def test_cp_symlinks_and_tar_streams(cli: Cli, engine: Engine, unique: str,
                                     tmp_path: Path) -> None:
    name = f"c-{unique}"
    cli("create", "--network", "none", "--name", name, "busybox", check=True)
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w") as tar:
        info = tarfile.TarInfo("hello.txt")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"hi\n"))
        link = tarfile.TarInfo("link")
        link.type, link.linkname = tarfile.SYMTYPE, "hello.txt"
        tar.addfile(link)
    env = cli_env(engine)
    res = subprocess.run([sys.executable, "-m", "stackctl", "cp", "-", f"{name}:/tmp"],
                         input=data.getvalue(), env=env, capture_output=True, check=False)
    assert res.returncode == 0, res.stderr
    # docker cp copies a symlink as a link; -L copies what it points to
    cli("cp", f"{name}:/tmp/link", str(tmp_path / "l1"), check=True)
    assert os.readlink(tmp_path / "l1") == "hello.txt"
    cli("cp", "-L", f"{name}:/tmp/link", str(tmp_path / "l2"), check=True)
    assert (tmp_path / "l2").read_text() == "hi\n" and not (tmp_path / "l2").is_symlink()
    res = subprocess.run([sys.executable, "-m", "stackctl", "cp", f"{name}:/tmp/hello.txt",
                          "-"], env=env, capture_output=True, check=True)
    with tarfile.open(fileobj=io.BytesIO(res.stdout)) as tar:
        assert tar.getnames() == ["hello.txt"]


def test_volume_rm_force_prune_filters(cli: Cli, unique: str) -> None:
    used, a, b = f"u-{unique}", f"a-{unique}", f"b-{unique}"
    cli("volume", "create", used, check=True)
    cli("volume", "create", "-l", "keep=1", a, check=True)
    cli("volume", "create", b, check=True)
    cli("create", "--network", "none", "-v", f"{used}:/d", "busybox", check=True)
    res = cli("volume", "rm", "-f", used, "nope")  # docker: -f never removes one in use
    assert res.returncode == 1 and "in use" in res.stderr and "nope" not in res.stderr
    assert cli("volume", "rm", "nope").returncode == 1
    mountpoint = cli("volume", "inspect", "-f", "{{.Mountpoint}}", b).stdout.strip()
    Path(mountpoint, "data").write_bytes(b"x" * 1000)
    res = cli("volume", "prune", "-f", "--filter", "all=true", "--filter", "label!=keep")
    assert res.stdout.splitlines() == ["Deleted Volumes:", b, "", "Total reclaimed space: 1kB"]
    assert sorted(cli("volume", "ls", "-q").stdout.split()) == sorted([used, a])
    assert cli("volume", "ls", "-q", "--filter", "driver=local").returncode == 0
    assert cli("volume", "ls", "--filter", "colour=red").returncode != 0
    assert cli("volume", "create", "-o", "type=tmpfs", f"t-{unique}").returncode != 0
    assert f"t-{unique}" not in cli("volume", "ls", "-q").stdout


def test_exit_codes_and_commit_pause(cli: Cli, unique: str) -> None:
    name, other = f"e-{unique}", f"o-{unique}"
    cli("run", "-d", "--network", "none", "--name", name, "-l", "tier=web", "busybox",
        "sleep", "60", check=True)
    cli("create", "--network", "none", "--name", other, "busybox", check=True)
    # docker exits 1 on an error response for every command but run/create (125)
    assert cli("rename", name, other).returncode == 1
    assert cli("exec", other, "true").returncode == 1
    assert cli("rmi", f"nope-{unique}").returncode == 1
    res = cli("kill", "-s", "0", name)  # docker: not a signal; it used to mean SIGKILL
    assert res.returncode != 0 and "invalid signal" in res.stderr
    assert cli("inspect", "-f", "{{.State.Running}}", name).stdout == "true\n"
    out = cli("ps", "--format", 'table {{.Names}}\t{{.Label "tier"}}', check=True).stdout
    assert out.splitlines()[0].split() == ["NAMES", "LABEL"]
    # commit --pause=false (Go's bool flag spelling) and a bare --pause before CONTAINER
    for i, flags in enumerate((["--pause=false"], ["--pause"], ["--no-pause"])):
        res = cli("commit", "-c", "ENV X=1", *flags, name, f"snap-{unique}:{i}")
        assert res.returncode == 0 and res.stdout.startswith("sha256:"), res.stderr
    assert cli("inspect", "-f", "{{.State.Status}}", name).stdout == "running\n"
    assert cli("image", "inspect", "-f", "{{.Config.Env}}", f"snap-{unique}:0").stdout \
        .endswith("X=1]\n")
    assert cli("commit", "--pause=maybe", name).returncode != 0
    res = cli("rmi", *(f"snap-{unique}:{i}" for i in range(3)), check=True)
    assert res.stdout.count("Untagged:") == 3


def test_ps_size_and_start_attach_several(cli: Cli, unique: str) -> None:
    name = f"z-{unique}"
    cli("run", "--network", "none", "--name", name, "busybox", "sh", "-c",
        "head -c 2000 /dev/zero > /big", check=True)
    out = cli("ps", "-a", "--size", check=True).stdout.splitlines()
    assert out[0].split()[-1] == "SIZE" and "2kB (virtual " in out[1]
    assert cli("ps", "-a", "--format", "{{.Size}}").stdout.startswith("2kB (virtual ")
    rw, rootfs = cli("inspect", "-s", "-f", "{{.SizeRw}} {{.SizeRootFs}}", name).stdout.split()
    assert int(rw) >= 2000 and int(rootfs) > int(rw)
    res = cli("start", "-a", name, name)
    assert res.returncode != 0 and "multiple containers" in res.stderr


def test_inspect_ports_and_stopped_network_fields(cli: Cli, unique: str) -> None:
    name = f"p-{unique}"
    cli("create", "--name", name, "-p", "127.0.0.1:18080:80", "-p", "9000/udp", "busybox",
        check=True)  # created, never started: no network is set up
    fmt = ('{{(index (index .HostConfig.PortBindings "80/tcp") 0).HostPort}} '
           '{{json .HostConfig.PortBindings}} {{range $p, $v := .Config.ExposedPorts}}{{$p}} '
           '{{end}}[{{.NetworkSettings.IPAddress}}]'
           '{{range .NetworkSettings.Networks}}[{{.IPAddress}}]{{end}}')
    assert cli("inspect", "-f", fmt, name, check=True).stdout == (
        '18080 {"80/tcp":[{"HostIp":"127.0.0.1","HostPort":"18080"}],'
        '"9000/udp":[{"HostIp":"","HostPort":""}]} 80/tcp 9000/udp [][]\n')


def test_rm_force_volumes(cli: Cli, unique: str) -> None:
    keep, drop = f"rk-{unique}", f"rd-{unique}"
    for n in (keep, drop):
        cli("run", "-d", "--network", "none", "--name", n, "-v", "/data", "busybox",
            "sleep", "60", check=True)
    vols = {n: cli("inspect", "-f", "{{range .Mounts}}{{.Name}}{{end}}", n).stdout.strip()
            for n in (keep, drop)}
    assert cli("rm", keep).returncode == 1  # running: refused without -f
    assert cli("rm", "-f", keep).stdout == f"{keep}\n"
    assert cli("rm", "-fv", drop).stdout == f"{drop}\n"
    left = cli("volume", "ls", "-q").stdout.split()
    assert vols[keep] in left and vols[drop] not in left  # -v: its anonymous volumes go too
