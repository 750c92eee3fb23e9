"""A volume whose definition changed (TestUpRecreateVolumes, beyond upstream's steps):
without a terminal and without -y it is kept with compose's warning; ``up -y``
recreates it (its data is gone) along with the container that mounts it."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys

import pytest

from tests.compose_e2e.project import Project

pytestmark = pytest.mark.kernel


def _labels(project: Project) -> dict[str, str]:
    r = project.stackctl("volume", "inspect", f"{project.name}_my_vol")
    assert r.code == 0, r.err
    return dict(json.loads(r.out)[0]["Labels"])


_STACK = """\
services:
  app:
    image: busybox
    command: sleep 600
    volumes:
      - my_vol:/my_vol
volumes:
  my_vol:
    labels:
      foo: ${VOL_LABEL:-bar}
"""


def test_changed_volume_kept_without_yes_recreated_with_it(project: Project) -> None:
    project.dir.mkdir(parents=True)
    project.file.write_text(_STACK)  # upstream's TestUpRecreateVolumes, app kept running
    project.compose("up", "-d")
    project.compose("exec", "-T", "app", "sh", "-c", "echo kept > /my_vol/mark")
    zot = {"VOL_LABEL": "zot"}
    r = project.compose("up", "-d", env=zot)  # stdin is not a terminal: nobody to ask
    assert "doesn't match configuration in compose file" in r.err
    assert _labels(project)["foo"] == "bar"
    assert "kept" in project.compose("exec", "-T", "app", "cat", "/my_vol/mark").out
    r = project.compose("plan", env=zot, expect=None)
    assert f"volume {project.name}_my_vol: its definition changed" in r.err
    before = project.ids()
    r = project.compose("up", "-d", "-y", env=zot)
    assert f"Volume {project.name}_my_vol Removed" in r.err
    assert _labels(project)["foo"] == "zot"
    assert project.state("app") == "running" and project.ids() != before
    r = project.compose("exec", "-T", "app", "ls", "/my_vol", env=zot)
    assert r.out.strip() == ""  # a new, empty volume
    # converged: nothing left to do
    assert "nothing to do" in project.compose("up", "-d", "-y", env=zot).output


def test_on_a_terminal_compose_asks(project: Project) -> None:
    project.dir.mkdir(parents=True)
    project.file.write_text(_STACK)
    project.compose("up", "-d")
    argv = [sys.executable, "-m", "stackctl", "--root", str(project.root), "--run-root",
            str(project.run_root), "compose", "-f", str(project.file), "-p", project.name,
            "up", "-d"]
    env = {**os.environ, "VOL_LABEL": "zot"}
    for answer, label in (("n", "bar"), ("y", "zot")):
        master, slave = pty.openpty()  # stdin a terminal, the output piped
        try:
            proc = subprocess.Popen(argv, stdin=slave, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, env=env, cwd=project.dir,
                                    text=True)
            os.write(master, f"{answer}\n".encode())
            out, err = proc.communicate(timeout=120)
        finally:
            os.close(master)
            os.close(slave)
        assert proc.returncode == 0, err
        assert "Recreate (data will be lost)? [y/N]" in out
        assert _labels(project)["foo"] == label
