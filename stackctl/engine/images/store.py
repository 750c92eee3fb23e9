"""ImageStore: images, refs and layers of one state root.

    <root>/images/          the OCI image layout (oci-layout, index.json, blobs/sha256/)
    <root>/layers/<hex>/diff  unpacked layers by chain ID (overlay lowerdirs)
    <root>/flat/<hex>/diff    flattened bottoms of very deep images (see layers.py)
    <root>/tmp/             ingest files and work dirs (same filesystem: renames are atomic)
    state.db                images, refs, layers rows (engine/state.py)

Order of every write: blobs first (content-addressed, idempotent), layers
unpacked next (temp dir + rename), rows last in one transaction that also
rewrites index.json. A crash before the transaction leaves only unreferenced
blobs/layers, which ``prune`` collects; never a row pointing at nothing.
Writers hold a shared ``flock`` on ``images/.lock`` from their first blob to
their commit; the garbage collector takes it exclusively, so it never sweeps
blobs that a concurrent writer is about to reference.

Image IDs are ``sha256:<hex>`` of the config blob (as Docker's); containers
store that in ``containers.image_id``.
"""

from __future__ import annotations

import contextlib
import fcntl
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from stackctl.engine.images import reference
from stackctl.engine.images.catalog import NOT_FOUND_HINT, ImageCatalog
from stackctl.engine.images.config import (
    MEDIA_CONFIG,
    MEDIA_LAYER,
    MEDIA_MANIFEST,
    HistoryEntry,
    Image,
    ImageConfig,
    now_rfc3339,
)
from stackctl.engine.images.content import ContentStore, Descriptor, Writer
from stackctl.engine.images.gc import plan_prune
from stackctl.engine.images.layers import (
    LayerStore,
    PeekReader,
    chain_ids,
    decompressed,
    detect_compression,
    max_lowers,
)
from stackctl.engine.images.layout import (
    IndexEntry,
    Manifest,
    atomic_write,
    index_bytes,
    write_layout_marker,
)
from stackctl.engine.images.records import ImageRecord, Layer, RemoveEvent
from stackctl.engine.state import StateStore
from stackctl.errors import ImageError, NotFound

TYPE_CHECKING = False  # typing costs ~3 ms at start-up; annotations only
if TYPE_CHECKING:
    from typing import IO

_Paths = list[Path]
_Events = list[RemoveEvent]
_History = list[HistoryEntry]
_Layers = list[Layer]

if TYPE_CHECKING:
    from stackctl.engine.images.diff import Skip
    from stackctl.engine.images.usage import StoreUsage


class ImageStore(ImageCatalog):
    """Blobs, unpacked layers and the rows that name them (see the module docstring)."""

    def __init__(self, root: Path, state: StateStore | None = None) -> None:
        self.root = Path(root)
        self.layout = self.root / "images"
        self.tmp = self.root / "tmp"
        self._own_state = state is None
        self.state = state if state is not None else StateStore(self.root)
        self._shared_held = 0
        self.content = ContentStore(self.layout, self.tmp)
        self.layers = LayerStore(self.root, self.tmp)
        write_layout_marker(self.layout)
        if not (self.layout / "index.json").exists():
            # under the database lock, like every index write: never clobbers a newer one
            with self.state.transaction() as db:
                self.write_index(db)

    def close(self) -> None:
        if self._own_state:
            self.state.close()

    def __enter__(self) -> ImageStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def writing(self) -> contextlib.AbstractContextManager[None]:
        """Hold across writing blobs and recording the image that references them, so
        the garbage collector cannot sweep them in between. Shared: writers don't wait
        for each other, and nesting is fine."""
        return self._lock()

    @contextlib.contextmanager
    def _lock(self, exclusive: bool = False) -> Iterator[None]:
        if exclusive and self._shared_held:
            # flock locks of one process on separate fds still exclude each other
            raise ImageError("garbage collection cannot run inside writing()",
                             hint="collect garbage after the write block ends")
        fd = open(self.layout / ".lock", "a")  # noqa: SIM115
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            if not exclusive:
                self._shared_held += 1
            try:
                yield
            finally:
                if not exclusive:
                    self._shared_held -= 1
        finally:
            fd.close()

    # -- writing ---------------------------------------------------------------------------

    def import_tar(self, src: Path | IO[bytes], ref: str | None = None, *,
                   changes: Sequence[str] = (), message: str = "",
                   source_name: str = "") -> ImageRecord:
        """``docker import``: a rootfs tarball (plain, gzip, bzip2, xz) as a one-layer image."""
        from stackctl.engine.images.changes import apply_changes

        target = reference.parse(ref) if ref else None
        config = apply_changes(ImageConfig(), changes)
        with self._lock():
            layer = self.add_layer(src)
            created = now_rfc3339()
            comment = message or f"Imported from {source_name or '-'}"
            image = Image(config=config, diff_ids=(layer.diff_id,), created=created,
                          history=(HistoryEntry(created=created, created_by="stackctl import",
                                                comment=comment),))
            return self._add_image_locked(image, [layer], [str(target)] if target else [])

    def add_layer(self, src: Path | IO[bytes], *,
                  parent_diff_ids: Sequence[str] = ()) -> Layer:
        """Store a layer tar (any compression) as an uncompressed blob and unpack it.

        ``parent_diff_ids`` are the layers under it (its chain ID depends on them).
        The tar is validated by unpacking it *before* the blob is committed: a
        hostile or broken archive leaves neither blob nor layer behind. Call inside
        ``writing()`` together with the ``add_image`` that will reference it.
        """
        with contextlib.ExitStack() as stack:
            stack.enter_context(self._lock())
            raw: IO[bytes] = stack.enter_context(open(src, "rb")) if isinstance(src, Path) \
                else src
            peek = PeekReader(raw)
            reader = decompressed(peek, detect_compression(peek.head))  # type: ignore[arg-type]
            writer = stack.enter_context(self.content.writer())
            try:
                while chunk := reader.read(1 << 20):
                    writer.write(chunk)
            except (OSError, EOFError) as exc:
                raise ImageError(f"cannot read the archive: {exc}",
                                 hint="the file is corrupt or truncated") from exc
            return self._commit_layer(writer, parent_diff_ids)

    def add_layer_from_dir(self, src: Path, *, parent_diff_ids: Sequence[str] = (),
                           mtime: int | None = None, skip: Skip | None = None) -> Layer:
        """A directory (a container's overlay upperdir, or a tree built for COPY) as a
        new layer: overlay whiteouts become OCI whiteouts (see diff.py). ``mtime``
        clamps every timestamp, for reproducible layers; ``skip`` leaves entries out."""
        from stackctl.engine.images.diff import write_layer

        with self._lock(), self.content.writer() as writer:
            write_layer(src, writer, mtime=mtime, skip=skip)  # type: ignore[arg-type]
            return self._commit_layer(writer, parent_diff_ids)

    def _commit_layer(self, writer: Writer, parent_diff_ids: Sequence[str]) -> Layer:
        writer.flush()
        diff_id, size = writer.digest, writer.size
        if size == 0:
            raise ImageError("the archive is empty", hint="give a tar archive of a rootfs")
        chain = chain_ids([*parent_diff_ids, diff_id])[-1]
        if not self.layers.exists(chain):
            self.layers.unpack(chain, writer.path)
        writer.commit()
        return Layer(Descriptor(MEDIA_LAYER, diff_id, size), diff_id)

    def add_image(self, image: Image, layers: Sequence[Layer], refs: Sequence[str] = (), *,
                  config_bytes: bytes | None = None, manifest_bytes: bytes | None = None,
                  parent: str = "") -> ImageRecord:
        """Record an image whose layer blobs are in the content store.

        ``layers`` matches ``image.diff_ids`` one to one. ``config_bytes`` keeps a
        loaded config byte-exact (so its ID does not change); otherwise the
        canonical bytes of ``image`` are stored; ``manifest_bytes`` likewise keeps a
        loaded manifest (it must name that config and those layers). ``parent`` is the
        image a build step started from. Call inside ``writing()`` when the layer blobs
        were written separately (``add_layer``), so no GC runs in between.
        """
        with self._lock():
            return self._add_image_locked(image, layers, refs, config_bytes=config_bytes,
                                          manifest_bytes=manifest_bytes, parent=parent)

    def _add_image_locked(self, image: Image, layers: Sequence[Layer], refs: Sequence[str], *,
                          config_bytes: bytes | None = None, manifest_bytes: bytes | None = None,
                          parent: str = "") -> ImageRecord:
        if tuple(x.diff_id for x in layers) != image.diff_ids:
            raise ImageError("image config diff_ids do not match its layers",
                             hint="the archive or build produced an inconsistent image")
        names = [str(reference.parse(r)) for r in refs]
        chains = chain_ids(image.diff_ids)
        sizes: list[int] = []
        for chain, layer in zip(chains, layers, strict=True):
            if not self.content.has(layer.blob.digest):
                raise ImageError(f"layer blob {layer.blob.digest} is not in the content store")
            sizes.append(self.layers.unpack(chain, self.content.path(layer.blob.digest),
                                            diff_id=layer.diff_id))
        cfg = config_bytes if config_bytes is not None else image.to_bytes()
        config_digest = self.content.put_bytes(cfg)
        manifest = Manifest(Descriptor(MEDIA_CONFIG, config_digest, len(cfg)),
                            tuple(x.blob for x in layers))
        mbytes = manifest.to_bytes()
        if manifest_bytes is not None:
            given = Manifest.from_bytes(manifest_bytes)
            if given.config.digest != config_digest or \
                    [x.digest for x in given.layers] != [x.blob.digest for x in layers]:
                raise ImageError("image manifest does not match its config and layers",
                                 hint="the archive is damaged")
            mbytes = manifest_bytes
        manifest_digest = self.content.put_bytes(mbytes)
        with self.state.transaction() as db:
            for chain, layer, size in zip(chains, layers, sizes, strict=True):
                db.execute("INSERT OR IGNORE INTO layers(chain_id, diff_id, blob_digest, size, "
                           "unpacked) VALUES (?,?,?,?,1)",
                           (chain, layer.diff_id, layer.blob.digest, size))
            db.execute("INSERT OR IGNORE INTO images(id, manifest_digest, created, size, config, "
                       "parent) VALUES (?,?,?,?,?,?)",
                       (config_digest, manifest_digest, image.created, sum(sizes), cfg.decode(),
                        parent))
            for name in names:
                db.execute("INSERT OR REPLACE INTO refs(name, image_id) VALUES (?,?)",
                           (name, config_digest))
            self.write_index(db)
        return self.get(config_digest)

    def add_child(self, parent: ImageRecord | None, *, layer: Layer | None = None,
                  config: ImageConfig | None = None, created_by: str = "",
                  comment: str = "", author: str = "", refs: Sequence[str] = (),
                  created: str | None = None) -> ImageRecord:
        """A new image = ``parent`` + optionally one layer, with a new config and one
        history entry (``empty_layer`` when no layer): what ``commit`` and each
        Dockerfile step make. ``parent=None`` starts from scratch.
        Write the layer (``add_layer*``) inside ``writing()`` with this call."""
        from stackctl.lightdc import replace

        base = parent.image if parent is not None else Image()
        when = created or now_rfc3339()
        entry = HistoryEntry(created=when, created_by=created_by, author=author,
                             comment=comment, empty_layer=layer is None)
        image = replace(
            base, config=config if config is not None else base.config, created=when,
            author=author or base.author,
            diff_ids=(*base.diff_ids, *((layer.diff_id,) if layer else ())),
            history=(*base.history, entry), extra=())
        layers = [*(self.layers_of(parent) if parent is not None else []),
                  *((layer,) if layer else ())]
        with self._lock():
            return self._add_image_locked(image, layers, refs,
                                          parent=parent.id if parent is not None else "")

    def write_index(self, db: sqlite3.Connection) -> None:
        """Rewrite index.json from the rows; inside the transaction that changed them."""
        rows = db.execute("SELECT i.id, i.manifest_digest, r.name FROM images i "
                          "LEFT JOIN refs r ON r.image_id = i.id").fetchall()
        entries = []
        for row in rows:
            digest = row["manifest_digest"]
            size = self.content.size(digest) if self.content.has(digest) else 0
            entries.append(IndexEntry(Descriptor(MEDIA_MANIFEST, digest, size),
                                      row["name"]))
        atomic_write(self.layout / "index.json", index_bytes(entries))

    def tag(self, source: str, target: str) -> ImageRecord:
        rec = self.resolve(source)
        name = str(reference.parse(target))
        if "@" in name:
            raise ImageError(f"refusing to create a tag with a digest reference: {target}",
                             hint="give NAME[:TAG]")
        with self.state.transaction() as db:
            db.execute("INSERT OR REPLACE INTO refs(name, image_id) VALUES (?,?)", (name, rec.id))
            self.write_index(db)
        return self.get(rec.id)

    def untag(self, ref: str) -> None:
        name = str(reference.parse(ref))
        with self.state.transaction() as db:
            cur = db.execute("DELETE FROM refs WHERE name = ?", (name,))
            if cur.rowcount == 0:
                raise NotFound(f"No such image: {reference.familiar(ref)}", hint=NOT_FOUND_HINT)
            self.write_index(db)

    def remove(self, name: str, *, force: bool = False, no_prune: bool = False) -> _Events:
        """``docker rmi``: untag, and delete the image once nothing names or uses it;
        then its untagged build parents that nothing else needs (unless ``no_prune``)."""
        from stackctl.engine.images.removal import remove_image

        return remove_image(self, name, force=force, no_prune=no_prune)

    # -- reading (lookups by name are ImageCatalog's) ----------------------------------------

    def manifest(self, rec: ImageRecord) -> Manifest:
        return Manifest.from_bytes(self.content.read_bytes(rec.manifest_digest))

    def config_bytes(self, rec: ImageRecord) -> bytes:
        return self.content.read_bytes(rec.id)

    def layer_dirs(self, image: ImageRecord | str) -> _Paths:
        """The unpacked layer directories, bottom -> top (one per layer).

        For overlayfs, reverse it (``lowerdir=`` lists the top first). For deep
        images use ``lower_dirs``, which never returns more than ``max_layers``.
        """
        rec = image if isinstance(image, ImageRecord) else self.resolve(image)
        dirs = [self.layers.path(c) for c in rec.chain_ids]
        missing = [str(d) for d in dirs if not d.is_dir()]
        if missing:
            raise ImageError(f"image {rec.short_id}: unpacked layer {missing[0]} is missing",
                             hint="the store is damaged; remove and re-import the image")
        return dirs

    def lower_dirs(self, image: ImageRecord | str, max_layers: int | None = None) -> _Paths:
        """Like ``layer_dirs`` but never more dirs than fit one overlay mount (or
        ``max_layers``): the lowest layers of a deeper image are flattened once into
        one cached directory. Bottom -> top. This is what the runtime should mount."""
        rec = image if isinstance(image, ImageRecord) else self.resolve(image)
        if max_layers is None:
            max_layers = max_lowers(self.layers.layers_dir)
        if len(rec.diff_ids) <= max_layers:
            return self.layer_dirs(rec)
        blobs = [self.content.path(d.digest) for d in self.manifest(rec).layers]
        with self._lock():
            return self.layers.lower_dirs(rec.chain_ids, blobs, max_layers)

    def history(self, image: ImageRecord | str) -> _History:
        rec = image if isinstance(image, ImageRecord) else self.resolve(image)
        return list(rec.image.history)

    def layers_of(self, rec: ImageRecord) -> _Layers:
        """The image's layers (blob descriptor + diff ID), bottom -> top."""
        blobs = self.manifest(rec).layers
        return [Layer(b, d) for b, d in zip(blobs, rec.diff_ids, strict=True)]

    def disk_usage(self) -> StoreUsage:
        """``system df`` data: per-image sizes (shared/unique), total, reclaimable."""
        from stackctl.engine.images.usage import disk_usage

        return disk_usage(self)

    # -- garbage collection ----------------------------------------------------------------

    def prune(self, *, all_unused: bool = False,
              keep: Callable[[ImageRecord], bool] | None = None) -> tuple[_Events, int]:
        """``image prune``: delete dangling images (``all_unused``: every image no
        container uses), then sweep. Returns what was removed and the bytes freed."""
        from stackctl.engine.images.removal import prune_images

        return prune_images(self, all_unused=all_unused, keep=keep)

    def collect_garbage(self) -> int:
        """Sweep blobs and layers no image row reaches; return the bytes freed."""
        from stackctl.engine.images.gc import collect

        with self._lock(exclusive=True):
            return collect(self)


__all__ = ["ImageRecord", "ImageStore", "Layer", "RemoveEvent", "plan_prune"]
