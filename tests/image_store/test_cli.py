"""The image commands end to end, through the real CLI entry point (a subprocess each)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures_images import import_busybox
from tests.images import busybox_rootfs_tar


def cli(root: Path, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    res = subprocess.run([sys.executable, "-m", "stackctl", "--root", str(root), *args],
                         input=stdin.decode("latin-1") if stdin is not None else None,
                         capture_output=True, text=True, check=False)
    return res


def test_import_images_tag_rmi(roots: tuple[Path, Path]) -> None:
    root, _ = roots
    res = cli(root, "import", str(busybox_rootfs_tar()), "busybox", "-c", 'CMD ["sh"]',
              "-m", "base")
    assert res.returncode == 0, res.stderr
    image_id = res.stdout.strip()
    assert image_id.startswith("sha256:") and len(image_id) == 71
    assert cli(root, "tag", "busybox", "me/bb:1").returncode == 0
    out = cli(root, "images").stdout.splitlines()
    assert out[0].split() == ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"]
    assert [line.split()[:3] for line in out[1:]] == [
        ["busybox", "latest", image_id[7:19]], ["me/bb", "1", image_id[7:19]]]
    assert cli(root, "images", "-q").stdout.split() == [image_id[7:19]]
    assert cli(root, "images", "-q", "--no-trunc").stdout.split() == [image_id]
    fmt = cli(root, "images", "--format", "{{.Repository}}:{{.Tag}}").stdout.split()
    assert fmt == ["busybox:latest", "me/bb:1"]
    rows = [json.loads(x) for x in cli(root, "images", "--format", "json").stdout.splitlines()]
    assert {r["Repository"] for r in rows} == {"busybox", "me/bb"}
    assert cli(root, "images", "me/*").stdout.count("\n") == 2
    assert "DIGEST" in cli(root, "images", "--digests").stdout
    inspect = json.loads(cli(root, "image", "inspect", "busybox").stdout)
    assert inspect[0]["Id"] == image_id
    assert inspect[0]["RepoTags"] == ["busybox:latest", "me/bb:1"]
    assert inspect[0]["Config"]["Cmd"] == ["sh"]
    assert inspect[0]["Comment"] == "base"
    assert cli(root, "image", "inspect", "-f", "{{.Config.Cmd}}", "busybox").stdout \
        == '[sh]\n'  # Go prints a list as [a b], as docker does
    hist = cli(root, "history", "busybox").stdout.splitlines()
    assert hist[0].split()[:2] == ["IMAGE", "CREATED"]
    assert "stackctl import" in hist[1] and "base" in hist[1]
    res = cli(root, "rmi", "busybox", "me/bb:1")
    assert res.stdout.splitlines() == ["Untagged: busybox:latest", "Untagged: me/bb:1",
                                       f"Deleted: {image_id}"]
    assert cli(root, "image", "ls", "-q").stdout == ""


def test_import_from_stdin_and_errors(roots: tuple[Path, Path]) -> None:
    root, _ = roots
    res = cli(root, "import", "-", "fromstdin", stdin=busybox_rootfs_tar().read_bytes())
    assert res.returncode == 0, res.stderr
    res = cli(root, "import", "/nonexistent.tar")
    assert res.returncode == 1 and "no such file" in res.stderr  # docker: 1
    res = cli(root, "import", str(busybox_rootfs_tar()), "Bad:Name")
    assert res.returncode != 0 and "must be lowercase" in res.stderr
    res = cli(root, "import", str(busybox_rootfs_tar()), "x", "-c", "RUN true")
    assert res.returncode != 0 and "RUN is not a change" in res.stderr
    res = cli(root, "rmi", "nothing")
    assert res.returncode != 0 and "No such image: nothing:latest" in res.stderr
    res = cli(root, "images", "--filter", "bogus=1")
    assert res.returncode == 1 and "invalid filter" in res.stderr
    assert cli(root, "images", "-q").stdout.count("\n") == 1


def test_save_load_prune(roots: tuple[Path, Path], tmp_path: Path) -> None:
    root, _ = roots
    rec = import_busybox(root)
    archive = tmp_path / "bb.tar"
    assert cli(root, "save", "-o", str(archive), "busybox").returncode == 0
    other = tmp_path / "other"
    res = cli(other, "load", "-i", str(archive))
    assert res.returncode == 0, res.stderr
    assert res.stdout == "Loaded image: busybox:latest\n"
    assert cli(other, "images", "-q", "--no-trunc").stdout.strip() == rec.id
    # dangling after untag; prune removes it
    assert cli(other, "tag", "busybox", "keep:1").returncode == 0
    assert cli(other, "rmi", "busybox").returncode == 0
    assert cli(other, "image", "prune", "-f").stdout == "Total reclaimed space: 0B\n"
    res = cli(other, "image", "prune", "-a", "-f")
    assert res.stdout.startswith("Deleted Images:\nuntagged: keep:1\ndeleted: sha256:")
    assert "Total reclaimed space: " in res.stdout
    assert cli(other, "images", "-q").stdout == ""


def test_system_df(roots: tuple[Path, Path]) -> None:
    root, _ = roots
    import_busybox(root)
    out = cli(root, "system", "df").stdout.splitlines()
    assert out[0].split() == ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"]
    assert out[1].split()[:3] == ["Images", "1", "0"] and out[1].endswith("(100%)")
    assert [line.split()[0] for line in out[1:]] == ["Images", "Containers", "Local", "Build"]
    verbose = cli(root, "system", "df", "-v").stdout
    assert "Images space usage:" in verbose and "busybox" in verbose
    res = cli(root, "system", "df", "--format", "json")
    rows = [json.loads(x) for x in res.stdout.splitlines()]
    assert rows[0]["Type"] == "Images" and rows[0]["TotalCount"] == "1"


def test_save_to_stdout_filters_and_partial_rmi(roots: tuple[Path, Path],
                                                tmp_path: Path) -> None:
    root, _ = roots
    first = import_busybox(root, "one:1")
    second = import_busybox(root, "two:1")
    with open(tmp_path / "out.tar", "wb") as out:
        res = subprocess.run([sys.executable, "-m", "stackctl", "--root", str(root), "save",
                              "one:1"], stdout=out, stderr=subprocess.PIPE, check=False)
    assert res.returncode == 0, res.stderr
    res = cli(tmp_path / "other", "load", "-q", "-i", str(tmp_path / "out.tar"))
    assert res.returncode == 0 and res.stdout == ""
    assert cli(tmp_path / "other", "images", "-q", "--no-trunc").stdout.strip() == first.id
    since = cli(root, "images", "--filter", "since=one:1", "--format", "{{.Repository}}")
    assert since.stdout.split() == ["two"]
    before = cli(root, "images", "--filter", "before=two:1", "--format", "{{.Repository}}")
    assert before.stdout.split() == ["one"]
    res = cli(root, "rmi", "missing", "two:1")
    assert res.returncode == 1
    assert "No such image: missing:latest" in res.stderr
    assert f"Deleted: {second.id}" in res.stdout
    hist = cli(root, "history", "--no-trunc", "-q", "one:1").stdout.split()
    assert hist == [first.id]


@pytest.mark.kernel
def test_system_prune(roots: tuple[Path, Path], unique: str) -> None:
    root, run_root = roots
    import_busybox(root)
    import_busybox(root, "spare:1")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "stackctl", "--root", str(root),
                               "--run-root", str(run_root), *args],
                              capture_output=True, text=True, timeout=120, check=False)

    name = f"p{unique}"
    try:
        assert run("run", "--network", "none", "--name", name, "busybox", "true").returncode == 0
        assert run("tag", "spare:1", "spare:2").returncode == 0
        assert run("rmi", "spare:1").returncode == 0
        assert run("rmi", "spare:2").returncode == 0
        res = run("system", "prune", "-f")
        assert res.returncode == 0, res.stderr
        assert res.stdout.startswith("Deleted Containers:\n")
        assert "Total reclaimed space:" in res.stdout
        assert run("ps", "-a", "-q").stdout == ""
        assert run("images", "-q").stdout.count("\n") == 1  # busybox stays: tagged
        res = run("system", "prune", "-a", "-f")
        assert "deleted: sha256:" in res.stdout
        assert run("images", "-q").stdout == ""
    finally:
        run("rm", "-f", name)
