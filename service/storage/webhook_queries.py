"""Webhook subscriptions and the event feed. Callers own the transaction."""

from __future__ import annotations

import uuid
from typing import Sequence

import asyncpg


async def insert_webhook(conn: asyncpg.Connection, url: str, events: Sequence[str], secret: str,
                         created_by: str) -> asyncpg.Record:
    return await conn.fetchrow(
        """INSERT INTO webhooks (url, events, secret, created_by) VALUES ($1, $2, $3, $4)
           RETURNING id, url, events, created_at, created_by""",
        url, list(events), secret, created_by,
    )


async def list_webhooks(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    """Every subscription, oldest first; never the secrets."""
    return await conn.fetch("SELECT id, url, events, created_at, created_by FROM webhooks ORDER BY created_at, id")


async def delete_webhook(conn: asyncpg.Connection, webhook_id: uuid.UUID) -> bool:
    """Its pending deliveries go with it (ON DELETE CASCADE)."""
    status = await conn.execute("DELETE FROM webhooks WHERE id = $1", webhook_id)
    return status == "DELETE 1"


# The feed in commit order: the rows written before 0009 (no `tx`) first, by id; then by
# (writing transaction, id), only of transactions older than every one still running, so that
# a transaction that commits late can never land behind a position already handed out.
# $1/$2 are the position to start after (`tx` 0: still among the rows without one). The third
# part is each imported row's event (0024), read as the view `history` reads it, but walking
# suppressions_imported in order: a join there would sort all the imported rows first.
FEED_AFTER = """
SELECT id, tx::text AS tx, at, address, type, scope, reason, source, actor, detail FROM (
    (SELECT id, NULL::xid8 AS tx, at, address, type, scope, reason, source, actor, detail
       FROM events
      WHERE tx IS NULL AND $1::text::xid8 = '0'::xid8 AND id > $2 AND type = ANY($3::text[])
      ORDER BY id LIMIT $4)
    UNION ALL
    (SELECT id, tx, at, address, type, scope, reason, source, actor, detail
       FROM events
      WHERE tx IS NOT NULL AND (tx, id) > ($1::text::xid8, $2)
        AND tx < pg_snapshot_xmin(pg_current_snapshot())
        AND type = ANY($3::text[])
      ORDER BY tx, id LIMIT $4)
    UNION ALL
    (SELECT s.event_id, s.import_tx, (SELECT i.at FROM imports i WHERE i.tx = s.import_tx), s.address,
            'suppressed', s.scope, s.reason, s.source, (SELECT i.actor FROM imports i WHERE i.tx = s.import_tx),
            '{}'::jsonb
       FROM suppressions s
      WHERE s.import_tx IS NOT NULL AND (s.import_tx, s.event_id) > ($1::text::xid8, $2)
        AND s.import_tx < pg_snapshot_xmin(pg_current_snapshot())
        AND 'suppressed' = ANY($3::text[])
      ORDER BY s.import_tx, s.event_id LIMIT $4)
) feed
ORDER BY feed.tx NULLS FIRST, feed.id
LIMIT $4
"""


async def events_after(conn: asyncpg.Connection, tx: int, event_id: int, types: Sequence[str],
                       limit: int) -> list[asyncpg.Record]:
    """Up to `limit` events of `types` after the position (tx, event_id), in feed order; `tx`
    comes as text (an xid8 may not fit a bigint), NULL for the rows written before 0009."""
    return await conn.fetch(FEED_AFTER, str(tx), event_id, list(types), limit)
