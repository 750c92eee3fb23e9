"""The builder: a Dockerfile, a context and options -> an image in the store.

    BuildRequest --load/plan--> stages and steps --for each step--> cache hit? reuse
                                                              else execute -> image

Every step yields an image (the classic builder's intermediate images, with
``parent`` set), and the cache maps the step's key to it, so a rebuild with
nothing changed walks the keys and touches no filesystem. Config-only steps
make a new config over the parent's layers; RUN and COPY/ADD mount a
snapshot of the parent, change it, and turn the overlay upper dir into one
new layer (none when nothing changed: the history entry is then marked
``empty_layer``). Only the targets' stages are built. A failing step raises
``BuildError`` naming the Dockerfile line, and leaves no container, mount or
half-made image behind; the intermediate images of the steps before it stay
as cache, as with Docker.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from pathlib import Path

from stackctl.engine.build import instructions as ins
from stackctl.engine.build.cache import BuildCache, cache_key
from stackctl.engine.build.context import BuildContext
from stackctl.engine.build.executor import StepExecutor
from stackctl.engine.build.plan import Step, plan_stage
from stackctl.engine.build.progress import NullProgress, Progress
from stackctl.engine.build.stages import BuildFile, Stage, load
from stackctl.engine.build.targets import (
    base_name,
    meta_values,
    needed_stages,
    platform_warning,
    predefined_args,
)
from stackctl.engine.images.config import ImageConfig
from stackctl.engine.images.store import ImageRecord, ImageStore
from stackctl.errors import BuildError, NotFound, StackctlError
from stackctl.lightdc import dataclass, field

__all__ = ["BuildRequest", "BuildResult", "Builder", "NullProgress", "Progress"]


@dataclass(frozen=True)
class BuildRequest:
    context: Path
    dockerfile: bytes
    dockerfile_name: str = "Dockerfile"
    tags: tuple[str, ...] = ()
    build_args: Mapping[str, str] = field(default_factory=dict)
    target: str | None = None
    no_cache: bool = False
    labels: Mapping[str, str] = field(default_factory=dict)
    network: str = "none"  # RUN's default: "none" (offline isolation) or "host"


@dataclass(frozen=True)
class BuildResult:
    image_id: str
    tags: tuple[str, ...]
    steps: int
    cached: int
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class _StagePlan:
    index: int  # the stage
    base_stage: int | None  # FROM an earlier stage: its index
    base: ImageRecord | None  # FROM an image (None: scratch, or a stage)
    steps: list[Step]
    base_name: str  # as FROM names it, expanded


class Builder:
    def __init__(self, store: ImageStore, *, run_root: Path,
                 progress: Progress | None = None, runtime: str = "stackctl",
                 pull: Callable[[str], ImageRecord] | None = None) -> None:
        self.store = store
        self.pull = pull  # fetches a missing FROM / COPY --from image; None: local only
        self.runtime = runtime  # runs RUN steps: "stackctl" (built-in) or "runc"
        self.root = store.root
        self.run_root = Path(run_root)
        self.cache = BuildCache(store.root)
        self.progress: Progress = progress or NullProgress()
        self.executor = StepExecutor(store, run_root=self.run_root, progress=self.progress,
                                     runtime=runtime)

    def build(self, req: BuildRequest) -> BuildResult:
        from stackctl.engine.build.snapshot import sweep_stale
        from stackctl.engine.images import reference

        for tag in req.tags:  # a bad -t fails before any work, as with docker
            reference.parse(tag)
        build = load(req.dockerfile, file=req.dockerfile_name)
        sweep_stale(self.store)
        specific = Path(req.dockerfile_name + ".dockerignore")
        context = BuildContext.open(req.context,
                                    ignore_file=specific if specific.is_file() else None)
        meta = meta_values(build, req.build_args)
        stages = needed_stages(build, req.target, meta)
        warnings = [*build.ast.warnings, *self._unused_args(build, stages, req.build_args)]
        warnings += [w for s in stages if (w := platform_warning(build, s, meta))]
        for w in warnings:
            self.progress.warning(w)
        plans = self._plan(build, stages, meta, req)
        results, cached = self._walk(build, plans, context, no_cache=req.no_cache)
        total = sum(len(p.steps) for p in plans)
        final = results[plans[-1].index]
        if final is None:
            raise BuildError("the build produced no image (an empty FROM scratch stage)",
                             hint="add an instruction after FROM scratch")
        for tag in req.tags:
            # Re-tagging rewrites and fsyncs index.json: skip it when the tag is
            # already there (a fully cached rebuild).
            if str(reference.parse(tag)) not in final.refs:
                self.store.tag(final.id, tag)
        return BuildResult(final.id, req.tags, total, cached, tuple(warnings))

    def _plan(self, build: BuildFile, stages: list[Stage], meta: Mapping[str, str | None],
              req: BuildRequest) -> list[_StagePlan]:
        """Plan every stage first (pure): a stage built FROM another starts from
        that stage's planned config, so the step count is known up front."""
        plans: list[_StagePlan] = []
        final_state: dict[int, tuple[ImageConfig, str]] = {}
        for stage in stages:
            name = base_name(build, stage, meta)
            ref = build.stage(name)
            base: ImageRecord | None = None
            base_stage: int | None = None
            if ref is not None and ref.index < stage.index:
                cfg, author = final_state[ref.index]
                base_stage = ref.index
            else:
                base = self._external_base(build, stage.index, name)
                cfg = base.config if base else ImageConfig()
                author = base.image.author if base else ""
            labels = req.labels if stage is stages[-1] else None
            steps = plan_stage(build, stage, cfg, base_author=author, meta=meta,
                               build_args=req.build_args, labels=labels, network=req.network)
            final_state[stage.index] = ((steps[-1].state.config, steps[-1].state.author)
                                        if steps else (cfg, author))
            plans.append(_StagePlan(stage.index, base_stage, base, steps, name))
        return plans

    def _walk(self, build: BuildFile, plans: list[_StagePlan], context: BuildContext, *,
              no_cache: bool) -> tuple[dict[int, ImageRecord | None], int]:
        """Reuse or execute each step in order; returns each stage's image and
        the number of cache hits."""
        vertex = cached = 0
        results: dict[int, ImageRecord | None] = {}
        for plan in plans:
            stage = build.stages[plan.index]
            count = len(plan.steps) + 1
            vertex += 1
            self.progress.step(vertex, stage.label, 1, count, f"FROM {plan.base_name}")
            self.progress.done()
            current = results[plan.base_stage] if plan.base_stage is not None else plan.base
            for index, step in enumerate(plan.steps, start=2):
                vertex += 1
                config_only = step.kind in ("config", "workdir")
                shown = step.created_by if config_only else step.instruction.text
                self.progress.step(vertex, stage.label, index, count, shown)
                digest = self._sources_digest(step, context, build, results)
                key = cache_key(current.id if current else "scratch", step, digest)
                hit = None if no_cache else self._lookup(key)
                if hit is not None:
                    current = hit
                    cached += 1
                    self.progress.cached()
                    continue
                current = self.executor.execute(
                    build, step, current, context,
                    lambda st, ref: self._image_ref(build, st, ref, results))
                self.cache.put(key, current.id)
                self.progress.done()
            results[plan.index] = current
        return results, cached

    # --- pieces ----------------------------------------------------------------

    def _unused_args(self, build: BuildFile, stages: list[Stage],
                     args: Mapping[str, str]) -> list[str]:
        declared = {d.name for a in build.meta_args for d in a.args}
        for stage in stages:
            for cmd in stage.commands:
                if isinstance(cmd, ins.Arg):
                    declared |= {d.name for d in cmd.args}
        unused = sorted(set(args) - declared - set(predefined_args()))
        if not unused:
            return []
        return [f"[Warning] One or more build-args [{' '.join(unused)}] were not consumed"]

    def _external_base(self, build: BuildFile, index: int, name: str) -> ImageRecord | None:
        if name == "scratch":
            return None
        line = build.stages[index].source.line
        return self._local_or_pulled(name, f"{build.file}:{line}: FROM {name}")

    def _local_or_pulled(self, name: str, where: str,
                         missing: str = "no such image in the local store") -> ImageRecord:
        """An image from the store; when missing, pulled (as docker build does)
        if the builder was given a puller."""
        try:
            return self.store.resolve(name)
        except NotFound:
            if self.pull is None:
                raise BuildError(f"{where}: {missing}",
                                 hint=f"import or pull it first (stackctl import rootfs.tar "
                                 f"{name}, or stackctl pull {name})") from None
        try:
            return self.pull(name)
        except StackctlError as exc:
            raise BuildError(f"{where}: not in the local store, and pulling it failed: "
                             f"{exc.message}", hint=exc.hint or f"stackctl import a rootfs as "
                             f"{name}, or check the registry") from None

    def _lookup(self, key: str) -> ImageRecord | None:
        image_id = self.cache.get(key)
        if image_id is None:
            return None
        try:
            return self.store.get(image_id)
        except NotFound:
            self.cache.forget(key)
            return None

    def _copy_source(self, step: Step, context: BuildContext, build: BuildFile,
                     results: Mapping[int, ImageRecord | None]) -> ImageRecord | str | None:
        """The image a ``COPY --from`` reads (``"context"`` for the build context)."""
        assert step.copy is not None
        if not step.copy.from_:
            return "context"
        return self._image_ref(build, step, step.copy.from_, results)

    def _image_ref(self, build: BuildFile, step: Step, ref: str,
                   results: Mapping[int, ImageRecord | None]) -> ImageRecord | None:
        """A ``--from=`` name: a stage built before this one, or a local image."""
        word = step.instruction.node.cmd.upper()
        stage = build.stage(ref)
        if stage is not None:
            if stage.index not in results:
                raise BuildError(f"{build.file}:{step.instruction.line}: {word} --from={ref}: "
                                 "that stage is not built before this one",
                                 hint="a stage can only use stages defined above it")
            return results[stage.index]
        return self._local_or_pulled(
            ref, f"{build.file}:{step.instruction.line}: {word} --from={ref}",
            "no such stage, and no such image in the local store")

    def _sources_digest(self, step: Step, context: BuildContext, build: BuildFile,
                        results: Mapping[int, ImageRecord | None]) -> str:
        """What a step reads besides its parent: COPY/ADD sources, RUN bind mounts."""
        if step.run is not None:
            parts = []
            for m in step.run.mounts:
                if m.type != "bind":
                    continue
                if m.from_:
                    rec = self._image_ref(build, step, m.from_, results)
                    parts.append(rec.id if rec else "scratch")
                else:
                    rel = context.clean(m.source or ".", instruction="RUN --mount")
                    parts.append(context.digest([rel]))
            return ",".join(parts)
        if step.copy is None:
            return ""
        src = self._copy_source(step, context, build, results)
        if src != "context":
            return src.id if isinstance(src, ImageRecord) else "scratch"
        if step.copy.add and any(s.startswith(("http://", "https://"))
                                 for s in step.copy.sources):
            # A remote file can change under the same URL: without --checksum
            # there is nothing to key on but a fetch, so never reuse.
            return step.copy.checksum or secrets.token_hex(16)
        rels: list[str] = []
        word = "ADD" if step.copy.add else "COPY"
        for s in step.copy.sources:
            rels += context.expand(s, instruction=word)
        return context.digest(rels)
