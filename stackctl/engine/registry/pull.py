"""``pull``: a reference on a registry -> an image in the local store.

    1. GET the manifest by tag or digest (its bytes checked against the digest)
    2. an index / manifest list: pick the platform's manifest, GET it by digest
    3. the config blob (small: read into memory, verified)
    4. already stored (same image ID)? only (re)point the tag: "Image is up to date"
    5. the layers not in the content store yet: downloaded concurrently (at most
       ``max_concurrent``), each streamed into a content-store ingest while its
       blob digest *and* its diff ID (sha256 of the uncompressed tar) are computed;
       a blob is committed only if both digest and size match the manifest, and
       unpacked by the same worker at once if its diff ID is the config's
    6. every diff ID checked against the config's ``rootfs.diff_ids``
    7. ``ImageStore.add_image`` with the registry's config and manifest bytes:
       layers unpacked, rows and ref written in one transaction

All of 3-7 happen inside ``store.writing()``, so a concurrent prune cannot
sweep blobs between download and registration. A failure (a lying registry,
a dropped connection) registers nothing and leaves no partial blob: the
ingest of the failing blob is removed, other downloads are cancelled, and
blobs that did complete stay in the content store, so the next pull fetches
only what is still missing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from stackctl.engine.images import reference
from stackctl.engine.images.config import DOCKER_CONFIG, MEDIA_CONFIG, Image
from stackctl.engine.images.content import Descriptor
from stackctl.engine.images.layers import chain_ids
from stackctl.engine.images.layout import Manifest
from stackctl.engine.images.store import ImageRecord, ImageStore, Layer
from stackctl.engine.registry.client import DOCKER_LIST, Fetched, RegistryClient
from stackctl.engine.registry.diffid import diff_id_of_file
from stackctl.engine.registry.fetch import fetch_layer
from stackctl.engine.registry.parallel import run_cancellable
from stackctl.engine.registry.platform import Platform, host_platform, select_manifest
from stackctl.errors import ImageError
from stackctl.lightdc import dataclass

INDEX_TYPES = ("application/vnd.oci.image.index.v1+json", DOCKER_LIST)
SCHEMA1_TYPES = ("application/vnd.docker.distribution.manifest.v1+json",
                 "application/vnd.docker.distribution.manifest.v1+prettyjws")
_NON_DISTRIBUTABLE = ("foreign", "nondistributable")
MAX_CONFIG = 16 << 20  # configs are read into memory; real ones are a few KiB


@dataclass(frozen=True)
class PullEvent:
    """Progress, for the CLI: ``kind`` is exists | downloading | progress (``detail``
    "done/total" bytes) | retrying | extracting | complete | resolved | warning."""

    kind: str
    id: str  # 12 hex of a blob, or "" for whole-image events
    detail: str = ""


Progress = Callable[[PullEvent], None]


@dataclass(frozen=True)
class PullResult:
    reference: str  # normalised, as recorded (name:tag, or name@digest)
    record: ImageRecord
    digest: str  # the digest the reference resolved to (the index's, for multi-platform)
    fetched: int  # blobs downloaded
    fetched_bytes: int
    up_to_date: bool


def pull_image(store: ImageStore, ref: str, *, auth_root: Path | None = None,
               platform: str | Platform | None = None, insecure: bool = False,
               client: RegistryClient | None = None, progress: Progress | None = None,
               max_concurrent: int = 3,
               sleep: Callable[[float], None] = time.sleep) -> PullResult:
    from stackctl.engine.registry.platform import parse_platform

    r = reference.parse(ref)
    want = parse_platform(platform) if isinstance(platform, str) else platform
    target = reference.Reference(r.domain, r.path, None if r.digest else r.tag, r.digest)
    what = f"pull of {target.familiar()}"
    notify = progress or (lambda _e: None)
    own = client is None
    cli = client or RegistryClient.open(auth_root or store.root, r.domain, insecure=insecure)
    try:
        top = cli.get_manifest(r.path, r.digest or r.tag or "latest", what=what)
        man = _resolve_platform(cli, r.path, top, want or host_platform(), what)
        manifest, image, cbytes = _manifest_and_config(cli, store, r.path, man, want, what)
        host = host_platform()
        if want is None and (image.os, image.architecture) != (host.os, host.architecture):
            notify(PullEvent("warning", "", f"The requested image's platform ({image.os}/"
                             f"{image.architecture}) does not match the detected host platform "
                             f"({host}) and no specific platform was requested"))
        notify(PullEvent("resolved", "", top.digest))
        existing = _existing(store, manifest.config.digest)
        if existing is not None:
            rec = _retag(store, existing, str(target))
            return PullResult(str(target), rec, top.digest, 0, 0, True)
        _check_layers(manifest, image, what)
        with store.writing():
            store.content.put_bytes(cbytes, expected_digest=manifest.config.digest)
            fetched, nbytes, diff_ids = _fetch_layers(cli, store, r.path, manifest, image,
                                                      notify, max_concurrent, what, sleep)
            layers = [Layer(d, diff_ids[d.digest]) for d in manifest.layers]
            _verify_diff_ids(layers, image, what)
            rec = store.add_image(image, layers, [str(target)], config_bytes=cbytes,
                                  manifest_bytes=man.data)
        return PullResult(str(target), rec, top.digest, fetched, nbytes, False)
    finally:
        if own:
            cli.close()


def _resolve_platform(cli: RegistryClient, repo: str, top: Fetched, want: Platform,
                      what: str) -> Fetched:
    current = top
    for _depth in range(4):
        if current.media_type in SCHEMA1_TYPES:
            raise ImageError(f"{what}: the image uses the Docker v2 schema 1 manifest format, "
                             "which is deprecated and not supported",
                             hint="push the image again with a current docker or stackctl")
        if current.media_type not in INDEX_TYPES:
            return current
        desc = select_manifest(current.data, want)
        current = cli.get_manifest(repo, desc.digest, what=what)
    raise ImageError(f"{what}: image indexes nested too deeply",
                     hint="the registry serves a malformed index")


def _manifest_and_config(cli: RegistryClient, store: ImageStore, repo: str, man: Fetched,
                         want: Platform | None, what: str) -> tuple[Manifest, Image, bytes]:
    manifest = Manifest.from_bytes(man.data)
    cdesc = manifest.config
    if cdesc.media_type not in (MEDIA_CONFIG, DOCKER_CONFIG):
        raise ImageError(f"{what}: not a container image (config media type "
                         f"{cdesc.media_type})",
                         hint="this artifact (a chart, a signature...) cannot be run")
    if cdesc.size > MAX_CONFIG:
        raise ImageError(f"{what}: the image config is {cdesc.size} bytes, more than the "
                         f"{MAX_CONFIG} a config can reasonably be",
                         hint="the manifest is malformed or hostile")
    if store.content.has(cdesc.digest):
        cbytes = store.content.read_bytes(cdesc.digest)
    else:
        cbytes = cli.read_blob(repo, cdesc.digest, cdesc.size, what=f"{what}: config")
    image = Image.from_bytes(cbytes)
    if want is not None and (image.os, image.architecture) != (want.os, want.architecture):
        raise ImageError(f"{what}: the image is for {image.os}/{image.architecture}, "
                         f"not the requested {want}",
                         hint="drop --platform, or pull a multi-platform image")
    return manifest, image, cbytes


def _existing(store: ImageStore, image_id: str) -> ImageRecord | None:
    from stackctl.errors import NotFound

    try:
        return store.get(image_id)
    except NotFound:
        return None


def _retag(store: ImageStore, rec: ImageRecord, name: str) -> ImageRecord:
    """Point ``name`` at an image already stored (the up-to-date path)."""
    if name in rec.refs:
        return rec
    if "@" not in name:
        return store.tag(rec.id, name)
    if store.exists(name):
        return rec  # the digest is this image's manifest digest: resolves as it is
    # an index digest: recorded as a ref (tag() refuses digests; add_image keeps them)
    with store.writing():
        return store.add_image(rec.image, store.layers_of(rec), [name],
                               config_bytes=store.config_bytes(rec),
                               manifest_bytes=store.content.read_bytes(rec.manifest_digest),
                               parent=rec.parent)


def _check_layers(manifest: Manifest, image: Image, what: str) -> None:
    if len(manifest.layers) != len(image.diff_ids):
        raise ImageError(f"{what}: the manifest lists {len(manifest.layers)} layers but the "
                         f"config has {len(image.diff_ids)} diff_ids",
                         hint="the image on the registry is inconsistent; push it again")
    for d in manifest.layers:
        if any(word in d.media_type for word in _NON_DISTRIBUTABLE):
            raise ImageError(f"{what}: layer {d.digest[:19]} is a foreign (non-distributable) "
                             f"layer ({d.media_type})", hint="such images (Windows base "
                             "layers) are not supported")
        if d.media_type.endswith("zstd"):
            raise ImageError(f"{what}: layer {d.digest[:19]} is zstd-compressed",
                             hint="zstd layers are not supported; push the image with gzip")


def _verify_diff_ids(layers: list[Layer], image: Image, what: str) -> None:
    """What was downloaded is what the config describes (checked before anything is
    registered: a registry cannot swap a layer that matches its manifest digest)."""
    for n, (layer, want) in enumerate(zip(layers, image.diff_ids, strict=True)):
        if layer.diff_id != want:
            raise ImageError(f"{what}: layer {n + 1} ({layer.blob.digest[:19]}) does not match "
                             f"the image config's diff_id (expected {want}, got "
                             f"{layer.diff_id})",
                             hint="the image on the registry is inconsistent; push it again")


@dataclass(frozen=True)
class _Job:
    blob: Descriptor
    chain_id: str  # of the blob's first position in the image
    diff_id: str  # what the config says it must be


def _fetch_layers(cli: RegistryClient, store: ImageStore, repo: str, manifest: Manifest,
                  image: Image, notify: Progress, max_concurrent: int, what: str,
                  sleep: Callable[[float], None]) -> tuple[int, int, dict[str, str]]:
    """Download (and unpack) missing layer blobs; return (count, bytes, diff ID by blob
    digest)."""
    diff_ids: dict[str, str] = {}
    missing: dict[str, _Job] = {}
    for d, chain, want in zip(manifest.layers, chain_ids(image.diff_ids), image.diff_ids,
                              strict=True):
        if d.digest in diff_ids or d.digest in missing:
            continue
        if store.content.has(d.digest):
            notify(PullEvent("exists", _short(d.digest)))
            diff_ids[d.digest] = _known_diff_id(store, d.digest)
        else:
            missing[d.digest] = _Job(d, chain, want)
    if not missing:
        return 0, 0, diff_ids
    jobs = list(missing.values())
    found = run_cancellable(
        [partial(_download, cli, repo, job, store, notify=notify, what=what, sleep=sleep)
         for job in jobs], max_concurrent=max_concurrent, name="pull")
    for job, diff_id in zip(jobs, found, strict=True):
        diff_ids[job.blob.digest] = diff_id
    return len(missing), sum(j.blob.size for j in missing.values()), diff_ids


def _download(cli: RegistryClient, repo: str, job: _Job, store: ImageStore,
              cancel: threading.Event, notify: Progress, what: str,
              sleep: Callable[[float], None]) -> str:
    """One blob into the content store (fetch.py), then unpacked right away when its
    diff ID is the expected one, so unpacking overlaps the other downloads (as
    containerd's unpacker does); ``add_image`` finds the directory ready. Returns the
    diff ID; a wrong one is reported by the caller, and nothing is unpacked for it."""
    short = _short(job.blob.digest)
    notify(PullEvent("downloading", short, str(job.blob.size)))
    diff_id = fetch_layer(cli, repo, job.blob, store.content, cancel=cancel, sleep=sleep,
                          what=f"{what}: layer {short}",
                          notify=lambda kind, detail: notify(PullEvent(kind, short, detail)))
    if diff_id == job.diff_id and not cancel.is_set():
        notify(PullEvent("extracting", short))
        store.layers.unpack(job.chain_id, store.content.path(job.blob.digest), diff_id=diff_id)
    notify(PullEvent("complete", short, str(job.blob.size)))
    return diff_id


def _known_diff_id(store: ImageStore, blob_digest: str) -> str:
    row = store.state.db.execute("SELECT diff_id FROM layers WHERE blob_digest = ? LIMIT 1",
                                 (blob_digest,)).fetchone()
    if row is not None:
        return str(row[0])
    return diff_id_of_file(store.content.path(blob_digest))


def _short(digest: str) -> str:
    return digest.split(":", 1)[-1][:12]


__all__ = ["PullEvent", "PullResult", "pull_image"]
