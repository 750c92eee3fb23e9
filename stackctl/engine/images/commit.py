"""``commit`` (a container's changes -> a new image) and ``export`` (a container's whole
filesystem -> a tar), over the image store. The engine hands in plain values (the
container's upper dir, its image, its run overrides), so this module does not
depend on the container engine.

Commit = the base image + one layer made from the overlay upperdir (diff.py turns
overlay whiteouts into OCI ones) + a config that is the image's config with the
container's run overrides folded in, as Docker does (``--entrypoint``, the
command, ``-e``, ``-w``, ``-u``, labels, ``--expose``, healthcheck, stop signal),
then ``--change`` instructions on top. The files the runtime bind-mounts over
(``/etc/hosts``, ``/etc/hostname``, ``/etc/resolv.conf``) are left out when the
upper holds only their empty mount targets, as Docker's init layer keeps them out.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import stat
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO

from stackctl.engine.images.changes import apply_changes
from stackctl.engine.images.config import Healthcheck, ImageConfig
from stackctl.engine.images.store import ImageRecord, ImageStore
from stackctl.errors import ImageError
from stackctl.lightdc import dataclass, replace

MOUNT_TARGETS = frozenset({"etc/hosts", "etc/hostname", "etc/resolv.conf"})
NANO = 1_000_000_000


@dataclass(frozen=True)
class RunOverrides:
    """What ``run`` said on top of the image (None / empty: the image's own)."""

    command: tuple[str, ...] | None = None
    entrypoint: tuple[str, ...] | None = None
    env: tuple[str, ...] = ()
    working_dir: str | None = None
    user: str | None = None
    labels: Mapping[str, str] | None = None
    expose: tuple[str, ...] = ()
    health_test: tuple[str, ...] | None = None
    health_interval: float = 0.0  # seconds
    health_timeout: float = 0.0
    health_retries: int = 0
    health_start_period: float = 0.0
    stop_signal: str | None = None


def merged_config(image: ImageConfig, run: RunOverrides,
                  changes: Sequence[str] = ()) -> ImageConfig:
    """The committed image's config: Docker's merge of image config and run flags. Pure."""
    cfg = image
    if run.entrypoint is not None:
        # docker: --entrypoint resets the image's CMD unless a command was given too
        cfg = replace(cfg, entrypoint=run.entrypoint or None,
                      cmd=run.command if run.command is not None else None)
    elif run.command is not None:
        cfg = replace(cfg, cmd=run.command)
    for item in run.env:
        key, _, value = item.partition("=")
        cfg = cfg.with_env(key, value)
    if run.working_dir:
        cfg = replace(cfg, working_dir=run.working_dir)
    if run.user:
        cfg = replace(cfg, user=run.user)
    if run.labels:
        cfg = cfg.with_labels(dict(run.labels))
    if run.expose:
        ports = {p if "/" in p else f"{p}/tcp" for p in run.expose}
        cfg = replace(cfg, exposed_ports=tuple(sorted(set(cfg.exposed_ports) | ports)))
    if run.health_test is not None:
        cfg = replace(cfg, healthcheck=Healthcheck(
            run.health_test, int(run.health_interval * NANO), int(run.health_timeout * NANO),
            int(run.health_start_period * NANO), 0, run.health_retries))
    if run.stop_signal:
        cfg = replace(cfg, stop_signal=run.stop_signal)
    return apply_changes(cfg, changes)


def _skip_mount_targets(rel: str, st: os.stat_result) -> bool:
    return rel in MOUNT_TARGETS and stat.S_ISREG(st.st_mode) and st.st_size == 0


def commit_upper(store: ImageStore, base: ImageRecord, upper: Path, config: ImageConfig, *,
                 refs: Sequence[str] = (), author: str = "", comment: str = "",
                 created_by: str = "") -> ImageRecord:
    """A new image: ``base`` + the layer of ``upper`` + ``config``."""
    if not upper.is_dir():
        raise ImageError(f"the container's filesystem changes ({upper}) are missing",
                         hint="the container may have been removed while committing")
    with store.writing():
        layer = store.add_layer_from_dir(upper, parent_diff_ids=base.diff_ids,
                                         skip=_skip_mount_targets)
        return store.add_child(base, layer=layer, config=config, created_by=created_by,
                               comment=comment, author=author, refs=refs)


@contextlib.contextmanager
def merged_view(store: ImageStore, image: ImageRecord, upper: Path | None) -> Iterator[Path]:
    """A read-only overlay of ``image`` (and a container's ``upper`` on top), unmounted
    and removed on exit. The upper dir joins as the top *lower* layer: overlay honours
    its whiteouts there too, and nothing can be written through the view."""
    from stackctl.engine.images.layers import max_lowers
    from stackctl.engine.runtime.syscalls import MS_RDONLY, LinuxSyscalls

    base = store.tmp / f"view-{secrets.token_hex(6)}"
    target = base / "merged"
    target.mkdir(parents=True)
    empty = base / "empty"
    empty.mkdir()
    sc = LinuxSyscalls()
    mounted = False
    try:
        lowers = store.lower_dirs(image, max_layers=max_lowers(store.layers.layers_dir) - 1) \
            if image.diff_ids else [empty]
        stack = [*(str(p) for p in reversed(lowers))]
        if upper is not None:
            stack.insert(0, str(upper))
        if len(stack) == 1:
            stack.append(str(empty))  # overlay wants two layers without an upperdir
        try:
            sc.mount("overlay", str(target), "overlay", MS_RDONLY, f"lowerdir={':'.join(stack)}")
        except OSError as exc:
            raise ImageError(f"cannot mount the container's filesystem: {exc}",
                             hint="export needs root and overlayfs") from exc
        mounted = True
        yield target
    finally:
        if mounted:
            with contextlib.suppress(OSError):
                sc.umount2(str(target), 2)  # MNT_DETACH
        shutil.rmtree(base, ignore_errors=True)


def export_tree(root: Path, out: IO[bytes]) -> int:
    """``docker export``: the tree as one tar (mount targets left out, like commit)."""
    from stackctl.engine.images.diff import write_layer

    return write_layer(root, out, skip=_skip_mount_targets)


__all__ = ["MOUNT_TARGETS", "RunOverrides", "commit_upper", "export_tree", "merged_config",
           "merged_view"]
