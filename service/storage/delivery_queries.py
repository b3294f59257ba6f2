"""The webhook lane of the outbox: a fair claim per subscription, recording a delivery, and each
subscription's circuit. Retries and give-ups of single rows are the outbox's (outbox_queries)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Sequence

import asyncpg

from .outbox_queries import ERASURE_GIVEN_UP

# Due deliveries of every subscription whose circuit lets it, each up to its room: `$4` in
# flight at most (1, a probe, while its circuit is open after `$5` failures in a row), less
# the rows drainers hold now. Within a subscription, oldest first, and a delivery waits while
# an earlier one of the same address ('' for none) is pending: per subscription and address,
# events arrive in order. The first of each subscription come before the second of any, up to
# `$3` in all. Rows other drainers hold are skipped (SKIP LOCKED), and re-checked once locked,
# as another claim may have leased them meanwhile. $1 is the drainer's clock for what is due
# (tests move it); leases go by the database's clock, one for every host.
CLAIM_WEBHOOKS = """
WITH open AS (
    SELECT w.id,
           CASE WHEN w.failures >= $5 THEN 1 ELSE $4 END
           - (SELECT count(*) FROM outbox l
               WHERE l.webhook_id = w.id AND l.status = 'pending' AND l.kind = 'webhook'
                 AND l.lease_until IS NOT NULL AND l.lease_until >= clock_timestamp()) AS room
      FROM webhooks w
     WHERE w.paused_until IS NULL OR w.paused_until <= $1
), candidates AS (
    SELECT d.id, d.next_attempt_at, d.rank
      FROM open h
     CROSS JOIN LATERAL (
           SELECT c.id, c.next_attempt_at, row_number() OVER (ORDER BY c.next_attempt_at, c.id) AS rank
             FROM outbox c
            WHERE c.webhook_id = h.id AND c.status = 'pending' AND c.kind = 'webhook' AND c.next_attempt_at <= $1
              AND (c.lease_until IS NULL OR c.lease_until < clock_timestamp())
              AND NOT EXISTS (
                  SELECT 1 FROM outbox e
                   WHERE e.status = 'pending' AND e.kind = 'webhook' AND e.webhook_id = c.webhook_id
                     AND coalesce(e.address, '') = coalesce(c.address, '') AND e.id < c.id)
            ORDER BY c.next_attempt_at, c.id
            LIMIT greatest(h.room, 0)) d
)
UPDATE outbox o
   SET lease_token = gen_random_uuid(),
       lease_until = clock_timestamp() + make_interval(secs => $2::float8)
 WHERE o.id IN (
       SELECT x.id FROM outbox x JOIN candidates c ON c.id = x.id
        WHERE x.status = 'pending' AND (x.lease_until IS NULL OR x.lease_until < clock_timestamp())
        ORDER BY c.rank, c.next_attempt_at, c.id
        LIMIT $3
        FOR UPDATE OF x SKIP LOCKED)
RETURNING o.id, o.kind, o.created_at, o.attempts, o.lease_token, o.address, o.webhook_id, o.event_id
"""


async def claim(conn: asyncpg.Connection, now: datetime, lease_seconds: float, limit: int, per_subscription: int,
                circuit_failures: int) -> list[asyncpg.Record]:
    return await conn.fetch(CLAIM_WEBHOOKS, now, lease_seconds, limit, per_subscription, circuit_failures)


async def deliveries(conn: asyncpg.Connection, ids: Sequence[int]) -> list[asyncpg.Record]:
    """For claimed rows: the subscription's URL and secret, and the event."""
    return await conn.fetch(
        """SELECT o.id AS outbox_id, o.address AS about, w.url, w.secret,
                  e.id, e.at, e.address, e.type, e.scope, e.reason, e.source, e.actor, e.detail
             FROM outbox o JOIN webhooks w ON w.id = o.webhook_id JOIN events e ON e.id = o.event_id
            WHERE o.id = ANY($1::bigint[])""",
        list(ids),
    )


async def delivered(conn: asyncpg.Connection, outbox_id: int, token: uuid.UUID) -> bool:
    """The row goes, if its lease is still ours; its subscription's circuit closes."""
    return await conn.fetchval(
        """WITH gone AS (DELETE FROM outbox WHERE id = $1 AND lease_token = $2 RETURNING webhook_id),
                closed AS (UPDATE webhooks w SET failures = 0, paused_until = NULL FROM gone
                            WHERE w.id = gone.webhook_id AND w.failures > 0)
           SELECT count(*) = 1 FROM gone""",
        outbox_id, token,
    )


async def count_failure(conn: asyncpg.Connection, webhook_id: uuid.UUID, now: datetime) -> int | None:
    """One more failed delivery in a row; how many now. None when it does not count: the
    subscription is gone, or its circuit opened while this delivery was in flight (of the
    deliveries in flight together, only those before it opened count; then each probe)."""
    return await conn.fetchval(
        """UPDATE webhooks SET failures = failures + 1
            WHERE id = $1 AND (paused_until IS NULL OR paused_until <= $2) RETURNING failures""",
        webhook_id, now)


async def pause(conn: asyncpg.Connection, webhook_id: uuid.UUID, until: datetime) -> None:
    await conn.execute("UPDATE webhooks SET paused_until = $2 WHERE id = $1", webhook_id, until)


# Deliveries held back by an open circuit, queued before `$2`, are given up as a failed try of
# theirs would give them up; one of an erasure without its address, as MARK_DEAD does.
GIVE_UP_HELD_BACK = """
UPDATE outbox o
   SET status = 'dead', dead_at = $3, lease_token = NULL, lease_until = NULL,
       last_error = CASE WHEN h.erasure THEN $5 ELSE $4 END,
       address = CASE WHEN h.erasure THEN NULL ELSE o.address END
  FROM (SELECT x.id, EXISTS (SELECT 1 FROM events e WHERE e.id = x.event_id AND e.type = 'erased') AS erasure
          FROM outbox x
         WHERE x.webhook_id = $1 AND x.status = 'pending' AND x.kind = 'webhook' AND x.created_at < $2
           AND (x.lease_until IS NULL OR x.lease_until < clock_timestamp())
           FOR UPDATE OF x SKIP LOCKED) h
 WHERE o.id = h.id
"""


async def give_up_held_back(conn: asyncpg.Connection, webhook_id: uuid.UUID, queued_before: datetime, now: datetime,
                            why: str) -> int:
    result = await conn.execute(GIVE_UP_HELD_BACK, webhook_id, queued_before, now, why, ERASURE_GIVEN_UP)
    return int(result.split()[-1])
