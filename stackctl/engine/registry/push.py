"""``push``: an image of the local store -> a repository on a registry.

    for each blob (layers, then the config), concurrently:
        HEAD /v2/<repo>/blobs/<digest>              200: "Layer already exists"
        POST .../blobs/uploads/?mount=<d>&from=<r>  201: mounted from another repository
                                                    of the same registry that this image
                                                    is also tagged in (no bytes sent)
        POST .../blobs/uploads/                     202 + Location: an upload session
        PUT  <location>&digest=<d>  (the blob)      monolithic, blobs <= chunk_size
        PATCH <location> (Content-Range) ... PUT <location>&digest=<d>    chunked
    PUT /v2/<repo>/manifests/<tag or digest>        the stored manifest bytes, unchanged

Blobs are pushed exactly as stored, and so is the manifest: the registry's
manifest digest is the local one, and a pull into another root gets the same
image ID and manifest digest back. ``compress`` pushes gzip copies of plain
layers instead (compress.py): same image ID, another manifest digest.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from functools import partial
from pathlib import Path
from urllib.parse import quote

from stackctl.engine.images import reference
from stackctl.engine.images.content import ContentStore, Descriptor, sha256_bytes
from stackctl.engine.images.layout import Manifest
from stackctl.engine.images.store import ImageStore
from stackctl.engine.registry.client import RegistryClient
from stackctl.engine.registry.compress import compressed_manifest
from stackctl.engine.registry.parallel import run_cancellable
from stackctl.errors import ImageError, NotFound, UsageError
from stackctl.lightdc import dataclass

CHUNK_SIZE = 32 << 20  # larger blobs go up in PATCH chunks of this size


@dataclass(frozen=True)
class PushEvent:
    """Progress: ``kind`` is preparing | exists | mounted | pushing | pushed."""

    kind: str
    id: str
    detail: str = ""


Progress = Callable[[PushEvent], None]


@dataclass(frozen=True)
class PushResult:
    reference: str  # normalised
    tag: str  # the tag pushed, or "" when pushed by digest
    digest: str  # the manifest digest, as the registry confirmed it
    size: int  # bytes of the manifest (docker prints this)
    uploaded: int
    mounted: int
    existing: int


def push_image(store: ImageStore, ref: str, *, auth_root: Path | None = None,
               insecure: bool = False, client: RegistryClient | None = None,
               progress: Progress | None = None, max_concurrent: int = 3,
               chunk_size: int = CHUNK_SIZE, compress: bool = False) -> PushResult:
    """Push ``ref``. ``compress`` pushes gzip copies of uncompressed layers (compress.py):
    same image ID on the registry, another manifest digest."""
    r = reference.parse(ref)
    try:
        rec = store.resolve(str(r))
    except NotFound:
        raise NotFound(f"An image does not exist locally with the tag: {r.familiar()}",
                       hint=f"tag an image first: stackctl tag IMAGE {r.familiar()}") from None
    if compress and r.digest:
        raise UsageError(f"cannot push {r.familiar()} by digest with --compress",
                         hint="compressing makes another manifest, with another digest; "
                         "push by tag")
    what = f"push of {r.familiar()}"
    sources = sorted({p.path for p in map(reference.parse, rec.refs)
                      if p.domain == r.domain and p.path != r.path})
    scopes = (f"repository:{r.path}:pull,push", *(f"repository:{s}:pull" for s in sources))
    notify = progress or (lambda _e: None)
    with contextlib.ExitStack() as stack:
        cli = client or stack.enter_context(
            RegistryClient.open(auth_root or store.root, r.domain, insecure=insecure))
        mbytes = store.content.read_bytes(rec.manifest_digest)
        manifest = Manifest.from_bytes(mbytes)
        if compress:
            stack.enter_context(store.writing())  # until pushed: prune must not sweep copies
            manifest, mbytes = compressed_manifest(store, manifest)
        digest = sha256_bytes(mbytes)
        blobs: dict[str, Descriptor] = {d.digest: d for d in (*manifest.layers, manifest.config)}
        counts = _push_blobs(cli, store.content, r.path, list(blobs.values()), sources, scopes,
                             notify, max_concurrent, chunk_size, what)
        ref_part = r.tag or r.digest or "latest"
        resp = cli.request("PUT", f"/v2/{r.path}/manifests/{ref_part}", scopes,
                           headers={"Content-Type": manifest.media_type,
                                    "Content-Length": str(len(mbytes))},
                           body=mbytes, ok=(200, 201), what=f"{what}: manifest")
        resp.read()
        confirmed = resp.getheader("Docker-Content-Digest") or digest
        if confirmed != digest:
            raise ImageError(f"{what}: registry {r.domain} stored the manifest as {confirmed}, "
                             f"not {digest}",
                             hint="the registry rewrote the manifest; pull by tag instead")
        return PushResult(str(r), r.tag or "", digest, len(mbytes), *counts)
    raise AssertionError("unreachable")  # ExitStack does not swallow exceptions


def _push_blobs(cli: RegistryClient, content: ContentStore, repo: str,
                blobs: list[Descriptor], sources: list[str], scopes: tuple[str, ...],
                notify: Progress, max_concurrent: int, chunk_size: int,
                what: str) -> tuple[int, int, int]:
    outcomes = run_cancellable(
        [partial(_push_blob, cli, content, repo, d, sources, scopes, notify, chunk_size,
                 what=what) for d in blobs],
        max_concurrent=max_concurrent, name="push")
    return outcomes.count("pushed"), outcomes.count("mounted"), outcomes.count("exists")


def _push_blob(cli: RegistryClient, content: ContentStore, repo: str, desc: Descriptor,
               sources: list[str], scopes: tuple[str, ...], notify: Progress, chunk_size: int,
               cancel: threading.Event, what: str) -> str:
    short = desc.digest.split(":", 1)[1][:12]
    label = f"{what}: blob {short}"
    if cancel.is_set():
        return "cancelled"
    notify(PushEvent("preparing", short))
    if cli.blob_exists(repo, desc.digest, scopes):
        notify(PushEvent("exists", short))
        return "exists"
    location = None
    for src in sources:
        resp = cli.request("POST", f"/v2/{repo}/blobs/uploads/?mount={quote(desc.digest)}"
                           f"&from={quote(src)}", scopes, headers={"Content-Length": "0"},
                           ok=(201, 202), what=label)
        resp.read()
        if resp.status == 201:
            notify(PushEvent("mounted", short, src))
            return "mounted"
        location = _location(cli, resp.getheader("Location"), label)
        break  # 202: the registry opened an upload session instead; use it
    if location is None:
        resp = cli.request("POST", f"/v2/{repo}/blobs/uploads/", scopes,
                           headers={"Content-Length": "0"}, ok=(202,), what=label)
        resp.read()
        location = _location(cli, resp.getheader("Location"), label)
    notify(PushEvent("pushing", short, str(desc.size)))
    with content.open(desc.digest) as fh:
        if desc.size <= chunk_size:
            resp = cli.request("PUT", _with_digest(location, desc.digest), scopes,
                               headers={"Content-Type": "application/octet-stream",
                                        "Content-Length": str(desc.size)},
                               body=fh, ok=(201, 204), what=label)
            resp.read()
        else:
            offset = 0
            while chunk := fh.read(chunk_size):
                if cancel.is_set():
                    return "cancelled"
                end = offset + len(chunk) - 1
                resp = cli.request("PATCH", location, scopes,
                                   headers={"Content-Type": "application/octet-stream",
                                            "Content-Range": f"{offset}-{end}",
                                            "Content-Length": str(len(chunk))},
                                   body=chunk, ok=(202,), what=label)
                resp.read()
                location = _location(cli, resp.getheader("Location"), label)
                offset = end + 1
            resp = cli.request("PUT", _with_digest(location, desc.digest), scopes,
                               headers={"Content-Length": "0"}, ok=(201, 204), what=label)
            resp.read()
    notify(PushEvent("pushed", short, str(desc.size)))
    return "pushed"


def _location(cli: RegistryClient, loc: str | None, label: str) -> str:
    from urllib.parse import urljoin

    if not loc:
        raise ImageError(f"{label}: registry {cli.endpoint.domain} sent no upload location",
                         hint="the registry does not follow the distribution spec")
    return urljoin(cli.endpoint.base_url + "/v2/", loc)


def _with_digest(location: str, digest: str) -> str:
    return location + ("&" if "?" in location else "?") + f"digest={quote(digest)}"


__all__ = ["CHUNK_SIZE", "PushEvent", "PushResult", "push_image"]
