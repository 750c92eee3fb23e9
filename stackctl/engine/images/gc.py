"""Garbage collection of the image store: a pure mark from roots, then a sweep.

Roots are the rows of the ``images`` table (tagged, dangling, or kept alive
by a container). From each: its manifest blob, config blob, layer blobs and
the chain IDs of its layers. Everything else (blobs, ``layers`` rows,
unpacked layer dirs, flattened dirs, stale temp dirs) is swept. The caller
holds the store's exclusive lock, so no writer is between committing blobs
and recording the rows that reference them.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

from stackctl.engine.images.config import Image
from stackctl.engine.images.layers import chain_ids
from stackctl.engine.images.layout import Manifest
from stackctl.engine.images.records import ImageRecord
from stackctl.errors import ImageError
from stackctl.fsutil import rmtree
from stackctl.lightdc import dataclass

TYPE_CHECKING = False  # typing costs ~3 ms at start-up; annotations only

if TYPE_CHECKING:
    from stackctl.engine.images.store import ImageStore


@dataclass(frozen=True)
class Root:
    manifest_digest: str
    config_digest: str
    layer_blobs: tuple[str, ...]
    diff_ids: tuple[str, ...]


@dataclass(frozen=True)
class Marked:
    blobs: frozenset[str]
    chains: frozenset[str]


def mark(roots: Iterable[Root]) -> Marked:
    """What the roots reach. Pure."""
    blobs: set[str] = set()
    chains: set[str] = set()
    for r in roots:
        blobs.update((r.manifest_digest, r.config_digest, *r.layer_blobs))
        chains.update(chain_ids(r.diff_ids))
    return Marked(frozenset(blobs), frozenset(chains))


def plan_prune(records: Sequence[ImageRecord], used: set[str], *,
               all_unused: bool) -> list[ImageRecord]:
    """Images a prune deletes: unused by containers, and dangling unless ``all_unused``.
    A parent of a kept image is kept too (its layers are shared anyway). Pure."""
    doomed = {r.id for r in records
              if r.id not in used and (all_unused or r.dangling)}
    changed = True
    while changed:
        changed = False
        for r in records:
            if r.id not in doomed and r.parent in doomed:
                doomed.discard(r.parent)
                changed = True
    return [r for r in records if r.id in doomed]


def roots_of(store: ImageStore) -> list[Root]:
    out = []
    for row in store.state.db.execute("SELECT id, manifest_digest, config FROM images"):
        try:
            layers = tuple(d.digest for d in Manifest.from_bytes(
                store.content.read_bytes(row["manifest_digest"])).layers)
        except ImageError:
            layers = ()  # damaged: keep what its config still names
        diff_ids = Image.from_bytes(row["config"].encode()).diff_ids
        out.append(Root(row["manifest_digest"], row["id"], layers, diff_ids))
    return out


def collect(store: ImageStore) -> int:
    """Sweep what ``mark`` does not reach; return bytes freed (blobs + layer content)."""
    marked = mark(roots_of(store))
    freed = 0
    for digest in store.content.digests():
        if digest not in marked.blobs:
            with contextlib.suppress(OSError):
                freed += store.content.size(digest)
            store.content.delete(digest)
    live_hex = {c.split(":", 1)[1] for c in marked.chains}
    with store.state.transaction() as db:
        for row in db.execute("SELECT chain_id, size FROM layers").fetchall():
            if row["chain_id"] not in marked.chains:
                db.execute("DELETE FROM layers WHERE chain_id = ?", (row["chain_id"],))
                freed += row["size"]
    for base in (store.layers.layers_dir, store.layers.flat_dir):
        if not base.is_dir():
            continue
        for entry in base.iterdir():
            if entry.name.startswith("tmp-") or entry.name not in live_hex:
                _rmtree(entry)
    store.content.clean_ingest(max_age=0)  # writers hold the shared lock: none is active
    # archives spooled from stdin by `load` are not under the lock: only stale ones go
    cutoff = time.time() - 3600
    for spool in store.tmp.glob("load-*"):
        with contextlib.suppress(OSError):
            if spool.is_file() and spool.stat().st_mtime < cutoff:
                spool.unlink()
    return freed


def _rmtree(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        rmtree(path)
    else:
        with contextlib.suppress(OSError):
            os.unlink(path)


__all__ = ["Marked", "Root", "collect", "mark", "plan_prune", "roots_of"]
