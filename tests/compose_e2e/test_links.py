"""Link aliases (``links: [container2:container]``, ``run --link NAME:ALIAS``) resolve
through the embedded DNS in the container that declares them, and only there, as
with Docker's links on user-defined networks."""

from __future__ import annotations

import pytest

from tests.compose_e2e.project import Project

pytestmark = pytest.mark.kernel

_STACK = """\
services:
  container1:
    image: busybox
    command: sleep 600
    links:
      - container2:container
  container2:
    image: busybox
    command: sleep 600
"""


def _lookup(project: Project, container: str, name: str) -> str:
    r = project.stackctl("exec", container, "nslookup", name, "127.0.0.11")
    return r.out if r.code == 0 else ""


def test_link_alias_is_the_linking_containers_own(project: Project, unique: str) -> None:
    project.dir.mkdir(parents=True)
    project.file.write_text(_STACK)
    project.compose("up", "-d")
    one, two = project.cname("container1"), project.cname("container2")
    ip2 = project.stackctl("inspect", "-f", "{{.NetworkSettings.IPAddress}}", two).out.strip()
    assert ip2 and ip2 in _lookup(project, one, "container")
    assert ip2 not in _lookup(project, two, "container")  # not container2's alias
    inspect = project.stackctl("inspect", "-f", "{{.HostConfig.Links}}", one).out
    assert f"/container2:/{one}/container" in inspect
    # docker run --link: the same, for a container outside the stack
    other = f"linker-{unique}"
    r = project.stackctl("run", "-d", "--name", other, "--network", f"{project.name}_default",
                         "--link", f"{two}:db", "busybox", "sleep", "600")
    assert r.code == 0, r.err
    try:
        assert ip2 in _lookup(project, other, "db")
        assert ip2 not in _lookup(project, one, "db")
    finally:
        project.stackctl("rm", "-f", other)
