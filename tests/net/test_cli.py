"""``stackctl network ...`` as a user types it (real kernel, private roots)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from stackctl.net.manager import NetworkManager

pytestmark = pytest.mark.kernel


def cli(roots: tuple[Path, Path], *args: str) -> subprocess.CompletedProcess[str]:
    root, run_root = roots
    return subprocess.run([sys.executable, "-m", "stackctl", "--root", str(root),
                           "--run-root", str(run_root), *args],
                          capture_output=True, text=True, timeout=60, check=False)


def test_network_commands(roots: tuple[Path, Path], unique: str) -> None:
    name = f"front{unique}"
    try:
        r = cli(roots, "network", "create", "--subnet", "172.31.240.0/24",
                "--label", "tier=web", name)
        assert r.returncode == 0, r.stderr
        net_id = r.stdout.strip()
        assert len(net_id) == 64
        r = cli(roots, "network", "ls")
        assert r.stdout.splitlines()[0].split() == ["NETWORK", "ID", "NAME", "DRIVER", "SCOPE"]
        assert name in r.stdout and "host" in r.stdout and "none" in r.stdout
        # as Docker's: the default bridge network is listed from the start
        assert "bridge" in [line.split()[1] for line in r.stdout.splitlines()[1:]]
        assert cli(roots, "network", "ls", "-q", "--filter", "label=tier=web").stdout.split() \
            == [net_id[:12]]
        doc = json.loads(cli(roots, "network", "inspect", name).stdout)[0]
        assert doc["IPAM"]["Config"][0]["Subnet"] == "172.31.240.0/24"
        assert doc["Labels"] == {"tier": "web"}
        # bad input: a clear error, a non-zero exit, nothing made
        r = cli(roots, "network", "create", "--subnet", "172.31.240.0/25", f"x{unique}")
        assert r.returncode != 0 and "overlaps network" in r.stderr
        r = cli(roots, "network", "create", "-o", "bridge.name=waytoolongbridgename",
                f"y{unique}")
        assert r.returncode != 0 and "at most 15" in r.stderr
        r = cli(roots, "network", "rm", "bridge")
        assert r.returncode != 0 and "pre-defined" in r.stderr
        r = cli(roots, "network", "inspect", f"nope{unique}")
        assert r.returncode == 1 and "not found" in r.stderr
        assert cli(roots, "network", "rm", name).stdout.strip() == name
        assert name not in cli(roots, "network", "ls").stdout
    finally:
        with NetworkManager(*roots) as nm:
            nm.release_all()
