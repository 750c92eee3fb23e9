"""The examples: every one is a valid stack, and the README's main job works.

The webapp scenario is what `make demo` does, on the test's own state roots,
with a free host port: up --wait; a request goes proxy -> app -> redis; an
edit of one service recreates it and (restart: true) the proxy; nothing else
is touched; down -v leaves nothing behind.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
STACKS = sorted(p.parent.name for p in EXAMPLES.glob("*/compose.yaml"))


def stackctl(*args: str, roots: tuple[Path, Path] | None = None,
             check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    pre: list[str] = []
    if roots is not None:
        pre = ["--root", str(roots[0]), "--run-root", str(roots[1])]
    res = subprocess.run([sys.executable, "-m", "stackctl", *pre, *args],
                         capture_output=True, text=True, timeout=timeout, check=False,
                         stdin=subprocess.DEVNULL)
    if check and res.returncode != 0:
        raise AssertionError(f"stackctl {' '.join(args)} -> {res.returncode}\n"
                             f"{res.stdout}\n{res.stderr}")
    return res


@pytest.mark.parametrize("name", STACKS)
def test_example_is_a_valid_stack(name: str) -> None:
    res = stackctl("config", "--format", "json", "-f", str(EXAMPLES / name / "compose.yaml"))
    cfg = json.loads(res.stdout)
    assert cfg["services"], name


def _ps(base: tuple[str, ...], roots: tuple[Path, Path]) -> dict[str, str]:
    """service -> container id, from `compose ps --format json` (an array, or
    one object per line as newer Compose prints)."""
    out = stackctl("compose", *base, "ps", "--format", "json", roots=roots).stdout.strip()
    rows = json.loads(out) if out.startswith("[") else [json.loads(x) for x in out.splitlines()]
    return {r["Service"]: r["ID"] for r in rows}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str, attempts: int = 20) -> dict[str, object]:
    last: Exception | None = None
    for _ in range(attempts):
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                return json.loads(r.read())  # type: ignore[no-any-return]
        except OSError as exc:
            last = exc
            time.sleep(0.5)
    raise AssertionError(f"{url} never answered: {last}")


@pytest.fixture(scope="session")
def base_tarball() -> Path:
    res = subprocess.run([str(REPO / "scripts" / "base-image.sh")], capture_output=True,
                         text=True, timeout=900, check=False)
    if res.returncode != 0:
        raise AssertionError(f"scripts/base-image.sh failed:\n{res.stdout}\n{res.stderr}")
    return Path("/var/cache/stackctl/base-bookworm.tar")


@pytest.mark.kernel
@pytest.mark.slow
def test_webapp_demo_end_to_end(roots: tuple[Path, Path], tmp_path: Path, unique: str,
                                base_tarball: Path) -> None:
    stackctl("import", str(base_tarball), "stackctl-examples/base:bookworm", roots=roots)
    app_dir = tmp_path / "webapp"
    shutil.copytree(EXAMPLES / "webapp", app_dir)
    port = _free_port()
    compose = app_dir / "compose.yaml"
    text = compose.read_text()
    assert '"127.0.0.1:8080:80"' in text
    compose.write_text(text.replace('"127.0.0.1:8080:80"', f'"127.0.0.1:{port}:80"'))
    project = f"demo{unique}"
    base = ("-f", str(compose), "-p", project)
    try:
        stackctl("up", *base, "-d", "--wait", "--progress", "plain", roots=roots)
        first = _get(f"http://127.0.0.1:{port}/")
        second = _get(f"http://127.0.0.1:{port}/")
        assert first["message"] == "hello from stackctl"
        assert first["schema"] == "1"  # the migration job ran before the app
        assert second["visits"] == int(first["visits"]) + 1  # type: ignore[call-overload]

        before = _ps(base, roots)
        assert set(before) == {"proxy", "app", "db"}  # migrate exited 0: ps hides it

        plan = stackctl("plan", *base, roots=roots, check=False)
        assert plan.returncode == 0, plan.stdout + plan.stderr

        # edit one service: app is recreated, proxy restarts with it
        # (depends_on restart: true), db and its data are untouched
        compose.write_text(compose.read_text().replace(
            "${GREETING:-hello from stackctl}", "edited greeting"))
        stackctl("up", *base, "-d", "--wait", "--progress", "plain", roots=roots)
        third = _get(f"http://127.0.0.1:{port}/")
        assert third["message"] == "edited greeting"
        assert third["visits"] == int(second["visits"]) + 1  # type: ignore[call-overload]
        after = _ps(base, roots)
        assert after["db"] == before["db"]
        assert after["app"] != before["app"]
    finally:
        down = stackctl("down", *base, "-v", "-t", "2", roots=roots, check=False)
    assert down.returncode == 0, down.stdout + down.stderr
    left = stackctl("ps", "-a", "-q", roots=roots).stdout.split()
    assert left == []
    assert stackctl("volume", "ls", "-q", roots=roots).stdout.split() == []
    mounts = Path("/proc/self/mounts").read_text()
    assert str(roots[0]) not in mounts and str(roots[1]) not in mounts
