"""ImageCatalog: the image rows of a state root, and how a name finds one.

Docker accepts an image as a reference (``busybox``, ``localhost:5000/app:1``),
a digest reference (``app@sha256:...``), a full ``sha256:`` ID or a unique ID
prefix; ``resolve`` tries them in that order. Reads only the database (images,
refs, layers, containers rows): blobs and unpacked layers are ImageStore's.
"""

from __future__ import annotations

import contextlib
import sqlite3

from stackctl.engine.images import reference
from stackctl.engine.images.config import Image
from stackctl.engine.images.records import ImageRecord
from stackctl.engine.state import StateStore
from stackctl.errors import Conflict, ImageError, NotFound

# inside the class, ``list`` names the method
_Records = list[ImageRecord]
_Strs = list[str]
_Ints = list[int]

NOT_FOUND_HINT = "`stackctl images` lists local images; `stackctl import` or `build` makes one"


class ImageCatalog:
    """Lookups over ``state``; ImageStore adds the content it describes."""

    state: StateStore

    def get(self, image_id: str) -> ImageRecord:
        row = self.state.db.execute("SELECT * FROM images WHERE id = ?", (image_id,)).fetchone()
        if row is None:
            raise NotFound(f"No such image: {image_id}", hint=NOT_FOUND_HINT)
        return self.record(row)

    def record(self, row: sqlite3.Row) -> ImageRecord:
        """An ``images`` row with its refs."""
        refs = tuple(r[0] for r in self.state.db.execute(
            "SELECT name FROM refs WHERE image_id = ? ORDER BY name", (row["id"],)))
        return ImageRecord(row["id"], row["manifest_digest"], row["created"], row["size"],
                           Image.from_bytes(row["config"].encode()), refs, row["parent"])

    def resolve(self, name: str) -> ImageRecord:
        """An image by reference, ID, ``sha256:`` ID, or unique ID prefix."""
        text = name.strip()
        db = self.state.db
        low = text.lower()
        if low.startswith("sha256:"):
            return self._by_prefix(low[7:], name)
        with contextlib.suppress(ImageError):
            ref = reference.parse(text)
            if ref.digest is not None:
                row = db.execute("SELECT * FROM images WHERE manifest_digest = ? OR id = ?",
                                 (ref.digest, ref.digest)).fetchone()
                if row is None:  # a digest ref a pull recorded (an index's, multi-platform)
                    row = db.execute("SELECT i.* FROM refs r JOIN images i ON i.id = "
                                     "r.image_id WHERE r.name = ?",
                                     (f"{ref.name}@{ref.digest}",)).fetchone()
                if row is not None:
                    return self.record(row)
            else:
                row = db.execute("SELECT i.* FROM refs r JOIN images i ON i.id = r.image_id "
                                 "WHERE r.name = ?", (str(ref),)).fetchone()
                if row is not None:
                    return self.record(row)
        if text and all(c in "0123456789abcdef" for c in text):
            return self._by_prefix(text, name)
        raise NotFound(f"No such image: {display_name(name)}", hint=NOT_FOUND_HINT)

    def _by_prefix(self, hexpart: str, name: str) -> ImageRecord:
        if not hexpart or any(c not in "0123456789abcdef" for c in hexpart):
            raise NotFound(f"No such image: {name}", hint=NOT_FOUND_HINT)
        rows = self.state.db.execute("SELECT * FROM images WHERE id LIKE ? LIMIT 2",
                                     (f"sha256:{hexpart}%",)).fetchall()
        if not rows:
            raise NotFound(f"No such image: {name}", hint=NOT_FOUND_HINT)
        if len(rows) > 1:
            raise Conflict(f"image ID prefix {name!r} is ambiguous",
                           hint="give more characters of the ID")
        return self.record(rows[0])

    def exists(self, name: str) -> bool:
        try:
            self.resolve(name)
        except (NotFound, Conflict):
            return False
        return True

    def list(self) -> _Records:
        """Every image, newest first."""
        rows = self.state.db.execute("SELECT * FROM images ORDER BY created DESC, id").fetchall()
        return [self.record(r) for r in rows]

    def containers_using(self, image_id: str) -> _Strs:
        return [r[0] for r in self.state.db.execute(
            "SELECT id FROM containers WHERE image_id = ? ORDER BY id", (image_id,))]
    def layer_sizes(self, rec: ImageRecord) -> _Ints:
        """Unpacked content bytes of each layer, bottom -> top."""
        out = []
        for chain in rec.chain_ids:
            row = self.state.db.execute("SELECT size FROM layers WHERE chain_id = ?",
                                        (chain,)).fetchone()
            out.append(row[0] if row else 0)
        return out

def display_name(name: str) -> str:
    try:
        return reference.familiar(name)
    except ImageError:
        return name


__all__ = ["NOT_FOUND_HINT", "ImageCatalog", "display_name"]
