"""The outbox's webhook lane: every subscription is delivered to on its own.
A slow or failing receiver holds only its own rows; a failing one has its circuit opened."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Awaitable, Callable

import asyncpg

from ..domain.events.model import event_from_row
from ..domain.outbox import CIRCUIT, circuit_pause, held_back_expiry
from ..services import Services
from ..storage import delivery_queries, outbox_queries
from .lanes import DrainerConfig, database_unavailable, first_of, leases_kept
from .receivers import ReceiverClient
from .webhooks import deliver

log = logging.getLogger("optout.outbox")

# Records a failed try (the drainer's, shared with mail); the callable it is given runs in the
# same transaction and returns a line for the log, or None.
RecordFailure = Callable[..., Awaitable[None]]


class WebhookLane:
    def __init__(self, pool: asyncpg.Pool, services: Services, config: DrainerConfig, record_failure: RecordFailure):
        self.pool, self.services, self.config = pool, services, config
        self.record_failure = record_failure
        self.receivers = ReceiverClient(services.settings.webhook_allow_private, connections=config.webhook_concurrency)
        self._in_flight: dict[int, asyncpg.Record] = {}
        self._tasks: set[asyncio.Task] = set()

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until `stop` is set; the deliveries in flight are finished first."""
        wake = self.services.outbox.subscribe()
        try:
            async with self._leases_kept():
                while not stop.is_set():
                    try:
                        await self._claim()
                    except Exception as exc:  # a fault must not stop the outbox: log it, go on after a pause
                        if database_unavailable(exc):
                            log.warning("outbox: database unavailable (%s); retrying", exc.__class__.__name__)
                        else:
                            log.exception("outbox: unexpected error; going on")
                    await first_of(stop, wake, self.config.idle_seconds, self._tasks)
                    wake.clear()
                await asyncio.gather(*self._tasks)
        finally:
            self.services.outbox.unsubscribe(wake)

    async def until_idle(self) -> int:
        """Deliver as `run` does until nothing is due nor in flight; how many rows were claimed."""
        claimed = 0
        async with self._leases_kept():
            while True:
                claimed += await self._claim()
                if not self._tasks:
                    return claimed
                await asyncio.wait(self._tasks, return_when=asyncio.FIRST_COMPLETED)

    async def close(self) -> None:
        await self.receivers.close()

    async def _claim(self) -> int:
        """Claim what there is room for, and start each delivery."""
        room = self.config.webhook_concurrency - len(self._tasks)
        if room <= 0:
            return 0
        async with self.pool.acquire() as conn:
            rows = await delivery_queries.claim(conn, self.services.clock.now(), self.config.lease_seconds, room,
                                                self.config.webhook_per_subscription, CIRCUIT.failures)
            if not rows:
                return 0
            found = {d["outbox_id"]: d for d in await delivery_queries.deliveries(conn, [r["id"] for r in rows])}
        for row in rows:
            self._in_flight[row["id"]] = row
            task = asyncio.create_task(self._one(row, found.get(row["id"])))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return len(rows)

    async def _one(self, row: asyncpg.Record, delivery: asyncpg.Record | None) -> None:
        """One delivery, recorded. Should the record fail, the row's lease runs out and it is
        claimed again: sent twice rather than lost."""
        try:
            await self._deliver(row, delivery)
        except Exception as exc:
            if database_unavailable(exc):
                log.warning("outbox webhook %d: not recorded, database unavailable (%s); it will be sent again",
                            row["id"], exc.__class__.__name__)
            else:
                log.exception("outbox webhook %d: unexpected error; it will be sent again", row["id"])
        finally:
            self._in_flight.pop(row["id"], None)

    async def _deliver(self, row: asyncpg.Record, delivery: asyncpg.Record | None) -> None:
        event = event_from_row(delivery) if delivery is not None else None
        if event is None:  # the event is gone (erased) or not published: nothing to send
            async with self.pool.acquire() as conn:
                await outbox_queries.delete_leased(conn, row["id"], row["lease_token"])
            return
        payload = event.as_published(address=delivery["about"])
        result = await deliver(self.receivers, delivery["url"], delivery["secret"], payload,
                               self.services.clock.now(), timeout=self.config.webhook_timeout)
        if not result.delivered:
            await self.record_failure(row, result.error or "not delivered", False, also=self._circuit)
            return
        async with self.pool.acquire() as conn:
            recorded = await delivery_queries.delivered(conn, row["id"], row["lease_token"])
        if recorded:
            log.info("outbox webhook %d: %s %s delivered (try %d)", row["id"], payload["type"], payload["id"],
                     row["attempts"] + 1)
        else:
            log.warning("outbox webhook %d: delivered, but its lease was lost meanwhile", row["id"])

    async def _circuit(self, conn: asyncpg.Connection, row: asyncpg.Record) -> str | None:
        """A failure counts against the subscription: after several in a row its deliveries wait,
        and those held back past the outbox's lifetime are given up."""
        webhook_id, now = row["webhook_id"], self.services.clock.now()
        failures = await delivery_queries.count_failure(conn, webhook_id, now)
        pause = circuit_pause(failures) if failures is not None else None
        if pause is None:
            return None
        await delivery_queries.pause(conn, webhook_id, now + pause)
        queued_before, why = held_back_expiry(now)
        given_up = await delivery_queries.give_up_held_back(conn, webhook_id, queued_before, now, why)
        note = (f"webhook {webhook_id}: {failures} failed deliveries in a row; its deliveries wait "
                f"{pause.total_seconds():g} s, then one probes the receiver")
        return note + (f"; {given_up} held back for too long given up" if given_up else "")

    def _leases_kept(self) -> contextlib.AbstractAsyncContextManager:
        """The leases of the rows in flight, renewed every quarter of a lease while they are."""
        return leases_kept(self.pool, lambda: list(self._in_flight.values()), outbox_queries.renew_leases,
                           self.config.lease_seconds, "outbox")
