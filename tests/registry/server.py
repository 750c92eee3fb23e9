"""A small OCI distribution registry for the tests, on 127.0.0.1 only.

It follows the distribution spec's HTTP API closely enough that the client
is tested against real HTTP, not a mock: ``GET /v2/``, manifests (GET, HEAD,
PUT by tag or digest, with Accept negotiation and blob-existence checks),
blobs (GET with Range, HEAD, optional 307 redirect to a storage path), uploads (POST,
monolithic ``POST ?digest=``, PATCH chunks with Content-Range, PUT to
finish, cross-repository ``?mount=&from=``), ``tags/list``, and the spec's
JSON error documents. Plain HTTP, or HTTPS with a given certificate.
Authentication: none, Basic, or Bearer tokens from
its own ``/token`` endpoint (realm/service/scope challenges; scopes granted
per user; anonymous pull optional).

Faults, for the failure tests: ``corrupt`` (serve wrong bytes of the same
length for these digests), ``break_after`` (send this many bytes of these
blobs, then cut the connection; ``break_once``: only the next time),
``honour_range`` (False: ignore Range headers), ``unavailable`` (answer 503
to the next N GETs of a blob), ``lie_digest`` (a wrong
Docker-Content-Digest header on manifests). ``requests`` records every
(method, path) for assertions on what was (not) fetched.

All state is in memory and the server runs in daemon threads; ``stop()``
shuts it down. Never binds anything but 127.0.0.1.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
INDEXES = (OCI_INDEX, DOCKER_LIST)
SERVICE = "test-registry"

_NAME = r"(?P<name>[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*)"
_ROUTES = [
    ("base", re.compile(r"^/v2/?$")),
    ("tags", re.compile(rf"^/v2/{_NAME}/tags/list$")),
    ("manifest", re.compile(rf"^/v2/{_NAME}/manifests/(?P<ref>[^/]+)$")),
    ("upload", re.compile(rf"^/v2/{_NAME}/blobs/uploads/(?P<uuid>[0-9a-f]*)$")),
    ("blob", re.compile(rf"^/v2/{_NAME}/blobs/(?P<digest>sha256:[0-9a-f]{{64}})$")),
    ("storage", re.compile(r"^/_storage/(?P<digest>sha256:[0-9a-f]{64})$")),
    ("token", re.compile(r"^/token$")),
]


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Registry:
    def __init__(self, *, auth: str = "none", users: dict[str, str] | None = None,
                 anonymous_pull: bool = False, redirect_blobs: bool = False,
                 tls: tuple[str, str] | None = None) -> None:
        assert auth in ("none", "basic", "bearer")
        self.auth = auth
        self.users = dict(users or {})
        self.anonymous_pull = anonymous_pull
        self.redirect_blobs = redirect_blobs
        self.tls = tls  # (certfile, keyfile): serve HTTPS
        self.allow_mount = True
        self.blobs: dict[str, bytes] = {}
        self.links: dict[str, set[str]] = {}  # repo -> blob digests it holds
        self.manifests: dict[str, dict[str, tuple[str, bytes]]] = {}  # repo -> digest -> doc
        self.tags: dict[str, dict[str, str]] = {}  # repo -> tag -> digest
        self.uploads: dict[str, tuple[str, bytearray]] = {}
        self.tokens: dict[str, set[str]] = {}  # token -> granted "repo:action"
        self.requests: list[tuple[str, str]] = []
        self.corrupt: set[str] = set()
        self.break_after: dict[str, int] = {}
        self.break_once: dict[str, int] = {}
        self.unavailable: dict[str, int] = {}  # digest -> how many GETs answer 503 first
        self.honour_range = True
        self.tags_page = 1000  # most tags per tags/list page
        self.open_base = False  # Basic: GET /v2/ answers 200 to anyone (auth per repository)
        self.ranges: list[str] = []  # Range headers received, e.g. "bytes=100-"
        self.lie_digest = False
        self.lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> Registry:
        registry = self

        class Handler(_Handler):
            reg = registry

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        if self.tls is not None:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*self.tls)
            self._server.socket = ctx.wrap_socket(self._server.socket, server_side=True)
        server = self._server
        self._thread = threading.Thread(target=lambda: server.serve_forever(poll_interval=0.05),
                                        daemon=True, name="test-registry")
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Registry:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def host(self) -> str:
        assert self._server is not None
        return f"127.0.0.1:{self._server.server_address[1]}"

    # -- seeding and inspection (server side, no HTTP) ------------------------------------

    def put_blob(self, repo: str, data: bytes) -> str:
        digest = sha256(data)
        with self.lock:
            self.blobs[digest] = data
            self.links.setdefault(repo, set()).add(digest)
        return digest

    def put_manifest(self, repo: str, ref: str | None, media_type: str, data: bytes) -> str:
        digest = sha256(data)
        with self.lock:
            self.manifests.setdefault(repo, {})[digest] = (media_type, data)
            if ref:
                self.tags.setdefault(repo, {})[ref] = digest
        return digest

    def count(self, method: str, suffix: str) -> int:
        with self.lock:
            return sum(1 for m, p in self.requests if m == method and p.endswith(suffix))


class _Handler(BaseHTTPRequestHandler):
    reg: Registry
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        # headers and body go out in separate writes: without NODELAY, Nagle plus the
        # client's delayed ACK would add ~40 ms to every response
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    # -- plumbing -------------------------------------------------------------------------

    def _body(self) -> bytes:
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None,
              *, head: bool = False) -> None:
        self.send_response(status)
        hdrs = {"Docker-Distribution-Api-Version": "registry/2.0", **(headers or {})}
        hdrs.setdefault("Content-Length", str(len(body)))
        for k, v in hdrs.items():
            self.send_header(k, v)
        self.end_headers()
        if body and not head and self.command != "HEAD":
            self.wfile.write(body)

    def _error(self, status: int, code: str, message: str,
               headers: dict[str, str] | None = None) -> None:
        doc = {"errors": [{"code": code, "message": message, "detail": None}]}
        self._send(status, json.dumps(doc).encode(),
                   {"Content-Type": "application/json", **(headers or {})})

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        with self.reg.lock:
            self.reg.requests.append((method, url.path))
        body = self._body() if method in ("PUT", "POST", "PATCH") else b""
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        for kind, rx in _ROUTES:
            m = rx.match(url.path)
            if m is None:
                continue
            args = m.groupdict()
            if kind == "token":
                return self._token(url.query)
            if kind == "storage":
                return self._storage(args["digest"], head=method == "HEAD")
            name = args.get("name") or ""
            push = method in ("PUT", "POST", "PATCH", "DELETE")
            if not self._authorized(name, "push" if push else "pull", kind == "base"):
                return None
            return getattr(self, f"_{kind}")(method, body, query, **args)
        return self._error(404, "NOT_FOUND", f"no route for {url.path}")

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    # -- auth -----------------------------------------------------------------------------

    def _basic_user(self) -> str | None:
        """The user of a valid Basic header; "" for none; None for wrong credentials."""
        value = self.headers.get("Authorization") or ""
        if not value.startswith("Basic "):
            return ""
        user, _, password = base64.b64decode(value[6:]).decode().partition(":")
        return user if self.reg.users.get(user) == password and user else None

    def _authorized(self, name: str, action: str, base: bool) -> bool:
        reg = self.reg
        if reg.auth == "none":
            return True
        if reg.auth == "basic":
            if self._basic_user() or (base and reg.open_base):
                return True
            self._error(401, "UNAUTHORIZED", "authentication required",
                        {"WWW-Authenticate": 'Basic realm="test-registry"'})
            return False
        value = self.headers.get("Authorization") or ""
        token = value[7:] if value.startswith("Bearer ") else ""
        with reg.lock:
            grants = reg.tokens.get(token)
        if grants is not None and (base or f"{name}:{action}" in grants):
            return True
        actions = "pull" if action == "pull" else "pull,push"
        scheme = "https" if reg.tls else "http"
        host, port = self.server.server_address[:2]
        realm = f"{scheme}://{host}:{port}/token"
        challenge = f'Bearer realm="{realm}",service="{SERVICE}"'
        if not base:
            challenge += f',scope="repository:{name}:{actions}"'
        self._error(401, "UNAUTHORIZED", "authentication required",
                    {"WWW-Authenticate": challenge})
        return False

    def _token(self, query: str) -> None:
        params = parse_qs(query)
        user = self._basic_user()
        if user is None:
            return self._error(401, "UNAUTHORIZED", "invalid username or password")
        if params.get("service", [""])[0] != SERVICE:
            return self._error(400, "UNSUPPORTED", "unknown service")
        granted: set[str] = set()
        for sc in params.get("scope", []):
            kind, _, rest = sc.partition(":")
            repo, _, actions = rest.rpartition(":")
            if kind != "repository":
                continue
            for action in actions.split(","):
                if user or (action == "pull" and self.reg.anonymous_pull):
                    granted.add(f"{repo}:{action}")
        token = secrets.token_hex(16)
        with self.reg.lock:
            self.reg.tokens[token] = granted
        self._send(200, json.dumps({"token": token, "expires_in": 300}).encode(),
                   {"Content-Type": "application/json"})
        return None

    # -- API ------------------------------------------------------------------------------

    def _base(self, method: str, body: bytes, query: dict[str, str]) -> None:
        self._send(200, b"{}", {"Content-Type": "application/json"}, head=method == "HEAD")

    def _tags(self, method: str, body: bytes, query: dict[str, str], name: str) -> None:
        with self.reg.lock:
            tags = sorted(self.reg.tags.get(name, {}))
        if name not in self.reg.manifests:
            return self._error(404, "NAME_UNKNOWN", f"repository name not known: {name}")
        if "last" in query:
            tags = [t for t in tags if t > query["last"]]
        # a registry may return fewer than n and point at the next page with Link
        n = min(int(query.get("n") or len(tags) or 1), self.reg.tags_page)
        page, more = tags[:n], len(tags) > n
        headers = {"Content-Type": "application/json"}
        if more:
            headers["Link"] = f'</v2/{name}/tags/list?n={n}&last={page[-1]}>; rel="next"'
        self._send(200, json.dumps({"name": name, "tags": page}).encode(), headers)
        return None

    def _manifest(self, method: str, body: bytes, query: dict[str, str], name: str,
                  ref: str) -> None:
        reg = self.reg
        if method == "PUT":
            return self._put_manifest(name, ref, body)
        with reg.lock:
            known = name in reg.manifests
            digest = ref if ref.startswith("sha256:") else reg.tags.get(name, {}).get(ref)
            doc = reg.manifests.get(name, {}).get(digest or "")
        if not known:
            return self._error(404, "NAME_UNKNOWN", f"repository name not known: {name}")
        if doc is None:
            return self._error(404, "MANIFEST_UNKNOWN", f"manifest unknown: {ref}")
        media_type, data = doc
        accept = self.headers.get("Accept") or ""
        if accept and media_type not in accept and "*/*" not in accept:
            return self._error(404, "MANIFEST_UNKNOWN", f"no manifest of the accepted types "
                               f"for {ref}")
        shown = sha256(b"lie" + data) if reg.lie_digest else sha256(data)
        self._send(200, data, {"Content-Type": media_type, "Docker-Content-Digest": shown},
                   head=method == "HEAD")
        return None

    def _put_manifest(self, name: str, ref: str, body: bytes) -> None:
        media_type = (self.headers.get("Content-Type") or "").split(";")[0]
        try:
            doc = json.loads(body)
        except ValueError:
            return self._error(400, "MANIFEST_INVALID", "manifest is not JSON")
        digest = sha256(body)
        if ref.startswith("sha256:") and ref != digest:
            return self._error(400, "DIGEST_INVALID", "manifest digest does not match")
        with self.reg.lock:
            have = self.reg.links.get(name, set())
            known = self.reg.manifests.get(name, {})
            if media_type in INDEXES:
                missing = [m["digest"] for m in doc.get("manifests", [])
                           if m["digest"] not in known]
            else:
                missing = [d["digest"] for d in [doc.get("config", {}), *doc.get("layers", [])]
                           if d.get("digest") not in have]
        if missing:
            return self._error(400, "MANIFEST_BLOB_UNKNOWN", f"blob unknown: {missing[0]}")
        self.reg.put_manifest(name, None if ref.startswith("sha256:") else ref,
                              media_type, body)
        self._send(201, b"", {"Location": f"/v2/{name}/manifests/{digest}",
                              "Docker-Content-Digest": digest})
        return None

    def _blob(self, method: str, body: bytes, query: dict[str, str], name: str,
              digest: str) -> None:
        with self.reg.lock:
            linked = digest in self.reg.links.get(name, set())
            failing = self.reg.unavailable.get(digest, 0) > 0 and method == "GET"
            if failing:
                self.reg.unavailable[digest] -= 1
        if failing:
            return self._error(503, "UNAVAILABLE", "service unavailable, try again later")
        if not linked:
            return self._error(404, "BLOB_UNKNOWN", f"blob unknown to registry: {digest}")
        if self.reg.redirect_blobs:
            return self._send(307, b"", {"Location": f"/_storage/{digest}"})
        return self._storage(digest, head=method == "HEAD")

    def _storage(self, digest: str, *, head: bool) -> None:
        with self.reg.lock:
            data = self.reg.blobs.get(digest)
            cut = self.reg.break_after.get(digest)
            if cut is None and not head:
                cut = self.reg.break_once.pop(digest, None)
            corrupt = digest in self.reg.corrupt
        if data is None:
            return self._error(404, "BLOB_UNKNOWN", f"blob unknown: {digest}")
        if corrupt and not head:
            data = bytes([data[0] ^ 0xFF]) + data[1:]
        status, headers = 200, {"Content-Type": "application/octet-stream",
                                "Docker-Content-Digest": digest, "Accept-Ranges": "bytes"}
        rng = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
        if rng:
            with self.reg.lock:
                self.reg.ranges.append(rng.group(0))
        if rng and self.reg.honour_range and int(rng.group(1)) < len(data):
            start = int(rng.group(1))
            headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
            status, data = 206, data[start:]
        headers["Content-Length"] = str(len(data))
        if cut is not None and not head:
            self._send(status, b"", headers)
            self.wfile.write(data[:cut])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return None
        self._send(status, data, headers, head=head)
        return None

    def _upload(self, method: str, body: bytes, query: dict[str, str], name: str,
                uuid: str) -> None:
        reg = self.reg
        if method == "POST" and not uuid:
            src, digest = query.get("from"), query.get("mount")
            if digest and src and reg.allow_mount:
                with reg.lock:
                    ok = digest in reg.links.get(src, set())
                    if ok:
                        reg.links.setdefault(name, set()).add(digest)
                if ok:
                    return self._send(201, b"", {"Location": f"/v2/{name}/blobs/{digest}",
                                                 "Docker-Content-Digest": digest})
            if query.get("digest"):  # monolithic upload in one POST
                return self._finish(name, bytearray(body), query["digest"])
            uuid = secrets.token_hex(8)
            with reg.lock:
                reg.uploads[uuid] = (name, bytearray())
            return self._send(202, b"", {"Location": f"/v2/{name}/blobs/uploads/{uuid}",
                                         "Range": "0-0", "Docker-Upload-UUID": uuid})
        with reg.lock:
            session = reg.uploads.get(uuid)
        if session is None or session[0] != name:
            return self._error(404, "BLOB_UPLOAD_UNKNOWN", f"upload unknown: {uuid}")
        buf = session[1]
        if method == "PATCH":
            rng = self.headers.get("Content-Range")
            if rng and int(rng.split("-")[0]) != len(buf):
                return self._error(416, "BLOB_UPLOAD_INVALID", "out-of-order chunk")
            buf.extend(body)
            return self._send(202, b"", {"Location": f"/v2/{name}/blobs/uploads/{uuid}",
                                         "Range": f"0-{len(buf) - 1}",
                                         "Docker-Upload-UUID": uuid})
        if method == "PUT":
            buf.extend(body)
            with reg.lock:
                reg.uploads.pop(uuid, None)
            return self._finish(name, buf, query.get("digest", ""))
        return self._error(405, "UNSUPPORTED", f"{method} on an upload")

    def _finish(self, name: str, data: bytearray, digest: str) -> None:
        if sha256(bytes(data)) != digest:
            return self._error(400, "DIGEST_INVALID", "provided digest did not match content")
        self.reg.put_blob(name, bytes(data))
        self._send(201, b"", {"Location": f"/v2/{name}/blobs/{digest}",
                              "Docker-Content-Digest": digest})
        return None


__all__ = ["DOCKER_LIST", "DOCKER_MANIFEST", "OCI_INDEX", "OCI_MANIFEST", "Registry", "sha256"]
