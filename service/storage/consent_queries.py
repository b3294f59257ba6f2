"""SQL of the scope registry, the consent ledger and the privacy requests. Callers own the transaction."""

from __future__ import annotations

from datetime import date, datetime
import asyncpg

from .event_sql import recorded_and_delivered

# Scopes.

async def scopes(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT scope, labels, consent, updated_at FROM scopes ORDER BY scope")


async def scope(conn: asyncpg.Connection, name: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT scope, labels, consent, updated_at FROM scopes WHERE scope = $1", name)


async def put_scope(conn: asyncpg.Connection, name: str, labels: dict, consent: str) -> tuple[asyncpg.Record, bool]:
    """The registered scope, and whether it is new."""
    row = await conn.fetchrow(
        """INSERT INTO scopes (scope, labels, consent) VALUES ($1, $2::jsonb, $3)
           ON CONFLICT (scope) DO UPDATE SET labels = EXCLUDED.labels, consent = EXCLUDED.consent, updated_at = now()
           RETURNING scope, labels, consent, updated_at, (xmax = 0) AS created""",
        name, labels, consent,
    )
    return row, row["created"]


# Consents.

_CONSENT_COLUMNS = """id, address, scope, status, source, text, text_version, language, ip, user_agent, note, actor,
    created_at, given_at, confirmed_at, confirmed_ip, confirmed_user_agent, withdrawn_at, withdrawn_by"""

_NULLS = ", ".join(["NULL"] * len(_CONSENT_COLUMNS.split(",")))

# A consent, the address made known (evidence for inbound mail), and for a consent given at
# once its event and webhook deliveries: one statement. An erased address ($12: its HMAC) is
# written nowhere; the answer says so. $13 is the mailbox of the address.
_CONSENT_RECORDED = recorded_and_delivered("recorded", "delivered", """
    SELECT address, CASE WHEN status = 'given' THEN 'consent_given' ELSE 'consent_requested' END, scope, NULL, source,
           jsonb_build_object('consent', id, 'text_version', text_version, 'language', language), $11
      FROM inserted""", published_as="CASE WHEN r.type = 'consent_given' THEN 'consent.given' END")
INSERT_CONSENT = f"""
WITH erased AS (
    SELECT 1 FROM optout_erasure_of($1, $12::bytea)
), inserted AS (
    INSERT INTO consents (address, scope, status, source, text, text_version, language, ip, user_agent, note, actor,
                          given_at, mailbox)
    SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, CASE WHEN $3 = 'given' THEN now() END, $13
     WHERE NOT EXISTS (SELECT 1 FROM erased)
    RETURNING {_CONSENT_COLUMNS}
), known AS (
    INSERT INTO known_addresses (address, source) SELECT address, 'consent' FROM inserted
    ON CONFLICT (address) DO NOTHING
), {_CONSENT_RECORDED}
SELECT false AS erased, {_CONSENT_COLUMNS} FROM inserted
UNION ALL
SELECT true, {_NULLS} FROM erased
"""


async def insert_consent(
    conn: asyncpg.Connection, address: str, scope: str, status: str, source: str, text: str,
    text_version: str | None, language: str, ip: str | None, user_agent: str | None, note: str | None,
    actor: str | None, address_hmac: bytes, mailbox: str,
) -> asyncpg.Record:
    return await conn.fetchrow(INSERT_CONSENT, address, scope, status, source, text, text_version, language, ip,
                               user_agent, note, actor, address_hmac, mailbox)


async def consents_of_address(conn: asyncpg.Connection, address: str) -> list[asyncpg.Record]:
    return await conn.fetch(f"SELECT {_CONSENT_COLUMNS} FROM consents WHERE address = $1 ORDER BY id", address)


async def consent_by_id(conn: asyncpg.Connection, consent_id: int) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {_CONSENT_COLUMNS} FROM consents WHERE id = $1", consent_id)


async def consent_for_update(conn: asyncpg.Connection, consent_id: int) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {_CONSENT_COLUMNS} FROM consents WHERE id = $1 FOR UPDATE", consent_id)


async def lock_mailbox(conn: asyncpg.Connection, mailbox: str) -> None:
    """Until the caller's transaction ends, mails to this mailbox are counted one request at a time."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 13))", mailbox)


async def mark_confirmed(conn: asyncpg.Connection, consent_id: int, ip: str | None, user_agent: str | None) -> None:
    """A consent given where the mailbox was proved already (the person's own page): it counts as confirmed."""
    await conn.execute("""UPDATE consents SET confirmed_at = given_at, confirmed_ip = $2, confirmed_user_agent = $3
                           WHERE id = $1""", consent_id, ip, user_agent)


async def confirmations_since(conn: asyncpg.Connection, mailbox: str, since: datetime) -> int:
    """Confirmation mails asked for this mailbox (any form of its address) since then: each consent
    that was pending sent one. Locks the mailbox until the caller's transaction ends, so that
    requests at the same moment, in whatever form, are counted one after the other, not all
    against the same count. A consent given on the person's own page sent no mail."""
    await lock_mailbox(conn, mailbox)
    return await conn.fetchval(
        """SELECT count(*) FROM consents
            WHERE mailbox = $1 AND created_at >= $2 AND source <> 'self_service'
              AND (confirmed_at IS NOT NULL OR status = 'pending' OR (status = 'withdrawn' AND given_at IS NULL))""",
        mailbox, since,
    )


# The confirmation: the consent given, when and from where, its event and deliveries.
_CONFIRMATION_RECORDED = recorded_and_delivered("recorded", "delivered", """
    SELECT address, 'consent_given', scope, NULL, source,
           jsonb_build_object('consent', id, 'confirmed', true, 'text_version', text_version), 'recipient'
      FROM confirmed""", published_as="'consent.given'")
CONFIRM_CONSENT = f"""
WITH confirmed AS (
    UPDATE consents SET status = 'given', given_at = now(), confirmed_at = now(), confirmed_ip = $2,
                        confirmed_user_agent = $3
     WHERE id = $1 AND status = 'pending'
    RETURNING {_CONSENT_COLUMNS}
), {_CONFIRMATION_RECORDED}
SELECT {_CONSENT_COLUMNS} FROM confirmed
"""


async def confirm_consent(conn: asyncpg.Connection, consent_id: int, ip: str | None,
                          user_agent: str | None) -> asyncpg.Record | None:
    return await conn.fetchrow(CONFIRM_CONSENT, consent_id, ip, user_agent)


# A resubscribe undoes an unsubscribe: the consents that unsubscribe withdrew are given again.
_RESTORATION_RECORDED = recorded_and_delivered("recorded", "delivered", """
    SELECT address, 'consent_given', scope, NULL, source, jsonb_build_object('consent', id, 'restored', true), $3
      FROM restored""", published_as="'consent.given'")
RESTORE_CONSENTS = f"""
WITH restored AS (
    UPDATE consents SET status = 'given', withdrawn_at = NULL, withdrawn_by = NULL
     WHERE address = $1 AND status = 'withdrawn' AND withdrawn_by = 'unsubscribe:' || $2 AND given_at IS NOT NULL
    RETURNING id, address, scope, source
), {_RESTORATION_RECORDED}
SELECT count(*) FROM restored
"""


async def restore_consents(conn: asyncpg.Connection, address: str, scope: str, actor: str) -> int:
    return await conn.fetchval(RESTORE_CONSENTS, address, scope, actor)


# Privacy requests.

async def message_received_at(conn: asyncpg.Connection, message_id) -> datetime | None:
    return await conn.fetchval("SELECT received_at FROM inbound_messages WHERE id = $1", message_id)


_REQUEST_COLUMNS = "id, kind, address, message_id, received_at, due, status, closed_at, closed_by, note, text"

_REQUEST_RECORDED = recorded_and_delivered("recorded", "delivered", """
    SELECT address, 'request', NULL, NULL, NULL, jsonb_build_object('request', id, 'kind', kind, 'due', due),
           'recipient'
      FROM inserted""", published_as="'request.received'")
INSERT_REQUEST = f"""
WITH inserted AS (
    INSERT INTO privacy_requests (kind, address, message_id, received_at, due, text)
    VALUES ($1, $2, $3, $4, $5, $6)
    ON CONFLICT (message_id, kind) DO NOTHING
    RETURNING {_REQUEST_COLUMNS}
), {_REQUEST_RECORDED}
SELECT {_REQUEST_COLUMNS} FROM inserted
"""


async def insert_request(conn: asyncpg.Connection, kind: str, address: str | None, message_id,
                         received_at: datetime, due: date, text: str | None = None) -> asyncpg.Record | None:
    return await conn.fetchrow(INSERT_REQUEST, kind, address, message_id, received_at, due, text)


async def requests(conn: asyncpg.Connection, status: str | None, after_id: int, limit: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"""SELECT {_REQUEST_COLUMNS} FROM privacy_requests
             WHERE ($1::text IS NULL OR status = $1) AND id > $2
             ORDER BY id LIMIT $3""",
        status, after_id, limit,
    )


async def open_requests_by_due(conn: asyncpg.Connection, limit: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"SELECT {_REQUEST_COLUMNS} FROM privacy_requests WHERE status = 'open' ORDER BY due, id LIMIT $1", limit)


async def requests_of_address(conn: asyncpg.Connection, address: str) -> list[asyncpg.Record]:
    return await conn.fetch(f"SELECT {_REQUEST_COLUMNS} FROM privacy_requests WHERE address = $1 ORDER BY id",
                            address)


async def close_request(conn: asyncpg.Connection, request_id: int, note: str, by: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"""UPDATE privacy_requests SET status = 'closed', closed_at = now(), closed_by = $3, note = $2
             WHERE id = $1 AND status = 'open' RETURNING {_REQUEST_COLUMNS}""",
        request_id, note, by,
    )


async def request_by_id(conn: asyncpg.Connection, request_id: int) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {_REQUEST_COLUMNS} FROM privacy_requests WHERE id = $1", request_id)


async def erase_address(conn: asyncpg.Connection, address: str) -> int:
    """Erasure: the address's consents go (how many is returned); its requests stay as the record,
    without the address."""
    deleted = await conn.fetchval(
        "WITH gone AS (DELETE FROM consents WHERE address = $1 RETURNING 1) SELECT count(*) FROM gone", address)
    await conn.execute("UPDATE privacy_requests SET address = NULL, text = NULL WHERE address = $1", address)
    return deleted
