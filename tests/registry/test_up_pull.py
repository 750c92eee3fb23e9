"""``up`` pulls a missing image from the loopback registry and runs it (real kernel).

The scheduler's driver calls ``stackctl.engine.registry.client.pull(engine, image)``
for its PullImage operations; this proves that seam end to end.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from stackctl.engine.api import Engine
from stackctl.engine.images.store import ImageStore
from stackctl.engine.registry import client
from stackctl.engine.registry.push import push_image
from tests.fixtures_images import import_busybox
from tests.registry.server import Registry
from tests.scheduler.stackenv import StackEnv


@pytest.fixture
def pushed(registry: Registry) -> Iterator[tuple[str, str]]:
    """busybox pushed to the registry as HOST/lib/busybox:1 -> (name, image ID)."""
    src = Path(tempfile.mkdtemp(prefix="stackctl-test-"))
    try:
        rec = import_busybox(src, f"{registry.host}/lib/busybox:1")
        with ImageStore(src) as store:
            push_image(store, f"{registry.host}/lib/busybox:1")
        yield f"{registry.host}/lib/busybox:1", rec.id
    finally:
        shutil.rmtree(src, ignore_errors=True)


def test_engine_seam_pull_and_push(pushed: tuple[str, str], roots: tuple[Path, Path],
                                   registry: Registry) -> None:
    name, image_id = pushed
    with Engine(*roots) as eng:
        assert client.pull(eng, name).record.id == image_id
        assert eng.images.resolve(name).id == image_id
        eng.images.tag(name, f"{registry.host}/lib/copy:1")
        assert client.push(eng, f"{registry.host}/lib/copy:1").mounted == 2


@pytest.mark.kernel
def test_up_pulls_a_missing_image_and_runs_it(pushed: tuple[str, str],
                                              roots: tuple[Path, Path], tmp_path: Path,
                                              unique: str,
                                              capfd: pytest.CaptureFixture[str]) -> None:
    name, image_id = pushed
    env = StackEnv(roots[0], roots[1], tmp_path, f"t{unique}", capfd)
    try:
        env.write(f"""
            services:
              app:
                image: {name}
                network_mode: none
                command: FOREVER
            """)
        env.ok("up", "-d")
        assert env.state("app") == [(1, "running")]
        with ImageStore(roots[0]) as store:
            assert store.resolve(name).id == image_id
        env.ok("down", "-t", "1")
        assert env.containers() == {}
    finally:
        env.cleanup()


def test_compose_pull_and_push(pushed: tuple[str, str], roots: tuple[Path, Path],
                               registry: Registry, tmp_path: Path, unique: str,
                               capfd: pytest.CaptureFixture[str]) -> None:
    """``compose pull`` / ``compose push`` go through the same seam (no container runs)."""
    name, image_id = pushed
    env = StackEnv(roots[0], roots[1], tmp_path, f"t{unique}", capfd)
    env.write(f"""
        services:
          app:
            image: {name}
        """)
    env.compose("pull")
    with ImageStore(roots[0]) as store:
        assert store.resolve(name).id == image_id
        store.tag(name, f"{registry.host}/lib/again:1")
    env.write(f"""
        services:
          app:
            image: {registry.host}/lib/again:1
        """)
    env.compose("push")
    assert "1" in registry.tags["lib/again"]
