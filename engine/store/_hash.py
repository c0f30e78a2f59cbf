"""The content hash that identifies an image file: xxh3-128 (projects before it: SHA-256).

Identity needs no cryptographic strength here (the files are the user's own), and
xxh3-128 runs at memory speed, where SHA-256 cost about twice a bare DICOM read.
Rows imported before the switch keep their SHA-256 (64 hex digits, ``hash_algo``
``sha256``); an import computes SHA-256 as well only for a file whose size equals
such a row's, so moved-file relocation, duplicate detection and incremental
re-import keep working for them.
"""

from __future__ import annotations

import hashlib

import xxhash

HASH_ALGO = "xxh3-128"
LEGACY_ALGO = "sha256"


def content_hash(data: bytes) -> str:
    """xxh3-128 of ``data`` as 32 hex digits."""
    return xxhash.xxh3_128_hexdigest(data)


def legacy_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def hash_algo(digest: str) -> str:
    """Which algorithm made a stored identity: 64 hex digits are SHA-256."""
    return LEGACY_ALGO if len(digest) == 64 else HASH_ALGO


def hash_matches(data: bytes, digest: str) -> bool:
    """True when ``data`` has the stored identity ``digest`` (either algorithm)."""
    made = legacy_hash(data) if hash_algo(digest) == LEGACY_ALGO else content_hash(data)
    return made == digest


__all__ = ["HASH_ALGO", "LEGACY_ALGO", "content_hash", "hash_algo", "hash_matches",
           "legacy_hash"]
