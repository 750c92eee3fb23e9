"""sha256 of short strings (names, chain ids) without OpenSSL's start-up.

``import hashlib`` initialises OpenSSL: ~4 ms of a process that hashes a few
dozen bytes (an interface name per container start, a chain id). CPython
ships its own sha256 as a builtin module (``_sha256`` up to 3.11, ``_sha2``
since 3.12), which imports in well under a millisecond; the same digests.
Large data (image blobs) goes through hashlib, whose OpenSSL code is faster.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

_sha256: Callable[[bytes], Any] | None = None


def sha256_hex(data: bytes) -> str:
    global _sha256
    if _sha256 is None:
        try:
            from _sha256 import sha256 as impl
        except ImportError:
            try:
                from _sha2 import sha256 as impl
            except ImportError:
                from hashlib import sha256 as impl
        _sha256 = impl
    return str(_sha256(data).hexdigest())


__all__ = ["sha256_hex"]
