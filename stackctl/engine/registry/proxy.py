"""HTTP(S) proxies from the environment, as docker and Go's net/http use them. Pure.

``https_proxy`` / ``http_proxy`` (either case) name the proxy for each
scheme, ``no_proxy`` the hosts that bypass it (domains, host:port, CIDR, ``*``).
Loopback registries are never proxied (Go's httpproxy rule): a proxy cannot
reach the caller's 127.0.0.1. HTTPS goes through a ``CONNECT`` tunnel (TLS
is end to end, verified against the registry's name); plain HTTP is sent to
the proxy with absolute URLs. ``user:password@`` in the proxy URL becomes a
``Proxy-Authorization: Basic`` header.
"""

from __future__ import annotations

import base64
import ipaddress
import os
from collections.abc import Mapping
from urllib.parse import unquote, urlsplit

from stackctl.engine.registry.hosts import is_loopback, split_host
from stackctl.errors import ImageError
from stackctl.lightdc import dataclass


@dataclass(frozen=True)
class Proxy:
    netloc: str  # host:port of the proxy
    authorization: str = ""  # a Proxy-Authorization value, or ""

    def headers(self) -> dict[str, str]:
        return {"Proxy-Authorization": self.authorization} if self.authorization else {}


def env_proxies(env: Mapping[str, str]) -> dict[str, str]:
    """{scheme: proxy URL, "no": no_proxy}; lowercase names win, as in curl and Go."""
    out: dict[str, str] = {}
    for name in sorted(env, key=lambda n: n.islower()):  # upper first, lower overrides
        low = name.lower()
        if low.endswith("_proxy") and env[name]:
            out[low[:-len("_proxy")]] = env[name]
    return out


def bypassed(netloc: str, no_proxy: str) -> bool:
    """``netloc`` matches ``no_proxy``: ``*``; a host or domain (``example.com`` and
    ``.example.com`` both cover subdomains); ``host:port``; or an IP network (CIDR)."""
    host, port = split_host(netloc)
    host = host.lower()
    for raw in no_proxy.replace(" ", ",").split(","):
        entry = raw.strip().lower()
        if not entry:
            continue
        if entry == "*":
            return True
        if "/" in entry:
            try:
                if ipaddress.ip_address(host) in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:
                pass
            continue
        e_host, e_port = split_host(entry)
        if e_port is not None and e_port != port:
            continue
        domain = e_host.lstrip(".")
        if host == domain or host.endswith("." + domain):
            return True
    return False


def proxy_for(scheme: str, netloc: str, env: Mapping[str, str] | None = None) -> Proxy | None:
    """The proxy to reach ``scheme://netloc`` through, or None for a direct connection."""
    if is_loopback(netloc):
        return None
    proxies = env_proxies(os.environ if env is None else env)
    url = proxies.get(scheme)
    if not url:
        return None
    if bypassed(netloc, proxies.get("no", "")):
        return None
    parts = urlsplit(url if "://" in url else f"http://{url}")
    if parts.scheme != "http" or not parts.hostname:
        raise ImageError(f"unsupported proxy URL {url!r} for {scheme}",
                         hint="use http://[user:password@]host:port")
    auth = ""
    if parts.username is not None:
        raw = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
        auth = "Basic " + base64.b64encode(raw).decode()
    return Proxy(f"{parts.hostname}:{parts.port or 80}", auth)


__all__ = ["Proxy", "bypassed", "env_proxies", "proxy_for"]
