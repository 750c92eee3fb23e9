"""Diff IDs computed while a layer streams by: sha256 of the *uncompressed* tar.

A registry serves layer blobs (usually gzip); the image config lists diff IDs
of the uncompressed tars. Checking them during the download costs one zlib
pass and no second read of the file, and it is what stops a registry from
serving a blob that matches its manifest digest but not the image config.
Concatenated gzip members (allowed by RFC 1952, produced by some tools) are
followed; zstd is detected and refused.
"""

from __future__ import annotations

import hashlib
import zlib
from pathlib import Path

from stackctl.errors import ImageError

_GZIP = b"\x1f\x8b"
_ZSTD = b"\x28\xb5\x2f\xfd"
_CHUNK = 1 << 20


class DiffHasher:
    """Feed the blob's bytes; ``hexdigest`` gives ``sha256:<hex>`` of the uncompressed tar."""

    def __init__(self) -> None:
        self._sha = hashlib.sha256()
        self._head = b""
        self._mode = ""  # "" undecided | plain | gzip | trailer
        self._z: zlib._Decompress | None = None

    def update(self, data: bytes) -> None:
        if not self._mode:
            self._head += data
            if len(self._head) < 4:
                return
            data, self._head = self._head, b""
            if data.startswith(_ZSTD):
                raise ImageError("zstd-compressed layers are not supported",
                                 hint="push the image with gzip layers")
            self._mode = "gzip" if data.startswith(_GZIP) else "plain"
        if self._mode == "plain":
            self._sha.update(data)
            return
        if self._mode == "trailer":
            return
        while data:
            if self._z is None:
                self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)
            try:
                self._sha.update(self._z.decompress(data))
            except zlib.error as exc:
                raise ImageError(f"layer is not valid gzip: {exc}",
                                 hint="the registry sent a damaged layer") from exc
            if not self._z.eof:
                return
            data = self._z.unused_data
            self._sha.update(self._z.flush())
            self._z = None
            if data and not data.startswith(_GZIP):
                self._mode = "trailer"  # padding after the last member: gzip ignores it too
                return

    def hexdigest(self, what: str = "layer") -> str:
        if not self._mode and self._head:
            self._mode = "plain"
            self._sha.update(self._head)
            self._head = b""
        if self._mode == "gzip" and self._z is not None:
            raise ImageError(f"{what}: the gzip stream is truncated",
                             hint="the registry sent a damaged layer")
        return "sha256:" + self._sha.hexdigest()


def diff_id_of_file(path: Path) -> str:
    hasher = DiffHasher()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            hasher.update(chunk)
    return hasher.hexdigest(str(path))


__all__ = ["DiffHasher", "diff_id_of_file"]
