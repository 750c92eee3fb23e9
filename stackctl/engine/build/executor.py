"""Executing one step: config-only, WORKDIR, RUN or COPY/ADD -> a new image.

    parent image --mount snapshot--> change it (mkdir / run / copy) --upper dir-->
    store.add_layer_from_dir --> store.add_child (config + one history entry)

A step that changes no file adds no layer: its history entry is marked
``empty_layer``. The snapshot is unmounted and removed whatever happens;
the image is recorded only when the step succeeded.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from stackctl.engine.build.context import BuildContext
from stackctl.engine.build.plan import Step
from stackctl.engine.build.progress import Progress
from stackctl.engine.build.stages import BuildFile
from stackctl.engine.images.store import ImageRecord, ImageStore, Layer
from stackctl.errors import BuildError, StackctlError

__all__ = ["RefResolver", "StepExecutor"]

# Resolves a ``--from=`` name (stage or image) for the step being executed.
RefResolver = Callable[[Step, str], "ImageRecord | None"]


class StepExecutor:
    def __init__(self, store: ImageStore, *, run_root: Path, progress: Progress,
                 runtime: str = "stackctl") -> None:
        self.store = store
        self.root = store.root
        self.run_root = run_root
        self.progress = progress
        self.runtime = runtime

    def execute(self, build: BuildFile, step: Step, parent: ImageRecord | None,
                context: BuildContext, refs: RefResolver) -> ImageRecord:
        """Carry out ``step`` on ``parent``; return the image it makes."""
        if step.kind == "config":
            return self._record(parent, step, None)
        from stackctl.engine.build.snapshot import mounted

        with mounted(self.store, parent) as snap:
            if step.kind == "workdir":
                self._mkdir_workdir(build, step, snap.rootfs)
            elif step.run is not None:
                self._run(build, step, snap, context, refs)
            else:
                self._copy(build, step, snap.rootfs, context, refs)
            if not any(os.scandir(snap.upper)):
                return self._record(parent, step, None)
            # Blob and image are written under the store's writer lock, so a
            # concurrent garbage collection cannot sweep the blob in between.
            with self.store.writing():
                layer = self.store.add_layer_from_dir(
                    snap.upper, parent_diff_ids=parent.diff_ids if parent else ())
                return self._record(parent, step, layer)

    def _record(self, parent: ImageRecord | None, step: Step, layer: Layer | None) -> ImageRecord:
        return self.store.add_child(parent, layer=layer, config=step.state.config,
                                    created_by=step.created_by, comment="stackctl build",
                                    author=step.state.author)

    def _mkdir_workdir(self, build: BuildFile, step: Step, rootfs: Path) -> None:
        from stackctl.engine.runtime.rootfs import secure_join
        from stackctl.engine.runtime.users import resolve_user

        cfg = step.state.config
        uid = gid = 0
        if cfg.user:
            try:
                user = resolve_user(rootfs, cfg.user)
            except StackctlError as exc:
                raise BuildError(f"{build.file}:{step.instruction.line}: USER {cfg.user}: "
                                 f"{exc.message}", hint=exc.hint) from None
            uid, gid = user.uid, user.gid
        real = secure_join(str(rootfs), cfg.working_dir)
        if not os.path.isdir(real):
            os.makedirs(real, 0o755)
            os.chown(real, uid, gid)

    def _run(self, build: BuildFile, step: Step, snap: object, context: BuildContext,
             refs: RefResolver) -> None:
        from stackctl.engine.build.runstep import run_step
        from stackctl.engine.build.snapshot import Snapshot

        assert step.run is not None and isinstance(snap, Snapshot)
        with ExitStack() as stack:
            views: dict[str, Path] = {}
            for ref in {m.from_ for m in step.run.mounts if m.from_}:
                rec = refs(step, ref)
                views[ref] = stack.enter_context(self._image_view(rec))
            code = run_step(step.run, snap, root=self.root, run_root=self.run_root,
                            context=context, output=self.progress.output, views=views,
                            runtime=self.runtime)
        if code != 0:
            shown = " ".join(step.run.argv)
            raise BuildError(
                f"{build.file}:{step.instruction.line}: {step.instruction.text}: process "
                f"\"{shown}\" did not complete successfully: exit code: {code}",
                hint="the command failed inside the build container; its output is above")

    def _copy(self, build: BuildFile, step: Step, rootfs: Path, context: BuildContext,
              refs: RefResolver) -> None:
        from stackctl.engine.build.copyop import apply_copy

        assert step.copy is not None
        try:
            if not step.copy.from_:
                apply_copy(step.copy, rootfs, context, from_context=True)
                return
            with self._image_view(refs(step, step.copy.from_)) as root:
                apply_copy(step.copy, rootfs, BuildContext(root), from_context=False)
        except StackctlError as exc:
            if isinstance(exc, BuildError) and exc.message.startswith(build.file + ":"):
                raise
            raise BuildError(f"{build.file}:{step.instruction.line}: {exc.message}",
                             hint=exc.hint) from None

    @contextmanager
    def _image_view(self, rec: ImageRecord | None) -> Iterator[Path]:
        """A view of an image's filesystem (COPY --from, RUN --mount from=); what
        is written to it is thrown away."""
        from stackctl.engine.build.snapshot import mounted

        with mounted(self.store, rec) as snap:
            yield snap.rootfs

