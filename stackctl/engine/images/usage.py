"""Disk usage of images (``system df`` data), computed purely from a snapshot.

Layers are shared: an image's ``size`` counts every layer under it, its
``shared_size`` the layers another image also has, ``unique_size`` the rest.
The store's total counts each unpacked layer once. ``reclaimable`` is what
``image prune -a`` would free: layers that no image used by a container needs.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

from stackctl.engine.images.store import ImageRecord, ImageStore
from stackctl.lightdc import dataclass


@dataclass(frozen=True)
class ImageUsage:
    record: ImageRecord
    size: int
    shared_size: int
    unique_size: int
    containers: int


@dataclass(frozen=True)
class StoreUsage:
    images: tuple[ImageUsage, ...]
    total_size: int  # each layer once
    active: int  # images used by at least one container
    reclaimable: int

    @property
    def reclaimable_percent(self) -> int:
        return int(100 * self.reclaimable / self.total_size) if self.total_size else 0


def compute(records: Sequence[ImageRecord], layer_sizes: Mapping[str, int],
            containers: Mapping[str, int]) -> StoreUsage:
    """``containers`` maps image ID -> number of containers using it. Pure."""
    users: Counter[str] = Counter()
    for rec in records:
        users.update(set(rec.chain_ids))
    per_image = []
    live: set[str] = set()
    for rec in records:
        chains = set(rec.chain_ids)
        size = sum(layer_sizes.get(c, 0) for c in chains)
        shared = sum(layer_sizes.get(c, 0) for c in chains if users[c] > 1)
        n = containers.get(rec.id, 0)
        if n:
            live |= chains
        per_image.append(ImageUsage(rec, size, shared, size - shared, n))
    total = sum(layer_sizes.get(c, 0) for c in users)
    reclaimable = sum(layer_sizes.get(c, 0) for c in users if c not in live)
    active = sum(1 for u in per_image if u.containers)
    return StoreUsage(tuple(per_image), total, active, reclaimable)


def disk_usage(store: ImageStore) -> StoreUsage:
    db = store.state.db
    sizes = {r[0]: r[1] for r in db.execute("SELECT chain_id, size FROM layers")}
    containers = {r[0]: r[1] for r in db.execute(
        "SELECT image_id, COUNT(*) FROM containers GROUP BY image_id")}
    return compute(store.list(), sizes, containers)


__all__ = ["ImageUsage", "StoreUsage", "compute", "disk_usage"]
