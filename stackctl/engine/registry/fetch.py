"""One layer blob from a registry into the content store, verified as it streams.

The bytes go into a content-store ingest while two hashes run over them: the
blob digest (sha256 of the bytes as served) and the diff ID (sha256 of the
uncompressed tar, see diffid.py). The blob is committed only when size and
digest match the manifest's descriptor; anything else aborts the ingest, so
no partial blob is ever left.

A connection that breaks mid-blob, or a transient failure (a 5xx answer, a
refused or timed-out connection), is retried (``RETRIES`` times, back-off 0.5 s,
1 s, 2 s) from the byte where it stopped, with ``Range: bytes=N-``: what was
received stays in the ingest and in the running hashes. A registry that
ignores Range answers 200 with the whole blob, and its first N bytes are
skipped. The back-off sleeps through an injectable ``sleep`` (tests pass a
no-op).
"""

from __future__ import annotations

import http.client
import re
import threading
import time
from collections.abc import Callable

from stackctl.engine.images.content import CHUNK, ContentStore, Descriptor, Writer
from stackctl.engine.registry.client import RegistryClient
from stackctl.engine.registry.diffid import DiffHasher
from stackctl.engine.registry.registry_errors import TransientRegistryError
from stackctl.engine.registry.transport import connection_error
from stackctl.errors import ImageError

RETRIES = 3
_CONTENT_RANGE = re.compile(r"bytes (\d+)-\d+/(?:\d+|\*)")


class Cancelled(Exception):
    """Another download of the same pull failed; this one stopped early."""


Notify = Callable[[str, str], None]  # (kind, detail): ("progress", "3/10"), ("retrying", ...)


def fetch_layer(cli: RegistryClient, repo: str, desc: Descriptor, content: ContentStore, *,
                cancel: threading.Event, what: str, notify: Notify | None = None,
                sleep: Callable[[float], None] = time.sleep, retries: int = RETRIES) -> str:
    """Download and commit ``desc``; return its diff ID."""
    host = cli.endpoint.domain
    hasher = DiffHasher()
    with content.writer() as w:
        attempt = 0
        while True:
            if cancel.is_set():
                raise Cancelled
            try:
                resp = cli.open_blob(repo, desc.digest, what=what, offset=w.size)
                try:
                    _copy(resp, w, hasher, desc, cancel, what, host,
                          lambda n: notify("progress", f"{n}/{desc.size}") if notify else None)
                finally:
                    cli.transport.discard(resp)
                break
            except (OSError, http.client.HTTPException, TransientRegistryError) as exc:
                attempt += 1
                if attempt > retries:
                    if isinstance(exc, TransientRegistryError):
                        raise
                    raise connection_error(host, exc) from exc
                if notify is not None:
                    notify("retrying", f"{w.size}/{desc.size} bytes")
                sleep(min(0.5 * 2 ** (attempt - 1), 5.0))
        if w.size < desc.size:
            raise ImageError(f"{what}: the download of {desc.digest} from {host} ended after "
                             f"{w.size} of {desc.size} bytes",
                             hint="try again: layers already downloaded are kept")
        if w.digest != desc.digest:
            raise ImageError(f"{what}: the blob from registry {host} does not match its digest "
                             f"(expected {desc.digest}, got {w.digest})",
                             hint="the registry or a proxy is corrupting content; "
                             "nothing was stored")
        diff_id = hasher.hexdigest(what)
        w.commit(expected_digest=desc.digest, expected_size=desc.size)
    return diff_id


def _copy(resp: http.client.HTTPResponse, w: Writer, hasher: DiffHasher, desc: Descriptor,
          cancel: threading.Event, what: str, host: str,
          progress: Callable[[int], None]) -> None:
    skip = 0
    if w.size:
        if resp.status == 206:
            m = _CONTENT_RANGE.match(resp.getheader("Content-Range") or "")
            if m is None or int(m.group(1)) != w.size:
                raise ImageError(f"{what}: registry {host} resumed the download at the wrong "
                                 f"offset ({resp.getheader('Content-Range')})",
                                 hint="try again")
        else:
            skip = w.size  # Range ignored: the whole blob again
    while chunk := resp.read(CHUNK):
        if cancel.is_set():
            raise Cancelled
        if skip:
            dropped = min(skip, len(chunk))
            chunk, skip = chunk[dropped:], skip - dropped
            if not chunk:
                continue
        if w.size + len(chunk) > desc.size:
            raise ImageError(f"{what}: registry {host} sent more than the {desc.size} bytes "
                             f"of {desc.digest}",
                             hint="the registry or a proxy is corrupting content")
        w.write(chunk)
        hasher.update(chunk)
        progress(w.size)
    if w.size < desc.size:
        # http.client's read(n) returns b"" on a cut connection instead of raising
        raise http.client.IncompleteRead(b"", desc.size - w.size)


__all__ = ["RETRIES", "Cancelled", "fetch_layer"]
