"""The Bearer token flow of the distribution spec (Docker's token auth).

    client ── GET /v2/... ───────────────────────────▶ registry
           ◀── 401 WWW-Authenticate: Bearer realm=R,service=S,scope=X
    client ── GET R?service=S&scope=X (Basic user:pass, or anonymous) ─▶ token server
           ◀── 200 {"token": T, "expires_in": 300}
    client ── GET /v2/... Authorization: Bearer T ──▶ registry

Anonymous token requests are normal (public pulls); credentials are sent
only to the realm, as Basic auth, and never over plain HTTP when the registry
itself is HTTPS (``check_realm``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING
from urllib.parse import urlencode, urlsplit

from stackctl.engine.registry.auth import Challenge, Credentials
from stackctl.engine.registry.hosts import is_loopback
from stackctl.engine.registry.registry_errors import parse_errors
from stackctl.errors import ImageError

if TYPE_CHECKING:
    from stackctl.engine.registry.transport import Transport


def token_url(challenge: Challenge, scopes: Sequence[str]) -> str:
    """The realm URL with ``service`` and one ``scope`` parameter per scope. Pure."""
    realm = challenge.get("realm")
    query: list[tuple[str, str]] = []
    if challenge.get("service"):
        query.append(("service", challenge.get("service")))
    query.extend(("scope", s) for s in scopes)
    sep = "&" if "?" in realm else "?"
    return realm + (sep + urlencode(query) if query else "")


def check_realm(realm: str, domain: str, *, secure: bool, sending_credentials: bool) -> None:
    """A password never goes over plain HTTP because a registry said so: a TLS registry
    whose realm is ``http://`` (not loopback) is refused when credentials would be sent."""
    parts = urlsplit(realm)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ImageError(f"registry {domain} gave an invalid token realm {realm!r}",
                         hint="the registry's auth configuration is broken")
    if secure and sending_credentials and parts.scheme == "http" \
            and not is_loopback(parts.netloc):
        raise ImageError(f"registry {domain} asks for the password to be sent over plain "
                         f"HTTP to {parts.netloc}; refused",
                         hint="the registry's token realm must be https://")


def fetch_token(transport: Transport, challenge: Challenge, scopes: Sequence[str],
                creds: Credentials | None, domain: str, *, secure: bool = True) -> str:
    realm = challenge.get("realm")
    check_realm(realm, domain, secure=secure, sending_credentials=creds is not None)
    headers = {"Accept": "application/json"}
    if creds is not None:
        headers["Authorization"] = creds.basic_header()
    resp = transport.request("GET", token_url(challenge, scopes), headers)
    body = resp.read(1 << 20)
    if resp.status in (401, 403):
        if creds is None:
            raise ImageError(f"registry {domain} requires authentication",
                             hint=f"run stackctl login {domain}")
        items = parse_errors(body)
        detail = items[0].message if items and items[0].message else "incorrect username or " \
            "password"
        raise ImageError(f"login to {domain} failed: unauthorized: {detail}",
                         hint=f"check the username and password (stackctl login {domain})")
    if resp.status != 200:
        raise ImageError(f"the token server of {domain} answered {resp.status} {resp.reason}",
                         hint="try again later")
    try:
        doc = json.loads(body)
        token = doc.get("token") or doc.get("access_token")
    except (ValueError, AttributeError):
        token = None
    if not isinstance(token, str) or not token:
        raise ImageError(f"the token server of {domain} sent no token",
                         hint="the registry's auth configuration is broken")
    return token


__all__ = ["check_realm", "fetch_token", "token_url"]
