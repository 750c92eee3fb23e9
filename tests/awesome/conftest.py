"""The awesome-compose samples' base image, in each test's own state root.

``scripts/awesome-image.sh`` builds the Debian tarball once per machine (about
4 minutes, cached under /var/cache/stackctl). Once per session the tarball's
digest is read (cached beside it) and its layer unpacked once per machine under
``.cache/``. Each test's import then costs milliseconds, not the ~30 s of a
real ``stackctl import`` of 500 MB: the blob is a hardlink to the tarball
(an uncompressed layer's blob IS the tar) and ``layers/<id>`` a symlink to the
shared unpacked copy. The store never writes into either; removing them only
unlinks. The image record itself goes through the store's public add_image.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from stackctl.engine.images import tarsafe
from stackctl.engine.images.config import (
    MEDIA_LAYER,
    HistoryEntry,
    Image,
    ImageConfig,
    now_rfc3339,
)
from stackctl.engine.images.content import Descriptor
from stackctl.engine.images.records import Layer
from stackctl.engine.images.store import ImageStore
from tests.awesome.samples import BASE
from tests.images import CACHE, REPO

IMAGE_CACHE = Path(os.environ.get("STACKCTL_IMAGE_CACHE", "/var/cache/stackctl"))
# what Debian's official image sets; a plain import has no PATH, and a Dockerfile's
# ENV PATH="$VENV/bin:$PATH" would then lose /usr/bin
CONFIG = ImageConfig(env=("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",),
                     cmd=("bash",))


@dataclass(frozen=True)
class BaseLayer:
    tar: Path
    digest: str  # sha256:<hex> of the tar: the blob digest and the diff ID
    size: int
    unpacked: Path  # holds diff/


def _digest(tar: Path) -> str:
    st = tar.stat()
    stamp = tar.with_name(tar.name + ".sha256")
    key = f"{st.st_size} {st.st_mtime_ns}"
    if stamp.exists():
        cached_key, _, hexid = stamp.read_text().strip().rpartition(" ")
        if cached_key == key:
            return f"sha256:{hexid}"
    h = hashlib.sha256()
    with open(tar, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    stamp.write_text(f"{key} {h.hexdigest()}\n")
    return f"sha256:{h.hexdigest()}"


@pytest.fixture(scope="session")
def base_layer() -> BaseLayer:
    subprocess.run([str(REPO / "scripts" / "awesome-image.sh")], check=True)
    tar = IMAGE_CACHE / "awesome-bookworm.tar"
    digest = _digest(tar)
    hexid = digest.split(":", 1)[1]
    unpacked = CACHE / f"awesome-layer-{hexid}"
    if not (unpacked / "diff").is_dir():
        work = CACHE / f"awesome-layer-tmp{os.getpid()}"
        shutil.rmtree(work, ignore_errors=True)
        tarsafe.extract(tar, work / "diff", whiteouts="overlay", devices="allow")
        try:
            os.rename(work, unpacked)
        except OSError:  # another session won the race
            shutil.rmtree(work, ignore_errors=True)
    for stale in CACHE.glob("awesome-layer-*"):  # of an image rebuilt since: 500 MB each
        if stale != unpacked and not stale.name.startswith("awesome-layer-tmp"):
            shutil.rmtree(stale, ignore_errors=True)
    return BaseLayer(tar, digest, tar.stat().st_size, unpacked)


def seed_base_image(root: Path, layer: BaseLayer) -> None:
    """``stackctl-awesome/base:bookworm`` in the state root ``root``, without copies."""
    hexid = layer.digest.split(":", 1)[1]
    with ImageStore(root) as store:
        blob = store.content.path(layer.digest)
        if not blob.exists():
            try:
                os.link(layer.tar, blob)
            except OSError:  # another filesystem
                shutil.copyfile(layer.tar, blob)
        dest = store.layers.layers_dir / hexid
        if not dest.exists():
            dest.symlink_to(layer.unpacked)
        created = now_rfc3339()
        image = Image(config=CONFIG, diff_ids=(layer.digest,), created=created,
                      history=(HistoryEntry(created=created,
                                            created_by="scripts/awesome-image.sh"),))
        store.add_image(image, [Layer(Descriptor(MEDIA_LAYER, layer.digest, layer.size),
                                      layer.digest)], [BASE])


@pytest.fixture
def awesome_roots(roots: tuple[Path, Path], base_layer: BaseLayer) -> tuple[Path, Path]:
    """The test's (state root, run root), with the samples' base image in it."""
    seed_base_image(roots[0], base_layer)
    return roots
