"""The SQL of inbound mail: storing messages, the leased work queue, soft-bounce counts, retention."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Sequence

import asyncpg

# Rows larger than this are not sent with the claim; the worker fetches them one by one.
CLAIM_RAW_LIMIT = 1 << 20

_NUL = "\x00"
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def storable(value):
    """`value` (text, or lists and dicts of it) as PostgreSQL can keep it.

    What is decoded from a stranger's message may hold NUL, which text and jsonb refuse,
    and lone surrogates (the email package's stand-ins for bytes that were not UTF-8),
    which UTF-8 cannot encode. NUL is dropped and a surrogate becomes U+FFFD, as for the
    envelope (`inbox.envelope_text`): the message is kept and read, not refused.
    """
    if isinstance(value, str):
        if _NUL in value:
            value = value.replace(_NUL, "")
        return _LONE_SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {storable(k): storable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [storable(v) for v in value]
    return value


async def insert_inbound_message(
    conn: asyncpg.Connection, via: str, mail_from: str | None, rcpt_to: Sequence[str], raw: bytes, dedup_key: str
) -> uuid.UUID | None:
    """The new message's id, or None when a message with this dedup key is already stored."""
    return await conn.fetchval(
        """INSERT INTO inbound_messages (via, mail_from, rcpt_to, raw, size, dedup_key)
           VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (dedup_key) DO NOTHING
           RETURNING id""",
        via, mail_from, list(rcpt_to), raw, len(raw), dedup_key,
    )


async def inbound_id_by_dedup_key(conn: asyncpg.Connection, dedup_key: str) -> uuid.UUID | None:
    return await conn.fetchval("SELECT id FROM inbound_messages WHERE dedup_key = $1", dedup_key)


async def inbound_message(conn: asyncpg.Connection, message_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """SELECT id, status, classification, kind, addresses, actions, error, received_at, processed_at,
                  forward_attempts, via, size, sender, raw_deleted_at
             FROM inbound_messages WHERE id = $1""",
        message_id,
    )


# FOR UPDATE SKIP LOCKED lets any number of workers claim at once without waiting on each
# other or taking the same row; the lease (not the row lock) then keeps it theirs while
# they work outside any transaction, renewed as long as they work. A row that still has a
# lease token when it is claimed was left by a worker that died (or lost the database) while
# it held it: that is counted in `abandoned`, not as one of the message's tries (`attempts`,
# which only a recorded failure raises).
CLAIM_INBOUND = f"""
UPDATE inbound_messages m
   SET lease_token = gen_random_uuid(),
       lease_until = now() + make_interval(secs => $2::float8),
       abandoned = m.abandoned + (m.lease_token IS NOT NULL)::int
 WHERE m.id IN (SELECT id FROM inbound_messages
                 WHERE status = 'queued' AND next_attempt_at <= now() AND NOT forward_pending
                   AND (lease_until IS NULL OR lease_until < now())
                 ORDER BY next_attempt_at
                 LIMIT $1
                 FOR UPDATE SKIP LOCKED)
RETURNING m.id, m.lease_token, m.attempts, m.abandoned, m.mail_from, m.rcpt_to, m.size, m.error,
          CASE WHEN m.size <= {CLAIM_RAW_LIMIT} THEN m.raw END AS raw
"""


async def claim_inbound(conn: asyncpg.Connection, limit: int, lease_seconds: float) -> list[asyncpg.Record]:
    return await conn.fetch(CLAIM_INBOUND, limit, lease_seconds)


# SKIP LOCKED: a row that the worker's own commit holds locked is passed over (the commit
# ends its lease anyway), so a renewal never waits for that commit nor deadlocks with it.
RENEW_LEASES = """
UPDATE inbound_messages m
   SET lease_until = now() + make_interval(secs => $3::float8)
 WHERE m.id IN (SELECT i.id FROM inbound_messages i
                  JOIN unnest($1::uuid[], $2::uuid[]) AS t(id, token) ON t.id = i.id AND t.token = i.lease_token
                   FOR UPDATE OF i SKIP LOCKED)
"""


async def renew_leases(
    conn: asyncpg.Connection, ids: Sequence[uuid.UUID], tokens: Sequence[uuid.UUID], lease_seconds: float
) -> int:
    """Extend the leases of these (id, lease token) pairs that are still ours; return how many."""
    result = await conn.execute(RENEW_LEASES, list(ids), list(tokens), lease_seconds)
    return int(result.split()[-1])


# Newest first; $1/$2 the last row of the page before (NULL: from the newest), $3 a status or
# NULL for all, $4 the earliest time or NULL.
LIST_INBOUND = """
SELECT id, received_at, sender, subject, status, classification
  FROM inbound_messages
 WHERE ($1::timestamptz IS NULL OR (received_at, id) < ($1, $2::uuid))
   AND ($3::text IS NULL OR status = $3)
   AND ($4::timestamptz IS NULL OR received_at >= $4)
 ORDER BY received_at DESC, id DESC
 LIMIT $5
"""


async def list_inbound(conn: asyncpg.Connection, before: tuple[datetime, uuid.UUID] | None, status: str | None,
                       since: datetime | None, limit: int) -> list[asyncpg.Record]:
    at, message_id = before or (None, None)
    return await conn.fetch(LIST_INBOUND, at, message_id, status, since, limit)


async def inbound_raw(conn: asyncpg.Connection, message_id: uuid.UUID) -> bytes | None:
    return await conn.fetchval("SELECT raw FROM inbound_messages WHERE id = $1", message_id)


async def lock_leased(
    conn: asyncpg.Connection, ids: Sequence[uuid.UUID], tokens: Sequence[uuid.UUID]
) -> set[uuid.UUID]:
    """Of these (id, lease token) pairs, the rows still leased by us, locked until commit."""
    rows = await conn.fetch(
        """SELECT m.id FROM inbound_messages m
             JOIN unnest($1::uuid[], $2::uuid[]) AS t(id, token) ON t.id = m.id AND t.token = m.lease_token
            FOR UPDATE OF m""",
        list(ids), list(tokens),
    )
    return {r["id"] for r in rows}


# What was read is written to the row (addresses, actions, sender, subject): its entry in
# the index of mentions (0006) is dropped, so that the next access or erasure reads it again.
RECORD_CLASSIFICATION = """
WITH reread AS (DELETE FROM message_mentions WHERE message_id = $1)
UPDATE inbound_messages
   SET status = $2, classification = $3, kind = $4, addresses = $5, actions = $6::jsonb,
       sender = $7, subject = $8, forward_pending = $9, attempts = 0, abandoned = 0, error = NULL,
       lease_token = NULL, lease_until = NULL, next_attempt_at = now(),
       processed_at = CASE WHEN $2 = 'queued' THEN NULL ELSE now() END
 WHERE id = $1
"""


async def record_classifications(conn: asyncpg.Connection, outcomes: Sequence) -> None:
    """Record many outcomes (domain.inbound.policy.Classified) in one pipelined round, made storable."""
    await conn.executemany(RECORD_CLASSIFICATION, [
        (o.id, str(o.status), str(o.classification), o.kind, storable(list(o.addresses)), storable(list(o.actions)),
         storable(o.sender), storable((o.subject or "")[:998]), o.forward_pending)
        for o in outcomes
    ])


async def forward_source(conn: asyncpg.Connection, message_id: uuid.UUID) -> asyncpg.Record | None:
    """What a forward to staff is made of."""
    return await conn.fetchrow(
        """SELECT id, raw, sender, subject, classification, actions, status
             FROM inbound_messages WHERE id = $1""",
        message_id,
    )


async def finish_forward(conn: asyncpg.Connection, message_id: uuid.UUID, status: str, actions: list[dict]) -> None:
    """The forward's last try is done with: `forwarded`, or `held` for staff (the tries that
    failed before it were counted one by one)."""
    await conn.execute(
        """UPDATE inbound_messages
              SET status = $2, actions = actions || $3::jsonb, forward_pending = false,
                  forward_attempts = forward_attempts + 1, processed_at = now()
            WHERE id = $1""",
        message_id, str(status), storable(actions),
    )


async def note_forward_failure(conn: asyncpg.Connection, message_id: uuid.UUID, error: str) -> None:
    await conn.execute(
        "UPDATE inbound_messages SET forward_attempts = forward_attempts + 1, error = $2 WHERE id = $1",
        message_id, storable(error[:2000]),
    )


async def release_after_error(
    conn: asyncpg.Connection, message_id: uuid.UUID, token: uuid.UUID, error: str, failed: bool, retry_at: datetime
) -> None:
    """A failure of the current step: one of the message's tries, `failed` for good when `failed`."""
    await conn.execute(
        """UPDATE inbound_messages
              SET error = $3, status = CASE WHEN $4 THEN 'failed' ELSE status END, attempts = attempts + 1,
                  lease_token = NULL, lease_until = NULL, next_attempt_at = $5,
                  processed_at = CASE WHEN $4 THEN now() ELSE processed_at END
            WHERE id = $1 AND lease_token = $2""",
        message_id, token, storable(error[:2000]), failed, retry_at,
    )


# A statement does not see the rows it inserts itself, so the new bounce (when it is new)
# is counted from what the INSERT returns.
RECORD_AND_COUNT_SOFT_BOUNCE = """
WITH inserted AS (
    INSERT INTO soft_bounces (address, message_id, status) VALUES ($1, $2, $3)
    ON CONFLICT (address, message_id) DO NOTHING
    RETURNING at
)
SELECT (SELECT count(*) FROM soft_bounces WHERE address = $1 AND at > now() - make_interval(days => $4))
     + (SELECT count(*) FROM inserted WHERE at > now() - make_interval(days => $4))
"""


async def count_soft_bounce(
    conn: asyncpg.Connection, address: str, message_id: uuid.UUID, status: str, days: int
) -> int:
    """Record one soft bounce and return how many the address had within `days`.

    The advisory lock serialises the count per address, so two workers recording the
    last two bounces at once cannot both see one short of the limit. It is taken in a
    statement of its own: the count must read a snapshot taken after the lock is held.
    """
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 7))", address)
    return await conn.fetchval(RECORD_AND_COUNT_SOFT_BOUNCE, address, message_id, status, days)


async def held_count(conn: asyncpg.Connection) -> int:
    return await conn.fetchval("SELECT count(*) FROM inbound_messages WHERE status = 'held'")


async def failed_count(conn: asyncpg.Connection) -> int:
    return await conn.fetchval("SELECT count(*) FROM inbound_messages WHERE status = 'failed'")


async def held_messages(conn: asyncpg.Connection, limit: int) -> list[asyncpg.Record]:
    """Messages waiting for staff, newest first (the staff console's list)."""
    return await conn.fetch(
        """SELECT id, received_at, status, classification, sender, subject, error
             FROM inbound_messages WHERE status IN ('held', 'failed')
            ORDER BY received_at DESC LIMIT $1""",
        limit,
    )


async def release_held(conn: asyncpg.Connection, message_id: uuid.UUID, forward: bool, action: dict) -> bool:
    """Staff handled a held message: mark it processed, or queue it for forwarding again."""
    result = await conn.execute(
        """UPDATE inbound_messages
              SET status = CASE WHEN $2 THEN 'queued' ELSE 'processed' END,
                  forward_pending = $2, forward_attempts = 0, attempts = 0, abandoned = 0, next_attempt_at = now(),
                  actions = actions || $3::jsonb, processed_at = CASE WHEN $2 THEN processed_at ELSE now() END
            WHERE id = $1 AND status IN ('held', 'failed')""",
        message_id, forward, [action],
    )
    return result.endswith(" 1")


# Retention. The subselect takes at most $2 rows, oldest first, through the partial index
# inbound_messages_raw_expiry, and SKIP LOCKED passes over any row a worker or a staff
# member holds at that moment: the statement never waits, and never holds many row locks.
DELETE_EXPIRED_RAW = """
UPDATE inbound_messages m
   SET raw = NULL, subject = NULL, raw_deleted_at = now()
 WHERE m.id IN (SELECT id FROM inbound_messages
                 WHERE raw IS NOT NULL AND status IN ('processed', 'forwarded')
                   AND processed_at < now() - make_interval(days => $1)
                 ORDER BY processed_at
                 LIMIT $2
                 FOR UPDATE SKIP LOCKED)
"""


async def delete_expired_raw(conn: asyncpg.Connection, older_than_days: int, limit: int) -> int:
    """Delete the raw bytes of at most `limit` messages processed more than `older_than_days`
    ago; return how many. Run it outside a transaction, so that each batch commits at once.

    Only `processed` and `forwarded` messages qualify: a held message is kept until staff
    release it (which makes it processed, from then on), and queued and failed ones are not
    done with. The row stays with what was decided: classification, kind, addresses,
    actions, sender and the envelope, and the dedup key, so that a late second delivery
    is still recognised.

    The decoded subject is cleared too: it is the person's own words taken from the
    message (a name, an address, a question, sometimes an unsubscribe token), no more
    needed than the body once the message is processed, and keeping it would keep part of
    the message past the promised period. Nothing reads it after processing: the staff
    list shows only held and failed messages, which retention leaves alone.
    """
    result = await conn.execute(DELETE_EXPIRED_RAW, older_than_days, limit)
    return int(result.split()[-1])


# What waits, for /metrics: each count reads a partial index (queued; held and failed; open requests).
WAITING_COUNTS = """
SELECT (SELECT count(*) FROM inbound_messages WHERE status = 'queued') AS queued,
       (SELECT count(*) FROM inbound_messages WHERE status = 'held') AS held,
       (SELECT count(*) FROM inbound_messages WHERE status = 'failed') AS failed,
       (SELECT extract(epoch FROM now() - min(received_at)) FROM inbound_messages WHERE status = 'queued')
           AS oldest_queued_seconds,
       (SELECT count(*) FROM privacy_requests WHERE status = 'open') AS open,
       (SELECT count(*) FROM privacy_requests WHERE status = 'open' AND due >= current_date
                                                AND due < current_date + 7) AS due_within_7_days,
       (SELECT count(*) FROM privacy_requests WHERE status = 'open' AND due < current_date) AS overdue
"""


async def waiting_counts(conn: asyncpg.Connection) -> asyncpg.Record:
    return await conn.fetchrow(WAITING_COUNTS)
