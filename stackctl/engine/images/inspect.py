"""``docker image inspect``'s JSON for an image of a store (for ``stackctl inspect``)."""

from __future__ import annotations

from typing import Any

from stackctl.engine.images.present import inspect
from stackctl.engine.images.store import ImageRecord, ImageStore


def image_json(store: ImageStore, rec: ImageRecord) -> dict[str, Any]:
    return inspect(rec, layer_sizes=store.layer_sizes(rec))


__all__ = ["image_json"]
