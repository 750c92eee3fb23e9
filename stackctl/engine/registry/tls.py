"""TLS settings per registry, in docker's ``certs.d`` layout under the state root.

    <root>/certs.d/<domain>/ca.crt           extra CAs trusted for this registry
                           /*.crt            (every .crt file is a CA, as docker reads them)
                           /client.cert      a client certificate for mutual TLS,
                           /client.key       with its key

The system trust store is always used as well. A registry that has a
``certs.d`` directory is spoken to over HTTPS even on loopback (where plain
HTTP is the default): configuring certificates for a host says it serves TLS.
"""

from __future__ import annotations

import ssl
from pathlib import Path

from stackctl.errors import ImageError

CERTS_DIR = "certs.d"


def certs_dir(root: Path, domain: str) -> Path:
    return Path(root) / CERTS_DIR / domain


def ssl_context(root: Path, domain: str) -> ssl.SSLContext | None:
    """A context with the registry's extra CAs and client certificate; None when the
    registry has no ``certs.d`` directory (the default context is used then)."""
    where = certs_dir(root, domain)
    if not where.is_dir():
        return None
    ctx = ssl.create_default_context()
    for ca in sorted(where.glob("*.crt")):
        try:
            ctx.load_verify_locations(cafile=str(ca))
        except (ssl.SSLError, OSError) as exc:
            raise ImageError(f"cannot load the CA certificate {ca}: {exc}",
                             hint="it must be a PEM certificate") from exc
    cert, key = where / "client.cert", where / "client.key"
    if cert.exists() != key.exists():
        missing = key if cert.exists() else cert
        raise ImageError(f"{missing} is missing: a client certificate needs both "
                         "client.cert and client.key", hint=f"add {missing.name} to {where}")
    if cert.exists():
        try:
            ctx.load_cert_chain(str(cert), str(key))
        except (ssl.SSLError, OSError) as exc:
            raise ImageError(f"cannot load the client certificate in {where}: {exc}",
                             hint="client.cert and client.key must be a matching PEM pair") \
                from exc
    return ctx


__all__ = ["CERTS_DIR", "certs_dir", "ssl_context"]
