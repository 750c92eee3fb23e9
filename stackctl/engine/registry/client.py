"""RegistryClient: the OCI distribution API of one registry, authenticated.

Every request names the token scopes it needs. The first request pings
``GET /v2/`` to learn the registry's challenge (none, Basic or Bearer);
Bearer tokens are fetched per scope set and cached (tokens.py). A 401 on a
request (an expired token, or a registry wanting a wider scope) fetches a new
token from the challenge it carries and retries once. Error documents
(``{"errors": [{"code": "MANIFEST_UNKNOWN", ...}]}``) become ImageError or
NotFound with the reference in the message and a hint (registry_errors.py).

The module also has the two calls the scheduler's driver makes::

    client.pull(engine, "localhost:5000/app:1")    # -> PullResult
    client.push(engine, "localhost:5000/app:1")    # -> PushResult
"""

from __future__ import annotations

import http.client
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stackctl.engine.images.config import DOCKER_MANIFEST, MEDIA_INDEX, MEDIA_MANIFEST
from stackctl.engine.images.content import sha256_bytes
from stackctl.engine.registry.auth import AuthFile, Challenge, Credentials, parse_challenges
from stackctl.engine.registry.hosts import INSECURE_ENV, Endpoint, endpoint
from stackctl.engine.registry.registry_errors import response_error
from stackctl.engine.registry.tls import ssl_context
from stackctl.engine.registry.tokens import fetch_token
from stackctl.engine.registry.transport import Body, Transport, connection_error
from stackctl.errors import ImageError
from stackctl.lightdc import dataclass

if TYPE_CHECKING:
    from stackctl.engine.registry.pull import PullResult
    from stackctl.engine.registry.push import PushResult

DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MANIFEST_TYPES = (MEDIA_MANIFEST, MEDIA_INDEX, DOCKER_MANIFEST, DOCKER_LIST)
# schema 1 is accepted last, only so that such an image gets a clear "not supported"
# (pull.py) instead of a bare "manifest unknown"
ACCEPT = ", ".join((*MANIFEST_TYPES,
                    "application/vnd.docker.distribution.manifest.v1+prettyjws;q=0.1"))
MAX_MANIFEST = 4 << 20  # registries cap manifests at 4 MiB; so does the spec's guidance


@dataclass(frozen=True)
class Fetched:
    """A manifest (or index) as the registry served it; ``digest`` is of these bytes."""

    media_type: str
    digest: str
    data: bytes


class RegistryClient:
    def __init__(self, ep: Endpoint, *, credentials: Credentials | None = None,
                 transport: Transport | None = None) -> None:
        self.endpoint = ep
        self.credentials = credentials
        hint = f"use --insecure or add {ep.domain} to {INSECURE_ENV}"
        self.transport = transport or Transport(insecure_hint=hint)
        self._lock = threading.Lock()
        self._challenge: Challenge | None = None
        self._pinged = False
        self._tokens: dict[tuple[str, ...], str] = {}

    @classmethod
    def open(cls, root: Path, domain: str, *, insecure: bool = False,
             credentials: Credentials | None = None) -> RegistryClient:
        """A client for ``domain`` with the login saved under the state root ``root``
        (or ``credentials``) and the TLS settings of ``<root>/certs.d/<domain>``."""
        ctx = ssl_context(root, domain)
        ep = endpoint(domain, insecure=insecure, tls=ctx is not None)
        hint = f"use --insecure or add {ep.domain} to {INSECURE_ENV}"
        return cls(ep, credentials=credentials or AuthFile(root).get(domain),
                   transport=Transport(ssl_context=ctx, insecure_hint=hint))

    def close(self) -> None:
        self.transport.close()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- authentication -------------------------------------------------------------------

    def ping(self) -> Challenge | None:
        """``GET /v2/``: the registry's challenge, or None when it needs no auth."""
        with self._lock:
            if self._pinged:
                return self._challenge
        resp = self.transport.request("GET", self.endpoint.base_url + "/v2/")
        resp.read()
        challenge = None
        if resp.status == 401:
            found = parse_challenges(resp.getheader("WWW-Authenticate") or "")
            challenge = next((c for c in found if c.scheme == "bearer"),
                             next((c for c in found if c.scheme == "basic"), None))
        elif resp.status >= 400:
            raise response_error(resp, b"", self.endpoint.domain,
                                 f"registry {self.endpoint.domain} is not an OCI registry")
        with self._lock:
            self._challenge, self._pinged = challenge, True
        return challenge

    def _auth_header(self, scopes: tuple[str, ...], challenge: Challenge | None = None,
                     *, renew: bool = False) -> dict[str, str]:
        challenge = challenge or self.ping()
        if challenge is None:
            return {}
        if challenge.scheme == "basic":
            return {"Authorization": self.credentials.basic_header()} if self.credentials else {}
        if challenge.scheme != "bearer":
            raise ImageError(f"registry {self.endpoint.domain} asks for unsupported "
                             f"authentication {challenge.scheme!r}",
                             hint="stackctl supports Basic and Bearer token authentication")
        with self._lock:
            token = None if renew else self._tokens.get(scopes)
        if token is None:
            token = fetch_token(self.transport, challenge, scopes, self.credentials,
                                self.endpoint.domain, secure=self.endpoint.secure)
            with self._lock:
                self._tokens[scopes] = token
        return {"Authorization": f"Bearer {token}"}

    def check_login(self) -> None:
        """Prove ``credentials`` work (what ``login`` does before saving them)."""
        challenge = self.ping()
        if challenge is None:
            return
        headers = self._auth_header((), challenge)
        if challenge.scheme == "basic":
            resp = self.transport.request("GET", self.endpoint.base_url + "/v2/", headers)
            body = resp.read()
            if resp.status != 200:
                raise response_error(resp, body, self.endpoint.domain, "login", login=True)

    # -- requests -------------------------------------------------------------------------

    def request(self, method: str, path: str, scopes: tuple[str, ...], *,
                headers: dict[str, str] | None = None, body: Body = None,
                ok: tuple[int, ...] = (200,), what: str = "") -> http.client.HTTPResponse:
        """Send an authorised request; a response outside ``ok`` raises (mapped)."""
        url = path if "://" in path else self.endpoint.base_url + path
        hdrs = {**(headers or {}), **self._auth_header(scopes)}
        start = body.tell() if body is not None and not isinstance(body, bytes) \
            and body.seekable() else None
        resp = self.transport.request(method, url, hdrs, body)
        retry = None
        if resp.status == 401 and _replayable(body):
            denied = resp.read()  # before a token request reuses this thread's connection
            retry = self._retry_auth(resp, scopes, sent="Authorization" in hdrs)
            if retry is None:
                raise response_error(resp, denied, self.endpoint.domain, what,
                                     has_credentials=self.credentials is not None)
        if retry is not None:
            if start is not None:
                body.seek(start)  # type: ignore[union-attr]
            resp = self.transport.request(method, url, {**(headers or {}), **retry}, body)
        if resp.status not in ok:
            try:
                data = resp.read(1 << 20) if method != "HEAD" else b""
            except (OSError, http.client.HTTPException):
                data = b""
            self.transport.discard(resp)
            raise response_error(resp, data, self.endpoint.domain, what,
                                 has_credentials=self.credentials is not None)
        return resp

    def _retry_auth(self, resp: http.client.HTTPResponse, scopes: tuple[str, ...], *,
                    sent: bool) -> dict[str, str] | None:
        """New credentials for a request that got 401, or None when retrying cannot help:
        a Bearer challenge (an expired token, or a wider scope asked for) gets a fresh
        token; a Basic one gets the saved login if it was not sent already."""
        found = parse_challenges(resp.getheader("WWW-Authenticate") or "")
        bearer = next((c for c in found if c.scheme == "bearer"), None)
        if bearer is not None:
            more = tuple(sorted({*scopes, *bearer.get("scope").split()}))
            return self._auth_header(more, bearer, renew=True)
        if any(c.scheme == "basic" for c in found) and self.credentials and not sent:
            return {"Authorization": self.credentials.basic_header()}
        return None

    def get_manifest(self, repo: str, ref: str, *, what: str) -> Fetched:
        """A manifest or index by tag or digest, checked against its digest."""
        resp = self.request("GET", f"/v2/{repo}/manifests/{ref}", (f"repository:{repo}:pull",),
                            headers={"Accept": ACCEPT}, what=what)
        data = self._read_limited(resp, MAX_MANIFEST, "manifest")
        digest = sha256_bytes(data)
        claimed = resp.getheader("Docker-Content-Digest")
        expected = ref if ref.startswith("sha256:") else claimed
        if expected and expected.startswith("sha256:") and expected != digest:
            raise ImageError(f"{what}: the manifest registry {self.endpoint.domain} sent does "
                             f"not match its digest (expected {expected}, got {digest})",
                             hint="the registry or a proxy in between is corrupting content")
        media_type = (resp.getheader("Content-Type") or "").split(";")[0].strip()
        return Fetched(_media_type(data, media_type), digest, data)

    def list_tags(self, repo: str, *, what: str) -> list[str]:
        """Every tag of ``repo`` (``GET /v2/<repo>/tags/list``, following ``Link`` pages)."""
        import json
        import re

        tags: list[str] = []
        path: str | None = f"/v2/{repo}/tags/list?n=1000"
        for _page in range(1000):
            if path is None:
                break
            resp = self.request("GET", path, (f"repository:{repo}:pull",), what=what)
            data = self._read_limited(resp, MAX_MANIFEST, "tag list")
            try:
                tags.extend(str(t) for t in json.loads(data).get("tags") or ())
            except (ValueError, AttributeError) as exc:
                raise ImageError(f"{what}: registry {self.endpoint.domain} sent a bad tag "
                                 f"list: {exc}", hint="the registry is misbehaving") from exc
            link = re.match(r"\s*<([^>]+)>\s*;\s*rel=\"?next\"?", resp.getheader("Link") or "")
            path = link.group(1) if link else None
        return tags

    def blob_exists(self, repo: str, digest: str, scopes: tuple[str, ...]) -> bool:
        resp = self.request("HEAD", f"/v2/{repo}/blobs/{digest}", scopes, ok=(200, 404),
                            what=f"blob {digest[:19]}")
        resp.read()
        return resp.status == 200

    def open_blob(self, repo: str, digest: str, *, what: str,
                  offset: int = 0) -> http.client.HTTPResponse:
        """A blob's body as a stream; from ``offset`` on (206) when the registry honours
        Range, else whole (200)."""
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        return self.request("GET", f"/v2/{repo}/blobs/{digest}", (f"repository:{repo}:pull",),
                            headers=headers, ok=(200, 206) if offset else (200,), what=what)

    def read_blob(self, repo: str, digest: str, size: int, *, what: str) -> bytes:
        """A small blob (a config) in memory, verified."""
        data = self._read_limited(self.open_blob(repo, digest, what=what), size, what)
        got = sha256_bytes(data)
        if got != digest or len(data) != size:
            raise ImageError(f"{what}: registry {self.endpoint.domain} sent content that does "
                             f"not match its digest (expected {digest}, got {got})",
                             hint="the registry or a proxy in between is corrupting content")
        return data

    def _read_limited(self, resp: http.client.HTTPResponse, limit: int, what: str) -> bytes:
        host = self.endpoint.domain
        try:
            data = resp.read(limit + 1)
            if len(data) > limit:
                raise ImageError(f"{what} from registry {host} is larger than {limit} bytes",
                                 hint="the registry sent more than the manifest declared")
            resp.read()  # to the end, so the connection can be reused
        except (OSError, http.client.HTTPException) as exc:
            raise connection_error(host, exc) from exc
        finally:
            self.transport.discard(resp)
        return data


def _media_type(data: bytes, header: str) -> str:
    """The document's own mediaType wins over a generic Content-Type."""
    import json

    try:
        doc = json.loads(data)
    except ValueError:
        return header
    inner = doc.get("mediaType") if isinstance(doc, dict) else None
    if isinstance(inner, str) and inner:
        return inner
    if header in MANIFEST_TYPES:
        return header
    return MEDIA_INDEX if isinstance(doc, dict) and "manifests" in doc else MEDIA_MANIFEST




def _replayable(body: Body) -> bool:
    return body is None or isinstance(body, bytes) or (hasattr(body, "seekable")
                                                        and body.seekable())


# -- the scheduler's entry points -----------------------------------------------------------

def pull(engine: Any, image: str, **kwargs: Any) -> PullResult:
    """Pull ``image`` into the engine's image store (``up --pull``, ``compose pull``)."""
    from stackctl.engine.registry.pull import pull_image

    return pull_image(engine.images, image, auth_root=engine.root, **kwargs)


def push(engine: Any, image: str, **kwargs: Any) -> PushResult:
    """Push ``image`` from the engine's image store to its registry (``compose push``)."""
    from stackctl.engine.registry.push import push_image

    return push_image(engine.images, image, auth_root=engine.root, **kwargs)


__all__ = ["MANIFEST_TYPES", "Fetched", "RegistryClient", "pull", "push"]
