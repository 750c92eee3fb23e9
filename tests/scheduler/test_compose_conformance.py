"""docker/compose e2e scenarios (conformance/compose-e2e, SCENARIOS.md), run with
busybox in place of alpine/bash. Each test names the upstream test it follows;
the assertions are the upstream ones, translated to stackctl."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.scheduler.stackenv import StackEnv

pytestmark = pytest.mark.kernel


def _load(conformance: Path, test: str, stack: StackEnv) -> None:
    text = (conformance / "compose-e2e" / "testdata" / test / "compose.yaml").read_text()
    text = re.sub(r"image: ['\"]?(alpine|bash)['\"]?", "image: busybox", text)
    # busybox's sleep has no "infinity": a long sleep that stops on SIGTERM instead
    text = text.replace("command: sleep infinity",
                        "command: [\"sh\", \"-c\", \"trap 'exit 0' TERM; sleep 86400 & wait\"]")
    text = text.replace("'sleep infinity'", "'sleep 86400'")
    stack.file.write_text(text)
    dotenv = conformance / "compose-e2e" / "testdata" / test / ".env"
    if dotenv.exists():
        (stack.dir / ".env").write_text(dotenv.read_text())


def _compose(stack: StackEnv, *args: str) -> object:
    return stack.compose(*args)


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
    _compose(stack, "stop", "foo", "-t", "1")
    assert stack.state("foo") == [(1, "exited")] and stack.state("bar") == [(1, "running")]
    _compose(stack, "stop", "-t", "1")
    assert stack.state("bar") == [(1, "exited")]
    _compose(stack, "start", "foo")
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


def test_remove_orphans_from_dotenv(conformance: Path, stack: StackEnv) -> None:
    _load(conformance, "TestRemoveOrphans", stack)  # TestRemoveOrphans
    _compose(stack, "run", "orphan")
    oneoffs = [c for c in stack.containers().values()
               if c.labels.get("stackctl.oneoff") == "True"]
    assert [str(c.status) for c in oneoffs] == ["exited"]
    stack.ok("up", "-d")  # COMPOSE_REMOVE_ORPHANS=true comes from the project's .env
    assert stack.state("test") == [(1, "running")]
    assert not [c for c in stack.containers().values()
                if c.labels.get("stackctl.oneoff") == "True"]


def test_scale_basic_cases(conformance: Path, stack: StackEnv) -> None:
    _load(conformance, "TestScaleBasicCases", stack)  # TestScaleBasicCases
    stack.ok("up", "-d")
    assert stack.state("front") == [(1, "running"), (2, "running")]
    assert stack.state("dbadmin") == []
    _compose(stack, "scale", "dbadmin=2")
    assert [n for n, _ in stack.state("dbadmin")] == [1, 2]
    _compose(stack, "scale", "front=3", "back=2")
    assert [n for n, _ in stack.state("front")] == [1, 2, 3]
    assert [n for n, _ in stack.state("back")] == [1, 2]
    kept = stack.ids()[f"{stack.project}-dbadmin-1"]
    _compose(stack, "scale", "dbadmin=1")
    assert [n for n, _ in stack.state("dbadmin")] == [1]
    assert stack.ids()[f"{stack.project}-dbadmin-1"] == kept
    _compose(stack, "scale", "dbadmin=0")
    assert stack.state("dbadmin") == []
    _compose(stack, "scale", "front=2", "back=1")
    assert [n for n, _ in stack.state("front")] == [1, 2]
    assert [n for n, _ in stack.state("back")] == [1]


def test_scale_down_removes_obsolete(conformance: Path, stack: StackEnv,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    _load(conformance, "TestScaleDownRemovesObsolete", stack)
    stack.ok("up", "-d", "db")
    assert [n for n, _ in stack.state("db")] == [1]
    monkeypatch.setenv("MAYBE", "yes")  # the config changes
    stack.ok("up", "-d", "--scale", "db=2", "db")
    assert [n for n, _ in stack.state("db")] == [1, 2]
    stack.ok("up", "-d", "--scale", "db=1", "db")
    assert [n for n, _ in stack.state("db")] == [1]


def test_cascade_fail(conformance: Path, stack: StackEnv) -> None:
    _load(conformance, "TestCascadeFail", stack)  # TestCascadeFail
    r = stack.cli("up", "--abort-on-container-failure", "-t", "1")
    assert r.code == 111, r.err
    assert "exit-1 exited with code 0" in r.out
    assert "fail-1 exited with code 111" in r.out
    assert stack.state("running") == [(1, "exited")]


def test_init_container(conformance: Path, stack: StackEnv) -> None:
    _load(conformance, "TestInitContainer", stack)  # TestInitContainer
    r = stack.ok("up")
    assert re.search(r"foo-1\s+\| hello(?s:.*)bar-1\s+\| world", r.out), r.out


def test_explicit_profile_usage(conformance: Path, stack: StackEnv) -> None:
    _load(conformance, "TestExplicitProfileUsage", stack)  # TestExplicitProfileUsage
    p = ("--profile", "test-profile")
    _compose(stack, *p, "up", "-d")
    assert stack.state("regular-service") == [(1, "running")]
    assert stack.state("profiled-service") == [(1, "running")]
    before = stack.ids()
    _compose(stack, *p, "stop", "-t", "1")
    assert stack.state("profiled-service") == [(1, "exited")]
    _compose(stack, *p, "start")
    assert stack.state("profiled-service") == [(1, "running")]
    _compose(stack, *p, "restart", "-t", "1")
    assert stack.state("regular-service") == [(1, "running")]
    assert stack.ids() == before  # restarted in place, never recreated
    _compose(stack, *p, "down", "-t", "1")
    assert stack.containers() == {}


def test_wait_on_faster(conformance: Path, stack: StackEnv) -> None:
    _load(conformance, "TestWaitOnFaster", stack)  # TestWaitOnFaster
    stack.ok("up", "-d")
    _compose(stack, "wait", "faster")
    assert stack.state("faster") == [(1, "exited")]
    assert stack.state("infinity") == [(1, "running")]


def test_network_config_changed(conformance: Path, stack: StackEnv,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    _load(conformance, "TestNetworkConfigChanged", stack)  # TestNetworkConfigChanged
    monkeypatch.setenv("SUBNET", "172.99.0.0/16")
    stack.ok("up", "-d")
    assert stack.state("test") == [(1, "running")]
    assert stack.compose("exec", "-T", "test", "hostname", "-i").out.startswith("172.99.0.")
    before = stack.ids()
    monkeypatch.setenv("SUBNET", "192.168.0.0/24")
    stack.ok("up", "-d", "-t", "1")
    assert stack.state("test") == [(1, "running")]
    assert stack.ids() == before  # the same container, not recreated
    assert stack.compose("exec", "-T", "test", "hostname", "-i").out.startswith("192.168.0.")


def test_up_container_name_conflict(conformance: Path, stack: StackEnv,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    _load(conformance, "TestUpContainerNameConflict", stack)
    name = f"{stack.project}-fixed"
    monkeypatch.setenv("FIXED_NAME", name)
    r = stack.cli("up")
    assert r.code == 1 and f'container name "{name}" is already in use' in r.err
    assert stack.containers() == {} and stack.networks() == []  # nothing half-made
    stack.ok("up", "test")
    assert stack.state("test") == [(1, "exited")]
    stack.ok("down")
    stack.ok("up", "another_test")
    assert stack.state("another_test") == [(1, "exited")]


def test_up_switch_volumes(conformance: Path, stack: StackEnv,
                           monkeypatch: pytest.MonkeyPatch) -> None:
    _load(conformance, "TestUpSwitchVolumes", stack)  # TestUpSwitchVolumes
    vol1, vol2 = f"{stack.project}-vol1", f"{stack.project}-vol2"
    for v in (vol1, vol2):
        stack.ok("volume", "create", v, project=False)
    try:
        def mounted() -> list[str]:
            [c] = stack.containers().values()
            return [m.source for m in c.config.mounts]

        monkeypatch.setenv("EXTERNAL_VOLUME", vol1)
        stack.ok("up", "-d")
        assert mounted() == [vol1]
        monkeypatch.setenv("EXTERNAL_VOLUME", vol2)
        stack.ok("up", "-d")
        assert mounted() == [vol2]
    finally:
        stack.cleanup()
        for v in (vol1, vol2):
            stack.cli("volume", "rm", "-f", v, project=False)


def test_exec_prefers_service_container(conformance: Path, stack: StackEnv) -> None:
    _load(conformance, "TestExec", stack)  # TestExec
    stack.compose("run", "-d", "test", "cat")
    r = stack.cli("compose", "-f", str(stack.file), "-p", stack.project, "exec",
                  "--index=1", "test", "ps", project=False)
    assert r.code == 1 and 'service "test" is not running container #1' in r.err
    assert "cat" in stack.compose("exec", "-T", "test", "ps").out
    stack.ok("up", "-d")
    assert "tail" in stack.compose("exec", "-T", "test", "ps").out


def test_restart_brings_exited_back(conformance: Path, stack: StackEnv) -> None:
    _load(conformance, "TestRestart", stack)  # TestRestart
    stack.file.write_text(stack.file.read_text().replace(
        'ash -c "if [[ -f /tmp/restart.lock ]] ; then sleep infinity; else touch '
        '/tmp/restart.lock; fi"',
        '["sh", "-c", "if [ -f /tmp/restart.lock ]; then trap \'exit 0\' TERM; '
        'sleep 86400 & wait; else touch /tmp/restart.lock; fi"]'))
    stack.ok("up", "-d")
    import time

    deadline = time.monotonic() + 30
    while stack.state("app") != [(1, "exited")] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert stack.state("app") == [(1, "exited")]
    before = stack.ids()
    stack.compose("restart")
    assert stack.state("app") == [(1, "running")]
    assert stack.ids() == before


def test_cascade_stop(conformance: Path, stack: StackEnv) -> None:
    _load(conformance, "TestCascadeStop", stack)  # TestCascadeStop
    r = stack.cli("up", "--abort-on-container-exit", "-t", "1")
    assert r.code == 0, r.err
    assert "exit-1 exited with code 0" in r.out
    assert stack.state("running") == [(1, "exited")]


def test_compose_run_deps(conformance: Path, stack: StackEnv) -> None:
    _load(conformance, "TestComposeRunDeps", stack)  # TestComposeRunDeps
    stack.file.write_text(stack.file.read_text().replace(
        "  shared_dep:\n    image: busybox",
        "  shared_dep:\n    image: busybox\n    command: [\"sh\", \"-c\", \"trap 'exit 0' TERM; "
        "sleep 86400 & wait\"]"))
    r = stack.compose("run", "service_a")
    assert "shared_dep" in r.err and "service_b" not in r.err + r.out
    assert stack.state("shared_dep") == [(1, "running")]
    before = stack.ids()[f"{stack.project}-shared_dep-1"]
    r = stack.compose("run", "--no-deps", "service_a")
    assert "shared_dep" not in r.err and "service_b" not in r.err + r.out
    assert stack.ids()[f"{stack.project}-shared_dep-1"] == before
