"""``login`` / ``logout``: check credentials against a registry, keep them in auth.json.

Login proves the credentials first (a Basic-auth ``GET /v2/``, or a token
request to the Bearer realm, as ``docker login`` does) and saves them only
when the registry accepted them: a typo never lands in auth.json.
"""

from __future__ import annotations

from pathlib import Path

from stackctl.engine.registry.auth import AuthFile, Credentials
from stackctl.engine.registry.client import RegistryClient
from stackctl.engine.registry.hosts import normalize_host
from stackctl.errors import UsageError


def login(root: Path, host: str, username: str, password: str, *,
          insecure: bool = False) -> str:
    """Verify and save a login; return the registry domain it was saved for."""
    domain = normalize_host(host)
    if not username:
        raise UsageError("login: the username is empty", hint="give -u USERNAME")
    if not password:
        raise UsageError("login: the password is empty",
                         hint="give -p PASSWORD or --password-stdin")
    creds = Credentials(username, password)
    with RegistryClient.open(root, domain, insecure=insecure, credentials=creds) as client:
        client.check_login()
    AuthFile(root).put(domain, creds)
    return domain


def logout(root: Path, host: str) -> tuple[str, bool]:
    """Forget a login; return (domain, whether there was one)."""
    domain = normalize_host(host)
    return domain, AuthFile(root).remove(domain)


__all__ = ["login", "logout"]
