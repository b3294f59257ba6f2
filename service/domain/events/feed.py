"""The event feed: every published event in commit order, for systems that pull.
Only transactions older than every running one are listed: a poller following `next` misses none."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ...storage import webhook_queries
from ..cursors import decode_feed_cursor, encode_feed_cursor
from ..errors import InvalidInput
from .model import PUBLIC_TYPE, Event, event_from_row

if TYPE_CHECKING:
    import asyncpg

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
START = (0, 0)  # before the first event: tx 0 is no transaction's, the rows written before 0009 have none


@dataclass(frozen=True)
class FeedPage:
    events: tuple[Event, ...]
    next: str  # where the next page starts: after the last event here, else where this one started


async def page(conn: asyncpg.Connection, after: str | None, limit: int = DEFAULT_LIMIT) -> FeedPage:
    """Up to `limit` events after the cursor (from the beginning without one).

    History types that are not published are left out and passed over. Events name no erased
    address: erasure deletes the history of the address, and its own event names no one.
    """
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"'limit' must be between 1 and {MAX_LIMIT}.", field="limit")
    tx, event_id = decode_feed_cursor(after) if after else START
    rows = await webhook_queries.events_after(conn, tx, event_id, list(PUBLIC_TYPE), limit)
    events = tuple(e for e in map(event_from_row, rows) if e is not None)
    if not rows:
        return FeedPage(events, after or encode_feed_cursor(*START))
    last = rows[-1]
    return FeedPage(events, encode_feed_cursor(int(last["tx"] or 0), last["id"]))
