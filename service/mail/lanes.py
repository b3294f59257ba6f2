"""What the queues' lanes share (the outbox's, and the inbound worker's): telling the database
being away from a bug, waiting for the first of the signals that give a lane something to do,
and keeping the leases of the rows in hand."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import AsyncIterator, Awaitable, Callable, Iterable, Sequence

import asyncpg

from ..storage.db import UNAVAILABLE

log = logging.getLogger("optout.lanes")

# renew(conn, ids, lease tokens, lease seconds): the queue's statement that extends the leases.
Renew = Callable[[asyncpg.Connection, list, list, float], Awaitable[object]]


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
