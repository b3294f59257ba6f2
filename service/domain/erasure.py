"""Keyed hashing of erased addresses (HMAC-SHA256 with OPTOUT_HASH_KEY), GDPR access and erasure."""

from __future__ import annotations

import hashlib
import hmac

import asyncpg

from ..storage import queries

_BLOCK = 64  # SHA-256 block size


def hmac_pads(key: bytes) -> tuple[bytes, bytes]:
    """The inner and outer pads of HMAC-SHA256 (RFC 2104), so the database can compute it.

    sha256(opad || sha256(ipad || message)) is HMAC-SHA256(key, message); the check sends
    the pads as parameters and the key itself is never kept in the database.
    """
    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    key = key.ljust(_BLOCK, b"\0")
    ipad = bytes(b ^ 0x36 for b in key)
    opad = bytes(b ^ 0x5C for b in key)
    return ipad, opad


def address_hmac(key: bytes, address: str) -> bytes:
    return hmac.digest(key, address.encode("utf-8"), "sha256")
