"""SQL of what the own page shows and the counts behind the limits of its links, by keyed hash."""

from __future__ import annotations

from datetime import datetime

import asyncpg


async def recent_events_of_address(conn: asyncpg.Connection, address: str, limit: int) -> list[asyncpg.Record]:
    """The newest `limit` events of the address, oldest first."""
    return await conn.fetch(
        """SELECT * FROM (SELECT id, at, type, scope, reason, source, detail, actor FROM history
                           WHERE address = $1 ORDER BY id DESC LIMIT $2) AS recent ORDER BY id""",
        address, limit,
    )


async def uses_since(conn: asyncpg.Connection, key_hmac: bytes, kind: str, since: datetime) -> list[datetime]:
    """When this kind of use was made under this key since then, oldest first; the key is locked
    until the transaction ends, so that two uses at once cannot both pass the limit."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(encode($1::bytea, 'hex') || $2, 0))",
                       key_hmac, kind)
    rows = await conn.fetch(
        "SELECT at FROM self_service_uses WHERE key_hmac = $1 AND kind = $2 AND at >= $3 ORDER BY at",
        key_hmac, kind, since)
    return [r["at"] for r in rows]


async def record_use(conn: asyncpg.Connection, key_hmac: bytes, kind: str, at: datetime) -> None:
    await conn.execute("DELETE FROM self_service_uses WHERE at < $1::timestamptz - interval '2 days'", at)
    await conn.execute("INSERT INTO self_service_uses (key_hmac, kind, at) VALUES ($1, $2, $3)", key_hmac, kind, at)
