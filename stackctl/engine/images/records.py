"""The values the image store hands out: an image as stored, a layer, a removal event."""

from __future__ import annotations

from stackctl.engine.images.config import Image, ImageConfig
from stackctl.engine.images.content import Descriptor
from stackctl.engine.images.layers import chain_ids
from stackctl.lightdc import dataclass


@dataclass(frozen=True)
class ImageRecord:
    """One image as stored: its ID, manifest, config and the refs that name it."""

    id: str  # sha256:<hex> of the config blob
    manifest_digest: str
    created: str
    size: int  # bytes of unpacked content over all layers
    image: Image
    refs: tuple[str, ...] = ()  # normalised, sorted
    parent: str = ""  # the image a build step started from ("" for imported/loaded)

    @property
    def short_id(self) -> str:
        return self.id.split(":", 1)[1][:12]

    @property
    def config(self) -> ImageConfig:
        return self.image.config

    @property
    def diff_ids(self) -> tuple[str, ...]:
        return self.image.diff_ids

    @property
    def chain_ids(self) -> list[str]:
        return chain_ids(self.image.diff_ids)

    @property
    def dangling(self) -> bool:
        return not self.refs


@dataclass(frozen=True)
class Layer:
    """A layer blob in the content store, with its diff ID."""

    blob: Descriptor
    diff_id: str


@dataclass(frozen=True)
class RemoveEvent:
    kind: str  # "Untagged" | "Deleted"
    what: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.what}"


__all__ = ["ImageRecord", "Layer", "RemoveEvent"]
