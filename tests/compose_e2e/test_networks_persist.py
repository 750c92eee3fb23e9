"""Every network of a container comes back at every start: a service on two networks
after ``stackctl restart``, ``compose restart`` and a restart by its policy; a
``network connect`` (and its ``--ip``) kept across restarts, as Docker keeps it, and a
``network disconnect`` kept too."""

from __future__ import annotations

import ipaddress
import json
import time

import pytest

from tests.compose_e2e.project import Project

pytestmark = pytest.mark.kernel

_HTTPD = ["sh", "-c", "mkdir -p /www && echo hello > /www/index.html"
          " && exec httpd -f -p 80 -h /www"]
_STACK = {
    "services": {
        "server": {"image": "busybox", "command": _HTTPD, "networks": ["front", "back"]},
        "web": {"image": "busybox", "command": ["sleep", "600"], "networks": ["front"]},
        "db": {"image": "busybox", "command": ["sleep", "600"], "networks": ["back"]},
    },
    "networks": {"front": {}, "back": {}},
}


def _fetch(project: Project, service: str, host: str) -> str:
    r = project.compose("exec", "-T", service, "timeout", "10", "wget", "-qO-",
                        f"http://{host}/", expect=None)
    return r.out


def _networks(project: Project, container: str) -> dict[str, str]:
    r = project.stackctl("inspect", container)
    assert r.code == 0, r.err
    nets = json.loads(r.out)[0]["NetworkSettings"]["Networks"]
    return {name: n.get("IPAddress", "") for name, n in nets.items()}


def _start(project: Project) -> None:
    project.dir.mkdir(parents=True)
    project.file.write_text(json.dumps(_STACK))
    project.compose("up", "-d")


def test_service_on_two_networks_keeps_both_after_restart(project: Project) -> None:
    _start(project)
    front, back = f"{project.name}_front", f"{project.name}_back"
    server = project.cname("server")
    assert set(_networks(project, server)) == {front, back}
    for _ in range(2):  # at up, then after a restart by the engine
        assert "hello" in _fetch(project, "web", "server")
        assert "hello" in _fetch(project, "db", "server")
        r = project.stackctl("restart", "-t", "1", server)
        assert r.code == 0, r.err
    nets = _networks(project, server)
    assert set(nets) == {front, back} and all(nets.values())
    listed = project.stackctl("ps", "--filter", f"name={server}", "--format",
                              "{{.Networks}}").out.strip()
    assert sorted(listed.split(",")) == sorted([front, back])
    r = project.compose("restart", "-t", "1", "server")
    assert "hello" in _fetch(project, "web", "server")
    assert "hello" in _fetch(project, "db", "server")


def test_network_connect_and_disconnect_survive_restart(project: Project,
                                                        unique: str) -> None:
    _start(project)
    back = f"{project.name}_back"
    other = f"conn-{unique}"
    front = f"{project.name}_front"
    subnet = json.loads(project.stackctl("network", "inspect", front).out)[0]["IPAM"][
        "Config"][0]["Subnet"]
    static = str(ipaddress.ip_network(subnet)[200])
    r = project.stackctl("run", "-d", "--name", other, "--network", front, "--ip", static,
                         "busybox", *_HTTPD)
    assert r.code == 0, r.err
    try:
        assert _networks(project, other)[front] == static
        assert "hello" not in _fetch(project, "db", other)  # not on back yet
        r = project.stackctl("network", "connect", "--alias", "extra", back, other)
        assert r.code == 0, r.err
        assert "hello" in _fetch(project, "db", "extra")
        r = project.stackctl("network", "connect", back, other)
        assert r.code != 0 and "already connected" in r.err
        r = project.stackctl("restart", "-t", "1", other)
        assert r.code == 0, r.err
        assert back in _networks(project, other)
        assert _networks(project, other)[front] == static  # --ip is kept too
        assert "hello" in _fetch(project, "db", "extra")  # the alias came back too
        # a stopped container can be disconnected; the next start leaves it off
        assert project.stackctl("stop", "-t", "1", other).code == 0
        r = project.stackctl("network", "disconnect", back, other)
        assert r.code == 0, r.err
        assert project.stackctl("start", other).code == 0
        assert set(_networks(project, other)) == {f"{project.name}_front"}
        assert "hello" not in _fetch(project, "db", other)
        assert "hello" in _fetch(project, "web", other)
        # off its last network it keeps loopback only, and can be connected again
        r = project.stackctl("network", "disconnect", front, other)
        assert r.code == 0, r.err
        assert "hello" not in _fetch(project, "web", other)
        assert project.stackctl("restart", "-t", "1", other).code == 0
        assert _networks(project, other) == {}
        r = project.stackctl("network", "connect", back, other)
        assert r.code == 0, r.err
        assert "hello" in _fetch(project, "db", other)
    finally:
        project.stackctl("rm", "-f", other)


def test_restart_policy_keeps_both_networks(project: Project) -> None:
    stack = json.loads(json.dumps(_STACK))
    stack["services"]["server"].update(restart="on-failure", command=[
        "sh", "-c", "trap 'exit 1' TERM; mkdir -p /www && echo hello > /www/index.html; "
        "httpd -f -p 80 -h /www & wait"])
    project.dir.mkdir(parents=True)
    project.file.write_text(json.dumps(stack))
    project.compose("up", "-d")
    server = project.cname("server")
    assert "hello" in _fetch(project, "db", "server")
    project.stackctl("exec", server, "kill", "1")  # PID 1 exits 1: the engine restarts it
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        r = project.stackctl("inspect", "-f", "{{.RestartCount}} {{.State.Status}}", server)
        if r.out.split() == ["1", "running"]:
            break
        time.sleep(0.2)
    else:
        pytest.fail(f"{server} was not restarted by its policy: {r.out!r}")
    assert "hello" in _fetch(project, "web", "server")
    assert "hello" in _fetch(project, "db", "server")
