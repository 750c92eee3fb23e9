"""Volumes with the local driver's options: ``type=none,o=bind,device=DIR`` is a
host directory mounted straight into the containers (``volume create -o``, and
compose ``driver_opts``); options that would need a host mount are refused,
and a refused volume leaves nothing behind."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.engine.conftest import Cli, eventually

pytestmark = pytest.mark.kernel


def test_bind_volume_from_the_cli(cli: Cli, unique: str, tmp_path: Path) -> None:
    host = tmp_path / "data"
    host.mkdir()
    (host / "before").write_text("on the host\n")
    name = f"bindvol{unique}"
    cli("volume", "create", "-o", "type=none", "-o", "o=bind", "-o", f"device={host}", name,
        check=True)
    info = json.loads(cli("volume", "inspect", name, check=True).stdout)[0]
    assert info["Options"] == {"type": "none", "o": "bind", "device": str(host)}
    out = cli("run", "--rm", "--network", "none", "-v", f"{name}:/data", "busybox", "sh", "-c",
              "cat /data/before; echo from-ctr > /data/after", check=True)
    assert out.stdout == "on the host\n"  # the image never seeded it over the user's files
    assert (host / "after").read_text() == "from-ctr\n"
    cli("volume", "rm", name, check=True)
    assert sorted(p.name for p in host.iterdir()) == ["after", "before"]  # the data stays


@pytest.mark.parametrize("opts, words", [
    (["-o", "type=tmpfs", "-o", "device=tmpfs"], "not supported"),
    (["-o", "o=bind", "-o", "device=/nonexistent/dir"], "not a directory"),
    (["-o", "o=bind", "-o", "device=relative"], "absolute path"),
    (["-o", "size=1m"], "unknown driver option"),
    (["-o", "novalue"], "KEY=VALUE"),
])
def test_unsupported_options_are_refused(cli: Cli, unique: str, opts: list[str],
                                         words: str) -> None:
    name = f"badvol{unique}"
    res = cli("volume", "create", *opts, name)
    assert res.returncode != 0 and words in res.stderr
    assert name not in cli("volume", "ls", "-q", check=True).stdout.split()


def test_compose_driver_opts_bind(cli: Cli, unique: str, tmp_path: Path) -> None:
    (tmp_path / "shared").mkdir()
    (tmp_path / "compose.yaml").write_text(
        "services:\n"
        "  app:\n"
        "    image: busybox\n"
        "    network_mode: none\n"
        "    command: sh -c 'echo written > /srv/out; sleep 60'\n"
        "    volumes: [shared:/srv]\n"
        "volumes:\n"
        "  shared:\n"
        "    driver_opts: {type: none, o: bind, device: ./shared}\n")
    project = f"vo{unique}"
    compose = ["compose", "-f", str(tmp_path / "compose.yaml"), "-p", project]
    try:
        cli(*compose, "up", "-d", "--wait", check=True)
        out = tmp_path / "shared" / "out"  # --wait means running, not done writing
        eventually(lambda: out.exists() and out.read_text() == "written\n",
                   what="the container's file in the host directory")
        info = json.loads(cli("volume", "inspect", f"{project}_shared", check=True).stdout)[0]
        assert info["Options"]["device"] == str(tmp_path / "shared")
    finally:
        cli(*compose, "down", "-v", "-t", "0")
    assert (tmp_path / "shared" / "out").exists()
