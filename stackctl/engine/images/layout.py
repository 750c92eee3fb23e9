"""The OCI image layout on disk and the manifest documents.

    <root>/images/oci-layout        {"imageLayoutVersion": "1.0.0"}
    <root>/images/index.json        every image's manifest, one entry per ref
                                    (and one bare entry for an untagged image)
    <root>/images/blobs/sha256/...  manifests, configs, layer tars

``index.json`` is a *derived view* of the refs table: the state database is
the truth. The store rewrites it (temp, fsync, replace) while it holds the
database's write lock, so concurrent writers cannot interleave, and a crash
between the two leaves at worst a stale index that the next change fixes.
"""

from __future__ import annotations

import _thread  # not threading: ~1 ms more of every start, for get_ident alone
import json
import os
from collections.abc import Iterable
from pathlib import Path

from stackctl.engine.images.config import MEDIA_CONFIG, MEDIA_INDEX, MEDIA_MANIFEST
from stackctl.engine.images.content import Descriptor
from stackctl.errors import ImageError
from stackctl.lightdc import dataclass

TYPE_CHECKING = False  # typing costs ~3 ms at start-up; annotations only
if TYPE_CHECKING:
    from typing import Any

LAYOUT_VERSION = "1.0.0"
ANNOT_REF_NAME = "org.opencontainers.image.ref.name"
ANNOT_IMAGE_NAME = "io.containerd.image.name"  # full name; what containerd/nerdctl read


@dataclass(frozen=True)
class Manifest:
    config: Descriptor
    layers: tuple[Descriptor, ...]
    media_type: str = MEDIA_MANIFEST

    def to_bytes(self) -> bytes:
        doc = {
            "schemaVersion": 2,
            "mediaType": self.media_type,
            "config": self.config.to_json(),
            "layers": [d.to_json() for d in self.layers],
        }
        return json.dumps(doc, separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> Manifest:
        try:
            d = json.loads(data)
            cfg = d["config"]
            return cls(
                config=Descriptor(cfg.get("mediaType", MEDIA_CONFIG), cfg["digest"],
                                  int(cfg["size"])),
                layers=tuple(Descriptor(x["mediaType"], x["digest"], int(x["size"]))
                             for x in d.get("layers") or ()),
                media_type=d.get("mediaType", MEDIA_MANIFEST),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ImageError(f"invalid image manifest: {exc}",
                             hint="the archive or store holds a damaged manifest") from exc


@dataclass(frozen=True)
class IndexEntry:
    manifest: Descriptor
    ref: str | None  # full normalised reference, e.g. docker.io/library/busybox:latest


def write_layout_marker(layout: Path) -> None:
    marker = layout / "oci-layout"
    if not marker.exists():
        atomic_write(marker, json.dumps({"imageLayoutVersion": LAYOUT_VERSION}).encode())


def index_bytes(entries: Iterable[IndexEntry]) -> bytes:
    manifests: list[dict[str, Any]] = []
    for e in sorted(entries, key=lambda e: (e.ref or "", e.manifest.digest)):
        doc: dict[str, Any] = e.manifest.to_json()
        if e.ref is not None:
            last = e.ref.rsplit("/", 1)[-1].split("@", 1)[0]  # name@digest refs have no tag
            tag = last.rsplit(":", 1)[-1] if ":" in last else ""
            doc["annotations"] = {ANNOT_IMAGE_NAME: e.ref}
            if tag:
                doc["annotations"][ANNOT_REF_NAME] = tag
        manifests.append(doc)
    return json.dumps({"schemaVersion": 2, "mediaType": MEDIA_INDEX, "manifests": manifests},
                      indent=2).encode()


def parse_index(data: bytes) -> list[tuple[Descriptor, dict[str, str]]]:
    """Manifests listed in an index.json with their annotations."""
    try:
        d = json.loads(data)
        return [(Descriptor(m.get("mediaType", MEDIA_MANIFEST), m["digest"], int(m["size"])),
                 dict(m.get("annotations") or {})) for m in d.get("manifests") or ()]
    except (ValueError, KeyError, TypeError) as exc:
        raise ImageError(f"invalid index.json: {exc}", hint="the OCI layout is damaged") from exc


def atomic_write(path: Path, data: bytes) -> None:
    """Temp file, fsync, replace: never a truncated file under ``path``."""
    # pid *and* thread: threads of one process (the scheduler's workers) write too
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}-{_thread.get_ident()}")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


__all__ = ["ANNOT_IMAGE_NAME", "ANNOT_REF_NAME", "IndexEntry", "Manifest", "atomic_write",
           "index_bytes", "parse_index", "write_layout_marker"]
