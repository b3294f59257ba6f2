"""A clock that tests move on by hand, so that the outbox's backoff is passed without waiting.

It runs with real time (rows are stamped by the database's clock when they are queued) and
adds whatever the test moved it on by."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone


class ManualClock:
    def __init__(self) -> None:
        self.offset = timedelta()

    def now(self) -> datetime:
        return datetime.now(timezone.utc) + self.offset

    def advance(self, **delta: float) -> None:
        self.offset += timedelta(**delta)
