"""SQL of the console's server-side sessions and its throttle of failed logins."""

from __future__ import annotations

import asyncpg


async def start_session(conn: asyncpg.Connection, id_hash: bytes, key_digest: bytes, name: str, csrf: str) -> None:
    await conn.execute("DELETE FROM staff_sessions WHERE seen_at < now() - interval '2 days'")
    await conn.execute("INSERT INTO staff_sessions (id_hash, key_digest, name, csrf) VALUES ($1, $2, $3, $4)",
                       id_hash, key_digest, name, csrf)


async def live_session(conn: asyncpg.Connection, id_hash: bytes, idle_seconds: float,
                       max_age_seconds: float) -> asyncpg.Record | None:
    """The session if it was not ended, was used within its idle time and is younger than its age;
    its last use is moved to now (at most once a minute: one write per minute of work, not per page)."""
    return await conn.fetchrow(
        """UPDATE staff_sessions SET seen_at = CASE WHEN seen_at < now() - interval '1 minute' THEN now()
                                                     ELSE seen_at END
            WHERE id_hash = $1 AND ended_at IS NULL
              AND seen_at > now() - make_interval(secs => $2) AND created_at > now() - make_interval(secs => $3)
           RETURNING key_digest, name, csrf""",
        id_hash, idle_seconds, max_age_seconds,
    )


async def end_session(conn: asyncpg.Connection, id_hash: bytes) -> None:
    await conn.execute("UPDATE staff_sessions SET ended_at = now() WHERE id_hash = $1 AND ended_at IS NULL", id_hash)


async def recent_failures(conn: asyncpg.Connection, client: str, window_seconds: float) -> int:
    return await conn.fetchval(
        "SELECT count(*) FROM staff_login_failures WHERE client = $1 AND at > now() - make_interval(secs => $2)",
        client, window_seconds)


async def record_failure(conn: asyncpg.Connection, client: str) -> None:
    await conn.execute("DELETE FROM staff_login_failures WHERE at < now() - interval '1 hour'")
    await conn.execute("INSERT INTO staff_login_failures (client) VALUES ($1)", client)
