"""``commit`` and ``export`` of a real container (the engine's ``run``), end to end."""

from __future__ import annotations

import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from tests.fixtures_images import import_busybox

pytestmark = pytest.mark.kernel


def test_commit_and_export_a_container(roots: tuple[Path, Path], tmp_path: Path,
                                       unique: str) -> None:
    root, run_root = roots
    import_busybox(root)

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "stackctl", "--root", str(root),
                               "--run-root", str(run_root), *args],
                              capture_output=True, text=True, timeout=120, check=False)

    names = [f"c{unique}", f"d{unique}"]
    try:
        res = cli("run", "--network", "none", "--name", names[0], "-e", "GREETING=hi",
                  "busybox", "sh", "-c",
                  "rm /etc/os-release; echo hi > /new; rm -rf /home; mkdir /home; "
                  "echo h > /home/only; adduser -D -u 1234 u 2>/dev/null; "
                  "touch /owned; chown 1234 /owned; chmod 4711 /owned")
        assert res.returncode == 0, res.stderr
        res = cli("commit", "-a", "me", "-m", "snap", "-c", 'CMD ["cat", "/new"]',
                  names[0], f"committed{unique}:1")
        assert res.returncode == 0, res.stderr
        image_id = res.stdout.strip()
        assert image_id.startswith("sha256:")
        res = cli("run", "--network", "none", "--name", names[1], f"committed{unique}:1",
                  "sh", "-c", "cat /new; ls /home; test -e /etc/os-release || echo gone; "
                  "stat -c '%u %a' /owned; echo $GREETING")
        assert res.returncode == 0, res.stderr
        assert res.stdout.split("\n")[:5] == ["hi", "only", "gone", "1234 4711", "hi"]
        inspect = cli("image", "inspect", "-f", "{{json .Config.Cmd}} {{.Author}} {{.Comment}}",
                      f"committed{unique}:1")
        assert inspect.stdout.strip() == '["cat","/new"] me snap'
        out = tmp_path / "fs.tar"
        res = cli("export", names[0], "-o", str(out))
        assert res.returncode == 0, res.stderr
        with tarfile.open(out) as tar:
            members = {m.name for m in tar.getmembers()}
        assert {"new", "home/only", "bin/busybox"} <= members
        assert "etc/os-release" not in members
        assert not any(".wh." in m for m in members)
    finally:
        cli("rm", "-f", *names)
        cli("rmi", "-f", f"committed{unique}:1")
