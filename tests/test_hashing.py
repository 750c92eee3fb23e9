"""stackctl.hashing: the builtin sha256 gives hashlib's digests."""

from __future__ import annotations

import hashlib

from stackctl.hashing import sha256_hex


def test_sha256_hex_is_sha256() -> None:
    for data in (b"", b"veth\0abc\0def", bytes(range(256)) * 3):
        assert sha256_hex(data) == hashlib.sha256(data).hexdigest()
