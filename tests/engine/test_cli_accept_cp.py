"""docker cp's rules, as a Docker user meets them: a directory over a file, a file
over a directory, a destination that must exist, a tar stream into a directory,
ownership with and without -a; and a symlink the container placed in the
destination never leads the copy out of the container's root."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.engine.conftest import Cli

pytestmark = pytest.mark.kernel


@pytest.fixture
def box(cli: Cli, unique: str) -> str:
    name = f"cp-{unique}"
    cli("run", "-d", "--network", "none", "--name", name, "busybox", "sleep", "600",
        check=True)
    return name


def tree(top: Path) -> Path:
    (top / "dir" / "sub").mkdir(parents=True)
    (top / "dir" / "a").write_text("a\n")
    (top / "dir" / "sub" / "b").write_text("b\n")
    (top / "dir" / "link").symlink_to("a")
    os.chown(top / "dir" / "a", 1234, 1234)
    return top / "dir"


def test_a_symlink_in_the_container_is_not_a_way_out(cli: Cli, box: str, tmp_path: Path
                                                     ) -> None:
    outside = tmp_path / "host-only"
    outside.mkdir()
    # the container points /tmp/d/esc at a host path; cp of a tree with d/esc/x merges
    # into /tmp/d: the symlink is a non-directory there, so the copy is refused
    cli("exec", box, "sh", "-c", f"mkdir -p /tmp/d && ln -s {outside} /tmp/d/esc",
        check=True)
    (tmp_path / "src" / "d" / "esc").mkdir(parents=True)
    (tmp_path / "src" / "d" / "esc" / "x").write_text("pwned\n")
    res = cli("cp", str(tmp_path / "src" / "d"), f"{box}:/tmp/")
    assert res.returncode == 1 and "cannot overwrite 'd/esc'" in res.stderr
    assert list(outside.iterdir()) == []
    # checked before writing: nothing of the refused copy is left in the container
    assert cli("exec", box, "ls", "/tmp/d").stdout == "esc\n"


def test_dirs_files_and_missing_destinations(cli: Cli, box: str, tmp_path: Path) -> None:
    src = tree(tmp_path)
    ls = lambda p: cli("exec", box, "ls", "-A", p).stdout.split()  # noqa: E731
    assert cli("cp", str(src), f"{box}:/tmp/").returncode == 0
    assert ls("/tmp/dir") == ["a", "link", "sub"]
    # ownership: root's in the container, the source's with -a
    stat = "stat -c %u:%g /tmp/dir/a"
    assert cli("exec", box, "sh", "-c", stat).stdout == "0:0\n"
    cli("cp", "-a", str(src), f"{box}:/tmp/", check=True)  # merges into /tmp/dir
    assert cli("exec", box, "sh", "-c", stat).stdout == "1234:1234\n"
    # SRC/. copies the content; a new DEST is created for a directory
    cli("cp", f"{src}/.", f"{box}:/tmp/copy", check=True)
    assert ls("/tmp/copy") == ["a", "link", "sub"]
    res = cli("cp", str(src), f"{box}:/tmp/dir/a")
    assert (res.returncode, res.stderr.splitlines()[0]) == (
        1, f"Error: cannot copy a directory to a file: {box}:/tmp/dir/a is a file")
    cli("exec", box, "mkdir", "/tmp/t", "/tmp/t/a", check=True)
    res = cli("cp", str(src / "a"), f"{box}:/tmp/t")  # a file over a directory
    assert res.returncode == 1 and "cannot overwrite 'a'" in res.stderr
    res = cli("cp", str(src / "a"), f"{box}:/tmp/new/")
    assert res.returncode == 1 and "destination directory must exist" in res.stderr
    res = cli("cp", str(src / "a"), f"{box}:/nowhere/a")
    assert res.returncode == 1 and f"no such directory: {box}:/nowhere" in res.stderr
    res = cli("cp", "-", f"{box}:/tmp/dir/a", input="")
    assert res.returncode == 1 and "must be a directory" in res.stderr
    assert ls("/tmp/t") == ["a"] and "new" not in ls("/tmp") and not ls("/tmp/t/a")


def test_from_the_container(cli: Cli, box: str, tmp_path: Path) -> None:
    cli("cp", str(tree(tmp_path / "in")), f"{box}:/tmp/", check=True)
    out = tmp_path / "out"
    out.mkdir()
    cli("cp", f"{box}:/tmp/dir", str(out), check=True)  # into an existing directory
    assert sorted(os.listdir(out / "dir")) == ["a", "link", "sub"]
    assert os.readlink(out / "dir" / "link") == "a"
    cli("cp", f"{box}:/tmp/dir", str(out), check=True)  # again: merged, not nested
    assert sorted(os.listdir(out / "dir")) == ["a", "link", "sub"]
    cli("cp", "-L", f"{box}:/tmp/dir/link", str(out), check=True)  # named as the link
    assert (out / "link").read_text() == "a\n" and not (out / "link").is_symlink()
    res = cli("cp", f"{box}:/tmp/dir", str(out / "link"))
    assert res.returncode == 1 and "cannot copy a directory to a file" in res.stderr
    res = cli("cp", f"{box}:/tmp/dir/a", f"{out}/missing/")
    assert res.returncode == 1 and "destination directory must exist" in res.stderr
    assert not (out / "missing").exists()


def test_volumes_and_bind_mounts(cli: Cli, unique: str, tmp_path: Path) -> None:
    # the mounts live in the container's namespace: cp must reach them all the same
    bind, vol, name = tmp_path / "bind", f"v-{unique}", f"m-{unique}"
    bind.mkdir()
    (tmp_path / "f").write_text("f\n")
    cli("run", "-d", "--network", "none", "--name", name, "-v", f"{vol}:/data",
        "-v", f"{bind}:/bind", "-v", f"{bind}:/robind:ro", "busybox", "sleep", "60",
        check=True)
    cli("cp", str(tmp_path / "f"), f"{name}:/data/", check=True)
    assert cli("exec", name, "cat", "/data/f").stdout == "f\n"
    cli("cp", str(tmp_path / "f"), f"{name}:/bind/g", check=True)
    assert (bind / "g").read_text() == "f\n"
    cli("exec", name, "sh", "-c", "echo in > /data/in", check=True)
    cli("cp", f"{name}:/data", str(tmp_path / "out"), check=True)
    assert sorted(os.listdir(tmp_path / "out")) == ["f", "in"]
    res = cli("cp", str(tmp_path / "f"), f"{name}:/robind/")
    assert res.returncode == 1 and "read-only mount" in res.stderr
    assert sorted(os.listdir(bind)) == ["g"]


def test_read_only_root(cli: Cli, unique: str, tmp_path: Path) -> None:
    name = f"ro-{unique}"
    cli("create", "--network", "none", "--read-only", "--name", name, "busybox", check=True)
    (tmp_path / "f").write_text("f\n")
    res = cli("cp", str(tmp_path / "f"), f"{name}:/tmp/")
    assert res.returncode == 1 and "read-only file system" in res.stderr
    cli("cp", f"{name}:/etc/passwd", str(tmp_path / "passwd"), check=True)  # reading is fine


def test_the_container_s_own_etc_files(cli: Cli, unique: str, tmp_path: Path) -> None:
    # /etc/hostname and /etc/hosts are the container's, as docker cp gives them
    name = f"h-{unique}"
    cli("run", "-d", "--network", "none", "--hostname", f"box-{unique}", "--name", name,
        "busybox", "sleep", "60", check=True)
    cli("cp", f"{name}:/etc/hostname", str(tmp_path / "hostname"), check=True)
    assert (tmp_path / "hostname").read_text() == f"box-{unique}\n"
    cli("cp", f"{name}:/etc/hosts", str(tmp_path / "hosts"), check=True)
    assert (tmp_path / "hosts").read_text() == cli("exec", name, "cat", "/etc/hosts").stdout
