"""What the own page reads, and how often its link may be used.
The page reads a light record in one short transaction; the export and actions are rate-limited."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from ...storage import consent_queries, own_page_queries, queries
from ..errors import TooManyRequests
from ..suppressions.keyed_hash import KeyedHash
from ..suppressions.erasure import subject_record
from ..suppressions.model import SubjectRecord

if TYPE_CHECKING:
    import asyncpg

HISTORY_SHOWN = 200
DAY, HOUR = timedelta(days=1), timedelta(hours=1)
# kind of use -> (how many, in what window, what the refusal names)
LIMITS = {
    "export": (3, HOUR, "downloads through this link"),
    "action": (30, HOUR, "changes through this link"),
    "correction": (3, DAY, "corrections for this address"),
}


async def page_record(conn: asyncpg.Connection, address: str) -> SubjectRecord:
    """What the page shows of the (canonical) address; run it in one transaction."""
    suppressions = await queries.suppressions_of_address(conn, address)
    events = await own_page_queries.recent_events_of_address(conn, address, HISTORY_SHOWN)
    consents = await consent_queries.consents_of_address(conn, address)
    requests = await consent_queries.requests_of_address(conn, address)
    return subject_record(address, suppressions, events, consents, requests)


def person_key(recipient_id: int) -> str:
    """What the limits of a link count under: the person it names, whichever of their links is used."""
    return f"own_page:{recipient_id}"


def address_key(address: str) -> str:
    return f"own_page_address:{address}"


async def count_use(conn: asyncpg.Connection, kind: str, key: str, keyed_hash: KeyedHash, now: datetime) -> None:
    """Count one use of this kind under the key; TooManyRequests (saying when to try again) past its limit.
    Run in a transaction: the key stays locked until it ends."""
    most, window, what = LIMITS[kind]
    key_hmac = keyed_hash.of(key)
    times = await own_page_queries.uses_since(conn, key_hmac, kind, now - window)
    if len(times) >= most:
        retry_at = times[0] + window
        raise TooManyRequests(f"Too many {what}; try again after {retry_at.isoformat()}.",
                              retry_after=max(1, int((retry_at - now).total_seconds()) + 1),
                              retry_at=retry_at.isoformat())
    await own_page_queries.record_use(conn, key_hmac, kind, now)
