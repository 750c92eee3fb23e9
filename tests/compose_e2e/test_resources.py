"""Networks, volumes, IPC, ports, builds and config (networks_test.go,
volumes_test.go, ipc_test.go, compose_up_test.go TestPortRange, up_test.go
TestUpWithAllResources, build_test.go, compose_test.go / config_test.go upstream)."""

from __future__ import annotations

import json

import pytest
import yaml

from tests.compose_e2e.project import Project

pytestmark = pytest.mark.kernel

# nginx stands in as busybox httpd serving nginx's greeting; curl is busybox wget.
_NGINX = ["sh", "-c", "mkdir -p /www && echo 'Welcome to nginx!' > /www/index.html"
          " && exec httpd -f -p 80 -h /www"]


def _as_nginx(project: Project, *services: str) -> None:
    doc = yaml.safe_load(project.file.read_text())
    for name in services:
        doc["services"][name]["command"] = _NGINX
    project.file.write_text(yaml.safe_dump(doc))


def _curl(project: Project, service: str, url: str) -> str:
    r = project.compose("exec", "-T", service, "timeout", "10", "wget", "-qO-", url)
    return r.out


def test_network_aliases(project: Project) -> None:  # TestNetworkAliases
    project.load("TestNetworkAliases")
    _as_nginx(project, "container1", "container2")
    project.compose("up", "-d")
    assert project.state("container1") == "running"
    assert project.state("container2") == "running"
    assert "Welcome to nginx!" in _curl(project, "container1", "http://alias-of-container2/")


def test_network_aliases_link_name(project: Project) -> None:  # TestNetworkAliases, step 3
    project.load("TestNetworkAliases")
    _as_nginx(project, "container1", "container2")
    project.compose("up", "-d")
    assert "Welcome to nginx!" in _curl(project, "container1", "http://container/")


def test_network_links(project: Project) -> None:  # TestNetworkLinks
    project.load("TestNetworkLinks")
    _as_nginx(project, "container1", "container2")
    project.compose("up", "-d")
    assert project.state("container1") == "running"
    assert project.state("container2") == "running"
    assert "Welcome to nginx!" in _curl(project, "container2", "http://container1/")


def test_network_config_changed(project: Project) -> None:  # TestNetworkConfigChanged
    project.load("TestNetworkConfigChanged")
    project.compose("up", "-d")
    assert project.state("test") == "running"
    assert "172.99.0." in project.compose("exec", "test", "hostname", "-i").out
    before = project.ids()
    changed = {"SUBNET": "192.168.0.0/16"}
    project.compose("up", "-d", env=changed)
    assert project.state("test") == "running"
    assert project.ids() == before
    assert "192.168.0." in project.compose("exec", "test", "hostname", "-i", env=changed).out


def test_up_switch_volumes(project: Project, unique: str) -> None:  # TestUpSwitchVolumes
    project.load("TestUpSwitchVolumes")
    vol1, vol2 = f"e2e_vol1_{unique}", f"e2e_vol2_{unique}"
    for vol in (vol1, vol2):
        r = project.stackctl("volume", "create", vol)
        assert r.code == 0, r.err
    project.compose("up", "-d", env={"EXTERNAL_VOLUME": vol1})
    assert vol1 in project.stackctl("inspect", project.cname("app")).out
    project.compose("up", "-d", env={"EXTERNAL_VOLUME": vol2})
    assert vol2 in project.stackctl("inspect", project.cname("app")).out


def _volume_labels(project: Project) -> dict[str, str]:
    r = project.stackctl("volume", "inspect", f"{project.name}_my_vol")
    assert r.code == 0, r.err
    return dict(json.loads(r.out)[0]["Labels"])


def test_up_volume_labels(project: Project) -> None:  # TestUpRecreateVolumes, steps 1-2
    project.load("TestUpRecreateVolumes")
    project.compose("up", "-d")
    assert _volume_labels(project)["foo"] == "bar"


def test_up_recreate_volumes(project: Project) -> None:  # TestUpRecreateVolumes
    project.load("TestUpRecreateVolumes")
    project.compose("up", "-d")
    assert "bar" in project.stackctl("volume", "inspect", f"{project.name}_my_vol").out
    project.compose("up", "-d", "-y", env={"VOL_LABEL": "zot"})
    assert "zot" in project.stackctl("volume", "inspect", f"{project.name}_my_vol").out


def test_up_with_all_resources(project: Project) -> None:  # TestUpWithAllResources
    project.load("TestUpWithAllResources")
    r = project.compose("--all-resources", "up")
    assert f"Volume {project.name}" in r.output
    assert f"Network {project.name}" in r.output


def test_ipc(project: Project, unique: str) -> None:  # TestIPC
    project.load("TestIPC")
    external = f"e2e-ipc-{unique}"
    r = project.stackctl("run", "-d", "--name", external, "--ipc", "shareable",
                         "busybox", "top")
    assert r.code == 0, r.err
    cid = project.stackctl("inspect", "-f", "{{.Id}}", external).out.strip()
    try:
        project.compose("up", "-d", env={"EXTERNAL_NAME": external})
        for svc in ("service", "container", "shareable"):
            assert project.state(svc) == "running", svc

        def ipc_mode(service: str) -> str:
            return project.stackctl("inspect", "-f", "{{.HostConfig.IpcMode}}",
                                    project.cname(service)).out
        assert "shareable" in ipc_mode("shareable")
        assert "container:" in ipc_mode("service")
        assert f"container:{cid}" in ipc_mode("container")
    finally:
        project.stackctl("rm", "-f", external)


def test_port_range(project: Project) -> None:  # TestPortRange
    project.load("TestPortRange")
    project.compose("up", "-d")
    assert project.numbers("a") == [1, 2, 3, 4, 5]
    assert project.state("b") == "running"
    assert project.state("c") == "running"
    # each replica took its own port of the range
    ports = [project.stackctl("port", project.cname("a", n), "80").out.strip()
             for n in range(1, 6)]
    numbers = {int(p.rsplit(":", 1)[1]) for p in ports}
    assert len(numbers) == 5 and numbers <= set(range(6005, 6016)), ports


def test_build_depends_on(project: Project) -> None:  # TestBuildDependsOn
    project.load("TestBuildDependsOn")
    r = project.compose("up", "--progress", "plain", "test2")
    assert "test1 Built" in r.output


def test_build_sub_dependencies(project: Project) -> None:  # TestBuildSubDependencies
    project.load("TestBuildSubDependencies")
    assert "main Built" in project.compose("build", "main").output
    assert "main Built" in project.compose("up", "--build", "main").output


def test_up_build_unchanged_context(project: Project) -> None:  # TestUpBuildUnchangedContext
    project.load("TestUpBuildUnchangedContext")
    project.compose("up", "-d", "--build")
    assert project.state("app") == "running"
    before = project.ids()
    project.compose("up", "-d", "--build")
    assert project.ids() == before


def test_config(project: Project) -> None:  # TestConfig
    project.load("TestConfig")
    r = project.compose("config")
    assert f"""name: {project.name}
services:
  nginx:
    build:
      context: {project.dir / "nginx-build"}
      dockerfile: Dockerfile
    networks:
      default: null
networks:
  default:
    name: {project.name}_default
""" in r.out


def test_config_interpolate(project: Project) -> None:  # TestConfigInterpolate
    project.load("TestConfigInterpolate")
    r = project.compose("config", "--no-interpolate")
    assert f"""name: {project.name}
networks:
  default:
    name: {project.name}_default
services:
  nginx:
    build:
      context: {project.dir / "nginx-build"}
      dockerfile: ${{MYVAR}}
    networks:
      default: null
""" in r.out


def test_local_compose_config(project: Project) -> None:  # TestLocalComposeConfig
    project.load("TestLocalComposeConfig")
    r = project.compose("config")
    assert """
    ports:
      - mode: ingress
        target: 80
        published: "8080"
        protocol: tcp""" in r.out
    r = project.compose("config", "--format", "json")
    assert '"published": "8080"' in r.out
    r = project.compose("config", "--no-interpolate")
    assert "- ${PORT:-8080}:80" in r.out
    r = project.compose("config", "--no-interpolate", "test")
    assert "service filtering is not applied when --no-interpolate is set" in r.output
    assert "- ${PORT:-8080}:80" in r.out


def test_local_compose_config_variables(project: Project) -> None:
    project.load("TestLocalComposeConfig")  # TestLocalComposeConfig, last step
    r = project.compose("config", "--variables", "--format", "json")
    assert json.loads(r.out) == {"PORT": {"Name": "PORT", "DefaultValue": "8080",
                                          "PresenceValue": "", "Required": False}}
