"""Every SQL statement of the service, named for what it does. Callers own the transaction."""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import AsyncIterator, Sequence

import asyncpg

from .campaign_queries import unsubscribe_noted
from .event_sql import recorded_and_delivered

# The check, in one round trip (CONTRACT: Consent; service/domain/consent/rules.py), from
# check_marks, where one index probe per address finds its suppressions and its given consents:
# - the suppressions that block scope $2: global ones, and for a scope its own; a person's own
#   unsubscribe no longer blocks once a confirmed consent in $2 (or global) was given after it
#   and is still given: the newest act wins;
# - when $2 is registered `required`: the addresses without a given consent in $2 or global,
#   as reason `no_consent`, found among what the probe read (no second lookup);
# - one more row, its address NULL, with the erased addresses' generation (0014) as `scope`:
#   read in the same snapshot as the rest, it says whether the erased addresses' HMACs that
#   the process holds are this snapshot's (domain/suppressions/erased_hashes.py). The erasures
#   are matched there, in Python, each address hashed once: no HMAC is computed here.
# Each step costs the same whatever the planner's estimates: an index probe per address, a
# hashed set difference, never a scan of one intermediate result per row of another.
_GENERATION = """
UNION ALL
SELECT NULL, g.changes || ':' || g.token, NULL, NULL FROM erasure_generation g
"""
CHECK_MARKS = """
WITH marks AS MATERIALIZED (
    SELECT address, scope, mark, at FROM check_marks
     WHERE address = ANY($1::text[])
       AND ($2::text = 'global' OR scope = ANY (ARRAY['global', $2::text]))
)
SELECT h.address, h.scope, h.mark AS reason, h.at AS created_at
  FROM marks h
 WHERE h.mark <> 'consent'
   AND NOT (h.mark = 'unsubscribe' AND EXISTS (
       SELECT 1 FROM check_marks c
        WHERE c.address = h.address AND c.scope IN ($2::text, 'global') AND c.mark = 'consent' AND c.at > h.at))
UNION ALL
SELECT missing.address, $2::text, 'no_consent', NULL
  FROM (SELECT unnest($1::text[]) AS address
         WHERE EXISTS (SELECT 1 FROM scopes WHERE scope = $2::text AND consent = 'required')
        EXCEPT
        SELECT address FROM marks WHERE mark = 'consent' AND scope IN ($2::text, 'global')) AS missing
""" + _GENERATION

# The same for one address: a plan PostgreSQL can keep, unlike one for a one-element array.
CHECK_MARKS_ONE = """
WITH hits AS MATERIALIZED (
    SELECT address, scope, mark, at FROM check_marks
     WHERE address = $1::text
       AND ($2::text = 'global' OR scope = ANY (ARRAY['global', $2::text]))
)
SELECT h.address, h.scope, h.mark AS reason, h.at AS created_at
  FROM hits h
 WHERE h.mark <> 'consent'
   AND NOT (h.mark = 'unsubscribe' AND EXISTS (
       SELECT 1 FROM hits c WHERE c.mark = 'consent' AND c.scope IN ($2::text, 'global') AND c.at > h.at))
UNION ALL
SELECT $1::text, $2::text, 'no_consent', NULL
 WHERE EXISTS (SELECT 1 FROM scopes WHERE scope = $2::text AND consent = 'required')
   AND NOT EXISTS (SELECT 1 FROM hits c WHERE c.mark = 'consent' AND c.scope IN ($2::text, 'global'))
""" + _GENERATION


@contextlib.asynccontextmanager
async def one_snapshot(conn: asyncpg.Connection) -> AsyncIterator[None]:
    """The statements of a check in parts, as one read: a read-only transaction with one
    snapshot, whose statements use their generic plan from the first execution on.

    PostgreSQL plans a prepared statement's first five executions on each connection for their
    parameters: for an array of thousands of addresses, a scan of all of check_marks, five
    times slower than the index probe per address of the generic plan it keeps afterwards.
    """
    if conn.is_in_transaction():  # the caller's transaction: its snapshot and settings stay
        yield
        return
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        await conn.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        yield


async def check_marks(conn: asyncpg.Connection, addresses: Sequence[str], scope: str) -> list[asyncpg.Record]:
    """What blocks these distinct canonical addresses in `scope` (address, scope, reason,
    created_at), but an erasure; and the generation row (address NULL)."""
    if len(addresses) == 1:
        return await conn.fetch(CHECK_MARKS_ONE, addresses[0], scope)
    return await conn.fetch(CHECK_MARKS, addresses, scope)


async def suppressions_of_address(conn: asyncpg.Connection, address: str) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT scope, reason, source, created_at, note FROM suppressions
            WHERE address = $1 ORDER BY scope""",
        address,
    )


# A new suppression, its event and the event's webhook deliveries in one statement: it commits
# on its own, so the one-click answer costs one round trip to the database. The address is $1,
# with $7 its HMAC; or, for a link that names a recipient id ($12), the address that id names
# in known_addresses, its HMAC computed here from the key's pads ($13, $14), as
# REMEMBER_ADDRESSES does: the link's click needs no lookup before it. An erased address is
# written nowhere: the erasure is returned instead; so is a recipient id that names no one
# any more (an erasure deleted it). optout_erasure_of (0008) waits for an erasure of the
# address that is under way, so that a write never slips past one. $9 is the event's public
# type, which subscriptions name.
_SUPPRESSION_RECORDED = recorded_and_delivered(
    "recorded", "delivered", "SELECT address, 'suppressed', scope, reason, source, $6::jsonb, $8 FROM inserted",
    published_as="$9")
_CAMPAIGN_NOTED = unsubscribe_noted("$10::text", "$11::bigint", "$3 = 'unsubscribe' AND EXISTS (SELECT 1 FROM written)")
_WITHDRAWAL_RECORDED = recorded_and_delivered(
    "withdrawal_recorded", "withdrawal_delivered",
    "SELECT address, 'consent_withdrawn', scope, $3, $4, jsonb_build_object('consent', id), $8 FROM withdrawn",
    published_as="'consent.withdrawn'")
INSERT_SUPPRESSION = f"""
WITH target AS MATERIALIZED (
    SELECT $1::text AS address, $7::bytea AS address_hmac WHERE $12::bigint IS NULL
    UNION ALL
    SELECT k.address, sha256($14::bytea || sha256($13::bytea || convert_to(k.address, 'UTF8')))
      FROM known_addresses k WHERE $12::bigint IS NOT NULL AND k.recipient_id = $12::bigint
), erased AS (
    SELECT e.reason, e.erased_at FROM target t CROSS JOIN LATERAL optout_erasure_of(t.address, t.address_hmac) e
), written AS (
    SELECT t.address FROM target t WHERE NOT EXISTS (SELECT 1 FROM erased)
), inserted AS (
    INSERT INTO suppressions (address, scope, reason, source, note)
    SELECT address, $2, $3, $4, $5 FROM written
    ON CONFLICT (address, scope) DO NOTHING
    RETURNING address, scope, reason, source, created_at, note
), {_SUPPRESSION_RECORDED}, campaign_noted AS (
    -- A link's unsubscribe counts for its campaign ($10, recipient $11), in this same statement.
    {_CAMPAIGN_NOTED}
), withdrawn AS (
    -- An unsubscribe or a complaint withdraws the consents it covers (a global one: all), also
    -- when the address was suppressed already: it is the person's newest act.
    UPDATE consents SET status = 'withdrawn', withdrawn_at = now(),
                        withdrawn_by = CASE WHEN $3 = 'unsubscribe' THEN 'unsubscribe:' || $2 ELSE $3 END
     WHERE address = (SELECT address FROM written) AND status IN ('pending', 'given') AND ($2 = 'global' OR scope = $2)
       AND $3 IN ('unsubscribe', 'complaint')
    RETURNING id, address, scope
), {_WITHDRAWAL_RECORDED}
SELECT 'inserted' AS outcome, address, scope, reason, source, created_at, note FROM inserted
UNION ALL
SELECT 'erased', NULL, 'global', reason, NULL, erased_at, NULL FROM erased
UNION ALL
SELECT 'no_one', NULL, NULL, NULL, NULL, NULL, NULL WHERE $12::bigint IS NOT NULL AND NOT EXISTS (SELECT 1 FROM target)
UNION ALL
SELECT 'present', address, NULL, NULL, NULL, NULL, NULL FROM written
 WHERE $12::bigint IS NOT NULL AND NOT EXISTS (SELECT 1 FROM inserted)
"""


async def insert_suppression(
    conn: asyncpg.Connection, address: str | None, scope: str, reason: str, source: str, note: str | None,
    detail: dict | None, address_hmac: bytes | None = None, *, actor: str | None = None,
    published_as: str | None = None, campaign: str | None = None, recipient_id: int | None = None,
    of_recipient: tuple[int, tuple[bytes, bytes]] | None = None,
) -> asyncpg.Record | None:
    """The new row, `outcome` 'inserted' (its 'suppressed' event recorded and queued for the
    subscriptions of `published_as`); 'erased' (nothing written) when `address_hmac` is that of
    an erased address; None when already suppressed. An unsubscribe by a link of a campaign
    (`campaign`, `recipient_id`) counts for it, suppressed already or not.

    `of_recipient` (recipient id, HMAC pads) instead of `address`: the address that id names.
    Then 'no_one' when it names no one any more, and 'present' (with the address) when that
    address was suppressed already."""
    named, pads = of_recipient or (None, (None, None))
    return await conn.fetchrow(INSERT_SUPPRESSION, address, scope, reason, source, note, detail or {}, address_hmac,
                               actor, published_as, campaign, recipient_id, named, pads[0], pads[1])


async def suppression_for_update(
    conn: asyncpg.Connection, address: str, scope: str
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT reason, source FROM suppressions WHERE address = $1 AND scope = $2 FOR UPDATE",
        address, scope,
    )


async def delete_suppression(conn: asyncpg.Connection, address: str, scope: str) -> None:
    await conn.execute("DELETE FROM suppressions WHERE address = $1 AND scope = $2", address, scope)


# An event and, in the same statement, one webhook delivery per subscription to its public
# type ($8; NULL: not published). $9 is the address the deliveries are about: the event's
# own, or for an erasure (whose event names no one) the erased address, which the delivery
# carries until it is delivered.
RECORD_EVENT = f"""
WITH {recorded_and_delivered("recorded", "delivered", "VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7)",
                             published_as="$8", about="$9")}
SELECT id FROM recorded
"""


async def insert_event(
    conn: asyncpg.Connection,
    address: str | None,
    type_: str,
    *,
    scope: str | None = None,
    reason: str | None = None,
    source: str | None = None,
    detail: dict | None = None,
    actor: str | None = None,
    published_as: str | None = None,
    delivered_about: str | None = None,
) -> int:
    """Record an event (and queue its webhook deliveries); return its id."""
    return await conn.fetchval(
        RECORD_EVENT, address, type_, scope, reason, source, detail or {}, actor, published_as,
        delivered_about if delivered_about is not None else address,
    )


async def events_of_address(conn: asyncpg.Connection, address: str, limit: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT id, at, type, scope, reason, source, detail, actor FROM history
            WHERE address = $1 ORDER BY id LIMIT $2""",
        address, limit,
    )


LIST_SUPPRESSIONS = """
SELECT address, scope, reason, source, created_at, note
  FROM suppressions
 WHERE ($1::timestamptz IS NULL OR (created_at, address, scope) > ($1, $2::text, $3::text))
   AND ($4::text IS NULL OR reason = $4)
   AND ($5::text IS NULL OR scope = $5)
   AND ($6::timestamptz IS NULL OR created_at >= $6)
 ORDER BY created_at, address, scope
 LIMIT $7
"""


async def list_suppressions(
    conn: asyncpg.Connection,
    after: tuple[datetime, str, str] | None,
    reason: str | None,
    scope: str | None,
    since: datetime | None,
    limit: int,
) -> list[asyncpg.Record]:
    at, address, scope_after = after if after else (None, None, None)
    return await conn.fetch(LIST_SUPPRESSIONS, at, address, scope_after, reason, scope, since, limit)


EXPORT_SUPPRESSIONS = """
SELECT address, scope, reason, source, note, created_at
  FROM suppressions ORDER BY created_at, address, scope
"""

# An import goes through a temporary table filled by COPY, batch by batch; what was new is
# suppressed and recorded as an event in one statement, so the history cannot miss a row.
# Its rows are not delivered to webhooks one by one: the import ends with one event of its
# own, whose feed cursor leads to them. $3 is the actor; the answer says how many rows were
# new, the first of their events and the transaction (feed order is by transaction, then id).
CREATE_IMPORT_BATCH = """
CREATE TEMPORARY TABLE import_batch (
    address text, scope text, reason text, source text, note text, created_at timestamptz, address_hmac bytea
) ON COMMIT DROP
"""

# Each row comes with its address's HMAC, computed by the service: an erased address stays
# erased (it is blocked already, by its HMAC) at the cost of one probe of erased_addresses. A row
# is audited by its import (0024): the importing transaction and an id from the events' sequence,
# which the view `history` reads as its 'suppressed' event.
IMPORT_FROM_BATCH = """
WITH inserted AS (
    INSERT INTO suppressions (address, scope, reason, source, note, created_at, import_tx, event_id)
    SELECT address, scope, reason, source, note, coalesce(created_at, now()), pg_current_xact_id(),
           nextval(pg_get_serial_sequence('events', 'id'))
      FROM import_batch b
     WHERE NOT EXISTS (SELECT 1 FROM erased_addresses e WHERE e.address_hmac = b.address_hmac)
    ON CONFLICT (address, scope) DO NOTHING
    RETURNING event_id
)
SELECT count(*) AS inserted, min(event_id) AS first_event, pg_current_xact_id()::text AS tx FROM inserted
"""


async def create_import_batch(conn: asyncpg.Connection, actor: str | None = None) -> None:
    """The staging table of one import (it goes with the transaction), and the import's record."""
    await conn.execute(CREATE_IMPORT_BATCH)
    await conn.execute("INSERT INTO imports (tx, actor) VALUES (pg_current_xact_id(), $1) ON CONFLICT (tx) DO NOTHING",
                       actor)


async def import_batch(conn: asyncpg.Connection, records: Sequence[tuple]) -> asyncpg.Record:
    """Insert one batch of (address, scope, reason, source, note, created_at, address_hmac);
    return how many were new (`inserted`), the event id of the first row written (`first_event`,
    None when none) and the writing transaction (`tx`, as text)."""
    await conn.copy_records_to_table("import_batch", records=records)
    written = await conn.fetchrow(IMPORT_FROM_BATCH)
    await conn.execute("TRUNCATE import_batch")
    return written


async def api_key_by_hash(conn: asyncpg.Connection, key_hash: bytes) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT id, name, scopes FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL", key_hash
    )


async def insert_api_key(
    conn: asyncpg.Connection, name: str, key_hash: bytes, prefix: str, scopes: list[str]
) -> int:
    return await conn.fetchval(
        "INSERT INTO api_keys (name, key_hash, prefix, scopes) VALUES ($1, $2, $3, $4) RETURNING id",
        name, key_hash, prefix, scopes,
    )


async def list_api_keys(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT id, name, prefix, scopes, created_at, revoked_at FROM api_keys ORDER BY id"
    )


async def revoke_api_key(conn: asyncpg.Connection, key_id: int) -> bool:
    status = await conn.execute(
        "UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL", key_id
    )
    return status.endswith(" 1")


async def lock_for_erasure(conn: asyncpg.Connection, address: str) -> None:
    """In the erasure's transaction, before it reads anything: suppressions of the address
    being written finish first, later ones wait for the commit (see 0008_erasure_lock.sql)."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", address)


async def erase_address(conn: asyncpg.Connection, address: str) -> tuple[int, int]:
    """Drop the address's suppressions and events in clear; how many of each."""
    suppressions = await conn.execute("DELETE FROM suppressions WHERE address = $1", address)
    events = await conn.execute("DELETE FROM events WHERE address = $1", address)
    return int(suppressions.split()[-1]), int(events.split()[-1])


async def keep_erased(conn: asyncpg.Connection, address_hmac: bytes, reason: str) -> None:
    """Keep the address only as its HMAC. The erased addresses' generation row (0014) stays
    locked until the transaction ends: the erasure does this last, so erasures wait for one
    another only for their commits."""
    await conn.execute(
        """INSERT INTO erased_addresses (address_hmac, reason) VALUES ($1, $2)
           ON CONFLICT (address_hmac) DO NOTHING""",
        address_hmac, reason,
    )


async def erased_among(conn: asyncpg.Connection, address_hmacs: Sequence[bytes]) -> set[bytes]:
    """Which of these HMACs are of erased addresses."""
    rows = await conn.fetch("SELECT address_hmac FROM erased_addresses WHERE address_hmac = ANY($1::bytea[])",
                            list(address_hmacs))
    return {bytes(r["address_hmac"]) for r in rows}


# The erased addresses' generation (0014) and, from the same snapshot, up to $1 + 1 of them: a
# process holds them when there are no more than $1 (see domain/suppressions/erased_hashes.py).
ERASURES_HELD = """
SELECT g.changes || ':' || g.token AS generation, e.address_hmac, e.reason, e.erased_at
  FROM erasure_generation g
  LEFT JOIN LATERAL (SELECT address_hmac, reason, erased_at FROM erased_addresses LIMIT $1 + 1) e ON true
"""


async def erasures_held(conn: asyncpg.Connection, limit: int) -> tuple[str, list[tuple]]:
    rows = await conn.fetch(ERASURES_HELD, limit)
    return rows[0]["generation"], [tuple(r)[1:] for r in rows if r["address_hmac"] is not None]


async def erasures_among(conn: asyncpg.Connection, address_hmacs: Sequence[bytes]) -> list[asyncpg.Record]:
    """The erasures (address_hmac, reason, erased_at) of these HMACs."""
    return await conn.fetch(
        "SELECT address_hmac, reason, erased_at FROM erased_addresses WHERE address_hmac = ANY($1::bytea[])",
        list(address_hmacs))


async def erased_since(conn: asyncpg.Connection, address_hmac: bytes) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT reason, erased_at FROM erased_addresses WHERE address_hmac = $1", address_hmac
    )


async def activity_by_day(conn: asyncpg.Connection, days: int) -> list[asyncpg.Record]:
    """Suppressions, soft bounces and consents given or withdrawn per day (in Brussels) of the last
    `days` days, by type, reason and source (staff console)."""
    return await conn.fetch(
        """SELECT (at AT TIME ZONE 'Europe/Brussels')::date AS day, type, reason, source, count(*) AS n
             FROM history
            WHERE at >= now() - make_interval(days => $1)
              AND type IN ('suppressed', 'soft_bounce', 'consent_given', 'consent_withdrawn')
            GROUP BY 1, 2, 3, 4 ORDER BY 1 DESC""",
        days,
    )


async def count_suppressions(conn: asyncpg.Connection) -> int:
    return await conn.fetchval("SELECT count(*) FROM suppressions")
