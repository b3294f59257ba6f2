"""What the staff console shows at a glance: per day of the last weeks, unsubscribes, bounces
(hard and soft), complaints, consents given and withdrawn; and unsubscribes by source."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from ...storage import queries
from ..events.model import HistoryType

if TYPE_CHECKING:
    import asyncpg

SERIES = ("unsubscribe", "hard_bounce", "soft_bounce", "complaint", "consent_given", "consent_withdrawn")
BRUSSELS = ZoneInfo("Europe/Brussels")


@dataclass(frozen=True)
class Activity:
    days: tuple[date, ...]  # oldest first, every day of the period
    series: dict[str, tuple[int, ...]]  # per SERIES name, one count per day
    unsubscribes_by_source: tuple[tuple[str, int], ...]  # most first
    unsubscribes_per_source: dict[str, tuple[int, ...]]  # per source, one count per day

    def total(self, name: str) -> int:
        return sum(self.series[name])


def _series_of(row) -> str | None:
    if row["type"] == HistoryType.SUPPRESSED:
        return {"unsubscribe": "unsubscribe", "bounce": "hard_bounce", "complaint": "complaint"}.get(row["reason"])
    return {"soft_bounce": "soft_bounce", "consent_given": "consent_given",
            "consent_withdrawn": "consent_withdrawn"}.get(row["type"])


async def recent_activity(conn: asyncpg.Connection, days: int, today: date | None = None) -> Activity:
    today = today or datetime.now(BRUSSELS).date()
    period = tuple(today - timedelta(days=n) for n in range(days - 1, -1, -1))
    counts: dict = defaultdict(lambda: defaultdict(int))
    by_source: dict = defaultdict(int)
    per_source: dict = defaultdict(lambda: defaultdict(int))
    for row in await queries.activity_by_day(conn, days):
        name = _series_of(row)
        if name is not None:
            counts[name][row["day"]] += row["n"]
        if name == "unsubscribe":
            by_source[row["source"]] += row["n"]
            per_source[row["source"]][row["day"]] += row["n"]
    return Activity(
        days=period,
        series={name: tuple(counts[name][day] for day in period) for name in SERIES},
        unsubscribes_by_source=tuple(sorted(by_source.items(), key=lambda item: -item[1])),
        unsubscribes_per_source={source: tuple(per_source[source][day] for day in period) for source in per_source},
    )
