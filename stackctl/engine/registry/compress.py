"""``push --compress``: gzip copies of uncompressed layers and the manifest naming them.

Imported and built images keep their layers as plain tars (the store unpacks
them once; compression buys nothing locally). Registries are reached over
networks, so ``--compress`` pushes gzip copies instead, as ``docker push`` does.
The config is unchanged (its diff IDs are of the uncompressed tars), so the
image ID on the registry is the local one; the manifest is new, and so is
its digest.

The copies are deterministic (gzip header with mtime 0 and no file name, zlib
level 6): the same image always pushes the same blobs and manifest digest.
They are ordinary blobs of the content store that no image references, so
``image prune`` sweeps them; ``<root>/registry/gzip.json`` (plain digest ->
gzip descriptor) finds them again without recompressing while they exist.
"""

from __future__ import annotations

import contextlib
import fcntl
import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from stackctl.engine.images.config import (
    DOCKER_LAYER,
    DOCKER_LAYER_GZIP,
    MEDIA_LAYER,
    MEDIA_LAYER_GZIP,
)
from stackctl.engine.images.content import CHUNK, Descriptor
from stackctl.engine.images.layout import Manifest, atomic_write
from stackctl.engine.images.store import ImageStore

_GZIP_TYPE = {MEDIA_LAYER: MEDIA_LAYER_GZIP, DOCKER_LAYER: DOCKER_LAYER_GZIP}
LEVEL = 6


def compressed_manifest(store: ImageStore, manifest: Manifest) -> tuple[Manifest, bytes]:
    """``manifest`` with every uncompressed layer replaced by a gzip copy (made or
    found in the content store). Call inside ``store.writing()`` and push before
    leaving it, so a concurrent prune cannot sweep the copies first."""
    cache = _Cache(store.root / "registry" / "gzip.json")
    layers = tuple(_gzip_layer(store, cache, d) if d.media_type in _GZIP_TYPE else d
                   for d in manifest.layers)
    new = Manifest(manifest.config, layers, manifest.media_type)
    return new, new.to_bytes()


def _gzip_layer(store: ImageStore, cache: _Cache, plain: Descriptor) -> Descriptor:
    known = cache.get(plain.digest)
    if known is not None and store.content.has(known.digest):
        return known
    with store.content.writer() as w, store.content.open(plain.digest) as src:
        # filename="" and mtime=0: no name or time in the header, so the bytes are stable
        with gzip.GzipFile(filename="", mode="wb", fileobj=w, compresslevel=LEVEL,
                           mtime=0) as gz:
            while chunk := src.read(CHUNK):
                gz.write(chunk)
        size = w.size
        digest = w.commit()
    desc = Descriptor(_GZIP_TYPE[plain.media_type], digest, size)
    cache.put(plain.digest, desc)
    return desc


class _Cache:
    def __init__(self, path: Path) -> None:
        self.path = path

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}  # a lost cache only costs a recompression
        return data if isinstance(data, dict) else {}

    def get(self, digest: str) -> Descriptor | None:
        entry: Any = self._read().get(digest)
        try:
            return Descriptor(str(entry["mediaType"]), str(entry["digest"]),
                              int(entry["size"]))
        except (TypeError, KeyError, ValueError):
            return None

    def put(self, digest: str, desc: Descriptor) -> None:
        with self._locked():
            data = self._read()
            data[digest] = desc.to_json()
            atomic_write(self.path, json.dumps(data, indent=1, sort_keys=True).encode())

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_name(self.path.name + ".lock"), "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            yield


__all__ = ["compressed_manifest"]
