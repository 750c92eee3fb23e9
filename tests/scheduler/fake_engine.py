"""An in-memory engine behind the executor's Driver interface.

Only for ordering/concurrency logic of the executor: real behaviour is proven by
the kernel tests. Services can be told to become healthy after some polls, to
turn unhealthy, to exit with a code once started, or to fail an operation.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

from stackctl.errors import EngineError
from stackctl.lightdc import replace
from stackctl.scheduler.observe import ObservedContainer
from stackctl.scheduler.ops import (
    CreateContainer,
    Operation,
    RemoveContainer,
    StartContainer,
    StopContainer,
)


@dataclass
class Behaviour:
    healthy_after: int | None = None  # polls until healthy; None: no healthcheck
    unhealthy: bool = False
    exit_code: int | None = None  # exits right after start with this code
    fail: str | None = None  # op verb that fails, e.g. "start container"


@dataclass
class FakeEngine:
    behaviour: dict[str, Behaviour] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)
    state: dict[str, ObservedContainer] = field(default_factory=dict)
    running_calls: int = 0
    peak_calls: int = 0
    polls: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # when set, container creates meet here: proves that several run at once
    barrier: threading.Barrier | None = None

    def apply(self, op: Operation) -> None:
        with self.lock:
            self.running_calls += 1
            self.peak_calls = max(self.peak_calls, self.running_calls)
        try:
            if self.barrier is not None and isinstance(op, CreateContainer):
                self.barrier.wait(5)
            b = self.behaviour.get(op.service or "", Behaviour())
            if b.fail == op.verb:
                raise EngineError(f"{op.verb} failed on purpose")
            with self.lock:
                self.log.append(op.id)
                self._effect(op, b)
        finally:
            with self.lock:
                self.running_calls -= 1

    def _effect(self, op: Operation, b: Behaviour) -> None:
        if isinstance(op, CreateContainer):
            self.state[op.name] = ObservedContainer(op.name, op.for_service, op.number,
                                                    op.config_hash, "created")
        elif isinstance(op, StartContainer):
            c = self.state[op.name]
            if b.exit_code is not None:
                self.state[op.name] = replace(c, state="exited", exit_code=b.exit_code)
            else:
                health = "starting" if b.healthy_after is not None or b.unhealthy else None
                self.state[op.name] = replace(c, state="running", health=health)
        elif isinstance(op, StopContainer):
            self.state[op.name] = replace(self.state[op.name], state="exited", exit_code=0)
        elif isinstance(op, RemoveContainer):
            self.state.pop(op.name, None)

    def containers(self, service: str) -> Sequence[ObservedContainer]:
        with self.lock:
            n = self.polls[service] = self.polls.get(service, 0) + 1
            b = self.behaviour.get(service, Behaviour())
            out = []
            for c in self.state.values():
                if c.service != service:
                    continue
                if c.health == "starting" and b.unhealthy:
                    c = replace(c, health="unhealthy")
                elif c.health == "starting" and b.healthy_after is not None \
                        and n >= b.healthy_after:
                    c = replace(c, health="healthy")
                self.state[c.name] = c
                out.append(c)
            return out


class ListSink:
    def __init__(self) -> None:
        self.events: list[str] = []

    def event(self, e: object) -> None:
        self.events.append(f"{e.kind} {e.name} {e.status} {e.text}".strip())  # type: ignore[attr-defined]
