"""Push an image to the loopback registry, pull it into a fresh state root."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from stackctl.engine.images.store import ImageRecord, ImageStore
from stackctl.engine.registry.pull import pull_image
from stackctl.engine.registry.push import push_image
from tests.registry.server import Registry


@pytest.fixture
def other_root() -> Path:
    base = Path(tempfile.mkdtemp(prefix="stackctl-test-"))
    yield base
    shutil.rmtree(base, ignore_errors=True)


def _push(root: Path, reg: Registry, image: ImageRecord, name: str, **kw: object) -> object:
    with ImageStore(root) as store:
        store.tag(image.id, name)
        return push_image(store, name, **kw)


def test_push_then_pull_gives_the_same_image(registry: Registry,
                                             app_image: tuple[Path, ImageRecord],
                                             other_root: Path) -> None:
    root, image = app_image
    name = f"{registry.host}/team/app:1"
    pushed = _push(root, registry, image, name)
    assert pushed.digest == image.manifest_digest
    assert pushed.uploaded == 3 and pushed.existing == 0  # 2 layers + config
    assert registry.tags["team/app"]["1"] == image.manifest_digest

    with ImageStore(other_root) as store:
        got = pull_image(store, name)
        assert got.record.id == image.id
        assert got.record.manifest_digest == image.manifest_digest
        assert got.fetched == 2 and not got.up_to_date
        assert store.resolve(name).id == image.id
        dirs = store.layer_dirs(got.record)
    assert (dirs[-1] / "app" / "hello.txt").read_text() == "hello from the registry\n"
    assert (dirs[-1] / "app" / "run.sh").stat().st_mode & 0o777 == 0o750
    # the bottom layer is a runnable busybox root
    out = subprocess.run(["chroot", str(dirs[0]), "/bin/busybox", "echo", "alive"],
                         capture_output=True, text=True, check=True)
    assert out.stdout == "alive\n"


def test_second_push_and_pull_are_no_ops(registry: Registry,
                                         app_image: tuple[Path, ImageRecord],
                                         other_root: Path) -> None:
    root, image = app_image
    name = f"{registry.host}/team/app:1"
    _push(root, registry, image, name)
    again = _push(root, registry, image, name)
    assert again.uploaded == 0 and again.existing == 3
    with ImageStore(other_root) as store:
        pull_image(store, name)
        gets = registry.count("GET", "/blobs/" + image.id)
        second = pull_image(store, name)
    assert second.up_to_date and second.fetched == 0
    assert registry.count("GET", "/blobs/" + image.id) == gets
