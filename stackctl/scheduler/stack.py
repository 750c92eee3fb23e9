"""Stack operations as library calls: load -> observe -> plan -> execute.

The CLI turns flags into options and calls one function here. ``up`` runs in
two phases: images first (builds and pulls change the image ids that the
config hashes are taken over), then everything else planned against the
fresh image ids, so a rebuilt image that came out identical recreates nothing.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anyio

from stackctl import lightdc
from stackctl.errors import SchedulerError
from stackctl.scheduler.driver import EngineDriver
from stackctl.scheduler.execute import Event, ExecResult, Executor, condition_verdict
from stackctl.scheduler.model import Dependency, DesiredState, desired_state
from stackctl.scheduler.observe import ObservedState, observe
from stackctl.scheduler.ops import BuildImage, PullImage
from stackctl.scheduler.plan import DownOptions, Plan, UpOptions, plan_down, plan_up
from stackctl.scheduler.progress import Sink


@lightdc.dataclass(frozen=True)
class LoadedStack:
    """A loaded stack file, reduced to what the scheduler needs."""

    project: str
    config: dict[str, Any]  # canonical compose dict (``stackctl config --format json``)
    inactive: tuple[str, ...] = ()  # services disabled by profiles
    working_dir: str = ""
    files: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()  # from loading (unset variables...)
    # COMPOSE_* / STACKCTL_* settings from the project's .env (COMPOSE_REMOVE_ORPHANS...)
    settings: dict[str, str] = lightdc.field(default_factory=dict)


def load_stack(load_opts: Any, services: Sequence[str] = (), *,
               cache_dir: Path | None = None) -> LoadedStack:
    """Load and validate a stack file (``load_opts``: spec.options.LoadOptions).

    With ``cache_dir``, an unchanged stack comes from the load cache (loadcache.py).
    """
    import os

    from stackctl.scheduler import loadcache

    key = ""
    cacheable = cache_dir is not None and load_opts.stdin is None and load_opts.environ is None
    if cacheable:
        assert cache_dir is not None
        key = loadcache.cache_key(lightdc.asdict(load_opts), services, os.getcwd(),
                                  os.environ)
        hit = loadcache.load(cache_dir, key)
        if hit is not None:
            return LoadedStack(hit["project"], hit["config"], tuple(hit["inactive"]),
                               hit["working_dir"], tuple(hit["files"]), tuple(hit["warnings"]),
                               dict(hit.get("settings") or {}))
    from stackctl.spec.project import load_project
    from stackctl.spec.serialize import project_dict

    project = load_project(load_opts, services=tuple(services))
    stack = LoadedStack(
        project=project.name,
        config=json.loads(json.dumps(project_dict(project), default=str)),
        inactive=tuple(sorted(project.disabled_services)),
        working_dir=str(project.working_dir),
        files=tuple(str(f) for f in project.files),
        warnings=tuple(project.warnings),
        settings={k: str(v) for k, v in (project.environment or {}).items()
                  if k.startswith(("COMPOSE_", "STACKCTL_"))},
    )
    if cacheable:
        assert cache_dir is not None
        env_files = list(load_opts.env_files) or [os.path.join(stack.working_dir, ".env")]
        deps = loadcache.dependencies(stack.files, stack.config, stack.working_dir,
                                      [os.path.abspath(f) for f in env_files])
        if deps is not None:
            loadcache.store(cache_dir, key, deps, lightdc.asdict(stack))
    return stack


@lightdc.dataclass
class StackRunner:
    root: Path
    run_root: Path
    project: str
    stack: LoadedStack | None
    sink: Sink
    parallel: int | None = None
    runtime: str | None = None

    def __post_init__(self) -> None:
        self.driver = EngineDriver(self.root, self.run_root, None, project=self.project,
                                   runtime=self.runtime)

    def close(self) -> None:
        self.driver.close()

    def __enter__(self) -> StackRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- reading ------------------------------------------------------------------------------
    def desired(self, scale: dict[str, int] | None = None) -> DesiredState:
        if self.stack is None:
            raise SchedulerError("no stack file", hint="run in the stack's directory or give -f")
        refs = [str(s.get("image") or f"{self.project}-{n}")
                for n, s in (self.stack.config.get("services") or {}).items()]
        from stackctl.scheduler.observe import observe_images

        ids = observe_images(self.driver.engine(), refs)
        desired = desired_state(self.project, self.stack.config, image_ids=ids, scale=scale,
                                inactive_services=self.stack.inactive,
                                working_dir=self.stack.working_dir)
        self.driver.desired = desired
        return desired

    def observe(self, desired: DesiredState | None) -> ObservedState:
        refs: list[str] = []
        nets: list[str] = []
        vols: list[str] = []
        if desired is not None:
            refs = [s.image for s in desired.services.values()]
            nets = [n.name for n in desired.networks.values()]
            vols = [v.name for v in desired.volumes.values()]
        return observe(self.driver.engine(), self.project, network_names=nets,
                       volume_names=vols, image_refs=refs)

    def plan_up(self, opts: UpOptions, scale: dict[str, int] | None = None) -> Plan:
        desired = self.desired(scale)
        return plan_up(desired, self.observe(desired), opts)

    def plan_down(self, opts: DownOptions) -> Plan:
        desired = self.desired() if self.stack is not None else None
        return plan_down(desired, self.observe(desired), opts)

    # ---- acting -------------------------------------------------------------------------------
    def execute(self, plan: Plan, *, wait_timeout: float | None = None) -> ExecResult:
        import os

        settings = self.stack.settings if self.stack is not None else {}
        quiet_orphans = next((v for k in ("STACKCTL_IGNORE_ORPHANS", "COMPOSE_IGNORE_ORPHANS")
                              for v in (os.environ.get(k, settings.get(k)),) if v is not None),
                             "").lower() in ("1", "true", "yes")
        for w in plan.warnings:
            if not (quiet_orphans and w.startswith("found orphan")):
                self.sink.message(f"WARNING: {w}")
        if plan.empty:
            return ExecResult()
        executor = Executor(self.driver, self.sink, parallel=self.parallel,
                            wait_timeout=wait_timeout)
        with self.sink:
            return anyio.run(executor.run, plan)

    def up(self, opts: UpOptions, scale: dict[str, int] | None = None, *,
           wait_timeout: float | None = None) -> tuple[int, ExecResult]:
        """Converge; returns (number of operations carried out, result)."""
        first = self.plan_up(opts, scale)
        images = [op for op in first.operations if isinstance(op, BuildImage | PullImage)]
        done = 0
        if images and first.graph is not None:
            sub = first.graph.subgraph([op.id for op in images]).copy()
            result = self.execute(Plan(first.project, sub), wait_timeout=wait_timeout)
            done += len(result.done)
            if not result.ok:
                return done, result
            # images are present now: plan the rest against their fresh ids
            opts = lightdc.replace(opts, build="auto", pull="missing")
            plan = self.plan_up(opts, scale)
        else:
            plan = first
        result = self.execute(plan, wait_timeout=wait_timeout)
        self.record(remove=False)
        return done + len(result.done), result

    def down(self, opts: DownOptions) -> tuple[int, ExecResult]:
        plan = self.plan_down(opts)
        result = self.execute(plan)
        if result.ok and not opts.services:
            self.record(remove=True)
        return len(result.done), result

    def record(self, *, remove: bool) -> None:
        """Keep the ``stacks`` row (for ``ls``) in step with what is deployed."""
        store = self.driver.engine().store
        with store.transaction() as db:
            if remove:
                db.execute("DELETE FROM stacks WHERE project = ?", (self.project,))
            elif self.stack is not None:
                db.execute(
                    "INSERT INTO stacks (project, config_files, working_dir, updated) "
                    "VALUES (?,?,?,?) ON CONFLICT(project) DO UPDATE SET "
                    "config_files=excluded.config_files, working_dir=excluded.working_dir, "
                    "updated=excluded.updated",
                    (self.project, json.dumps(list(self.stack.files)), self.stack.working_dir,
                     time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())))

    def wait_ready(self, services: Sequence[str], timeout: float | None) -> None:
        """``up --wait``: every container running, and healthy where it has a check.
        A container that exited 0 counts as done if another service waits for it
        to complete (the migration pattern)."""
        desired = self.driver.desired or self.desired()
        completers = {d.service for s in desired.services.values() for d in s.dependencies
                      if d.condition == "service_completed_successfully"}
        deadline = None if timeout is None else time.monotonic() + timeout
        pending = [s for s in services if desired.services[s].replicas > 0]
        while pending:
            still = []
            for name in pending:
                svc = desired.services[name]
                cond = ("service_completed_successfully" if name in completers else
                        "service_healthy" if svc.has_healthcheck else "running")
                found = self.driver.containers(name)
                if cond == "running":
                    bad = [c for c in found if c.state in ("exited", "dead")]
                    if bad:
                        raise SchedulerError(
                            f"{name}: container {bad[0].name} exited ({bad[0].exit_code})",
                            hint=f"see: stackctl compose logs {name}")
                    if not found or not all(c.running for c in found):
                        still.append(name)
                        continue
                    for c in found:
                        self.sink.event(Event("Container", c.name, "Running", done=True))
                    continue
                verdict = condition_verdict(Dependency(name, cond), found)
                if isinstance(verdict, str):
                    raise SchedulerError(f"{name}: {verdict}",
                                         hint=f"see: stackctl compose logs {name}")
                if verdict is None:
                    still.append(name)
                    continue
                for c in found:
                    self.sink.event(Event("Container", c.name, "Healthy"
                                          if cond == "service_healthy" else "Exited", done=True))
            pending = still
            if pending and deadline is not None and time.monotonic() > deadline:
                raise SchedulerError(
                    f"application not healthy after {timeout:g}s: {', '.join(pending)} "
                    "not ready", hint="raise --wait-timeout, or check: stackctl compose ps")
            if pending:
                time.sleep(0.1)


__all__ = ["LoadedStack", "StackRunner", "load_stack"]
