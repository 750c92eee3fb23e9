"""``rmi`` and ``image prune``: which image rows go, and their tags with them.

Only rows are deleted here, in one transaction with the index rewrite; blobs
and unpacked layers go in the sweep that follows (``ImageStore.collect_garbage``,
under the exclusive GC lock), so a crash in between leaves only garbage.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable
from typing import TYPE_CHECKING

from stackctl.engine.images import reference
from stackctl.engine.images.gc import plan_prune
from stackctl.engine.images.records import ImageRecord, RemoveEvent
from stackctl.errors import Conflict, ImageError

if TYPE_CHECKING:
    from stackctl.engine.images.store import ImageStore


def remove_image(store: ImageStore, name: str, *, force: bool = False,
                 no_prune: bool = False) -> list[RemoveEvent]:
    """``docker rmi``: untag, and delete the image once nothing names or uses it;
    then its untagged build parents that nothing else needs (unless ``no_prune``)."""
    rec = store.resolve(name)
    by_ref = _as_ref(name) in rec.refs
    events: list[RemoveEvent] = []
    users = store.containers_using(rec.id)
    with store.state.transaction() as db:
        if by_ref and len(rec.refs) > 1:
            db.execute("DELETE FROM refs WHERE name = ?", (_as_ref(name),))
            store.write_index(db)
            return [RemoveEvent("Untagged", reference.familiar(_as_ref(name)))]
        if not by_ref and len(rec.refs) > 1 and not force:
            raise Conflict(
                f"conflict: unable to delete {rec.short_id} (must be forced) - image is "
                f"referenced in multiple repositories",
                hint="remove it by name, or use -f to remove every tag")
        if users and not force:
            raise Conflict(
                f"conflict: unable to remove {reference.familiar(name) if by_ref else name}"
                f" (must force) - image {rec.short_id} is used by container "
                f"{users[0][:12]}", hint="remove the container first, or use -f")
        for ref in rec.refs:
            db.execute("DELETE FROM refs WHERE name = ?", (ref,))
            events.append(RemoveEvent("Untagged", reference.familiar(ref)))
        if not users:
            # The image row goes; blobs and layers go at the next prune, under the GC lock.
            db.execute("DELETE FROM images WHERE id = ?", (rec.id,))
            events.append(RemoveEvent("Deleted", rec.id))
            if not no_prune:
                events += _delete_dangling_parents(db, rec.parent)
        store.write_index(db)
    if not users:
        with contextlib.suppress(ImageError):
            store.collect_garbage()
    return events


def _delete_dangling_parents(db: sqlite3.Connection, parent: str) -> list[RemoveEvent]:
    events: list[RemoveEvent] = []
    while parent:
        row = db.execute("SELECT parent FROM images WHERE id = ?", (parent,)).fetchone()
        if row is None or any(db.execute(q, (parent,)).fetchone() for q in (
                "SELECT 1 FROM refs WHERE image_id = ?",
                "SELECT 1 FROM images WHERE parent = ?",
                "SELECT 1 FROM containers WHERE image_id = ?")):
            break
        db.execute("DELETE FROM images WHERE id = ?", (parent,))
        events.append(RemoveEvent("Deleted", parent))
        parent = row["parent"]
    return events


def prune_images(store: ImageStore, *, all_unused: bool = False,
                 keep: Callable[[ImageRecord], bool] | None = None,
                 ) -> tuple[list[RemoveEvent], int]:
    """``image prune``: delete dangling images (``all_unused``: every image no
    container uses), then sweep. Returns what was removed and the bytes freed.

    Which images go is decided first, purely, from one snapshot (``plan_prune``);
    ``keep`` lets the caller protect more (e.g. ``--filter``).
    """
    with store.state.transaction() as db:
        records = [store.record(r) for r in db.execute("SELECT * FROM images")]
        used = {r[0] for r in db.execute("SELECT DISTINCT image_id FROM containers")}
        doomed = plan_prune(records, used, all_unused=all_unused)
        if keep is not None:
            doomed = [r for r in doomed if not keep(r)]
        events: list[RemoveEvent] = []
        for rec in doomed:
            for ref in rec.refs:
                db.execute("DELETE FROM refs WHERE name = ?", (ref,))
                events.append(RemoveEvent("untagged", reference.familiar(ref)))
            db.execute("DELETE FROM images WHERE id = ?", (rec.id,))
            events.append(RemoveEvent("deleted", rec.id))
        store.write_index(db)
    freed = store.collect_garbage()
    return events, freed


def _as_ref(name: str) -> str:
    try:
        return str(reference.parse(name))
    except ImageError:
        return ""


__all__ = ["prune_images", "remove_image"]
