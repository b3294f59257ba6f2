"""Campaigns and their counters (CONTRACT: Campaign guardrails). Callers own the transaction."""

from __future__ import annotations

from typing import Sequence

import asyncpg

CAMPAIGN_COLUMNS = """c.id, c.name, c.created_at, c.counted_since, c.sent, c.hard_bounces, c.soft_bounces,
       c.complaints, c.unsubscribes, c.status, c.paused_at, c.paused_reason, c.paused_by, c.paused_rate,
       c.paused_count, c.paused_sent,
       c.resumed_at, c.resumed_by, c.resume_note"""

# What a campaign reads as: its row, and the unsubscribes not folded into it yet.
READ_COLUMNS = CAMPAIGN_COLUMNS.replace(
    "c.unsubscribes,",
    """c.unsubscribes + (SELECT count(*) FROM campaign_reports u
                           WHERE u.campaign_id = c.id AND u.epoch = c.epoch AND NOT u.folded) AS unsubscribes,""")

# One counter column per kind of report; the kind is checked against this table before it
# names a column.
REPORT_COLUMNS = {"complaint": "complaints", "hard_bounce": "hard_bounces", "soft_bounce": "soft_bounces",
                  "unsubscribe": "unsubscribes"}


async def campaigns_named(conn: asyncpg.Connection, names: Sequence[str]) -> dict[str, tuple[int, int]]:
    """Each campaign's (id, epoch), made when it is new; its row stays locked until commit, so
    that a resume cannot start a new epoch between this and the counts. Names are taken in
    sorted order, so that two transactions lock them in the same order."""
    rows = await conn.fetch(
        """INSERT INTO campaigns AS c (name)
           SELECT n FROM unnest($1::text[]) AS n ORDER BY n
           ON CONFLICT (name) DO UPDATE SET last_activity_at = now()
           RETURNING c.id, c.name, c.epoch""",
        sorted(set(names)),
    )
    return {r["name"]: (r["id"], r["epoch"]) for r in rows}


COUNT_RECIPIENTS = f"""
WITH counted AS (
    INSERT INTO campaign_recipients AS r (campaign_id, recipient_id, epoch)
    SELECT DISTINCT p.campaign_id, p.recipient_id, p.epoch
      FROM unnest($1::bigint[], $2::bigint[], $3::int[]) AS p(campaign_id, recipient_id, epoch)
    ON CONFLICT (campaign_id, recipient_id) DO UPDATE SET epoch = EXCLUDED.epoch WHERE r.epoch < EXCLUDED.epoch
    RETURNING r.campaign_id
)
UPDATE campaigns c SET sent = c.sent + n.n
  FROM (SELECT campaign_id, count(*) AS n FROM counted GROUP BY campaign_id) n
 WHERE c.id = n.campaign_id
RETURNING {CAMPAIGN_COLUMNS}
"""


async def count_recipients(conn: asyncpg.Connection, campaign_ids: Sequence[int], recipient_ids: Sequence[int],
                           epochs: Sequence[int]) -> list[asyncpg.Record]:
    """Count each recipient once per campaign and epoch (the pairs given side by side); return
    the campaigns whose `sent` grew, as they are now."""
    return await conn.fetch(COUNT_RECIPIENTS, list(campaign_ids), list(recipient_ids), list(epochs))


async def count_report(conn: asyncpg.Connection, campaign_id: int, epoch: int, kind: str,
                       recipient_id: int) -> asyncpg.Record | None:
    """Count one recipient's report of this kind once per campaign and epoch; return the
    campaign as it is now when the count grew, None when it had been counted already."""
    column = REPORT_COLUMNS[kind]
    return await conn.fetchrow(
        f"""WITH counted AS (
                INSERT INTO campaign_reports AS r (campaign_id, kind, recipient_id, epoch) VALUES ($1, $2, $3, $4)
                ON CONFLICT (campaign_id, kind, recipient_id) DO UPDATE SET epoch = EXCLUDED.epoch
                 WHERE r.epoch < EXCLUDED.epoch
                RETURNING 1
            )
            UPDATE campaigns c SET {column} = c.{column} + 1
             WHERE c.id = $1 AND EXISTS (SELECT 1 FROM counted)
            RETURNING {CAMPAIGN_COLUMNS}""",
        campaign_id, kind, recipient_id, epoch,
    )


def unsubscribe_noted(name: str, recipient_id: str, when: str = "true") -> str:
    """The data-modifying CTE that keeps one recipient's unsubscribe in the named campaign (its
    SQL parameters named here), once per campaign and epoch, to be folded into its count later:
    it neither locks nor writes the campaign's row, so a burst of one-clicks does not queue on
    it. A campaign without a row (links made before campaigns were kept) counts nothing. The
    one-click's own statement embeds it (queries.INSERT_SUPPRESSION)."""
    return f"""INSERT INTO campaign_reports AS r (campaign_id, kind, recipient_id, epoch, folded)
    SELECT c.id, 'unsubscribe', {recipient_id}, c.epoch, false FROM campaigns c
     WHERE c.name = {name} AND {recipient_id} IS NOT NULL AND ({when})
    ON CONFLICT (campaign_id, kind, recipient_id) DO UPDATE SET epoch = EXCLUDED.epoch, folded = false
     WHERE r.epoch < EXCLUDED.epoch
    RETURNING 1"""


async def note_unsubscribe(conn: asyncpg.Connection, name: str, recipient_id: int) -> bool:
    """Keep one recipient's unsubscribe in the named campaign; return whether it is new."""
    return await conn.fetchval(
        f"WITH noted AS ({unsubscribe_noted('$1', '$2::bigint')}) SELECT EXISTS (SELECT 1 FROM noted)",
        name, recipient_id)


FOLD_UNSUBSCRIBES = """
WITH folded AS (
    UPDATE campaign_reports r SET folded = true
      FROM (SELECT campaign_id, kind, recipient_id FROM campaign_reports
             WHERE NOT folded LIMIT $1 FOR UPDATE SKIP LOCKED) todo
     WHERE (r.campaign_id, r.kind, r.recipient_id) = (todo.campaign_id, todo.kind, todo.recipient_id)
    RETURNING r.campaign_id, r.epoch
), counted AS (
    SELECT campaign_id, epoch, count(*) AS n FROM folded GROUP BY campaign_id, epoch
), added AS (
    UPDATE campaigns c SET unsubscribes = c.unsubscribes + counted.n
      FROM counted
     WHERE c.id = counted.campaign_id AND c.epoch = counted.epoch
)
SELECT count(*) FROM folded
"""


async def fold_unsubscribes(conn: asyncpg.Connection, limit: int) -> int:
    """Add up to `limit` unsubscribes kept since the last fold to their campaigns' counts (one of
    an epoch that a resume has ended counts no more); return how many were folded."""
    return await conn.fetchval(FOLD_UNSUBSCRIBES, limit)


async def pause(conn: asyncpg.Connection, campaign_id: int, paused_by: str, rate: float, count: int, sent: int,
                reason: str) -> asyncpg.Record | None:
    """Pause an active campaign; None when it is paused already."""
    return await conn.fetchrow(
        f"""UPDATE campaigns c SET status = 'paused', paused_at = now(), paused_by = $2, paused_rate = $3,
                   paused_count = $4, paused_sent = $5, paused_reason = $6
             WHERE c.id = $1 AND c.status = 'active'
            RETURNING {CAMPAIGN_COLUMNS}""",
        campaign_id, paused_by, rate, count, sent, reason,
    )


async def resume(conn: asyncpg.Connection, name: str, by: str, note: str) -> asyncpg.Record | None:
    """Resume a paused campaign: a new epoch, counted from zero; None when it is not paused."""
    return await conn.fetchrow(
        f"""UPDATE campaigns c SET status = 'active', epoch = c.epoch + 1, counted_since = now(), sent = 0,
                   hard_bounces = 0, soft_bounces = 0, complaints = 0, unsubscribes = 0, paused_at = NULL,
                   paused_reason = NULL, paused_by = NULL, paused_rate = NULL, paused_count = NULL,
                   paused_sent = NULL, resumed_at = now(),
                   resumed_by = $2, resume_note = $3, last_activity_at = now()
             WHERE c.name = $1 AND c.status = 'paused'
            RETURNING {CAMPAIGN_COLUMNS}""",
        name, by, note,
    )


async def campaign_by_name(conn: asyncpg.Connection, name: str) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {READ_COLUMNS} FROM campaigns c WHERE c.name = $1", name)


async def newest_campaigns(conn: asyncpg.Connection, limit: int, status: str | None) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"""SELECT {READ_COLUMNS} FROM campaigns c
             WHERE $2::text IS NULL OR c.status = $2
             ORDER BY c.created_at DESC, c.id DESC LIMIT $1""",
        limit, status,
    )


async def paused_campaigns(conn: asyncpg.Connection, limit: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"""SELECT {READ_COLUMNS} FROM campaigns c WHERE c.status = 'paused'
             ORDER BY c.paused_at DESC, c.id DESC LIMIT $1""",
        limit,
    )


async def paused_among(conn: asyncpg.Connection, names: Sequence[str]) -> set[str]:
    rows = await conn.fetch("SELECT name FROM campaigns WHERE name = ANY($1::text[]) AND status = 'paused'",
                            list(names))
    return {r["name"] for r in rows}


async def guard_figures(conn: asyncpg.Connection, min_sent: int) -> asyncpg.Record:
    """For /metrics: how many campaigns are paused, and the worst complaint rate among the
    campaigns judged (sent at least `min_sent`) that were active in the last 7 days."""
    return await conn.fetchrow(
        """SELECT (SELECT count(*) FROM campaigns WHERE status = 'paused') AS paused,
                  (SELECT max(complaints::float8 / sent) FROM campaigns
                    WHERE last_activity_at > now() - interval '7 days' AND sent >= greatest($1, 1))
                      AS worst_complaint_rate""",
        min_sent,
    )
