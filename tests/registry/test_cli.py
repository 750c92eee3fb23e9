"""The commands as a user types them: pull, push, login, logout (fresh processes)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from stackctl.engine.images.store import ImageRecord, ImageStore
from tests.registry.craft import craft_image
from tests.registry.server import Registry


def cli(root: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "stackctl", "--root", str(root), *args],
                          capture_output=True, text=True, input=stdin, check=False)


def test_pull_output_like_docker(registry: Registry, roots: tuple[Path, Path]) -> None:
    crafted = craft_image(registry, "lib/tool", "v1", [{"a": b"1"}, {"b": b"2"}])
    root = roots[0]
    res = cli(root, "pull", f"{registry.host}/lib/tool:v1")
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0] == "v1: Pulling from lib/tool"  # docker prints the path, not the host
    assert sorted(lines[1:3]) == sorted(f"{d[7:19]}: Pull complete"
                                        for d in crafted.layer_digests)
    assert lines[3] == f"Digest: {crafted.manifest_digest}"
    assert lines[4] == f"Status: Downloaded newer image for {registry.host}/lib/tool:v1"
    assert lines[5] == f"{registry.host}/lib/tool:v1"
    again = cli(root, "pull", "-q", f"{registry.host}/lib/tool:v1")
    assert again.stdout == f"{registry.host}/lib/tool:v1\n"
    alias = cli(root, "image", "pull", f"{registry.host}/lib/tool:v1")
    assert f"Status: Image is up to date for {registry.host}/lib/tool:v1" in alias.stdout
    latest = cli(root, "pull", f"{registry.host}/lib/tool")
    assert latest.returncode != 0
    assert latest.stdout.startswith("Using default tag: latest\n")
    assert "Error: pull of" in latest.stderr and "manifest unknown" in latest.stderr
    assert "Hint:" in latest.stderr


def test_push_login_logout(app_image: tuple[Path, ImageRecord]) -> None:
    root, image = app_image
    with Registry(auth="bearer", users={"bob": "builder"}) as reg:
        name = f"{reg.host}/team/app:1"
        with ImageStore(root) as store:
            store.tag(image.id, name)
        denied = cli(root, "push", name)
        assert denied.returncode != 0
        assert f"Hint: run stackctl login {reg.host}" in denied.stderr
        bad = cli(root, "login", "-u", "bob", "--password-stdin", reg.host, stdin="nope\n")
        assert bad.returncode != 0 and "login to" in bad.stderr
        ok = cli(root, "login", "-u", "bob", "--password-stdin", reg.host, stdin="builder\n")
        assert ok.returncode == 0 and ok.stdout == "Login Succeeded\n", ok.stderr
        auths = json.loads((root / "auth.json").read_text())["auths"]
        assert list(auths) == [reg.host]
        pushed = cli(root, "push", name)
        assert pushed.returncode == 0, pushed.stderr
        lines = pushed.stdout.splitlines()
        assert lines[0] == f"The push refers to repository [{reg.host}/team/app]"
        assert sum(line.endswith(": Pushed") for line in lines) == 3
        assert lines[-1] == f"1: digest: {image.manifest_digest} size: " \
            f"{len(reg.manifests['team/app'][image.manifest_digest][1])}"
        assert cli(root, "push", "-q", name).stdout == f"{name}\n"
        out = cli(root, "logout", reg.host)
        assert out.stdout == f"Removing login credentials for {reg.host}\n"
        assert cli(root, "logout", reg.host).stdout == f"Not logged in to {reg.host}\n"


def test_login_without_a_tty_or_password(roots: tuple[Path, Path]) -> None:
    res = cli(roots[0], "login", "localhost:1")
    assert res.returncode == 1  # docker exits 1 on every error but a flag's
    assert "Cannot perform an interactive login from a non TTY device" in res.stderr
    res = cli(roots[0], "login", "--password-stdin", "localhost:1")
    assert "Must provide --username with --password-stdin" in res.stderr


def test_pull_all_tags(registry: Registry, roots: tuple[Path, Path]) -> None:
    for tag in ("a", "b", "c"):
        craft_image(registry, "lib/many", tag, [{"tag": tag.encode()}])
    registry.tags_page = 2  # the client must follow the Link header to the next page
    root = roots[0]
    res = cli(root, "pull", "-a", f"{registry.host}/lib/many")
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines()[-1] == f"{registry.host}/lib/many"
    with ImageStore(root) as store:
        assert {t for r in store.list() for t in r.refs} == \
            {f"{registry.host}/lib/many:{t}" for t in "abc"}
    bad = cli(root, "pull", "-a", f"{registry.host}/lib/many:a")
    assert bad.returncode == 1 and "tag can't be used with --all-tags/-a" in bad.stderr


def test_push_all_tags(registry: Registry, app_image: tuple[Path, ImageRecord]) -> None:
    root, image = app_image
    with ImageStore(root) as store:
        for tag in ("1", "2"):
            store.tag(image.id, f"{registry.host}/team/app:{tag}")
    res = cli(root, "push", "-a", f"{registry.host}/team/app")
    assert res.returncode == 0, res.stderr
    assert [line for line in res.stdout.splitlines() if ": digest: " in line] == [
        f"{t}: digest: {image.manifest_digest} size: "
        f"{len(registry.manifests['team/app'][image.manifest_digest][1])}" for t in "12"]
    assert set(registry.tags["team/app"]) == {"1", "2"}
    none = cli(root, "push", "-a", f"{registry.host}/team/nothing")
    assert none.returncode != 0 and "does not exist locally" in none.stderr


def test_pull_progress_on_a_terminal(registry: Registry, roots: tuple[Path, Path]) -> None:
    import os
    import pty

    crafted = craft_image(registry, "lib/tool", "v1", [{"big": os.urandom(3 << 20)}])
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "stackctl", "--root", str(roots[0]), "pull",
                             f"{registry.host}/lib/tool:v1"], stdin=subprocess.DEVNULL,
                            stdout=slave, stderr=slave)
    os.close(slave)
    out = b""
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        out += data
    os.close(master)
    assert proc.wait(timeout=60) == 0, out
    text = out.decode()
    short = crafted.layer_digests[0][7:19]
    assert f"{short}: Downloading [" in text and "MB/" in text
    assert f"{short}: Pull complete" in text
    assert "\x1b[1A" in text  # the layer line is redrawn in place


def test_progress_bar_text() -> None:
    from stackctl.cli.registry_progress import bar, human

    assert human(999) == "999B" and human(1_234_567) == "1.23MB"
    assert bar(0, 10) == f"[{' ' * 30}]      0B/10B"
    assert bar(5, 10).startswith("[" + "=" * 14 + ">" + " " * 15 + "]")
    assert bar(10, 10).startswith("[" + "=" * 30 + "]")
