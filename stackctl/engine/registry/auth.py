"""Registry credentials and the authentication challenge grammar.

Credentials live in ``<root>/auth.json``, in the shape of docker's
``config.json``, so the file can be copied either way::

    {"auths": {"localhost:5000": {"auth": "<base64 user:password>"},
               "https://index.docker.io/v1/": {"auth": "..."}}}

It is written 0600 (temp file created 0600, fsync, rename) under a lock, and
holds nothing but ``auths``-shaped entries; unknown keys of a copied file are
kept. Challenges are RFC 7235 ``WWW-Authenticate`` values:
``Bearer realm="https://auth.example/token",service="reg",scope="repository:a/b:pull"``
or ``Basic realm="x"`` (the token flow itself is in tokens.py).
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from stackctl.engine.registry.hosts import DOCKER_HUB_AUTH_KEY, auth_key
from stackctl.errors import ImageError
from stackctl.lightdc import dataclass

AUTH_FILE = "auth.json"

# one auth-param: name=token or name="quoted string" (with \-escapes)
_PARAM = re.compile(r'\s*([A-Za-z0-9_.-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*,?')
_SCHEME = re.compile(r"\s*([A-Za-z][A-Za-z0-9_.-]*)(?=\s|$|,)")


@dataclass(frozen=True)
class Challenge:
    scheme: str  # lowercased: "bearer" | "basic" | ...
    params: tuple[tuple[str, str], ...] = ()

    def get(self, key: str, default: str = "") -> str:
        return dict(self.params).get(key.lower(), default)


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str

    def __repr__(self) -> str:  # never print a password in a traceback
        return f"Credentials(username={self.username!r}, password=***)"

    def basic_header(self) -> str:
        raw = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(raw).decode()


def parse_challenges(header: str) -> list[Challenge]:
    """Every challenge in a ``WWW-Authenticate`` value (several may share one header)."""
    out: list[Challenge] = []
    pos = 0
    while pos < len(header):
        m = _SCHEME.match(header, pos)
        if m is None:
            break
        scheme, pos = m.group(1).lower(), m.end()
        params: list[tuple[str, str]] = []
        while True:
            p = _PARAM.match(header, pos)
            if p is None:
                break
            value = p.group(2) if p.group(2) is not None else p.group(3)
            params.append((p.group(1).lower(), re.sub(r"\\(.)", r"\1", value)))
            pos = p.end()
        out.append(Challenge(scheme, tuple(params)))
        while pos < len(header) and header[pos] in " ,":
            pos += 1
    return out


def scope(repo: str, actions: str) -> str:
    """A token scope: ``repository:team/app:pull,push``."""
    return f"repository:{repo}:{actions}"


class AuthFile:
    """``<root>/auth.json``: saved logins, keyed by registry domain."""

    def __init__(self, root: Path) -> None:
        self.path = Path(root) / AUTH_FILE

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise ImageError(f"cannot read {self.path}: {exc}",
                             hint=f"fix or remove {self.path} and log in again") from exc
        if not isinstance(data, dict):
            raise ImageError(f"{self.path} is not a JSON object",
                             hint=f"remove {self.path} and log in again")
        return data

    def get(self, domain: str) -> Credentials | None:
        auths = self._read().get("auths") or {}
        keys = [auth_key(domain), domain]
        if domain == "docker.io":
            keys += [DOCKER_HUB_AUTH_KEY.rstrip("/"), "index.docker.io", "registry-1.docker.io"]
        for key in keys:
            entry = auths.get(key)
            if isinstance(entry, dict):
                return _decode(entry, key, self.path)
        return None

    def put(self, domain: str, creds: Credentials) -> None:
        raw = f"{creds.username}:{creds.password}".encode()
        with self._locked():
            data = self._read()
            data.setdefault("auths", {})[auth_key(domain)] = {
                "auth": base64.b64encode(raw).decode()}
            self._write(data)

    def remove(self, domain: str) -> bool:
        """Forget ``domain``'s login; False when there was none."""
        with self._locked():
            data = self._read()
            auths = data.get("auths") or {}
            found = [k for k in dict.fromkeys((auth_key(domain), domain)) if k in auths]
            for key in found:
                del auths[key]
            if found:
                self._write(data)
            return bool(found)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_name(AUTH_FILE + ".lock"), "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            yield

    def _write(self, data: dict[str, Any]) -> None:
        tmp = self.path.with_name(f".{AUTH_FILE}.tmp{os.getpid()}")
        # created 0600 from the first byte: a password is never readable by others
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.fchmod(fd, 0o600)
            os.write(fd, (json.dumps(data, indent="\t") + "\n").encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.path)


def _decode(entry: dict[str, Any], key: str, path: Path) -> Credentials:
    if entry.get("username") and entry.get("password"):
        return Credentials(str(entry["username"]), str(entry["password"]))
    try:
        user, sep, password = base64.b64decode(str(entry.get("auth", ""))).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        sep = ""
    if not sep:
        raise ImageError(f"{path}: the saved login for {key} is damaged",
                         hint=f"run stackctl logout {key} and log in again")
    return Credentials(user, password)


__all__ = ["AUTH_FILE", "AuthFile", "Challenge", "Credentials", "parse_challenges", "scope"]
