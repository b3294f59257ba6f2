"""What the queues' lanes share (the outbox's, and the inbound worker's): telling the database
being away from a bug, and waiting for the first of the signals that give a lane something to do."""

from __future__ import annotations

import asyncio
from typing import Iterable

import asyncpg

from ..storage.db import UNAVAILABLE


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
