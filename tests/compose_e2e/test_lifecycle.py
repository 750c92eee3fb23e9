"""start/stop/restart/rm/down, --no-deps, recreation, orphans, profiles and wait
(start_stop_test.go, restart_test.go, compose_test.go, profiles_test.go,
wait_test.go, recreate_no_deps_test.go, container_name_test.go upstream)."""

from __future__ import annotations

import pytest

from tests.compose_e2e.project import Project

pytestmark = pytest.mark.kernel


def test_start_stop(project: Project) -> None:  # TestStartStop
    project.load("TestStartStop")
    project.compose("up", "-d")
    assert project.state("simple") == "running" and project.state("another") == "running"
    before = project.ids()
    listed = f'"Name":"{project.name}"'
    assert listed in project.compose("ls", "--format", "json").out.replace(" ", "")
    project.compose("stop", "-t", "1")
    assert project.state("simple") == "exited" and project.state("another") == "exited"
    assert listed not in project.compose("ls", "--format", "json").out.replace(" ", "")
    assert listed in project.compose("ls", "--all", "--format", "json").out.replace(" ", "")
    project.compose("start")
    assert project.state("simple") == "running" and project.state("another") == "running"
    assert project.ids() == before


def test_start_stop_with_dependencies(project: Project) -> None:
    project.load("TestStartStopWithDependencies")  # TestStartStopWithDependencies
    project.compose("up", "-d")
    before = project.ids()
    project.compose("stop", "foo", "-t", "1")
    assert project.state("foo") == "exited" and project.state("bar") == "running"
    project.compose("stop", "-t", "1")
    assert project.state("bar") == "exited"
    project.compose("start", "foo")
    assert project.state("foo") == "running" and project.state("bar") == "running"
    assert project.ids() == before


def test_start_single_service_and_dependency(project: Project) -> None:
    project.load("TestStartSingleServiceAndDependency")  # TestStartSingleServiceAndDependency
    project.compose("create", "desired")
    for svc in ("desired", "dep_1", "dep_2"):
        assert project.state(svc) == "created", svc
    assert project.states("another") == [] and project.states("another_2") == []
    project.compose("start", "desired")
    for svc in ("desired", "dep_1", "dep_2"):
        assert project.state(svc) == "running", svc
    assert project.states("another") == [] and project.states("another_2") == []


def test_restart(project: Project) -> None:  # TestRestart
    project.load("TestRestart")
    project.compose("up", "-d")
    project.compose("wait", "app", expect=None)
    assert project.state("app") == "exited"
    before = project.ids()
    project.compose("restart", "-t", "1")
    assert project.state("app") == "running"
    assert project.ids() == before


def test_rm(project: Project) -> None:  # TestRm
    project.load("TestRm")
    project.compose("up", "-d")
    project.compose("rm", "--stop", "--force", "simple")
    assert project.states("simple") == [] and project.state("another") == "running"
    project.compose("up", "-d")
    assert project.state("simple") == "running"
    project.compose("rm", "--stop", "--force")
    assert project.containers() == {}


def test_remove_orphaned(project: Project) -> None:  # TestRemoveOrphaned
    project.load("TestRemoveOrphaned")
    project.compose("up", "-d")
    project.compose("down", "--remove-orphans", "-t", "1", "web")
    assert project.states("web") == []
    assert project.state("words") == "running" and project.state("db") == "running"


def test_recreate_with_no_deps(project: Project) -> None:  # TestRecreateWithNoDeps
    project.load("TestRecreateWithNoDeps")
    project.compose("up", "-d", "--wait")
    assert project.state("my-service") == "running"
    dep = project.containers()[project.cname("dep")]
    assert dep.health is not None and dep.health.status == "healthy"
    before = project.ids()
    project.compose("up", "-d", "--force-recreate", "--no-deps", "-t", "1", "my-service")
    after = project.ids()
    assert project.state("my-service") == "running"
    assert after[project.cname("my-service")] != before[project.cname("my-service")]
    assert after[project.cname("dep")] == before[project.cname("dep")]


def test_up_no_deps(project: Project) -> None:  # TestUpNoDeps
    project.load("TestUpNoDeps")
    project.compose("up", "--no-deps", "-d", "foo")
    assert project.state("foo") == "running"
    assert project.states("bar") == []


def test_up_profile(project: Project) -> None:  # TestUpProfile
    project.load("TestUpProfile")
    project.compose("up", "foo")
    assert project.state("foo") == "exited" and project.state("db") == "exited"
    assert project.states("bar") == []


def test_no_profile_usage(project: Project) -> None:  # TestNoProfileUsage
    project.load("TestNoProfileUsage")
    project.compose("up", "-d")
    assert project.state("regular-service") == "running"
    assert project.states("profiled-service") == []
    before = project.ids()
    project.compose("stop", "-t", "1")
    assert project.state("regular-service") == "exited"
    project.compose("start")
    assert project.state("regular-service") == "running"
    project.compose("restart", "-t", "1")
    assert project.state("regular-service") == "running"
    assert project.states("profiled-service") == []
    assert project.ids() == before
    project.compose("down", "-t", "1")
    assert project.containers() == {}


def test_explicit_profile_usage(project: Project) -> None:  # TestExplicitProfileUsage
    project.load("TestExplicitProfileUsage")
    p = ("--profile", "test-profile")
    project.compose(*p, "up", "-d")
    assert project.state("regular-service") == "running"
    assert project.state("profiled-service") == "running"
    before = project.ids()
    project.compose(*p, "stop", "-t", "1")
    assert project.state("regular-service") == "exited"
    assert project.state("profiled-service") == "exited"
    project.compose(*p, "start")
    assert project.state("regular-service") == "running"
    assert project.state("profiled-service") == "running"
    project.compose(*p, "restart", "-t", "1")
    assert project.state("profiled-service") == "running"
    assert project.ids() == before
    project.compose(*p, "down", "-t", "1")
    assert project.containers() == {}


def test_active_profile_via_targeted_service(project: Project) -> None:
    project.load("TestActiveProfileViaTargetedService")  # TestActiveProfileViaTargetedService
    project.compose("up", "-d", "profiled-service")
    assert project.state("profiled-service") == "running"
    assert project.states("regular-service") == []
    before = project.ids()
    project.compose("stop", "-t", "1", "profiled-service")
    assert project.state("profiled-service") == "exited"
    project.compose("start", "profiled-service")
    assert project.state("profiled-service") == "running"
    project.compose("restart", "-t", "1")
    assert project.state("profiled-service") == "running"
    assert project.ids() == before


def test_dot_env_profile_usage(project: Project) -> None:  # TestDotEnvProfileUsage
    project.load("TestDotEnvProfileUsage")
    project.compose("up", "-d")
    assert project.state("regular-service") == "running"
    assert project.state("profiled-service") == "running"


def test_up_wait_timeout(project: Project) -> None:  # TestUpWaitTimeout
    project.load("TestUpWaitTimeout")
    r = project.compose("up", "--wait", "--wait-timeout", "3", "-d", expect=1)
    assert "application not healthy after 3s" in r.output
    assert project.state("app") == "running"


def test_start_interval(project: Project) -> None:  # TestStartInterval
    project.load("TestStartInterval")
    r = project.compose("up", "--wait", "-d", "error", expect=1)
    assert ("healthcheck.start_interval requires healthcheck.start_period to be set"
            in r.output)
    project.compose("up", "--wait", "-d", "test")
    assert project.state("test") == "running"
    test = project.containers()[project.cname("test")]
    assert test.health is not None and test.health.status == "healthy"


def test_wait_on_faster(project: Project) -> None:  # TestWaitOnFaster
    project.load("TestWaitOnFaster")
    project.compose("up", "-d")
    project.compose("wait", "faster")
    assert project.state("faster") == "exited"
    assert project.state("infinity") == "running"


def test_wait_on_slower(project: Project) -> None:  # TestWaitOnSlower
    project.load("TestWaitOnSlower")
    project.compose("up", "-d")
    project.compose("wait", "slower")
    assert project.state("faster") == "exited" and project.state("slower") == "exited"
    assert project.state("infinity") == "running"


def test_wait_and_drop(project: Project) -> None:  # TestWaitAndDrop
    project.load("TestWaitAndDrop")
    project.compose("up", "-d")
    project.compose("wait", "--down-project", "faster")
    assert project.containers() == {}


def test_up_container_name_conflict(project: Project, unique: str) -> None:
    project.load("TestUpContainerNameConflict")  # TestUpContainerNameConflict
    name = f"e2e-fixed-{unique}"
    env = {"FIXED_NAME": name}
    r = project.compose("up", env=env, expect=1)
    assert f'container name "{name}" is already in use' in r.output
    project.compose("down", env=env)
    assert project.containers() == {}
    project.compose("up", "test", env=env)
    assert project.state("test") == "exited"
    project.compose("down", env=env)
    project.compose("up", "another_test", env=env)
    assert project.state("another_test") == "exited"


def test_unnecessary_resources(project: Project) -> None:  # TestUnnecessaryResources
    project.load("TestUnnecessaryResources")
    r = project.compose("up", "-d", expect=1)
    assert "network foo_bar declared as external, but could not be found" in r.output
    project.compose("up", "-d", "test")
    assert project.state("test") == "running"


def test_stop_with_dependencies_attached(project: Project) -> None:
    project.load("TestStopWithDependenciesAttached")  # TestStopWithDependenciesAttached
    r = project.compose("up", "--attach-dependencies", "-t", "1", "foo")
    assert "exited with code 0" in r.output
    assert "bar-1" in r.out.splitlines()[0]  # "Attaching to bar-1, foo-1"


def test_stdout_stderr(project: Project) -> None:  # TestStdoutStderr
    project.load("TestStdoutStderr")
    r = project.compose("up")
    assert "log to stdout" in r.out
    assert "log to stderr" in r.err


def test_expose_range(project: Project) -> None:  # TestExposeRange
    project.load("TestExposeRange")
    project.compose("up")
    assert project.state("test") == "exited"


def test_up_image_id(project: Project) -> None:  # TestUpImageID
    project.load("TestUpImageID")
    image_id = project.stackctl("images", "-q", "--no-trunc", "busybox").out.split()[0]
    project.compose("up", env={"ID": image_id})
    assert project.state("test") == "exited"
