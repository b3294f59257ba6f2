"""Reads served by a hot standby (DATABASE_READ_URL) while it is up and close enough.
A lagging or failing standby is skipped for the primary, never an error to the caller."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from typing import Awaitable, Callable, TypeVar

import asyncpg

from .db import UNAVAILABLE, create_pool

log = logging.getLogger("optout.standby")

T = TypeVar("T")

PROBE_INTERVAL = 0.2  # seconds between two samples of the primary's and the standby's positions
PROBE_TIMEOUT = 2.0
WAL_POSITION = "SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint"
REPLAY_POSITION = "SELECT pg_is_in_recovery(), (pg_last_wal_replay_lsn() - '0/0'::pg_lsn)::bigint"

Read = Callable[[asyncpg.Connection], Awaitable[T]]


class WalClock:
    """When the primary's WAL was seen at each position: turns a replay position into a lag in time."""

    def __init__(self, horizon: float) -> None:
        self.horizon = horizon
        self._samples: collections.deque[tuple[float, int]] = collections.deque()

    def saw(self, at: float, position: int) -> None:
        """Keep the last time the primary was seen at each position (an idle primary stays at one)."""
        if self._samples and position == self._samples[-1][1]:
            self._samples.pop()
        self._samples.append((at, position))
        while len(self._samples) > 1 and self._samples[1][0] < at - self.horizon:
            self._samples.popleft()

    def lag(self, now: float, replayed: int) -> float | None:
        """Seconds since the primary was last seen at or below `replayed`; None before any sample.

        It errs on the long side by at most one probe interval, never on the short side.
        """
        if not self._samples:
            return None
        if replayed >= self._samples[-1][1]:
            return 0.0
        behind_since = None
        for at, position in self._samples:
            if position > replayed:
                break
            behind_since = at
        if behind_since is None:  # behind every sample we kept: at least the whole horizon
            return max(self.horizon, now - self._samples[0][0])
        # The primary was at or below the replay position at `behind_since`, beyond it at
        # the next sample: the oldest WAL the standby misses was written after behind_since.
        return now - behind_since


class Reads:
    """Where a read runs: the standby while it is usable, else the primary."""

    def __init__(self, primary: asyncpg.Pool, standby_dsn: str | None = None, max_lag_ms: int = 1000,
                 served=None, lag_gauge=None) -> None:
        """`served` (labels(server).inc()) counts reads per server; `lag_gauge` (set()) shows the lag."""
        self.primary = primary
        self.standby_dsn = standby_dsn
        self.max_lag = max_lag_ms / 1000
        self.standby: asyncpg.Pool | None = None
        self.clock = WalClock(horizon=max(10.0, 4 * self.max_lag))
        self.lag: float | None = None
        self._usable_until = 0.0
        self._monitor: asyncio.Task | None = None
        self._skipping_said: str | None = None
        self._served = served
        self._lag_gauge = lag_gauge

    @property
    def usable(self) -> bool:
        return self.standby is not None and time.monotonic() < self._usable_until

    async def start(self) -> None:
        if self.standby_dsn is None:
            return
        # min_size=0: no connection is opened now, so a standby that is down does not stop start-up.
        self.standby = await create_pool(self.standby_dsn, min_size=0, max_size=10)
        await self._probe_once(at_start=True)
        self._monitor = asyncio.create_task(self._watch(), name="standby-monitor")

    async def close(self) -> None:
        if self._monitor is not None:
            self._monitor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._monitor
        if self.standby is not None:
            await self.standby.close()

    async def read(self, operation: Read[T]) -> T:
        """Run a read on the standby when it is usable, else (or when it fails there) on the primary."""
        if self.usable:
            try:
                async with self.standby.acquire(timeout=PROBE_TIMEOUT) as conn:
                    result = await operation(conn)
                self._count("standby")
                return result
            except UNAVAILABLE as exc:
                self._usable_until = 0.0
                self._skip("it failed a read", exc.__class__.__name__)
        async with self.primary.acquire() as conn:
            result = await operation(conn)
        self._count("primary")
        return result

    def _count(self, server: str) -> None:
        if self._served is not None:
            self._served.labels(server).inc()

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(PROBE_INTERVAL)
            await self._probe_once()

    async def _probe_once(self, at_start: bool = False) -> None:
        try:
            async with self.primary.acquire(timeout=PROBE_TIMEOUT) as conn:
                self.clock.saw(time.monotonic(), await conn.fetchval(WAL_POSITION, timeout=PROBE_TIMEOUT))
        except UNAVAILABLE:
            self._usable_until = 0.0  # without the primary's position the lag is unknown
            return
        except asyncpg.PostgresError as exc:  # e.g. DATABASE_URL itself names a standby
            self._skip("the primary's WAL position cannot be read", exc.__class__.__name__)
            return
        try:
            async with self.standby.acquire(timeout=PROBE_TIMEOUT) as conn:
                in_recovery, replayed = await conn.fetchrow(REPLAY_POSITION, timeout=PROBE_TIMEOUT)
        except UNAVAILABLE as exc:
            self._usable_until = 0.0
            self._skip("it cannot be reached", exc.__class__.__name__, at_start)
            return
        except asyncpg.PostgresError as exc:  # a wrong database name, a refused role, ...
            self._usable_until = 0.0
            self._skip("it refused the connection", f"{exc.__class__.__name__}: {exc}", at_start)
            return
        if not in_recovery or replayed is None:
            self._usable_until = 0.0
            self._skip("it is not a standby in recovery", "pg_is_in_recovery() is false", at_start)
            return
        now = time.monotonic()
        self.lag = self.clock.lag(now, replayed)
        if self._lag_gauge is not None and self.lag is not None:
            self._lag_gauge.set(self.lag)
        if self.lag is not None and self.lag <= self.max_lag:
            # Trusted until the next probe is late: a stalled monitor does not keep a stale verdict.
            self._usable_until = now + 3 * PROBE_INTERVAL + PROBE_TIMEOUT
            if self._skipping_said is not None or at_start:
                log.info("standby (DATABASE_READ_URL) serves reads (lag %.0f ms)", self.lag * 1000)
            self._skipping_said = None
        else:
            self._usable_until = 0.0
            self._skip("it lags behind the primary more than OPTOUT_READ_MAX_LAG_MS allows",
                       f"{self.lag * 1000:.0f} ms > {self.max_lag * 1000:.0f} ms", at_start)

    def _skip(self, why: str, detail: str, at_start: bool = False) -> None:
        """Say once per change of reason (not at every probe) why reads go to the primary."""
        if why != self._skipping_said or at_start:
            log.warning("standby (DATABASE_READ_URL) skipped, reads go to the primary: %s (%s)", why, detail)
        self._skipping_said = why
