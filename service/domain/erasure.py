"""Keyed hashing of erased addresses (HMAC-SHA256 with OPTOUT_HASH_KEY), GDPR access and erasure."""

from __future__ import annotations

import hashlib
import hmac

import asyncpg

from ..storage import inbound_queries, queries
from .addresses import canonical_address
from .suppression import GLOBAL

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


# When several suppressions are erased, the one that says most is kept (as its reason only).
_REASON_WEIGHT = {"complaint": 4, "bounce": 3, "unsubscribe": 2, "manual": 1}


async def subject_access(conn: asyncpg.Connection, hash_key: bytes, email: str) -> dict:
    """Everything held about an address (GDPR access), including whether it was erased."""
    address = canonical_address(email)
    suppressions = await queries.suppressions_of_address(conn, address)
    events = await queries.events_of_address(conn, address, 100_000)
    erased = await queries.erased_since(conn, address_hmac(hash_key, address))
    return {
        "email": address,
        "suppressions": [
            {"scope": r["scope"], "reason": r["reason"], "source": r["source"],
             "created_at": r["created_at"].isoformat(), "note": r["note"]}
            for r in suppressions
        ],
        "events": [
            {"at": r["at"].isoformat(), "type": r["type"], "scope": r["scope"], "reason": r["reason"],
             "source": r["source"], "detail": r["detail"]}
            for r in events
        ],
        "erased": {"since": erased["erased_at"].isoformat(), "reason": erased["reason"]} if erased else None,
        "messages": [dict(m) for m in await inbound_queries.messages_about_address(conn, address)],
    }


async def erase(conn: asyncpg.Connection, hash_key: bytes, email: str, actor: str) -> dict:
    """Remove the address and its history in clear; keep it suppressed in every scope by HMAC.

    The erasure itself is recorded as an event that does not name the address.
    """
    address = canonical_address(email)
    held = await queries.suppressions_of_address(conn, address)
    reason = max((r["reason"] for r in held), key=_REASON_WEIGHT.__getitem__, default="unsubscribe")
    suppressions, events = await queries.erase_address(conn, address, address_hmac(hash_key, address), reason)
    messages = await inbound_queries.delete_messages_about_address(conn, address)
    await queries.insert_event(
        conn, None, "erased", scope=GLOBAL, reason=reason, source="api",
        detail={"by": actor, "suppressions": suppressions, "events": events, "messages": messages},
    )
    return {"erased": True, "suppressed": True, "removed": {"suppressions": suppressions, "events": events,
                                                           "messages": messages}}


