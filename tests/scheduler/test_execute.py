"""Executor ordering, concurrency and failure logic over an in-memory fake engine."""

from __future__ import annotations

import threading
from typing import Any

import anyio
import pytest

from stackctl.errors import SchedulerError
from stackctl.scheduler.execute import Executor
from stackctl.scheduler.model import desired_state
from stackctl.scheduler.observe import snapshot
from stackctl.scheduler.plan import DownOptions, UpOptions, plan_down, plan_up
from tests.scheduler.fake_engine import Behaviour, FakeEngine, ListSink


def _stack(**services: dict[str, Any]) -> dict[str, Any]:
    return {"services": {k: {"image": "busybox", **v} for k, v in services.items()}}


def _up(stack: dict[str, Any], engine: FakeEngine, *, parallel: int | None = None,
        timeout: float | None = 5.0) -> tuple[Any, ListSink]:
    desired = desired_state("p", stack, image_ids={"busybox": "sha256:b"})
    observed = snapshot("p", list(engine.state.values()), images={"busybox": "sha256:b"})
    plan = plan_up(desired, observed, UpOptions())
    sink = ListSink()
    ex = Executor(engine, sink, parallel=parallel, wait_timeout=timeout, poll_interval=0.001)
    return anyio.run(ex.run, plan), sink


def test_dependencies_start_first_and_healthy_gates() -> None:
    engine = FakeEngine({"db": Behaviour(healthy_after=3)})
    result, sink = _up(_stack(
        db={"healthcheck": {"test": ["CMD", "true"]}},
        web={"depends_on": {"db": {"condition": "service_healthy"}}},
    ), engine)
    assert result.ok
    assert engine.log.index("start container service:db:1") < engine.log.index(
        "start container service:web:1")
    assert engine.polls["db"] >= 3
    assert "Container p-web-1 Waiting for db (service_healthy)" in sink.events
    assert "Container p-db-1 Healthy" in sink.events


def test_unhealthy_dependency_fails_naming_it_and_skips_dependents() -> None:
    engine = FakeEngine({"db": Behaviour(unhealthy=True)})
    result, _ = _up(_stack(
        db={}, web={"depends_on": {"db": {"condition": "service_healthy"}}},
        proxy={"depends_on": ["web"]}, other={},
    ), engine)
    assert not result.ok
    [failure] = result.failures
    assert failure.service == "web"
    assert failure.message == "dependency failed to start: container p-db-1 is unhealthy"
    assert "start container service:other:1" in engine.log
    # containers are created while dependencies start; the dependents' starts are skipped
    assert "start container service:proxy:1" not in engine.log
    assert "start container service:proxy:1" in result.skipped
    with pytest.raises(SchedulerError, match="web: dependency failed to start"):
        result.raise_for_failures()


def test_completed_successfully_gate() -> None:
    engine = FakeEngine({"migrate": Behaviour(exit_code=0)})
    result, _ = _up(_stack(
        migrate={}, app={"depends_on": {"migrate": {
            "condition": "service_completed_successfully"}}}), engine)
    assert result.ok and engine.state["p-app-1"].state == "running"


def test_completed_with_error_fails() -> None:
    engine = FakeEngine({"migrate": Behaviour(exit_code=3)})
    result, _ = _up(_stack(
        migrate={}, app={"depends_on": {"migrate": {
            "condition": "service_completed_successfully"}}}), engine)
    assert [f.message for f in result.failures] == [
        "dependency failed to start: service migrate didn't complete successfully: exit 3"]


def test_optional_dependency_failure_does_not_block() -> None:
    engine = FakeEngine({"cache": Behaviour(fail="start container")})
    result, _ = _up(_stack(
        cache={}, app={"depends_on": {"cache": {"condition": "service_started",
                                                "required": False}}}), engine)
    assert [f.service for f in result.failures] == ["cache"]
    assert engine.state["p-app-1"].state == "running"


def test_health_wait_times_out() -> None:
    engine = FakeEngine({"db": Behaviour(healthy_after=10**9)})
    result, _ = _up(_stack(
        db={}, web={"depends_on": {"db": {"condition": "service_healthy"}}}), engine,
        timeout=0.05)
    assert "timed out after 0.05s waiting for db to be healthy" in result.failures[0].message


def test_no_healthcheck_is_an_error() -> None:
    result, _ = _up(_stack(
        db={}, web={"depends_on": {"db": {"condition": "service_healthy"}}}), FakeEngine())
    assert "has no healthcheck configured" in result.failures[0].message


def test_parallel_bound_is_respected() -> None:
    engine = FakeEngine()
    result, _ = _up(_stack(**{f"s{i}": {} for i in range(12)}), engine, parallel=3)
    assert result.ok and len(engine.log) == 24 + 1  # 12 create + 12 start + network
    assert engine.peak_calls <= 3


def test_runs_concurrently_without_bound() -> None:
    # 4 creates must be in flight together to pass the barrier
    engine = FakeEngine(barrier=threading.Barrier(4))
    result, _ = _up(_stack(**{f"s{i}": {} for i in range(4)}), engine)
    assert result.ok and engine.peak_calls >= 4


def test_down_stops_dependents_first() -> None:
    engine = FakeEngine()
    stack = _stack(db={}, web={"depends_on": ["db"]}, proxy={"depends_on": ["web"]})
    _up(stack, engine)
    engine.log.clear()
    desired = desired_state("p", stack, image_ids={"busybox": "sha256:b"})
    plan = plan_down(desired, snapshot("p", list(engine.state.values())), DownOptions())
    result = anyio.run(Executor(engine, ListSink()).run, plan)
    assert result.ok and not engine.state
    stops = [e for e in engine.log if e.startswith("stop")]
    assert stops == ["stop container service:proxy:1", "stop container service:web:1",
                     "stop container service:db:1"]
