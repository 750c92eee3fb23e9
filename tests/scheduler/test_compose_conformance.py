"""docker/compose e2e scenarios (conformance/compose-e2e, SCENARIOS.md), run with
busybox in place of alpine/bash. Each test names the upstream test it follows;
the assertions are the upstream ones, translated to stackctl."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.scheduler.stackenv import StackEnv

pytestmark = pytest.mark.kernel


@pytest.fixture
def stack(busybox_image: tuple[Path, str], roots: tuple[Path, Path], tmp_path: Path,
          unique: str, capfd: pytest.CaptureFixture[str]) -> Iterator[StackEnv]:
    root, run_root = roots
    env = StackEnv(root, run_root, tmp_path, f"c{unique}", capfd)
    try:
        yield env
    finally:
        env.cleanup()


def _load(conformance: Path, test: str, stack: StackEnv) -> None:
    text = (conformance / "compose-e2e" / "testdata" / test / "compose.yaml").read_text()
    text = re.sub(r"image: ['\"]?(alpine|bash)['\"]?", "image: busybox", text)
    # busybox's sleep has no "infinity": a long sleep that stops on SIGTERM instead
    text = text.replace("command: sleep infinity",
                        "command: [\"sh\", \"-c\", \"trap 'exit 0' TERM; sleep 86400 & wait\"]")
    text = text.replace("'sleep infinity'", "'sleep 86400'")
    stack.file.write_text(text)


def test_up_wait(conformance: Path, stack: StackEnv) -> None:  # TestUpWait
    _load(conformance, "TestUpWait", stack)
    stack.ok("up", "--wait", "-d")
    assert stack.state("longrunning") == [(1, "running")]
    assert stack.state("oneshot") == [(1, "exited")]


def test_up_with_dependency_exit(conformance: Path, stack: StackEnv) -> None:
    _load(conformance, "TestUpWithDependencyExit", stack)  # TestUpWithDependencyExit
    r = stack.cli("up", "-d")
    assert r.code == 1
    assert f"dependency failed to start: container {stack.project}-db-1" in r.err
    assert stack.state("web") == [(1, "created")]


def test_up_with_dependency_not_required(conformance: Path, stack: StackEnv) -> None:
    _load(conformance, "TestUpWithDependencyNotRequired", stack)
    r = stack.ok("up", "-d", "--profile", "not-required")
    assert "foo" in r.err
    assert 'optional dependency "bar" failed to start' in r.err


def test_up_service_unhealthy(conformance: Path, stack: StackEnv) -> None:
    _load(conformance, "TestUpServiceUnhealthy", stack)  # TestUpServiceUnhealthy
    r = stack.cli("up", "-d")
    assert r.code == 1
    assert f"container {stack.project}-fail-1" in r.err and "unhealthy" in r.err
    assert stack.state("depends") == [(1, "created")]


def test_recreate_with_no_deps(conformance: Path, stack: StackEnv) -> None:
    _load(conformance, "TestRecreateWithNoDeps", stack)  # TestRecreateWithNoDeps
    stack.ok("up", "-d", "--wait")
    dep = stack.containers()[f"{stack.project}-dep-1"]
    assert dep.health is not None and dep.health.status == "healthy"
    before = stack.ids()
    stack.ok("up", "-d", "--force-recreate", "--no-deps", "my-service", "-t", "1")
    after = stack.ids()
    assert stack.state("my-service") == [(1, "running")]
    assert after[f"{stack.project}-my-service-1"] != before[f"{stack.project}-my-service-1"]
    assert after[f"{stack.project}-dep-1"] == before[f"{stack.project}-dep-1"]


def test_up_exit_code_from(conformance: Path, stack: StackEnv) -> None:
    _load(conformance, "TestUpExitCodeFrom", stack)  # TestUpExitCodeFrom
    r = stack.cli("up", "--exit-code-from=failure", "failure", "-t", "1")
    assert r.code == 42, r.err
    assert "exiting with error" in r.out


def test_start_stop_with_dependencies(conformance: Path, stack: StackEnv) -> None:
    _load(conformance, "TestStartStopWithDependencies", stack)
    stack.ok("up", "-d")
    stack.cli("compose", "stop", "foo", "-t", "1", project=False)
    stack.ok("compose", "-f", str(stack.file), "-p", stack.project, "stop", "foo", "-t", "1")
    assert stack.state("foo") == [(1, "exited")] and stack.state("bar") == [(1, "running")]
    stack.ok("compose", "-f", str(stack.file), "-p", stack.project, "stop", "-t", "1")
    assert stack.state("bar") == [(1, "exited")]
    stack.ok("compose", "-f", str(stack.file), "-p", stack.project, "start", "foo")
    assert stack.state("foo") == [(1, "running")] and stack.state("bar") == [(1, "running")]


def test_up_wait_timeout(conformance: Path, stack: StackEnv) -> None:
    _load(conformance, "TestUpWaitTimeout", stack)  # TestUpWaitTimeout
    r = stack.cli("up", "--wait", "--wait-timeout", "3", "-d")
    assert r.code == 1
    assert "application not healthy after 3s" in r.err
    assert stack.state("app") == [(1, "running")]


def test_unnecessary_resources(conformance: Path, stack: StackEnv) -> None:
    _load(conformance, "TestUnnecessaryResources", stack)  # TestUnnecessaryResources
    r = stack.cli("up", "-d")
    assert r.code == 1
    assert "declared as external, but could not be found" in r.err
    stack.ok("up", "-d", "test")
    assert stack.state("test") == [(1, "running")]
