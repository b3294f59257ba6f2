"""The outbox drainer: claims due rows, sends them, records each outcome.

Any number of drainers, in any processes, share the outbox: a claim takes due rows with
FOR UPDATE SKIP LOCKED and leases them, the lease is renewed while the batch is worked on,
and each row's outcome is recorded right after its send, in its own short statement. A
drainer that dies leaves its rows to be claimed again when the lease runs out; a row is
sent twice only if the drainer died between the other side's acceptance and that record.

At send time a mail to a person is checked against the list again: a recipient suppressed
or erased since the row was queued is not sent to (the row goes, and the log says so).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import AsyncIterator, Sequence

import aiohttp
import asyncpg

from ..domain.events.model import event_from_row
from ..domain.inbound.classify import FORWARD_MARKER
from ..domain.inbound.model import InboundStatus
from ..domain.outbox import MAIL_KINDS, FailureOutcome, OutboxKind, after_failure
from ..domain.suppressions import operations
from ..domain.suppressions.links import link_for
from ..services import Services
from ..storage import inbound_queries, outbox_queries
from ..storage.db import UNAVAILABLE
from .copies import copy_for, split_message
from .forward import forward_message
from .relay import RelayError, RelaySession
from .webhooks import deliver

log = logging.getLogger("optout.outbox")


@dataclass(frozen=True)
class DrainerConfig:
    batch: int = 50
    lease_seconds: float = 20.0  # renewed every quarter of it while the batch is worked on
    idle_seconds: float = 0.5
    webhook_concurrency: int = 20
    webhook_timeout: float = 10.0


class _Failure(Exception):
    def __init__(self, error: str, permanent: bool):
        super().__init__(error)
        self.error, self.permanent = error, permanent


class Drainer:
    def __init__(self, pool: asyncpg.Pool, services: Services, kinds: Sequence[OutboxKind] = tuple(OutboxKind),
                 config: DrainerConfig = DrainerConfig()):
        self.pool = pool
        self.services = services
        self.settings = services.settings
        self.config = config
        self.kinds = tuple(kinds)
        self._http: aiohttp.ClientSession | None = None

    def _claimable(self) -> list[str]:
        """Without a relay, mail other than forwards waits (a forward goes to staff as `held`)."""
        if self.services.relay is not None:
            return [str(k) for k in self.kinds]
        return [str(k) for k in self.kinds if k not in MAIL_KINDS or k is OutboxKind.FORWARD]

    async def run(self, stop: asyncio.Event) -> None:
        """Drain until `stop` is set; the batch in hand is finished first."""
        wake = self.services.outbox.subscribe()
        log.info("outbox drainer started (%s)", ", ".join(self._claimable()) or "nothing to send without a relay")
        try:
            while not stop.is_set():
                try:
                    done = await self.drain_once()
                except UNAVAILABLE + (asyncpg.PostgresConnectionError,) as exc:
                    log.warning("outbox: database unavailable (%s); retrying", exc.__class__.__name__)
                    done = 0
                except Exception:
                    log.exception("outbox: unexpected error; going on")
                    done = 0
                if not done:
                    await _first_of(stop, wake, self.config.idle_seconds)
                    wake.clear()
        finally:
            self.services.outbox.unsubscribe(wake)
            await self.close()

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    async def drain_once(self) -> int:
        """Claim one batch and see it through; return how many rows were claimed."""
        kinds = self._claimable()
        if not kinds:
            return 0
        async with self.pool.acquire() as conn:
            rows = await outbox_queries.claim(conn, self.services.clock.now(), self.config.lease_seconds, kinds,
                                              self.config.batch)
        if not rows:
            return 0
        renewal = asyncio.create_task(self._keep_leases(rows))
        try:
            mail = [r for r in rows if r["kind"] != OutboxKind.WEBHOOK]
            hooks = [r for r in rows if r["kind"] == OutboxKind.WEBHOOK]
            await asyncio.gather(self._send_mail(mail), self._send_webhooks(hooks))
        finally:
            renewal.cancel()
            await asyncio.gather(renewal, return_exceptions=True)
        return len(rows)

    async def _keep_leases(self, rows: Sequence[asyncpg.Record]) -> None:
        ids, tokens = [r["id"] for r in rows], [r["lease_token"] for r in rows]
        while True:
            await asyncio.sleep(self.config.lease_seconds / 4)
            try:
                async with self.pool.acquire() as conn:
                    await outbox_queries.renew_leases(conn, ids, tokens, self.services.clock.now(),
                                                      self.config.lease_seconds)
            except Exception as exc:
                log.warning("outbox: leases not renewed (%s)", exc.__class__.__name__)

    # Mail: forwards, gateway copies, confirmations, over one relay connection per batch.

    async def _send_mail(self, rows: list[asyncpg.Record]) -> None:
        if not rows:
            return
        rows = await self._still_wanted(rows)
        bodies: dict[int, bytes] = {}
        body_ids = [r["body_id"] for r in rows if r["body_id"] is not None]
        if body_ids:
            async with self.pool.acquire() as conn:
                bodies = await outbox_queries.bodies(conn, body_ids)
        async with self._relay() as relay:
            for row in rows:
                try:
                    message, sender, recipient = await self._compose(row, bodies)
                    if relay is None:
                        raise _Failure("no OPTOUT_RELAY_URL configured", permanent=True)
                    session = await relay.get()
                    await session.send(message, sender, [recipient])
                except _Failure as exc:
                    await self._failed(row, exc.error, exc.permanent)
                    continue
                except RelayError as exc:
                    relay.broken(exc)
                    await self._failed(row, str(exc), not exc.temporary)
                    continue
                await self._sent(row)
        if body_ids:
            async with self.pool.acquire() as conn:
                await outbox_queries.delete_unused_bodies(conn, body_ids)

    async def _still_wanted(self, rows: list[asyncpg.Record]) -> list[asyncpg.Record]:
        """Copies to people who are suppressed in the row's scope, or erased, since it was
        queued are not sent: their rows go."""
        wanted, by_scope = [], {}
        for row in rows:
            if row["kind"] == OutboxKind.FORWARD or row["address"] is None:
                wanted.append(row)
            else:
                by_scope.setdefault(row["scope"] or "global", []).append(row)
        for scope, group in by_scope.items():
            async with self.pool.acquire() as conn:
                results = await operations.check(conn, [r["address"] for r in group], scope, self.services.pads)
                for row, result in zip(group, results):
                    if result.allowed:
                        wanted.append(row)
                        continue
                    await outbox_queries.delete_leased(conn, row["id"], row["lease_token"])
                    log.info("outbox %s %d: not sent, the recipient is blocked now (%s)", row["kind"], row["id"],
                             result.reason)
        return wanted

    async def _compose(self, row: asyncpg.Record, bodies: dict[int, bytes]) -> tuple[bytes, str, str]:
        settings = self.settings
        if row["kind"] == OutboxKind.FORWARD:
            if not settings.forward_to:
                raise _Failure("no OPTOUT_FORWARD_TO configured", permanent=True)
            async with self.pool.acquire() as conn:
                source = await inbound_queries.forward_source(conn, row["inbound_id"])
            if source is None or source["raw"] is None:
                raise _Failure("the message is no longer stored", permanent=True)
            actions = [a for a in source["actions"] if isinstance(a, dict)]
            summary = [f"- {a.get('type')}: {a.get('email', a.get('to', ''))}".rstrip(": ") for a in actions]
            message = forward_message(source["raw"], source["id"], source["sender"], source["subject"] or "",
                                      source["classification"], summary, settings.mailto, settings.forward_to,
                                      FORWARD_MARKER)
            return message, settings.mailto, settings.forward_to
        if row["kind"] == OutboxKind.GATEWAY:
            body = bodies.get(row["body_id"])
            if body is None:
                raise _Failure("the message is no longer stored", permanent=True)
            fields, rest = split_message(body)
            link = link_for(self.services.signer, settings.public_url, settings.mailto, row["recipient"],
                            row["scope"], None)
            return copy_for(fields, rest, link["headers"]), row["sender"], row["recipient"]
        return row["message"], row["sender"], row["recipient"]

    @contextlib.asynccontextmanager
    async def _relay(self) -> AsyncIterator["_LazyRelay | None"]:
        if self.services.relay is None:
            yield None
            return
        lazy = _LazyRelay(self.services.relay)
        try:
            yield lazy
        finally:
            await lazy.close()

    async def _sent(self, row: asyncpg.Record) -> None:
        async with self.pool.acquire() as conn:
            async with conn.transaction():
                if not await outbox_queries.delete_leased(conn, row["id"], row["lease_token"]):
                    log.warning("outbox %s %d: sent, but its lease was lost meanwhile", row["kind"], row["id"])
                    return
                if row["kind"] == OutboxKind.FORWARD:
                    action = {"type": "forwarded", "to": self.settings.forward_to,
                              "at": self.services.clock.now().isoformat()}
                    await inbound_queries.finish_forward(conn, row["inbound_id"], InboundStatus.FORWARDED, [action],
                                                         row["attempts"] + 1)
        if row["kind"] == OutboxKind.FORWARD:
            log.info("inbound %s: forwarded to staff (try %d)", row["inbound_id"], row["attempts"] + 1)
        else:
            log.info("outbox %s %d: sent (try %d)", row["kind"], row["id"], row["attempts"] + 1)

    async def _failed(self, row: asyncpg.Record, error: str, permanent: bool) -> None:
        now = self.services.clock.now()
        kind = OutboxKind(row["kind"])
        tries = row["attempts"] + 1
        step = after_failure(kind, tries, row["created_at"], now, permanent)
        async with self.pool.acquire() as conn:
            async with conn.transaction():
                if step.outcome is FailureOutcome.RETRY:
                    await outbox_queries.retry_later(conn, row["id"], row["lease_token"], step.retry_at, error)
                    if kind is OutboxKind.FORWARD:
                        await inbound_queries.note_forward_failure(conn, row["inbound_id"], error)
                elif step.outcome is FailureOutcome.HOLD_FOR_STAFF:
                    if await outbox_queries.delete_leased(conn, row["id"], row["lease_token"]):
                        action = {"type": "held", "reason": f"not forwarded: {error}; {step.why}; kept for staff"}
                        await inbound_queries.finish_forward(conn, row["inbound_id"], InboundStatus.HELD, [action],
                                                             tries)
                else:
                    await outbox_queries.mark_dead(conn, row["id"], row["lease_token"], now, f"{error}; {step.why}")
        what = f"inbound {row['inbound_id']}: forward" if kind is OutboxKind.FORWARD else f"outbox {kind} {row['id']}"
        if step.outcome is FailureOutcome.RETRY:
            log.info("%s try %d failed (%s); next try at %s", what, tries, error, step.retry_at.isoformat())
        else:
            log.warning("%s given up (%s; %s): %s", what, error, step.why,
                        "held for staff" if step.outcome is FailureOutcome.HOLD_FOR_STAFF else "dead, shown to staff")

    # Webhook deliveries, concurrently (never two of one subscription and address: see the claim).

    async def _send_webhooks(self, rows: list[asyncpg.Record]) -> None:
        if not rows:
            return
        async with self.pool.acquire() as conn:
            found = {d["outbox_id"]: d for d in await outbox_queries.webhook_deliveries(conn, [r["id"] for r in rows])}
        if self._http is None:
            self._http = aiohttp.ClientSession()
        limit = asyncio.Semaphore(self.config.webhook_concurrency)

        async def one(row: asyncpg.Record) -> None:
            delivery = found.get(row["id"])
            event = event_from_row(delivery) if delivery is not None else None
            if event is None:  # the event is gone (erased) or not published: nothing to send
                async with self.pool.acquire() as conn:
                    await outbox_queries.delete_leased(conn, row["id"], row["lease_token"])
                return
            payload = event.as_published(address=delivery["about"])
            async with limit:
                result = await deliver(self._http, delivery["url"], delivery["secret"], payload,
                                       self.services.clock.now(), timeout=self.config.webhook_timeout)
            if result.delivered:
                async with self.pool.acquire() as conn:
                    await outbox_queries.delete_leased(conn, row["id"], row["lease_token"])
                log.info("outbox webhook %d: %s %s delivered (try %d)", row["id"], payload["type"], payload["id"],
                         row["attempts"] + 1)
            else:
                await self._failed(row, result.error or "not delivered", permanent=False)

        await asyncio.gather(*(one(row) for row in rows))


class _LazyRelay:
    """One relay connection for a batch, opened at the first send, opened again after it broke."""

    def __init__(self, relay):
        self.relay = relay
        self._stack: contextlib.AsyncExitStack | None = None
        self._session: RelaySession | None = None
        self._unreachable: RelayError | None = None

    async def get(self) -> RelaySession:
        """The connection; once the relay could not be reached, the rest of the batch is not
        tried (each try could wait for the relay's whole timeout)."""
        if self._unreachable is not None:
            raise self._unreachable
        if self._session is None:
            stack = contextlib.AsyncExitStack()
            try:
                self._session = await stack.enter_async_context(self.relay.session())
            except RelayError as exc:
                self._unreachable = exc
                raise
            self._stack = stack
        return self._session

    def broken(self, error: RelayError) -> None:
        """After a temporary failure the connection may be gone: the next send opens a new one."""
        if error.temporary and self._stack is not None:
            stack, self._stack, self._session = self._stack, None, None
            asyncio.ensure_future(_close_quietly(stack))

    async def close(self) -> None:
        if self._stack is not None:
            await _close_quietly(self._stack)
            self._stack, self._session = None, None


async def _close_quietly(stack: contextlib.AsyncExitStack) -> None:
    with contextlib.suppress(Exception):
        await stack.aclose()


async def _first_of(stop: asyncio.Event, wake: asyncio.Event, timeout: float) -> None:
    waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(wake.wait())]
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
        await asyncio.gather(*waiters, return_exceptions=True)

