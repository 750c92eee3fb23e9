"""Image fixtures for every test that needs an image in a state root.

Use the fixture (put ``from tests.fixtures_images import busybox_image  # noqa: F401``
in your test directory's conftest.py), or call ``import_busybox(root)`` directly::

    def test_run(busybox_image):
        state_root, ref = busybox_image        # ref == "busybox:latest"
        ...

Import is a hot path for tests: the unpacked busybox layer is built once per
machine under ``.cache/`` and each root's ``layers/<id>`` is a symlink to it, so
the import only hashes the tarball and writes a 2 MB blob; it skips the unpack.
The store never writes into a layer dir (containers get their own upper dir),
and removing the layer unlinks the symlink, never the shared copy.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest

from stackctl.engine.images import tarsafe
from stackctl.engine.images.store import ImageRecord, ImageStore
from tests.images import CACHE, busybox_rootfs_tar

BUSYBOX_REF = "busybox:latest"


def _seed_layer(root: Path, tar: Path) -> None:
    """Copy the cached unpacked layer into ``root/layers`` (chain == diff ID for one layer)."""
    h = hashlib.sha256()
    with open(tar, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    hexid = h.hexdigest()
    cached = CACHE / f"busybox-layer-{hexid}"
    if not cached.is_dir():
        work = CACHE / f"busybox-layer-tmp{os.getpid()}"
        shutil.rmtree(work, ignore_errors=True)
        tarsafe.extract(tar, work / "diff", whiteouts="overlay")
        try:
            os.rename(work, cached)
        except OSError:
            shutil.rmtree(work, ignore_errors=True)
    dest = root / "layers" / hexid
    if not dest.exists():
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.symlink_to(cached)


def import_busybox(root: Path, ref: str = BUSYBOX_REF) -> ImageRecord:
    """Import the offline busybox rootfs into the state root ``root`` as ``ref``."""
    tar = busybox_rootfs_tar()
    _seed_layer(root, tar)
    with ImageStore(root) as store:
        return store.import_tar(tar, ref, changes=['CMD ["sh"]'], source_name=str(tar))


@pytest.fixture
def busybox_image(roots: tuple[Path, Path]) -> tuple[Path, str]:
    """(state root, image ref) with busybox imported into the test's fresh state root."""
    root, _run_root = roots
    import_busybox(root)
    return root, BUSYBOX_REF
