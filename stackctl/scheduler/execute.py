"""The executor: walks a Plan concurrently and carries it out. No decisions.

Every operation runs once its prerequisites in the plan graph have finished,
at most ``parallel`` at a time (graph.walk). Engine calls are synchronous, so
each runs in a worker thread; the ``Driver`` turns one operation into one
engine call. Before a ``StartContainer`` runs, the conditions of the service's
dependencies are awaited against live state:

    service_started                 its start operation finished (the graph ordered that)
    service_healthy                 every container healthy; unhealthy, exited or
                                    no healthcheck is a failure naming the service
    service_completed_successfully  every container exited 0; another code fails

A dependency with ``required: false`` that fails is reported and not waited for.
A failed operation skips what depends on it; the rest settle; every failure is
reported with its service and cause.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

import anyio
import anyio.to_thread

from stackctl.errors import SchedulerError, StackctlError
from stackctl.lightdc import dataclass, field
from stackctl.scheduler import graph as g
from stackctl.scheduler.model import Dependency
from stackctl.scheduler.observe import ObservedContainer
from stackctl.scheduler.ops import (
    BuildImage,
    CreateContainer,
    CreateNetwork,
    CreateVolume,
    Operation,
    PullImage,
    RemoveContainer,
    RemoveImage,
    RemoveNetwork,
    RemoveVolume,
    StartContainer,
    StopContainer,
)
from stackctl.scheduler.plan import Plan


class Driver(Protocol):
    """The engine as the executor sees it. Methods are called from worker threads."""

    def apply(self, op: Operation) -> None:
        """Carry out one operation (one engine call); raise StackctlError on failure."""

    def containers(self, service: str) -> Sequence[ObservedContainer]:
        """Live state of a service's containers, for condition waits."""


@dataclass(frozen=True)
class Event:
    kind: str  # Container | Network | Volume | Image | Service
    name: str  # what the user sees: container, network, volume name, image ref
    status: str  # Creating, Created, Starting, Started, Waiting, Healthy, Exited, Error ...
    text: str = ""
    done: bool = False  # the last event of this resource for this step
    error: bool = False


class EventSink(Protocol):
    def event(self, e: Event) -> None: ...


@dataclass(frozen=True)
class Failure:
    op_id: str
    service: str | None
    message: str


@dataclass
class ExecResult:
    done: list[str] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # op id -> failed op id

    @property
    def ok(self) -> bool:
        return not self.failures

    def raise_for_failures(self) -> None:
        if not self.failures:
            return
        lines = [f"{f.service}: {f.message}" if f.service else f.message for f in self.failures]
        if self.skipped:
            lines.append(f"{len(self.skipped)} dependent operation(s) not run")
        raise SchedulerError(
            "\n".join(lines) if len(lines) > 1 else lines[0],
            hint="fix the cause and run up again: it picks up from the real state",
        )


_VERBS: dict[type[Operation], tuple[str, str, str]] = {
    CreateNetwork: ("Network", "Creating", "Created"),
    CreateVolume: ("Volume", "Creating", "Created"),
    BuildImage: ("Service", "Building", "Built"),
    PullImage: ("Image", "Pulling", "Pulled"),
    CreateContainer: ("Container", "Creating", "Created"),
    StartContainer: ("Container", "Starting", "Started"),
    StopContainer: ("Container", "Stopping", "Stopped"),
    RemoveContainer: ("Container", "Removing", "Removed"),
    RemoveNetwork: ("Network", "Removing", "Removed"),
    RemoveVolume: ("Volume", "Removing", "Removed"),
    RemoveImage: ("Image", "Removing", "Removed"),
}


def display_name(op: Operation) -> str:
    if isinstance(op, BuildImage):
        return op.for_service
    for attr in ("name", "image"):
        value = getattr(op, attr, "")
        if value:
            return str(value)
    return op.resource


@dataclass
class Executor:
    driver: Driver
    sink: EventSink
    parallel: int | None = None
    wait_timeout: float | None = None  # for dependency conditions; None: wait as long as it takes
    poll_interval: float = 0.1
    sleep: Callable[[float], Awaitable[None]] = anyio.sleep  # injectable clock
    now: Callable[[], float] = time.monotonic

    async def run(self, plan: Plan) -> ExecResult:
        if plan.graph is None:
            return ExecResult()
        ops = {n: plan.graph.nodes[n]["op"] for n in plan.graph.nodes}

        async def visit(op_id: str) -> None:
            await self._one(ops[op_id])

        told: set[str] = set()

        def skipped(op_id: str, blocker: str) -> None:
            op = ops[op_id]
            if display_name(op) in told:
                return  # one line per resource, not per operation
            told.add(display_name(op))
            self.sink.event(Event(_VERBS[type(op)][0], display_name(op), "Skipped",
                                  f"{display_name(ops[blocker])} failed", done=True))

        walked = await g.walk(plan.graph, visit, limit=self.parallel, on_skip=skipped)
        result = ExecResult(done=list(walked.done), skipped=dict(walked.skipped))
        for op_id, exc in sorted(walked.failed.items()):
            message = exc.message if isinstance(exc, StackctlError) else (
                f"{type(exc).__name__}: {exc}")
            result.failures.append(Failure(op_id, ops[op_id].service, message))
        return result

    async def _one(self, op: Operation) -> None:
        kind, doing, done = _VERBS[type(op)]
        name = display_name(op)
        if isinstance(op, StartContainer) and op.conditions:
            await self._await_conditions(op, name)
        self.sink.event(Event(kind, name, doing))
        try:
            await anyio.to_thread.run_sync(self.driver.apply, op)
        except Exception as exc:
            text = exc.message if isinstance(exc, StackctlError) else str(exc)
            self.sink.event(Event(kind, name, "Error", text, done=True, error=True))
            raise
        self.sink.event(Event(kind, name, done, done=True))

    async def _await_conditions(self, op: StartContainer, name: str) -> None:
        for dep in op.conditions:
            if dep.condition == "service_started":
                continue  # the plan graph already ordered this start after the dependency's
            try:
                await self._await(dep, name)
            except SchedulerError as exc:
                if dep.required:
                    raise
                self.sink.event(Event("Container", name, "Warning",
                                      f'optional dependency "{dep.service}" failed to start: '
                                      + exc.message.removeprefix("dependency failed to start: ")))

    async def _await(self, dep: Dependency, waiter: str) -> None:
        deadline = None if self.wait_timeout is None else self.now() + self.wait_timeout
        announced = False
        while True:
            found = await anyio.to_thread.run_sync(self.driver.containers, dep.service)
            verdict = condition_verdict(dep, found)
            if verdict is True:
                if announced:
                    status = ("Healthy" if dep.condition == "service_healthy" else "Exited")
                    for c in found:
                        self.sink.event(Event("Container", c.name, status, done=True))
                return
            if isinstance(verdict, str):
                raise SchedulerError(f"dependency failed to start: {verdict}",
                                     hint=f"see: stackctl compose logs {dep.service}")
            if not announced:
                self.sink.event(Event("Container", waiter, "Waiting",
                                      f"for {dep.service} ({dep.condition})"))
                announced = True
            if deadline is not None and self.now() >= deadline:
                raise SchedulerError(
                    f"dependency failed to start: timed out after {self.wait_timeout:g}s "
                    f"waiting for {dep.service} to be {_ADJ[dep.condition]}",
                    hint="raise --wait-timeout, or check its healthcheck")
            await self.sleep(self.poll_interval)


_ADJ = {"service_healthy": "healthy", "service_completed_successfully": "completed",
        "service_started": "started"}


def condition_verdict(dep: Dependency, found: Sequence[ObservedContainer]) -> bool | str | None:
    """True: met; a string: failed for that reason; None: not yet."""
    if not found:
        return f"service {dep.service} has no container"
    for c in sorted(found, key=lambda c: c.number):
        if dep.condition == "service_healthy":
            if c.health == "healthy":
                continue
            if c.health == "unhealthy":
                return f"container {c.name} is unhealthy"
            if c.state in ("exited", "dead"):
                return f"container {c.name} exited ({c.exit_code})"
            if c.health is None and c.running:
                return f"container {c.name} has no healthcheck configured"
            return None
        if dep.condition == "service_completed_successfully":
            if c.state in ("exited", "dead"):
                if c.exit_code == 0:
                    continue
                return f"service {dep.service} didn't complete successfully: exit {c.exit_code}"
            return None
    return True


async def execute(plan: Plan, driver: Driver, sink: EventSink, *, parallel: int | None = None,
                  wait_timeout: float | None = None) -> ExecResult:
    return await Executor(driver, sink, parallel=parallel, wait_timeout=wait_timeout).run(plan)


__all__ = ["Driver", "Event", "EventSink", "ExecResult", "Executor", "Failure",
           "condition_verdict", "display_name", "execute"]
