"""Platforms (``os/arch[/variant]``) and picking one manifest from an image index. Pure.

Rules (containerd's platforms matcher, simplified to what registries serve):
the OS and architecture must match; a wanted variant must match (``arm64``
alone means ``v8``; ``arm`` alone prefers ``v7``); entries for
``unknown/unknown`` (BuildKit's attestation manifests) are never picked.
When several match, the one with the wanted variant wins, then index order.
"""

from __future__ import annotations

import json
import os

from stackctl.engine.images.content import Descriptor
from stackctl.errors import ImageError, UsageError
from stackctl.lightdc import dataclass

_ARCH_ALIASES = {"x86_64": "amd64", "x86-64": "amd64", "aarch64": "arm64", "armhf": "arm",
                 "armel": "arm", "i386": "386", "i686": "386"}
_DEFAULT_VARIANT = {"arm64": "v8", "arm": "v7"}


@dataclass(frozen=True)
class Platform:
    os: str
    architecture: str
    variant: str = ""

    def __str__(self) -> str:
        return "/".join(x for x in (self.os, self.architecture, self.variant) if x)


def host_platform() -> Platform:
    machine = os.uname().machine
    arch = _ARCH_ALIASES.get(machine, machine)
    variant = "v7" if machine.startswith("armv7") else ""
    return Platform("linux", arch, variant)


def parse_platform(text: str) -> Platform:
    """``linux/amd64``, ``linux/arm64/v8``, ``arm64`` (OS defaults to linux)."""
    parts = [p for p in text.strip().lower().split("/") if p]
    if len(parts) == 1:
        parts.insert(0, "linux")
    if not 2 <= len(parts) <= 3:
        raise UsageError(f"invalid --platform {text!r}",
                         hint="give os/arch[/variant], e.g. linux/amd64 or linux/arm64/v8")
    arch = _ARCH_ALIASES.get(parts[1], parts[1])
    return Platform(parts[0], arch, parts[2] if len(parts) == 3 else "")


def _matches(entry: dict[str, object], want: Platform) -> tuple[bool, bool]:
    """(matches, exact variant)."""
    if entry.get("os") != want.os or entry.get("architecture") != want.architecture:
        return False, False
    have = str(entry.get("variant") or _DEFAULT_VARIANT.get(want.architecture, ""))
    wanted = want.variant or _DEFAULT_VARIANT.get(want.architecture, "")
    if want.variant and have != wanted:
        return False, False
    return True, have == wanted


def select_manifest(index: bytes, want: Platform) -> Descriptor:
    """The descriptor in an image index (or Docker manifest list) for ``want``."""
    try:
        doc = json.loads(index)
        entries = doc["manifests"]
        assert isinstance(entries, list)
    except (ValueError, KeyError, TypeError, AssertionError) as exc:
        raise ImageError(f"invalid image index: {exc}",
                         hint="the registry sent a damaged index") from exc
    best: tuple[int, Descriptor] | None = None
    offered: list[str] = []
    for pos, item in enumerate(entries):
        if not isinstance(item, dict):
            continue
        plat = item.get("platform") or {}
        if not isinstance(plat, dict):
            continue
        if plat.get("os") and plat.get("os") != "unknown":
            offered.append(str(Platform(str(plat.get("os")), str(plat.get("architecture")),
                                        str(plat.get("variant") or ""))))
        ok, exact = _matches(plat, want)
        if not ok:
            continue
        try:
            desc = Descriptor(str(item["mediaType"]), str(item["digest"]), int(item["size"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise ImageError(f"invalid image index entry {pos}: {exc}",
                             hint="the registry sent a damaged index") from exc
        rank = (0 if exact else 1) * 10_000 + pos
        if best is None or rank < best[0]:
            best = (rank, desc)
    if best is None:
        raise ImageError(f"no matching manifest for {want} in the manifest list entries",
                         hint="the image offers: " + (", ".join(offered) or "no platforms")
                         + "; choose one with --platform")
    return best[1]


__all__ = ["Platform", "host_platform", "parse_platform", "select_manifest"]
