"""compose up: --wait, dependency conditions, exit codes, attach/abort modes
(compose_up_test.go, up_test.go, cascade_test.go, compose_test.go upstream)."""

from __future__ import annotations

import re

import pytest

from tests.compose_e2e.project import Project

pytestmark = pytest.mark.kernel


def test_up_wait(project: Project) -> None:  # TestUpWait
    project.load("TestUpWait")
    r = project.compose("up", "--wait", "-d")
    assert project.name in r.output
    assert project.state("longrunning") == "running"
    assert project.state("oneshot") == "exited"


def test_up_with_dependency_exit(project: Project) -> None:  # TestUpWithDependencyExit
    project.load("TestUpWithDependencyExit")
    r = project.compose("up", "-d", expect=1)
    assert f"dependency failed to start: container {project.name}-db" in r.output
    assert project.state("web") == "created"


def test_up_with_dependency_not_required(project: Project) -> None:
    project.load("TestUpWithDependencyNotRequired")  # TestUpWithDependencyNotRequired
    r = project.compose("--profile", "not-required", "up", "-d")
    assert "foo" in r.output
    assert 'optional dependency "bar" failed to start' in r.output


def test_up_service_unhealthy(project: Project) -> None:  # TestUpServiceUnhealthy
    project.load("TestUpServiceUnhealthy")
    r = project.compose("up", "-d", expect=1)
    assert f"container {project.name}-fail-1 is unhealthy" in r.output
    assert project.state("depends") == "created"


def test_init_container(project: Project) -> None:  # TestInitContainer
    project.load("TestInitContainer")
    r = project.compose("up")
    assert re.search(r"foo-1\s+\| hello(?s:.*)bar-1\s+\| world", r.output), r.output


def test_up_exit_code_from(project: Project) -> None:  # TestUpExitCodeFrom
    project.load("TestUpExitCodeFrom")
    r = project.compose("up", "--exit-code-from=failure", "failure", "-t", "1", expect=42)
    assert "exiting with error" in r.output


def test_up_exit_code_from_container_killed(project: Project) -> None:
    project.load("TestUpExitCodeFromContainerKilled")  # TestUpExitCodeFromContainerKilled
    project.compose("up", "--exit-code-from=test", "-t", "1", expect=143)


def test_cascade_stop(project: Project) -> None:  # TestCascadeStop
    project.load("TestCascadeStop")
    r = project.compose("up", "--abort-on-container-exit", "-t", "1")
    assert "exit-1 exited with code 0" in r.output
    assert project.state("running") == "exited"


def test_cascade_fail(project: Project) -> None:  # TestCascadeFail
    project.load("TestCascadeFail")
    r = project.compose("up", "--abort-on-container-failure", "-t", "1", expect=111)
    assert "exit-1 exited with code 0" in r.output
    assert "fail-1 exited with code 111" in r.output
    assert project.state("running") == "exited"
