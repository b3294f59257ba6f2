"""What leaves optout, and when to stop trying: the rules of the one outbox, per kind of row.
The edges queue and read outbox rows only through the functions at the end of this module."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol, Sequence

from ..storage import outbox_queries
from ..storage.known_queries import recipient_ids
from .suppressions.return_paths import ERASED_ID

if TYPE_CHECKING:
    import uuid

    import asyncpg

    from .suppressions.keyed_hash import KeyedHash
    from .suppressions.return_paths import ReturnPaths


class OutboxKind(StrEnum):
    FORWARD = "forward"
    GATEWAY = "gateway"
    CONFIRMATION = "confirmation"
    WEBHOOK = "webhook"
    SELF_SERVICE = "self_service"  # a link to the person's own page, or their correction to staff


MAIL_KINDS = frozenset({OutboxKind.FORWARD, OutboxKind.GATEWAY, OutboxKind.CONFIRMATION, OutboxKind.SELF_SERVICE})
DEAD_KEPT_DAYS = 30  # a dead row not sent again by staff within this many days is deleted


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(timezone.utc)


class FailureOutcome(StrEnum):
    RETRY = "retry"  # try again at `retry_at`
    DEAD = "dead"  # kept for staff as `dead`, counted in /metrics
    HOLD_FOR_STAFF = "held"  # a forward: the inbound message becomes `held`; the row goes


@dataclass(frozen=True)
class NextStep:
    outcome: FailureOutcome
    retry_at: datetime | None = None
    why: str = ""


@dataclass(frozen=True)
class RetryRule:
    delays: tuple[float, ...]  # seconds before try 2, 3, ...; the last one repeats
    lifetime: timedelta | None  # give up once the row is older than this (None: by tries)
    max_tries: int | None  # give up after this many tries (None: by age)
    permanent_is_final: bool  # a 5xx (a permanent refusal) gives up at once
    jitter: float = 0.2  # each wait is stretched or shrunk by up to this fraction


MINUTE, HOUR = 60.0, 3600.0
RULES: dict[OutboxKind, RetryRule] = {
    OutboxKind.FORWARD: RetryRule((30, 60, 2 * MINUTE, 5 * MINUTE, 10 * MINUTE, 30 * MINUTE, HOUR),
                                  lifetime=None, max_tries=10, permanent_is_final=True),
    OutboxKind.GATEWAY: RetryRule((MINUTE, 5 * MINUTE, 15 * MINUTE, 30 * MINUTE, HOUR, 2 * HOUR),
                                  lifetime=timedelta(days=3), max_tries=None, permanent_is_final=True),
    OutboxKind.CONFIRMATION: RetryRule((MINUTE, 5 * MINUTE, 15 * MINUTE, 30 * MINUTE, HOUR, 2 * HOUR),
                                       lifetime=timedelta(days=3), max_tries=None, permanent_is_final=True),
    # A link to the person's own page is worth sending only while it is valid (an hour by default).
    OutboxKind.SELF_SERVICE: RetryRule((30, MINUTE, 5 * MINUTE, 15 * MINUTE, 30 * MINUTE),
                                       lifetime=timedelta(hours=1), max_tries=None, permanent_is_final=True),
    OutboxKind.WEBHOOK: RetryRule((10, 50, 5 * MINUTE, 15 * MINUTE, 30 * MINUTE, HOUR, 2 * HOUR, 4 * HOUR),
                                  lifetime=timedelta(days=3), max_tries=None, permanent_is_final=False),
}


def retry_delay(rule: RetryRule, tries: int, rng: random.Random | None = None) -> float:
    """Seconds to wait after the `tries`-th failed try, with jitter."""
    base = rule.delays[min(tries, len(rule.delays)) - 1]
    spread = (rng or random).uniform(-rule.jitter, rule.jitter)
    return max(1.0, base * (1 + spread))


def after_failure(kind: OutboxKind, tries: int, created_at: datetime, now: datetime, permanent: bool,
                  rng: random.Random | None = None) -> NextStep:
    """What becomes of a row whose `tries`-th try failed (`permanent`: the other side refused it for good)."""
    rule = RULES[kind]
    give_up = FailureOutcome.HOLD_FOR_STAFF if kind is OutboxKind.FORWARD else FailureOutcome.DEAD
    if permanent and rule.permanent_is_final:
        return NextStep(give_up, why="refused for good")
    if rule.max_tries is not None and tries >= rule.max_tries:
        return NextStep(give_up, why=f"not taken after {tries} tries")
    retry_at = now + timedelta(seconds=retry_delay(rule, tries, rng))
    if rule.lifetime is not None and retry_at - created_at > rule.lifetime:
        return NextStep(give_up, why=f"not taken within {_days(rule.lifetime)} ({tries} tries)")
    return NextStep(FailureOutcome.RETRY, retry_at=retry_at)


PAUSED_CAMPAIGN_RECHECK = timedelta(minutes=1)


def while_campaign_paused(kind: OutboxKind, created_at: datetime, now: datetime) -> NextStep:
    """A copy of a paused campaign waits, without spending a try, until the campaign is resumed;
    one that has waited longer than its kind's lifetime is given up, as a relay that never took
    it would be."""
    rule = RULES[kind]
    if rule.lifetime is not None and now - created_at > rule.lifetime:
        return NextStep(FailureOutcome.DEAD, why=f"its campaign stayed paused for more than {_days(rule.lifetime)}")
    return NextStep(FailureOutcome.RETRY, retry_at=now + PAUSED_CAMPAIGN_RECHECK)


def _days(span: timedelta) -> str:
    return f"{span.days} days" if span.days else f"{span.total_seconds() / 3600:.0f} hours"


@dataclass(frozen=True)
class CircuitRule:
    failures: int  # failed deliveries in a row that open a subscription's circuit
    pauses: tuple[float, ...]  # seconds before each probe while it is open; the last one repeats


CIRCUIT = CircuitRule(failures=5, pauses=(30, MINUTE, 2 * MINUTE, 5 * MINUTE, 10 * MINUTE))


def circuit_pause(failures: int, rule: CircuitRule = CIRCUIT) -> timedelta | None:
    """How long a subscription's deliveries wait after its `failures`-th failure in a row;
    None while its circuit is closed."""
    if failures < rule.failures:
        return None
    return timedelta(seconds=rule.pauses[min(failures - rule.failures, len(rule.pauses) - 1)])


def held_back_expiry(now: datetime) -> tuple[datetime, str]:
    """Webhook deliveries held back by an open circuit are never tried: those queued before
    the first value are given up as a try of theirs would be, the second saying why."""
    lifetime = RULES[OutboxKind.WEBHOOK].lifetime
    return now - lifetime, f"not taken within {_days(lifetime)} (held back while the receiver kept failing)"


# Queuing, and what staff and the metrics read and do.

async def queue_forward(conn: asyncpg.Connection, message_id: uuid.UUID) -> None:
    """A stored inbound message, queued to be forwarded to staff (in the caller's transaction)."""
    await outbox_queries.queue_forward(conn, message_id)


async def queue_gateway_copies(conn: asyncpg.Connection, raw: bytes, canonical: Sequence[str],
                               written: Sequence[str], scope: str, campaign: str | None,
                               keyed_hash: KeyedHash, return_paths: ReturnPaths) -> int:
    """One copy of a gateway message per allowed recipient (canonical address, as written), each
    with its own return path: the recipients are known, and numbered, before the first copy
    leaves, since a bounce or a reply may come back at once. Return how many copies."""
    ids = await recipient_ids(conn, sorted(set(canonical)), "gateway", keyed_hash.pads)
    copies = [(c, w, return_paths.address(ids.get(c, ERASED_ID))) for c, w in zip(canonical, written)]
    return await outbox_queries.queue_gateway_message(conn, raw, copies, scope, campaign)


async def counts(conn: asyncpg.Connection) -> dict[tuple[str, str], int]:
    """Rows by (kind, status), for the metrics."""
    return {(r["kind"], r["status"]): r["n"] for r in await outbox_queries.counts(conn)}


async def dead_count(conn: asyncpg.Connection) -> int:
    """Rows given up, which wait for staff."""
    return await outbox_queries.dead_count(conn)


async def dead_rows(conn: asyncpg.Connection, limit: int) -> list:
    """What was given up, newest first, for staff."""
    return await outbox_queries.dead_rows(conn, limit)


async def send_again(conn: asyncpg.Connection, row_id: int, now: datetime) -> bool:
    """Staff send a row given up once more: due now, its tries kept; False when it is gone."""
    return await outbox_queries.retry_dead(conn, row_id, now)


async def discard(conn: asyncpg.Connection, row_id: int) -> bool:
    """Staff let a row given up go (its body too, when no other row uses it); False when it is gone."""
    return await outbox_queries.discard_dead(conn, row_id)
