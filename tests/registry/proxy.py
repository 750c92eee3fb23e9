"""A small HTTP proxy for the tests, on 127.0.0.1: CONNECT tunnels and absolute-URL
forwarding. ``routes`` maps the names clients ask for (``registry.test:5000``) to
loopback addresses, so nothing ever leaves the machine; unknown names get 502.
``auth`` ("Basic ...") makes it demand Proxy-Authorization (407 otherwise).
``seen`` records (method, target) of every request it handled."""

from __future__ import annotations

import http.client
import select
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit


class Proxy:
    def __init__(self, routes: dict[str, tuple[str, int]], auth: str = "") -> None:
        self.routes = routes
        self.auth = auth
        self.seen: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        proxy = self

        class Handler(_Handler):
            owner = proxy

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        server = self._server
        threading.Thread(target=lambda: server.serve_forever(poll_interval=0.05),
                         daemon=True).start()

    @property
    def url(self) -> str:
        return f"127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> Proxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _Handler(BaseHTTPRequestHandler):
    owner: Proxy
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _allowed(self) -> bool:
        with self.owner.lock:
            self.owner.seen.append((self.command, self.path))
        if self.owner.auth and self.headers.get("Proxy-Authorization") != self.owner.auth:
            self.send_response(407)
            self.send_header("Proxy-Authenticate", 'Basic realm="proxy"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return False
        return True

    def do_CONNECT(self) -> None:
        if not self._allowed():
            return
        target = self.owner.routes.get(self.path)
        if target is None:
            self.send_error(502)
            return
        upstream = socket.create_connection(target)
        self.send_response(200, "Connection established")
        self.end_headers()
        self.close_connection = True
        conns = [self.connection, upstream]
        try:
            while True:
                ready, _, _ = select.select(conns, [], [], 5)
                if not ready:
                    return
                for s in ready:
                    data = s.recv(65536)
                    if not data:
                        return
                    (upstream if s is self.connection else self.connection).sendall(data)
        finally:
            upstream.close()

    def _forward(self) -> None:
        if not self._allowed():
            return
        parts = urlsplit(self.path)
        target = self.owner.routes.get(parts.netloc)
        if not parts.scheme or target is None:
            self.send_error(502)
            return
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else None
        conn = http.client.HTTPConnection(*target, timeout=30)
        headers = {k: v for k, v in self.headers.items()
                   if k.lower() not in ("proxy-authorization", "connection")}
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        conn.request(self.command, path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        self.send_response(resp.status, resp.reason)
        for k, v in resp.getheaders():
            if k.lower() not in ("connection", "transfer-encoding", "content-length"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        conn.close()

    do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = _forward
