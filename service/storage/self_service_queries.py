"""SQL of the person's own page: the counts behind its limits (per mailbox, per client), by keyed hash."""

from __future__ import annotations

from datetime import datetime

import asyncpg


async def asks_since(conn: asyncpg.Connection, mailbox_hmac: bytes, since: datetime) -> list[datetime]:
    """When links were asked for this mailbox since then, oldest first (call with the mailbox locked)."""
    rows = await conn.fetch("SELECT at FROM self_service_asks WHERE mailbox_hmac = $1 AND at >= $2 ORDER BY at",
                            mailbox_hmac, since)
    return [r["at"] for r in rows]


async def record_ask(conn: asyncpg.Connection, mailbox_hmac: bytes, at: datetime) -> None:
    await conn.execute("DELETE FROM self_service_asks WHERE at < $1::timestamptz - interval '2 days'", at)
    await conn.execute("INSERT INTO self_service_asks (mailbox_hmac, at) VALUES ($1, $2)", mailbox_hmac, at)


async def lock_client(conn: asyncpg.Connection, client_hmac: bytes) -> None:
    """Until the caller's transaction ends, this client's requests are counted one at a time
    (a read then an insert: without it, parallel requests all see the same count)."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(encode($1::bytea, 'hex'), 31))", client_hmac)


async def client_requests_since(conn: asyncpg.Connection, client_hmac: bytes, since: datetime) -> list[datetime]:
    """When this client asked since then, oldest first (call with the client locked)."""
    rows = await conn.fetch("SELECT at FROM self_service_clients WHERE client_hmac = $1 AND at >= $2 ORDER BY at",
                            client_hmac, since)
    return [r["at"] for r in rows]


async def record_client_request(conn: asyncpg.Connection, client_hmac: bytes, at: datetime) -> None:
    await conn.execute("DELETE FROM self_service_clients WHERE at < $1::timestamptz - interval '2 hours'", at)
    await conn.execute("INSERT INTO self_service_clients (client_hmac, at) VALUES ($1, $2)", client_hmac, at)
