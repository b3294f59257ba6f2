"""The outbox (0009): queue, claim under a lease, record the outcome, count, and forget a person."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Sequence

import asyncpg

from .inbound_queries import storable

# Due mail rows, oldest first, skipping rows another drainer holds (SKIP LOCKED) and rows whose
# lease has not run out. Webhook deliveries are claimed per subscription (delivery_queries).
# $1 is the drainer's clock for what is due (tests move it); leases go by the database's clock,
# one for every host.
CLAIM_OUTBOX = """
UPDATE outbox o
   SET lease_token = gen_random_uuid(),
       lease_until = clock_timestamp() + make_interval(secs => $2::float8)
 WHERE o.id IN (
       SELECT d.id FROM outbox d
        WHERE d.status = 'pending' AND d.next_attempt_at <= $1
          AND (d.lease_until IS NULL OR d.lease_until < clock_timestamp())
          AND d.kind = ANY ($3::text[])
        ORDER BY d.next_attempt_at, d.id
        LIMIT $4
        FOR UPDATE SKIP LOCKED)
RETURNING o.id, o.kind, o.created_at, o.attempts, o.lease_token, o.address, o.scope, o.sender, o.recipient,
          o.message, o.body_id, o.inbound_id, o.webhook_id, o.event_id, o.language, o.campaign
"""


async def claim(conn: asyncpg.Connection, now: datetime, lease_seconds: float, kinds: Sequence[str],
                limit: int) -> list[asyncpg.Record]:
    return await conn.fetch(CLAIM_OUTBOX, now, lease_seconds, list(kinds), limit)


async def renew_leases(conn: asyncpg.Connection, ids: Sequence[int], tokens: Sequence[uuid.UUID],
                       lease_seconds: float) -> None:
    await conn.execute(
        """UPDATE outbox o SET lease_until = clock_timestamp() + make_interval(secs => $3::float8)
            WHERE o.id IN (SELECT x.id FROM outbox x
                             JOIN unnest($1::bigint[], $2::uuid[]) AS t(id, token)
                               ON t.id = x.id AND t.token = x.lease_token
                              FOR UPDATE OF x SKIP LOCKED)""",
        list(ids), list(tokens), lease_seconds,
    )


async def delete_leased(conn: asyncpg.Connection, outbox_id: int, token: uuid.UUID) -> bool:
    """A row is done (sent, or no longer to be sent): it goes, if the lease is still ours."""
    result = await conn.execute("DELETE FROM outbox WHERE id = $1 AND lease_token = $2", outbox_id, token)
    return result.endswith(" 1")


async def postpone_leased(conn: asyncpg.Connection, rows: Sequence, until: datetime) -> None:
    """Rows that wait (their campaign is paused) without spending a try: due again at `until`."""
    await conn.execute(
        """UPDATE outbox o SET next_attempt_at = $3, lease_token = NULL, lease_until = NULL
             FROM unnest($1::bigint[], $2::uuid[]) AS t(id, token)
            WHERE o.id = t.id AND o.lease_token = t.token""",
        [r["id"] for r in rows], [r["lease_token"] for r in rows], until,
    )


async def delete_many_leased(conn: asyncpg.Connection, rows: Sequence) -> int:
    """Rows that are done, each if its lease is still ours; return how many went."""
    result = await conn.execute(
        """DELETE FROM outbox o USING unnest($1::bigint[], $2::uuid[]) AS t(id, token)
            WHERE o.id = t.id AND o.lease_token = t.token""",
        [r["id"] for r in rows], [r["lease_token"] for r in rows],
    )
    return int(result.split()[-1])


async def retry_later(conn: asyncpg.Connection, row, retry_at: datetime, error: str) -> None:
    """The row's next try. A webhook delivery's later ones for the same order key (its address,
    '' for none) wait as long, so that they are not due and the claim does not walk over them
    again and again."""
    await conn.execute(
        """UPDATE outbox SET attempts = attempts + 1, next_attempt_at = $3, last_error = $4,
                  lease_token = NULL, lease_until = NULL
            WHERE id = $1 AND lease_token = $2""",
        row["id"], row["lease_token"], retry_at, storable(error[:1000]),
    )
    if row["kind"] == "webhook":
        await conn.execute(
            """UPDATE outbox SET next_attempt_at = $4
                WHERE status = 'pending' AND kind = 'webhook' AND webhook_id = $1
                  AND coalesce(address, '') = coalesce($2, '') AND id > $3 AND next_attempt_at < $4""",
            row["webhook_id"], row["address"], row["id"], retry_at,
        )


# A dead delivery of an erasure would keep the erased address in its row: it is kept without it
# (a receiver's answer is never kept, of any delivery: its status code alone names a failure).
MARK_DEAD = """
WITH about_erasure AS (
    SELECT EXISTS (SELECT 1 FROM outbox o JOIN events e ON e.id = o.event_id
                    WHERE o.id = $1 AND o.kind = 'webhook' AND e.type = 'erased') AS yes
)
UPDATE outbox o
   SET status = 'dead', dead_at = $3, attempts = attempts + 1,
       last_error = CASE WHEN a.yes THEN $5 ELSE $4 END,
       lease_token = NULL, lease_until = NULL,
       address = CASE WHEN a.yes THEN NULL ELSE o.address END
  FROM about_erasure a
 WHERE o.id = $1 AND o.lease_token = $2
"""


ERASURE_GIVEN_UP = "not delivered within 3 days (the answer is not kept: it may name the person)"


async def mark_dead(conn: asyncpg.Connection, outbox_id: int, token: uuid.UUID, now: datetime, error: str) -> None:
    await conn.execute(MARK_DEAD, outbox_id, token, now, storable(error[:1000]), ERASURE_GIVEN_UP)


async def queue_gateway_message(conn: asyncpg.Connection, message: bytes,
                                copies: Sequence[tuple[str, str, str]], scope: str, campaign: str | None = None) -> int:
    """One stored body and one row per copy (canonical address, recipient as written, envelope
    sender: the recipient's return path); return how many rows."""
    body_id = await conn.fetchval("INSERT INTO outbox_bodies (message) VALUES ($1) RETURNING id", message)
    await conn.execute(
        """INSERT INTO outbox (kind, address, scope, sender, recipient, body_id, campaign)
           SELECT 'gateway', c.address, $2, c.sender, c.recipient, $3, $6
             FROM unnest($1::text[], $4::text[], $5::text[]) AS c(address, recipient, sender)""",
        [c[0] for c in copies], scope, body_id, [c[1] for c in copies], [c[2] for c in copies], campaign,
    )
    return len(copies)


async def queue_forward(conn: asyncpg.Connection, inbound_id: uuid.UUID) -> None:
    await conn.execute("INSERT INTO outbox (kind, inbound_id) VALUES ('forward', $1)", inbound_id)


async def queue_mail(conn: asyncpg.Connection, kind: str, address: str, sender: str, recipient: str,
                     message: bytes, scope: str | None = None) -> None:
    """A whole message to one person (a confirmation mail)."""
    await conn.execute(
        """INSERT INTO outbox (kind, address, scope, sender, recipient, message)
           VALUES ($1, $2, $3, $4, $5, $6)""",
        kind, address, scope, sender, recipient, message,
    )


async def queue_link_asked(conn: asyncpg.Connection, address: str, language: str) -> None:
    """A link to the person's own page asked for this address: the same row for every address,
    the mail (or none) made when it is sent."""
    await conn.execute("INSERT INTO outbox (kind, address, language) VALUES ('self_service', $1, $2)",
                       address, language)


async def bodies(conn: asyncpg.Connection, ids: Sequence[int]) -> dict[int, bytes]:
    rows = await conn.fetch("SELECT id, message FROM outbox_bodies WHERE id = ANY($1::bigint[])", list(set(ids)))
    return {r["id"]: r["message"] for r in rows}


async def delete_unused_bodies(conn: asyncpg.Connection, ids: Sequence[int]) -> None:
    """Bodies no row uses any more (their last copy was sent, withheld or erased)."""
    await conn.execute(
        """DELETE FROM outbox_bodies b WHERE b.id = ANY($1::bigint[])
             AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.body_id = b.id)""",
        list(set(ids)),
    )


async def counts(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    """Rows by kind and status, for /metrics."""
    return await conn.fetch("SELECT kind, status, count(*) AS n FROM outbox GROUP BY kind, status")


async def dead_rows(conn: asyncpg.Connection, limit: int) -> list[asyncpg.Record]:
    """What was given up, newest first, for staff."""
    return await conn.fetch(
        """SELECT o.id, o.kind, o.created_at, o.dead_at, o.attempts, o.last_error, o.address, o.recipient,
                  w.url AS webhook_url
             FROM outbox o LEFT JOIN webhooks w ON w.id = o.webhook_id
            WHERE o.status = 'dead' ORDER BY o.dead_at DESC LIMIT $1""",
        limit,
    )


async def purge_dead(conn: asyncpg.Connection, older_than_days: int, limit: int) -> int:
    """Dead rows staff have not sent again within the time they are kept, a batch at a time."""
    rows = await conn.fetch(
        """DELETE FROM outbox WHERE id IN (
               SELECT id FROM outbox WHERE status = 'dead' AND dead_at < now() - make_interval(days => $1)
                ORDER BY dead_at LIMIT $2 FOR UPDATE SKIP LOCKED)
           RETURNING body_id""",
        older_than_days, limit,
    )
    bodies = [r["body_id"] for r in rows if r["body_id"] is not None]
    if bodies:
        await delete_unused_bodies(conn, bodies)
    return len(rows)


async def retry_dead(conn: asyncpg.Connection, outbox_id: int, now: datetime) -> bool:
    """Staff send a dead row once more: pending again, due now, with its tries kept."""
    result = await conn.execute(
        """UPDATE outbox SET status = 'pending', dead_at = NULL, next_attempt_at = $2, created_at = $2
            WHERE id = $1 AND status = 'dead' AND (kind <> 'webhook' OR address IS NOT NULL
                  OR NOT EXISTS (SELECT 1 FROM events e WHERE e.id = outbox.event_id AND e.address IS NULL))""",
        outbox_id, now,
    )
    return result.endswith(" 1")


async def delete_about(conn: asyncpg.Connection, address: str) -> tuple[int, list[int]]:
    """Erasure: every row about this person goes; return how many, and the bodies they used."""
    rows = await conn.fetch("DELETE FROM outbox WHERE address = $1 RETURNING body_id", address)
    return len(rows), [r["body_id"] for r in rows if r["body_id"] is not None]


async def bodies_after(conn: asyncpg.Connection, after: int, limit: int) -> list[asyncpg.Record]:
    """A page of the stored gateway bodies, with the envelope of one of their rows, in id order."""
    return await conn.fetch(
        """SELECT b.id, b.message,
                  (SELECT o.sender FROM outbox o WHERE o.body_id = b.id LIMIT 1) AS sender
             FROM outbox_bodies b WHERE b.id > $1 ORDER BY b.id LIMIT $2""",
        after, limit,
    )


async def delete_bodies(conn: asyncpg.Connection, ids: Sequence[int]) -> int:
    """Erasure: gateway messages about the person go with every copy of them."""
    if not ids:
        return 0
    result = await conn.execute("DELETE FROM outbox WHERE body_id = ANY($1::bigint[])", list(ids))
    await conn.execute("DELETE FROM outbox_bodies WHERE id = ANY($1::bigint[])", list(ids))
    return int(result.split()[-1])


async def discard_dead(conn: asyncpg.Connection, outbox_id: int) -> bool:
    """Staff let a dead row go (its body too, when no other row uses it)."""
    body_id = await conn.fetchval("DELETE FROM outbox WHERE id = $1 AND status = 'dead' RETURNING coalesce(body_id, 0)",
                                  outbox_id)
    if body_id is None:
        return False
    if body_id:
        await delete_unused_bodies(conn, [body_id])
    return True


async def dead_count(conn: asyncpg.Connection) -> int:
    return await conn.fetchval("SELECT count(*) FROM outbox WHERE status = 'dead'")
