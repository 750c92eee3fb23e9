"""HTTP for the registry client: stdlib ``http.client``, no extra dependency.

One keep-alive connection per (thread, scheme, host): pulls fetch blobs from
a few worker threads, and an ``HTTPConnection`` must not be shared between
threads. A request on a connection the server has meanwhile closed is retried
once on a fresh one when it can be replayed (no body, bytes, or a seekable
file). Redirects (blob downloads are often redirected to storage) are followed
for GET/HEAD, and the Authorization header is dropped when the host changes.
Proxies come from the environment (proxy.py): a CONNECT tunnel for HTTPS,
absolute URLs for plain HTTP; loopback is always direct.
Socket and TLS failures become ImageError naming the host.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import ssl
import threading
import weakref
from collections.abc import Mapping
from typing import IO
from urllib.parse import urljoin, urlsplit

from stackctl.engine.registry.hosts import split_host
from stackctl.engine.registry.proxy import Proxy, proxy_for
from stackctl.engine.registry.registry_errors import TransientRegistryError
from stackctl.errors import ImageError

Body = bytes | IO[bytes] | None
_REDIRECTS = (301, 302, 303, 307, 308)
_USER_AGENT = "stackctl"


class Transport:
    """Sends requests; owns every connection it opened (``close`` closes them all)."""

    def __init__(self, *, timeout: float = 60.0, ssl_context: ssl.SSLContext | None = None,
                 insecure_hint: str = "", env: Mapping[str, str] | None = None) -> None:
        self.timeout = timeout
        self._ssl = ssl_context
        self._env = env  # proxy variables; None: the process environment
        self._local = threading.local()
        self._all: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()
        # which connection each live response came from, for discard()
        self._owner: weakref.WeakKeyDictionary[http.client.HTTPResponse,
                                               http.client.HTTPConnection] = \
            weakref.WeakKeyDictionary()
        self.insecure_hint = insecure_hint

    def close(self) -> None:
        with self._lock:
            conns, self._all = self._all, []
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.close()

    def discard(self, resp: http.client.HTTPResponse) -> None:
        """Drop a response that was not read to its end, with its connection: the rest
        of its body would otherwise be parsed as the next response on that connection."""
        if resp.isclosed():
            return  # read to the end: the connection is clean and stays cached
        with self._lock:
            conn = self._owner.pop(resp, None)
        resp.close()
        if conn is not None:
            conn.close()  # http.client reconnects on its next request

    def _conn(self, scheme: str, netloc: str,
              fresh: bool = False) -> tuple[http.client.HTTPConnection, Proxy | None]:
        cache: dict[tuple[str, str], tuple[http.client.HTTPConnection, Proxy | None]] = \
            self._local.__dict__.setdefault("conns", {})
        key = (scheme, netloc)
        cached = cache.get(key)
        if cached is not None and not fresh:
            return cached
        if cached is not None:
            cached[0].close()
        proxy = proxy_for(scheme, netloc, self._env)
        target = proxy.netloc if proxy is not None else netloc
        conn: http.client.HTTPConnection
        if scheme == "https":
            ctx = self._ssl or ssl.create_default_context()
            conn = http.client.HTTPSConnection(target, timeout=self.timeout, context=ctx)
            if proxy is not None:  # CONNECT tunnel; TLS verified against the registry's name
                host, port = split_host(netloc)
                conn.set_tunnel(host, port or 443, headers=proxy.headers())
        else:
            conn = http.client.HTTPConnection(target, timeout=self.timeout)
        cache[key] = (conn, proxy)
        with self._lock:
            self._all.append(conn)
        return conn, proxy

    def request(self, method: str, url: str, headers: Mapping[str, str] | None = None,
                body: Body = None) -> http.client.HTTPResponse:
        """Send one request, following redirects for GET/HEAD. The caller reads (or
        closes) the response before the next request on this thread."""
        hdrs = {"User-Agent": _USER_AGENT, **(headers or {})}
        for _ in range(6):
            resp = self._send(method, url, hdrs, body)
            if resp.status not in _REDIRECTS or method not in ("GET", "HEAD"):
                return resp
            location = resp.getheader("Location")
            resp.read()
            if not location:
                return resp
            target = urljoin(url, location)
            if urlsplit(target).netloc != urlsplit(url).netloc:
                hdrs.pop("Authorization", None)  # a bearer token is for the registry only
            url = target
        raise ImageError(f"too many redirects fetching {url}",
                         hint="the registry or its storage is misconfigured")

    def _send(self, method: str, url: str, headers: dict[str, str],
              body: Body) -> http.client.HTTPResponse:
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        start = body.tell() if body is not None and not isinstance(body, bytes) \
            and body.seekable() else None
        replayable = body is None or isinstance(body, bytes) or start is not None
        for attempt in (0, 1):
            conn, proxy = self._conn(parts.scheme, parts.netloc, fresh=attempt > 0)
            target, hdrs = path, headers
            if proxy is not None and parts.scheme == "http":  # a forward proxy: absolute URL
                target, hdrs = url, {**headers, **proxy.headers()}
            try:
                conn.request(method, target, body=body, headers=hdrs)
                resp = conn.getresponse()
                with self._lock:
                    self._owner[resp] = conn
                return resp
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError,
                    http.client.CannotSendRequest) as exc:
                conn.close()
                if attempt or not replayable:
                    raise connection_error(parts.netloc, exc, self.insecure_hint) from exc
                if start is not None:
                    body.seek(start)  # type: ignore[union-attr]
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                where = parts.netloc + (f" (through proxy {proxy.netloc})" if proxy else "")
                raise connection_error(where, exc, self.insecure_hint) from exc
        raise AssertionError("unreachable")


def connection_error(host: str, exc: BaseException, insecure_hint: str = "") -> ImageError:
    """A socket/TLS/HTTP-framing failure as an ImageError that names the host."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return ImageError(f"TLS certificate of registry {host} is not trusted: "
                          f"{exc.verify_message}",
                          hint="install its CA certificate in the system trust store, or "
                          + (insecure_hint or "use --insecure for a plain-HTTP registry"))
    if isinstance(exc, ssl.SSLError):
        return ImageError(f"TLS handshake with registry {host} failed: {exc.reason or exc}",
                          hint=f"if {host} serves plain HTTP, "
                          + (insecure_hint or "use --insecure"))
    if isinstance(exc, OSError) and str(exc).startswith("Tunnel connection failed"):
        return ImageError(f"the proxy refused the tunnel to registry {host}: {exc}",
                          hint="check the proxy address and credentials in HTTPS_PROXY, "
                          "or exempt the registry with NO_PROXY")
    if isinstance(exc, ConnectionRefusedError):
        return TransientRegistryError(f"cannot connect to registry {host}: connection refused",
                          hint=f"is a registry listening on {host}?")
    if isinstance(exc, socket.gaierror):
        return ImageError(f"cannot resolve registry host {host}: {exc.strerror}",
                          hint="check the registry name in the image reference")
    if isinstance(exc, TimeoutError):
        return TransientRegistryError(f"registry {host} did not answer in time",
                          hint="check the network, then try again")
    if isinstance(exc, http.client.IncompleteRead):
        return TransientRegistryError(f"the connection to registry {host} broke off mid-transfer",
                          hint="try again: what was already downloaded is kept")
    if isinstance(exc, http.client.HTTPException | ConnectionError):
        return TransientRegistryError(f"the connection to registry {host} failed: "
                          f"{type(exc).__name__} {exc}".rstrip(),
                          hint="try again: what was already downloaded is kept")
    return ImageError(f"cannot talk to registry {host}: {exc}",
                      hint="check the registry address and the network")


__all__ = ["Body", "Transport", "connection_error"]
