"""What the queues' lanes share (the outbox's and the inbound worker's): the batch loop, leased
batches and their renewal, periodic passes, and the outbox's settings."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import AsyncIterator, Awaitable, Callable, Iterable, Sequence

import asyncpg

from ..storage.db import UNAVAILABLE

log = logging.getLogger("optout.lanes")

# renew(conn, ids, lease tokens, lease seconds): the queue's statement that extends the leases.
Renew = Callable[[asyncpg.Connection, list, list, float], Awaitable[object]]
# claim(conn): the queue's statement that leases a batch of its rows.
Claim = Callable[[asyncpg.Connection], Awaitable[Sequence[asyncpg.Record]]]


@dataclass(frozen=True)
class DrainerConfig:
    """How the outbox's lanes work: batches, leases, and what may be in flight at once."""


    batch: int = 200
    lease_seconds: float = 20.0  # renewed every quarter of it while the batch is worked on
    idle_seconds: float = 0.5
    relay_connections: int = 8  # mail sent at once, one relay connection each
    bytes_in_flight: int = 8 << 20  # copies being sent at once hold at most this much (a large one goes alone)
    record_every: int = 20  # sent copies recorded together (a crash may send these again)
    webhook_concurrency: int = 200  # deliveries in flight at once, over every subscription
    webhook_per_subscription: int = 20  # in flight at once to one subscription (1 while its circuit is open)
    webhook_timeout: float = 10.0


def database_unavailable(exc: BaseException) -> bool:
    """Whether the error (or every error of a group) is the database being away."""
    if isinstance(exc, BaseExceptionGroup):
        return all(database_unavailable(inner) for inner in exc.exceptions)
    return isinstance(exc, UNAVAILABLE + (asyncpg.PostgresConnectionError,))


async def first_of(stop: asyncio.Event, wake: asyncio.Event, timeout: float,
                   tasks: Iterable[asyncio.Task] = ()) -> None:
    """Return when `stop` or `wake` is set, one of `tasks` ends, or after `timeout` seconds."""
    waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(wake.wait())]
    try:
        await asyncio.wait([*waiters, *tasks], timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
        await asyncio.gather(*waiters, return_exceptions=True)


async def batches(stop: asyncio.Event, wake: asyncio.Event, idle_seconds: float,
                  batch: Callable[[], Awaitable[int]], what: str) -> None:
    """Batch after batch until `stop` is set; when one finds nothing, wait for `wake` or the idle
    poll. An error costs one batch and a pause, never the lane."""
    while not stop.is_set():
        try:
            done = await batch()
        except Exception as exc:
            if database_unavailable(exc):
                log.warning("%s: database unavailable (%s); retrying", what, exc.__class__.__name__)
            else:
                log.exception("%s: unexpected error; going on", what)
            done = 0
        if not done:
            await first_of(stop, wake, idle_seconds)
            wake.clear()


async def every(stop: asyncio.Event, interval: float, step: Callable[[], Awaitable[object]], what: str) -> None:
    """Run `step` every `interval` seconds until `stop` is set; an error costs one pass, never the loop."""
    while not stop.is_set():
        try:
            await step()
        except Exception as exc:
            if database_unavailable(exc):
                log.warning("%s: database unavailable (%s); trying again at the next pass", what,
                            exc.__class__.__name__)
            else:
                log.exception("%s: unexpected error; trying again at the next pass", what)
        try:
            await asyncio.wait_for(stop.wait(), interval)
        except asyncio.TimeoutError:
            pass


async def leased_batch(pool: asyncpg.Pool, claim: Claim, renew: Renew, lease_seconds: float, what: str,
                       work: Callable[[Sequence[asyncpg.Record]], Awaitable[object]]) -> int:
    """Claim one batch and hand it to `work`, its leases kept meanwhile; return how many rows were claimed."""
    async with pool.acquire() as conn:
        rows = await claim(conn)
    if not rows:
        return 0
    async with leases_kept(pool, lambda: rows, renew, lease_seconds, what):
        await work(rows)
    return len(rows)


@contextlib.asynccontextmanager
async def leases_kept(pool: asyncpg.Pool, held: Callable[[], Sequence[asyncpg.Record]], renew: Renew,
                      lease_seconds: float, what: str) -> AsyncIterator[None]:
    """While the body runs, the leases of the rows `held()` names are renewed every quarter of a
    lease: a process that is alive keeps its rows however long they take, one that died frees
    them within one lease. A renewal that fails is logged, and tried again a quarter later."""
    renewal = asyncio.create_task(_renew_leases(pool, held, renew, lease_seconds, what))
    try:
        yield
    finally:
        renewal.cancel()
        await asyncio.gather(renewal, return_exceptions=True)


async def _renew_leases(pool: asyncpg.Pool, held: Callable[[], Sequence[asyncpg.Record]], renew: Renew,
                        lease_seconds: float, what: str) -> None:
    while True:
        await asyncio.sleep(lease_seconds / 4)
        rows = list(held())
        if not rows:
            continue
        try:
            async with pool.acquire() as conn:
                await renew(conn, [r["id"] for r in rows], [r["lease_token"] for r in rows], lease_seconds)
        except Exception as exc:
            if database_unavailable(exc):
                log.warning("%s: leases not renewed, database unavailable (%s)", what, exc.__class__.__name__)
            else:
                log.exception("%s: leases not renewed", what)
