"""Registry error responses -> StackctlError, with the message and hint a user needs.

The distribution spec's error document is ``{"errors": [{"code", "message",
"detail"}]}``; registries that answer with HTML or nothing still get a clear
message from the status line. ``what`` says what was being done ("pull of
localhost:5000/app:1"), so the message names the reference.

    401 UNAUTHORIZED            ImageError  hint: stackctl login HOST
    403 DENIED                  ImageError  hint: an account with access
    404 NAME_UNKNOWN            NotFound    repository not found
    404 MANIFEST_UNKNOWN        NotFound    manifest for REF not found
    404 BLOB_UNKNOWN            ImageError  the registry lost a blob the manifest names
    429 TOOMANYREQUESTS         ImageError  hint: wait, or log in
    5xx (not 501)               TransientRegistryError (an ImageError that downloads retry)
    other                       ImageError  with the status and the registry's codes
"""

from __future__ import annotations

import http.client
import json

from stackctl.errors import ImageError, NotFound, StackctlError
from stackctl.lightdc import dataclass


class TransientRegistryError(ImageError):
    """A failure that may pass on its own (a 5xx answer, a broken connection): blob
    downloads retry these; everything else fails at once."""


@dataclass(frozen=True)
class RegistryErrorItem:
    code: str
    message: str


def parse_errors(body: bytes) -> list[RegistryErrorItem]:
    """The error items of a response body; [] when it is not an error document."""
    try:
        doc = json.loads(body)
    except ValueError:
        return []
    items = doc.get("errors") if isinstance(doc, dict) else None
    if not isinstance(items, list):
        return []
    return [RegistryErrorItem(str(i.get("code", "")).upper(), str(i.get("message", "")))
            for i in items if isinstance(i, dict)]


def response_error(resp: http.client.HTTPResponse, body: bytes, domain: str, what: str, *,
                   has_credentials: bool = False, login: bool = False) -> StackctlError:
    items = parse_errors(body)
    codes = {i.code for i in items}
    detail = "; ".join(f"{i.code.lower()}: {i.message}" if i.message else i.code.lower()
                       for i in items)
    prefix = f"{what}: " if what else ""
    status = resp.status
    if status == 401 or "UNAUTHORIZED" in codes:
        if login:
            return ImageError(f"login to {domain} failed: unauthorized: incorrect username or "
                              "password", hint="check the username and password")
        hint = (f"the saved login for {domain} was refused: run stackctl login {domain} again"
                if has_credentials else f"run stackctl login {domain}")
        return ImageError(f"{prefix}unauthorized: {detail or 'authentication required'}",
                          hint=hint)
    if status == 403 or "DENIED" in codes:
        detail = detail or "requested access to the resource is denied"
        return ImageError(f"{prefix}denied: {detail}",
                          hint=f"log in to {domain} with an account that has access "
                          f"(stackctl login {domain})")
    if "NAME_UNKNOWN" in codes:
        return NotFound(f"{prefix}repository does not exist on {domain}: {detail}",
                        hint="check the repository name; if it is private, run "
                        f"stackctl login {domain}")
    if "MANIFEST_UNKNOWN" in codes:
        return NotFound(f"{prefix}manifest unknown: not found on {domain}",
                        hint="check the tag or digest (the registry has no such manifest)")
    if "BLOB_UNKNOWN" in codes:
        return ImageError(f"{prefix}blob unknown to registry {domain}: {detail}",
                          hint="the registry is missing content its manifest names; "
                          "push the image again")
    if status == 404:
        return NotFound(f"{prefix}not found on registry {domain} (404)",
                        hint="check the reference and the registry address")
    if status == 429 or "TOOMANYREQUESTS" in codes:
        return ImageError(f"{prefix}registry {domain} is rate-limiting requests: "
                          f"{detail or 'too many requests'}",
                          hint=f"wait and try again, or log in (stackctl login {domain})")
    text = detail or (body[:200].decode("utf-8", "replace").strip() if body else "")
    kind = TransientRegistryError if status >= 500 and status != 501 else ImageError
    return kind(f"{prefix}registry {domain} answered {status} {resp.reason}"
                      + (f": {text}" if text else ""),
                      hint="the registry refused the request; try again later, or check "
                      "its logs" if status >= 500 else "check the reference and your access")


__all__ = ["RegistryErrorItem", "TransientRegistryError", "parse_errors", "response_error"]
