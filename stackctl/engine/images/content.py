"""The content store: blobs addressed by their sha256 digest.

    <layout>/blobs/sha256/<hex>     committed blobs, immutable, read-only (0444)
    <tmp>/ingest-<random>           a write in progress

A write goes to an ingest file, is hashed as it is written, verified against
the expected size and digest (when known), fsynced, and only then renamed into
place with ``os.replace`` (containerd's content/local). A crash at any point
leaves either no blob or a complete one; stray ingest files are removed by
``clean_ingest``. Two writers of the same content race harmlessly: both
renames install identical bytes.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from pathlib import Path

from stackctl.errors import ImageError
from stackctl.lightdc import dataclass

TYPE_CHECKING = False
if TYPE_CHECKING:
    import hashlib


def _sha256(data: bytes = b"") -> hashlib._Hash:
    import hashlib  # here: OpenSSL's start-up is ~3 ms of every `run`, which hashes nothing

    return hashlib.sha256(data)

TYPE_CHECKING = False  # typing costs ~3 ms at start-up; annotations only
if TYPE_CHECKING:
    from typing import BinaryIO

_DIGEST = re.compile(r"sha256:([0-9a-f]{64})")
CHUNK = 1 << 20


@dataclass(frozen=True)
class Descriptor:
    """An OCI content descriptor (the fields stackctl uses)."""

    media_type: str
    digest: str
    size: int

    def to_json(self) -> dict[str, object]:
        return {"mediaType": self.media_type, "digest": self.digest, "size": self.size}


def digest_hex(digest: str) -> str:
    """The hex part of ``sha256:<hex>``; ImageError for anything else."""
    m = _DIGEST.fullmatch(digest)
    if m is None:
        raise ImageError(f"invalid digest {digest!r}", hint="digests look like sha256:<64 hex>")
    return m.group(1)


def sha256_bytes(data: bytes) -> str:
    return "sha256:" + _sha256(data).hexdigest()


class Writer:
    """An open ingest: write bytes, then ``commit`` to install the blob."""

    def __init__(self, store: ContentStore) -> None:
        self._store = store
        self.path = store.ingest_dir / f"ingest-{os.urandom(8).hex()}"
        self._fh: BinaryIO = open(self.path, "xb")  # noqa: SIM115 - closed in commit/abort
        self._hash = _sha256()
        self.size = 0
        self._done = False

    def write(self, data: bytes) -> int:
        self._fh.write(data)
        self._hash.update(data)
        self.size += len(data)
        return len(data)

    def flush(self) -> None:
        self._fh.flush()

    @property
    def digest(self) -> str:
        return "sha256:" + self._hash.hexdigest()

    def commit(self, *, expected_digest: str | None = None,
               expected_size: int | None = None) -> str:
        """Verify, fsync and install; return the digest. Abort on mismatch."""
        try:
            digest = self.digest
            if expected_size is not None and expected_size != self.size:
                raise ImageError(
                    f"blob {expected_digest or digest}: size {self.size} does not match the "
                    f"expected {expected_size}",
                    hint="the archive or download is truncated or corrupt",
                )
            if expected_digest is not None and expected_digest != digest:
                raise ImageError(
                    f"blob digest mismatch: expected {expected_digest}, got {digest}",
                    hint="the archive or download is corrupt",
                )
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self._fh.close()
            os.chmod(self.path, 0o444)
            target = self._store.path(digest)
            if target.exists():
                self.path.unlink()
            else:
                os.replace(self.path, target)
                _fsync_dir(target.parent)
            self._done = True
            return digest
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        if self._done:
            return
        self._done = True
        with contextlib.suppress(OSError):
            self._fh.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


class ContentStore:
    """Blobs under ``layout/blobs/sha256``; ingest files under ``tmp``."""

    def __init__(self, layout: Path, tmp: Path) -> None:
        self.blob_dir = layout / "blobs" / "sha256"
        self.ingest_dir = tmp
        self.blob_dir.mkdir(parents=True, exist_ok=True)
        self.ingest_dir.mkdir(parents=True, exist_ok=True)

    def path(self, digest: str) -> Path:
        return self.blob_dir / digest_hex(digest)

    def has(self, digest: str) -> bool:
        return self.path(digest).is_file()

    def size(self, digest: str) -> int:
        return self.path(digest).stat().st_size

    @contextlib.contextmanager
    def writer(self) -> Iterator[Writer]:
        """An ingest that is aborted unless committed inside the block."""
        w = Writer(self)
        try:
            yield w
        finally:
            w.abort()

    def put_bytes(self, data: bytes, *, expected_digest: str | None = None) -> str:
        digest = sha256_bytes(data)
        if expected_digest is not None and digest != expected_digest:
            raise ImageError(f"blob digest mismatch: expected {expected_digest}, got {digest}",
                             hint="the archive is corrupt")
        if self.has(digest):
            return digest
        with self.writer() as w:
            w.write(data)
            return w.commit()

    def put_stream(self, src: BinaryIO, *, expected_digest: str | None = None,
                   expected_size: int | None = None) -> tuple[str, int]:
        """Copy ``src`` into the store; return (digest, size)."""
        with self.writer() as w:
            while chunk := src.read(CHUNK):
                w.write(chunk)
            size = w.size
            return w.commit(expected_digest=expected_digest, expected_size=expected_size), size

    def put_file(self, path: Path, *, expected_digest: str | None = None) -> tuple[str, int]:
        """Install a file by copying it (hardlinked files would share mutability)."""
        with open(path, "rb") as src:
            return self.put_stream(src, expected_digest=expected_digest)

    def read_bytes(self, digest: str) -> bytes:
        try:
            return self.path(digest).read_bytes()
        except FileNotFoundError:
            raise ImageError(f"blob {digest} is missing from the content store",
                             hint="the store is damaged; remove and re-import the image") from None

    def open(self, digest: str) -> BinaryIO:
        try:
            return open(self.path(digest), "rb")
        except FileNotFoundError:
            raise ImageError(f"blob {digest} is missing from the content store",
                             hint="the store is damaged; remove and re-import the image") from None

    def delete(self, digest: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path(digest).unlink()

    def digests(self) -> list[str]:
        return sorted("sha256:" + p.name for p in self.blob_dir.iterdir()
                      if _DIGEST.fullmatch("sha256:" + p.name))

    def verify(self, digest: str) -> bool:
        h = _sha256()
        with self.open(digest) as fh:
            while chunk := fh.read(CHUNK):
                h.update(chunk)
        return "sha256:" + h.hexdigest() == digest

    def clean_ingest(self, max_age: float = 60.0) -> None:
        """Remove ingest files left by crashed writers (older than ``max_age`` seconds;
        0 when the caller knows no writer is active)."""
        import time

        cutoff = time.time() - max_age
        for p in self.ingest_dir.glob("ingest-*"):
            with contextlib.suppress(OSError):
                if p.stat().st_mtime <= cutoff:
                    p.unlink()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


__all__ = ["ContentStore", "Descriptor", "Writer", "digest_hex", "sha256_bytes"]
