"""The staff console's sessions and its throttle of failed logins: how long a session lives,
and how many failed logins a client may make, kept on the server by a digest of the session id."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import TYPE_CHECKING

from ..storage import staff_queries

if TYPE_CHECKING:
    import asyncpg

SESSION_AGE = timedelta(hours=12)  # no session lives longer
IDLE = timedelta(minutes=30)  # nor goes unused longer
LOGIN_WINDOW = timedelta(minutes=5)
LOGIN_FAILURES_ALLOWED = 5  # failed logins of one client within LOGIN_WINDOW


def _digest(session_id: str) -> bytes:
    return hashlib.sha256(session_id.encode()).digest()


async def start(conn: asyncpg.Connection, key_digest: bytes, name: str) -> str:
    """A new session for the key with this digest and name; its id, for the cookie alone."""
    session_id = secrets.token_urlsafe(32)
    await staff_queries.start_session(conn, _digest(session_id), key_digest, name, secrets.token_urlsafe(24))
    return session_id


async def live(conn: asyncpg.Connection, session_id: str):
    """The session (key_digest, name, csrf) when it was not ended, was used within IDLE and is
    younger than SESSION_AGE; else None."""
    return await staff_queries.live_session(conn, _digest(session_id), IDLE.total_seconds(),
                                            SESSION_AGE.total_seconds())


async def end(conn: asyncpg.Connection, session_id: str) -> None:
    """Log out: a copy of the cookie is refused from now on."""
    await staff_queries.end_session(conn, _digest(session_id))


async def too_many_failures(conn: asyncpg.Connection, client: str) -> bool:
    """Whether this client failed to log in LOGIN_FAILURES_ALLOWED times in the last LOGIN_WINDOW."""
    return await staff_queries.recent_failures(conn, client, LOGIN_WINDOW.total_seconds()) >= LOGIN_FAILURES_ALLOWED


async def failed_login(conn: asyncpg.Connection, client: str) -> None:
    await staff_queries.record_failure(conn, client)
