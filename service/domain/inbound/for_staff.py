"""What waits for people in the inbound queue, and what staff do with a held message."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...storage import inbound_queries
from .. import outbox

if TYPE_CHECKING:
    import uuid

    import asyncpg


async def waiting(conn: asyncpg.Connection):
    """Messages queued, held and failed, the oldest queued one's age, and the privacy requests
    open, due within a week and overdue: one row, for the metrics."""
    return await inbound_queries.waiting_counts(conn)


async def held_count(conn: asyncpg.Connection) -> int:
    return await inbound_queries.held_count(conn)


async def failed_count(conn: asyncpg.Connection) -> int:
    return await inbound_queries.failed_count(conn)


async def held_messages(conn: asyncpg.Connection, limit: int) -> list:
    """Messages waiting for staff, newest first."""
    return await inbound_queries.held_messages(conn, limit)


async def record_and_raw(conn: asyncpg.Connection, message_id: uuid.UUID):
    """What was recorded of a message (None: no such message) and its raw bytes (None once
    retention deleted them)."""
    return await inbound_queries.inbound_message(conn, message_id), await inbound_queries.inbound_raw(conn, message_id)


async def release(conn: asyncpg.Connection, message_id: uuid.UUID, forward: bool, by: str) -> bool:
    """Staff handled a held message: processed, or queued to be forwarded to them (in the
    caller's transaction). False when it is no longer held."""
    action = {"type": "released", "by": by, "forward": forward}
    released = await inbound_queries.release_held(conn, message_id, forward, action)
    if released and forward:
        await outbox.queue_forward(conn, message_id)
    return released
