"""One-offs, exec and logs (compose_run_test.go, orphans_test.go, exec_test.go,
networks_test.go TestNetworkModes, logs_test.go upstream)."""

from __future__ import annotations

import pytest

from tests.compose_e2e.project import Project

pytestmark = pytest.mark.kernel


def _last_line(text: str) -> str:
    return text.strip().splitlines()[-1]


def test_compose_run(project: Project) -> None:  # TestComposeRun
    project.load("TestComposeRun")
    r = project.compose("run", "back")
    assert _last_line(r.out) == "Hello there!!"
    assert "orphan" not in r.output
    assert project.state("db") == "running"
    assert project.oneoffs("back") == ["exited"]
    r = project.compose("run", "back", "echo", "Hello one more time")
    assert _last_line(r.out) == "Hello one more time"
    assert "orphan" in r.output
    r = project.compose("run", "back", "echo", "Hello again",
                        env={"COMPOSE_IGNORE_ORPHANS": "True"})
    assert _last_line(r.out) == "Hello again"
    assert "orphan" not in r.output
    r = project.compose("run", "--rm", "back", "echo", "Hello and gone")
    assert _last_line(r.out) == "Hello and gone"
    assert project.oneoffs("back") == ["exited"] * 3  # the earlier ones stay, not its own
    r = project.compose("run", "--volumes", f"{project.dir}:/foo", "back", "/bin/sh", "-c",
                        "ls /foo")
    assert "compose.yaml" in r.out
    r = project.compose("run", "--env-from-file", str(project.dir / "run.env"), "front", "env")
    assert "FOO=BAR" in r.out
    r = project.compose("run", "--env", "FOO=BAR", "front", "env")
    assert "FOO=BAR" in r.out


def test_compose_run_deps(project: Project) -> None:  # TestComposeRunDeps
    project.load("TestComposeRunDeps")
    r = project.compose("run", "service_a")
    assert "shared_dep" in r.output
    assert "service_b" not in r.output
    shared = project.ids()[project.cname("shared_dep")]
    r = project.compose("run", "--no-deps", "service_a")
    assert "service_b" not in r.output and "shared_dep" not in r.output
    assert project.ids()[project.cname("shared_dep")] == shared


def test_compose_run_not_required_deps(project: Project) -> None:
    project.load("TestComposeRunNotRequiredDeps")  # TestComposeRunNotRequiredDeps
    r = project.compose("run", "foo")
    assert "foo" in r.output
    assert project.states("bar") == []


def test_remove_orphans(project: Project) -> None:  # TestRemoveOrphans
    project.load("TestRemoveOrphans")
    project.compose("run", "orphan")
    assert project.oneoffs("orphan") == ["exited"]
    project.compose("up", "-d")  # COMPOSE_REMOVE_ORPHANS=true from the project's .env
    assert project.state("test") == "running"
    assert project.oneoffs("orphan") == []


def test_exec(project: Project) -> None:  # TestExec
    project.load("TestExec")
    project.compose("run", "-d", "test", "cat")
    assert project.oneoffs("test") == ["running"]
    r = project.compose("exec", "--index=1", "test", "ps", expect=1)
    assert 'service "test" is not running container #1' in r.output
    r = project.compose("exec", "test", "ps")
    assert "cat" in r.out
    project.compose("up", "-d")
    assert project.state("test") == "running"
    r = project.compose("exec", "test", "ps")
    assert "tail" in r.out


def test_network_modes(project: Project) -> None:  # TestNetworkModes
    project.load("TestNetworkModes")
    r = project.compose("run", "-T", "mydb", "echo", "success")
    assert "success" in r.output
    assert project.state("db") == "running"


def test_local_compose_logs(project: Project) -> None:  # TestLocalComposeLogs
    project.load("TestLocalComposeLogs")
    project.compose("up", "-d")
    project.compose("wait", "hello", "ping", expect=None)
    assert project.states("hello") == [(1, "exited"), (2, "exited")]
    r = project.compose("logs")
    assert "PING localhost" in r.output and "hello" in r.output
    r = project.compose("logs", "ping")
    assert "PING localhost" in r.output and "hello" not in r.output
    r = project.compose("logs", "hello", "ping")
    assert "PING localhost" in r.output and "hello" in r.output
    r = project.compose("logs", "--index", "2", "hello")
    assert "hello-2" in r.output and "hello-1" not in r.output
