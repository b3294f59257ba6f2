"""What the staff console shows at a glance: suppressions per day and unsubscribes by source."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ...storage import queries
from .rules import REASONS

if TYPE_CHECKING:
    import asyncpg


@dataclass(frozen=True)
class Day:
    day: str  # ISO date
    counts: dict[str, int]  # by reason, every reason present


@dataclass(frozen=True)
class Activity:
    days: tuple[Day, ...]  # newest first, only days with something in them
    unsubscribes_by_source: tuple[tuple[str, int], ...]  # most first


async def recent_activity(conn: asyncpg.Connection, days: int) -> Activity:
    per_day: dict = defaultdict(lambda: defaultdict(int))
    by_source: dict = defaultdict(int)
    for row in await queries.activity_by_day(conn, days):
        per_day[row["day"]][row["reason"]] += row["n"]
        if row["reason"] == "unsubscribe":
            by_source[row["source"]] += row["n"]
    return Activity(
        days=tuple(Day(day.isoformat(), {reason: counts[reason] for reason in REASONS})
                   for day, counts in sorted(per_day.items(), reverse=True)),
        unsubscribes_by_source=tuple(sorted(by_source.items(), key=lambda item: -item[1])),
    )
