"""Layers: diff IDs, chain IDs, compression, and unpacked layer directories.

Three digests name a layer, and they are kept apart:

    blob digest  sha256 of the bytes in the content store (maybe gzip): what a
                 manifest lists and a registry serves
    diff ID      sha256 of the *uncompressed* tar: what the image config's
                 ``rootfs.diff_ids`` lists; the same for gzip and plain blobs
    chain ID     the identity of a layer *with everything under it*:
                 chain(L1) = diffid(L1); chain(Ln) = sha256(chain(Ln-1) + " " + diffid(Ln))

A layer is unpacked once per chain ID, under ``layers/<chain hex>/diff``,
with whiteouts in overlayfs form (0/0 char devices, opaque xattr), and shared
read-only by every image and container whose stack has that chain as a prefix.
Unpacking goes to a temp dir that is renamed into place, so a layer dir that
exists is complete.

Overlay depth: the kernel caps the mount option string at one page (4096
bytes) and the stack at 500 lowerdirs. ``LayerStore.lower_dirs`` returns at
most ``max_lowers()`` directories (as many of this root's layer paths as fit
3000 bytes: ~30 under /var/lib/stackctl): when an image is deeper, its lowest layers
are flattened (applied in order, whiteouts deleting) into one directory under
``flat/<chain hex>/diff``, cached by the chain ID of the last merged layer so
images sharing a base share the flattened dir too.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from pathlib import Path

from stackctl.engine.images.content import digest_hex
from stackctl.errors import ImageError
from stackctl.fsutil import rmtree

TYPE_CHECKING = False  # typing costs ~3 ms at start-up; annotations only
if TYPE_CHECKING:
    from typing import IO, Literal

    Compression = Literal["gzip", "bzip2", "xz", "zstd"] | None

if TYPE_CHECKING:
    from stackctl.engine.images.store import ImageStore, Layer


# The overlay mount data must fit one page (4096 bytes) with upperdir=, workdir=
# and the other options; lowerdir= gets this share of it. OVL_MAX_STACK is 500.
LOWERDIR_BUDGET = 3000
DEFAULT_MAX_LAYERS = 128


def max_lowers(layers_dir: Path, budget: int = LOWERDIR_BUDGET) -> int:
    """How many ``<layers_dir>/<64 hex>/diff`` paths fit in ``budget`` bytes, ':'-joined."""
    one = len(str(layers_dir)) + 1 + 64 + len("/diff") + 1
    return max(2, min(DEFAULT_MAX_LAYERS, budget // one))


def chain_ids(diff_ids: Sequence[str]) -> list[str]:
    out: list[str] = list(diff_ids[:1])
    if len(diff_ids) > 1:
        from stackctl.hashing import sha256_hex

        for diff_id in diff_ids[1:]:
            out.append("sha256:" + sha256_hex(f"{out[-1]} {diff_id}".encode()))
    return out


def detect_compression(head: bytes) -> Compression:
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    if head.startswith(b"BZh"):
        return "bzip2"
    if head.startswith(b"\xfd7zXZ\x00"):
        return "xz"
    if head.startswith(b"\x28\xb5\x2f\xfd"):
        return "zstd"
    return None


def decompressed(src: IO[bytes], kind: Compression) -> IO[bytes]:
    """A reader of the uncompressed bytes of ``src``."""
    if kind is None:
        return src
    # imported here: the run path resolves images without ever decompressing
    import bz2
    import gzip
    import lzma

    if kind == "gzip":
        return gzip.GzipFile(fileobj=src, mode="rb")  # type: ignore[return-value]
    if kind == "bzip2":
        return bz2.BZ2File(src, "rb")
    if kind == "xz":
        return lzma.LZMAFile(src, "rb")
    raise ImageError("zstd-compressed archives are not supported",
                     hint="decompress it first (zstd -d) or use gzip")


class PeekReader:
    """Wraps a non-seekable stream so its first bytes can be looked at."""

    def __init__(self, src: IO[bytes], size: int = 16) -> None:
        self._src = src
        self._head = src.read(size)

    @property
    def head(self) -> bytes:
        return self._head

    def read(self, n: int = -1) -> bytes:
        if self._head:
            if n < 0:
                data, self._head = self._head + self._src.read(), b""
                return data
            data, self._head = self._head[:n], self._head[n:]
            if len(data) < n:
                data += self._src.read(n - len(data))
            return data
        return self._src.read(n)

    def readable(self) -> bool:
        return True


def ingest_layer_blob(store: ImageStore, fh: IO[bytes], media_type: str | None,
                      expected: str | None) -> Layer:
    """Copy a layer blob (plain or gzip) into the content store *as it is* (its digest
    is what manifests name), computing its diff ID on the way; verify ``expected``."""
    from stackctl.engine.images.config import MEDIA_LAYER, MEDIA_LAYER_GZIP
    from stackctl.engine.images.content import Descriptor
    from stackctl.engine.images.store import Layer

    peek = PeekReader(fh)
    kind = detect_compression(peek.head)
    if media_type is None:
        media_type = MEDIA_LAYER_GZIP if kind == "gzip" else MEDIA_LAYER
    if kind not in (None, "gzip"):
        raise ImageError(f"layer compression {kind} is not supported", hint="use gzip or none")
    with store.writing(), store.content.writer() as w:
        if kind is None:
            while chunk := peek.read(1 << 20):
                w.write(chunk)
            diff_id = w.digest
        else:
            from hashlib import sha256

            raw = sha256()

            class _Tee:
                def read(self, n: int = -1) -> bytes:
                    data = peek.read(n)
                    w.write(data)
                    return data

            try:
                inner = decompressed(_Tee(), kind)  # type: ignore[arg-type]
                while chunk := inner.read(1 << 20):
                    raw.update(chunk)
            except (OSError, EOFError) as exc:
                raise ImageError(f"layer blob is not valid {kind}: {exc}",
                                 hint="the archive or download is corrupt") from exc
            while peek.read(1 << 20):  # trailing bytes after the gzip member
                pass
            diff_id = "sha256:" + raw.hexdigest()
        size = w.size
        digest = w.commit(expected_digest=expected)
    return Layer(Descriptor(media_type, digest, size), diff_id)


class LayerStore:
    """Unpacked layers under ``<root>/layers`` and flattened stacks under ``<root>/flat``."""

    def __init__(self, root: Path, tmp: Path) -> None:
        self.layers_dir = root / "layers"
        self.flat_dir = root / "flat"
        self.tmp = tmp
        self.layers_dir.mkdir(parents=True, exist_ok=True)

    def path(self, chain_id: str) -> Path:
        return self.layers_dir / digest_hex(chain_id) / "diff"

    def exists(self, chain_id: str) -> bool:
        return self.path(chain_id).is_dir()

    def unpack(self, chain_id: str, tar: Path | IO[bytes], *, diff_id: str | None = None) -> int:
        """Unpack a layer tar (any compression) once; return its content size in bytes.

        A layer's directory depends only on its own diff, so when the same diff is
        already unpacked as a base layer (``layers/<diff hex>``, chain == diff) it is
        hardlink-copied instead of extracted again.
        """
        from stackctl.engine.images import tarsafe

        final = self.layers_dir / digest_hex(chain_id)
        if (final / "diff").is_dir():
            return _du(final / "diff")
        work = self.layers_dir / f"tmp-{os.urandom(6).hex()}"
        same = self.path(diff_id) if diff_id and diff_id != chain_id else None
        try:
            if same is not None and same.is_dir() and _link_copy(same, work / "diff"):
                pass
            else:
                rmtree(work)
                tarsafe.extract(tar, work / "diff", whiteouts="overlay", devices="allow")
            size = _du(work / "diff")  # the same measure whether unpacked now or before
            try:
                os.rename(work, final)
            except OSError:
                if not (final / "diff").is_dir():  # not a lost race: a real failure
                    raise
                rmtree(work)
            return size
        except BaseException:
            rmtree(work)
            raise

    def remove(self, chain_id: str) -> None:
        target = self.layers_dir / digest_hex(chain_id)
        if target.exists():
            # rename first: a half-deleted dir must never look like a complete layer
            doomed = self.layers_dir / f"tmp-rm-{os.urandom(6).hex()}"
            os.rename(target, doomed)
            rmtree(doomed)
        flat = self.flat_dir / digest_hex(chain_id)
        if flat.exists():
            rmtree(flat)

    def clean_tmp(self) -> None:
        for p in self.layers_dir.glob("tmp-*"):
            rmtree(p)

    def lower_dirs(self, chains: Sequence[str], blobs: Sequence[Path],
                   max_layers: int | None = None) -> list[Path]:
        """Directories for overlay, bottom -> top, at most ``max_layers`` of them
        (default: as many as fit the mount option page, see ``max_lowers``).

        ``blobs`` are the layer tars (same order as ``chains``), needed only when
        flattening. Reverse the list for overlay's ``lowerdir=`` (top first).
        """
        if max_layers is None:
            max_layers = max_lowers(self.layers_dir)
        if len(chains) <= max_layers:
            return [self.path(c) for c in chains]
        merged = len(chains) - max_layers + 1
        return [self._flattened(chains[:merged], blobs[:merged]),
                *(self.path(c) for c in chains[merged:])]

    def _flattened(self, chains: Sequence[str], blobs: Sequence[Path]) -> Path:
        from stackctl.engine.images import tarsafe

        final = self.flat_dir / digest_hex(chains[-1])
        if (final / "diff").is_dir():
            return final / "diff"
        self.flat_dir.mkdir(parents=True, exist_ok=True)
        work = self.flat_dir / f"tmp-{os.urandom(6).hex()}"
        try:
            for blob in blobs:
                # apply mode: whiteouts delete what lower layers put there
                tarsafe.extract(blob, work / "diff", whiteouts="apply", devices="allow")
            with contextlib.suppress(OSError):
                os.rename(work, final)
        finally:
            rmtree(work)
        return final / "diff"


def _link_copy(src: Path, dest: Path) -> bool:
    """``cp -a --link``: same inodes, directory metadata and xattrs (opaque) copied."""
    import subprocess

    dest.parent.mkdir(parents=True, exist_ok=True)
    res = subprocess.run(["cp", "-a", "--link", "--", str(src), str(dest)],
                         capture_output=True, check=False)
    return res.returncode == 0


def _du(path: Path) -> int:
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                st = os.lstat(os.path.join(dirpath, name))
                total += st.st_size
    return total


__all__ = ["DEFAULT_MAX_LAYERS", "LOWERDIR_BUDGET", "Compression", "LayerStore", "PeekReader",
           "chain_ids", "decompressed", "detect_compression", "ingest_layer_blob",
           "max_lowers"]
