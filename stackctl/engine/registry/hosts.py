"""Which URL a registry domain is reached at, over HTTPS or plain HTTP. Pure.

    docker.io, index.docker.io, registry-1.docker.io  ->  https://registry-1.docker.io
    localhost:5000, 127.0.0.1:5000, [::1]:5000         ->  http://...   (as Docker does)
    host:5000 listed in --insecure / STACKCTL_INSECURE_REGISTRIES  ->  http://host:5000
    anything else                                      ->  https://host[:port]

``STACKCTL_INSECURE_REGISTRIES`` is a comma- or space-separated list of
``host``, ``host:port`` or CIDR (``10.0.0.0/8``) entries, like the daemon's
``insecure-registries``. Credentials are keyed by the domain, except Docker
Hub's, which is keyed ``https://index.docker.io/v1/`` as in docker's config.json.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping, Sequence

from stackctl.engine.images.reference import _DOMAIN, DEFAULT_DOMAIN
from stackctl.errors import UsageError
from stackctl.lightdc import dataclass

DOCKER_HUB_HOST = "registry-1.docker.io"
DOCKER_HUB_AUTH_KEY = "https://index.docker.io/v1/"
INSECURE_ENV = "STACKCTL_INSECURE_REGISTRIES"
_HUB_ALIASES = ("docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com")


@dataclass(frozen=True)
class Endpoint:
    """Where a registry domain is served."""

    domain: str  # as in references: docker.io, localhost:5000
    host: str  # host[:port] to connect to
    secure: bool  # https (verified TLS) or plain http

    @property
    def scheme(self) -> str:
        return "https" if self.secure else "http"

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://{self.host}"


def split_host(domain: str) -> tuple[str, int | None]:
    """``host:5000`` -> ("host", 5000); ``[::1]:5000`` -> ("::1", 5000)."""
    if domain.startswith("["):
        host, _, rest = domain[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    else:
        host, _, port = domain.partition(":")
    return host, int(port) if port.isdigit() else None


def is_loopback(domain: str) -> bool:
    host, _port = split_host(domain)
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def insecure_entries(env: Mapping[str, str] | None = None) -> tuple[str, ...]:
    raw = (os.environ if env is None else env).get(INSECURE_ENV, "")
    return tuple(x for x in raw.replace(",", " ").split() if x)


def is_insecure(domain: str, entries: Sequence[str] = ()) -> bool:
    """Plain HTTP for ``domain``: loopback, or named in ``entries``."""
    if is_loopback(domain):
        return True
    host, _port = split_host(domain)
    for entry in entries:
        entry = entry.strip().lower().removeprefix("http://").rstrip("/")
        if entry in (domain.lower(), host.lower()):
            return True
        if "/" in entry:
            try:
                if ipaddress.ip_address(host) in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:
                continue
    return False


def endpoint(domain: str, *, insecure: bool = False, tls: bool = False,
             env: Mapping[str, str] | None = None) -> Endpoint:
    """The endpoint of a reference's domain. ``insecure`` forces plain HTTP (--insecure);
    ``tls`` (certificates configured for the host, see tls.py) forces HTTPS otherwise."""
    if domain in _HUB_ALIASES:
        return Endpoint(DEFAULT_DOMAIN, DOCKER_HUB_HOST, True)
    plain = insecure or (not tls and is_insecure(domain, insecure_entries(env)))
    return Endpoint(domain, domain, not plain)


def normalize_host(arg: str) -> str:
    """The registry domain a user typed for login/logout: a URL, a host, or a Hub alias."""
    text = arg.strip()
    for prefix in ("https://", "http://"):
        if text.lower().startswith(prefix):
            text = text[len(prefix):]
    text = text.split("/", 1)[0]  # drop /v1/, /v2/ and any path
    if not text:
        raise UsageError(f"invalid registry address {arg!r}",
                         hint="give a host like registry.example.com or localhost:5000")
    if text.lower() in _HUB_ALIASES:
        return DEFAULT_DOMAIN
    if not _DOMAIN.fullmatch(text):
        raise UsageError(f"invalid registry address {arg!r}",
                         hint="give a host like registry.example.com or localhost:5000")
    return text


def auth_key(domain: str) -> str:
    """The key of ``domain`` in auth.json (docker's config.json ``auths`` keys)."""
    return DOCKER_HUB_AUTH_KEY if domain == DEFAULT_DOMAIN else domain


__all__ = ["DOCKER_HUB_AUTH_KEY", "DOCKER_HUB_HOST", "INSECURE_ENV", "Endpoint", "auth_key",
           "endpoint", "insecure_entries", "is_insecure", "is_loopback", "normalize_host",
           "split_host"]
