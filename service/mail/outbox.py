"""The outbox drainer: claims due rows, sends them, records each outcome.
Claims are leased, so any number of drainers share the outbox; mail is checked again before sending."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from datetime import timedelta
from typing import Sequence

import asyncpg

from ..domain.campaigns import guard
from ..domain.inbound.classify import FORWARD_MARKER
from ..domain.inbound.model import InboundStatus
from ..domain.outbox import MAIL_KINDS, FailureOutcome, OutboxKind, after_failure, while_campaign_paused
from ..domain.self_service import access
from ..domain.tokens import SelfServiceTokens
from ..domain.suppressions import suppression_list
from ..domain.suppressions.links import link_for
from ..domain.suppressions.model import LinkRefused
from ..domain.suppressions.return_paths import ERASED_ID
from ..services import Services
from ..storage import inbound_queries, known_queries, outbox_queries
from .copies import copy_for, split_message
from .forward import forward_message
from .lanes import DrainerConfig, batches, leased_batch
from .relay import LazySession, RelayError
from .self_service import compose_link
from .webhook_lane import WebhookLane

log = logging.getLogger("optout.outbox")

Mail = tuple[bytes, str, str]  # the message, its envelope sender, its recipient


# Mail a person asked for, or mail to staff: never checked against the list.
_NOT_MARKETING = frozenset({OutboxKind.FORWARD, OutboxKind.CONFIRMATION, OutboxKind.SELF_SERVICE})
_CLAIMED_WITHOUT_A_RELAY = frozenset({OutboxKind.FORWARD, OutboxKind.SELF_SERVICE})


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
        self._in_flight = _ByteBudget(config.bytes_in_flight)
        self._webhooks = (WebhookLane(pool, services, config, self._failed) if OutboxKind.WEBHOOK in self.kinds
                          else None)

    def _mail_kinds(self) -> list[str]:
        """The kinds the mail lane claims. Without a relay, mail other than forwards waits (a
        forward goes to staff as `held`), but for the own page's: a row asking for a link to an
        address that may get none must go in its first pass, and a link is worth nothing after its
        hour (with no relay it is given up at once, shown to staff)."""
        return [str(k) for k in self.kinds
                if k in MAIL_KINDS and (self.services.relay is not None or k in _CLAIMED_WITHOUT_A_RELAY)]

    async def run(self, stop: asyncio.Event) -> None:
        """Drain until `stop` is set; what is in hand is finished first."""
        lanes = [", ".join(kinds) for kinds in (self._mail_kinds(), ["webhook"] if self._webhooks else []) if kinds]
        log.info("outbox drainer started (%s)", "; ".join(lanes) or "nothing to send without a relay")
        running = [self._run_lane(self._mail_kinds(), stop)] if self._mail_kinds() else []
        if self._webhooks is not None:
            running.append(self._webhooks.run(stop))
        try:
            await asyncio.gather(*running)
        finally:
            await self.close()

    async def _run_lane(self, kinds: list[str], stop: asyncio.Event) -> None:
        wake = self.services.outbox.subscribe()
        try:
            await batches(stop, wake, self.config.idle_seconds, lambda: self._drain(kinds), "outbox")
        finally:
            self.services.outbox.unsubscribe(wake)

    async def close(self) -> None:
        if self._webhooks is not None:
            await self._webhooks.close()

    async def drain_once(self) -> int:
        """One batch of mail, and webhooks until none is due, seen through; how many rows were claimed."""
        claimed = await self._drain(self._mail_kinds()) if self._mail_kinds() else 0
        return claimed + (await self._webhooks.until_idle() if self._webhooks is not None else 0)

    async def _drain(self, kinds: list[str]) -> int:
        claim = functools.partial(outbox_queries.claim, now=self.services.clock.now(),
                                  lease_seconds=self.config.lease_seconds, kinds=kinds, limit=self.config.batch)
        return await leased_batch(self.pool, claim, outbox_queries.renew_leases, self.config.lease_seconds,
                                  "outbox", self._send_mail)

    # Mail: forwards, gateway copies, confirmations.

    async def _send_mail(self, rows: list[asyncpg.Record]) -> None:
        body_ids = [r["body_id"] for r in rows if r["body_id"] is not None]
        wanted = await self._not_paused(await self._still_wanted(rows))
        links = await self._links_asked([r for r in wanted if _asks_for_link(r)])
        wanted = [r for r in wanted if not _asks_for_link(r) or r["id"] in links]
        bodies, ids = {}, {}
        if body_ids:
            async with self.pool.acquire() as conn:
                bodies = await outbox_queries.bodies(conn, [r["body_id"] for r in wanted if r["body_id"]])
                ids = await known_queries.ids_of(conn, sorted({r["address"] for r in wanted if r["body_id"]}))
                # Each copy's link is issued as it is made: its recipient counts in the campaign's `sent`.
                async with conn.transaction():
                    await guard.count_sent(conn, [(r["campaign"], ids.get(r["address"], ERASED_ID))
                                                  for r in wanted if r["campaign"]], self.services.guard)
        lanes = max(1, min(self.config.relay_connections, len(wanted)))
        async with asyncio.TaskGroup() as group:  # one failing connection's error cancels the others
            for n in range(lanes):
                group.create_task(self._send_over_one_connection(wanted[n::lanes], bodies, ids, links))
        if body_ids:
            async with self.pool.acquire() as conn:
                await outbox_queries.delete_unused_bodies(conn, body_ids)

    async def _send_over_one_connection(self, rows: list[asyncpg.Record], bodies: dict[int, bytes],
                                        ids: dict[str, int], links: dict[int, Mail]) -> None:
        relay = LazySession(self.services.relay) if self.services.relay is not None else None
        sent: list[asyncpg.Record] = []
        try:
            for row in rows:
                try:
                    if relay is None:
                        raise _Failure("no OPTOUT_RELAY_URL configured", permanent=True)
                    async with self._in_flight.holding(self._size_of(row, bodies)):
                        message, sender, recipient = links.get(row["id"]) or await self._compose(row, bodies, ids)
                        await (await relay.get()).send(message, sender, [recipient])
                        del message
                except _Failure as exc:
                    await self._failed(row, exc.error, exc.permanent)
                    continue
                except RelayError as exc:
                    relay.broken(exc)
                    await self._failed(row, str(exc), not exc.temporary)
                    continue
                if row["kind"] == OutboxKind.FORWARD:
                    await self._forwarded(row)
                    continue
                sent.append(row)
                if len(sent) >= self.config.record_every:
                    await self._sent(sent)
                    sent = []
        finally:
            if sent:
                await self._sent(sent)
            if relay is not None:
                await relay.close()

    @staticmethod
    def _size_of(row: asyncpg.Record, bodies: dict[int, bytes]) -> int:
        """About what a copy will hold in memory while it is made and sent."""
        if row["message"] is not None:
            return len(row["message"])
        return len(bodies.get(row["body_id"], b"")) or 1 << 16  # a forward: its size is read later

    async def _still_wanted(self, rows: list[asyncpg.Record]) -> list[asyncpg.Record]:
        """Copies to people who are suppressed in the row's scope (all of them, for a copy
        whose scope is not known), or erased, since it was queued are not sent: their rows go.
        Forwards to staff and confirmation mails are not marketing: they are not checked."""
        wanted, by_scope = [], {}
        for row in rows:
            # A confirmation goes to someone who asked for it, blocked or not: only a
            # confirmed consent can outweigh their unsubscribe. Erasure deletes it.
            if row["kind"] in _NOT_MARKETING or row["address"] is None:
                wanted.append(row)
            else:
                by_scope.setdefault(row["scope"] or "global", []).append(row)
        for scope, group in by_scope.items():
            async with self.pool.acquire() as conn:
                results = await suppression_list.check(conn, [r["address"] for r in group], scope,
                                                       self.services.keyed_hash, self.services.erased)
                blocked = [(row, result) for row, result in zip(group, results) if not result.allowed]
                wanted += [row for row, result in zip(group, results) if result.allowed]
                if blocked:
                    await outbox_queries.delete_many_leased(conn, [row for row, _ in blocked])
            for row, result in blocked:
                log.info("outbox %s %d: not sent, the recipient is blocked now (%s)", row["kind"], row["id"],
                         result.reason)
        return wanted

    async def _not_paused(self, rows: list[asyncpg.Record]) -> list[asyncpg.Record]:
        """Copies of a paused campaign wait, without spending a try, until it is resumed (one
        that waited longer than a copy's lifetime is given up); the rest go."""
        campaigns = {r["campaign"] for r in rows if r["campaign"]}
        if not campaigns:
            return rows
        async with self.pool.acquire() as conn:
            paused = await guard.paused_among(conn, campaigns)
        if not paused:
            return rows
        now = self.services.clock.now()
        waiting, dead = [], []
        for row in rows:
            if row["campaign"] in paused:
                step = while_campaign_paused(OutboxKind(row["kind"]), row["created_at"], now)
                (waiting if step.outcome is FailureOutcome.RETRY else dead).append((row, step))
        async with self.pool.acquire() as conn:
            async with conn.transaction():
                if waiting:
                    await outbox_queries.postpone_leased(conn, [r for r, _ in waiting], waiting[0][1].retry_at)
                for row, step in dead:
                    await outbox_queries.mark_dead(conn, row["id"], row["lease_token"], now,
                                                   f"campaign {row['campaign']!r} paused; {step.why}")
        if waiting:
            log.info("outbox: %d copies of paused campaign(s) wait until they are resumed", len(waiting))
        for row, step in dead:
            log.warning("outbox %s %d given up: %s", row["kind"], row["id"], step.why)
        return [r for r in rows if r["campaign"] not in paused]

    async def _links_asked(self, rows: list[asyncpg.Record]) -> dict[int, Mail]:
        """The mails of the links asked for on /me, made now, by outbox row: a row whose address may
        get none (not known, erased, bounced or complained) goes at once, and holds the address no
        longer than this pass. The log at info names no address, nor whether it was known."""
        made: dict[int, Mail] = {}
        if not rows:
            return made
        settings = self.settings
        tokens = self.services.self_service or SelfServiceTokens(
            settings.secret_keys, timedelta(minutes=settings.self_service_minutes))
        compose = functools.partial(compose_link, settings)
        async with self.pool.acquire() as conn:
            for row in rows:
                async with conn.transaction():
                    mail = await access.link_mail(conn, row["address"], row["language"], tokens=tokens,
                                                  keyed_hash=self.services.keyed_hash, compose=compose,
                                                  now=self.services.clock.now())
                    if mail is None:
                        await outbox_queries.delete_leased(conn, row["id"], row["lease_token"])
                    else:
                        made[row["id"]] = mail
                if mail is None:
                    log.debug("outbox self_service %d: no link sent (no mail may go to that address)", row["id"])
        return made

    async def _compose(self, row: asyncpg.Record, bodies: dict[int, bytes],
                       ids: dict[str, int]) -> tuple[bytes, str, str]:
        settings = self.settings
        if row["kind"] == OutboxKind.FORWARD:
            if not settings.forward_to:
                raise _Failure("no OPTOUT_FORWARD_TO configured", permanent=True)
            async with self.pool.acquire() as conn:
                source = await inbound_queries.forward_source(conn, row["inbound_id"])
            if source is None or source["raw"] is None:
                raise _Failure("the message is no longer stored", permanent=True)
            actions = [a for a in source["actions"] if isinstance(a, dict)]
            summary = [_summary_line(a) for a in actions]
            message = forward_message(source["raw"], source["id"], source["sender"], source["subject"] or "",
                                      source["classification"], summary, settings.mailto, settings.forward_to,
                                      FORWARD_MARKER)
            return message, settings.mailto, settings.forward_to
        if row["message"] is not None:  # a whole message (a confirmation, a copy queued before 0009)
            return row["message"], row["sender"], row["recipient"]
        body = bodies.get(row["body_id"])
        if body is None:
            raise _Failure("the message is no longer stored", permanent=True)
        fields, rest = split_message(body)
        link = link_for(self.services.signer, settings.public_url, settings.mailto, row["recipient"], row["scope"],
                        row["campaign"], ids.get(row["address"], ERASED_ID))
        if isinstance(link, LinkRefused):  # not an address: no relay would take it either
            raise _Failure(f"the recipient is not an address ({link.message})", permanent=True)
        copy = copy_for(fields, rest, link.headers)
        if self.services.dkim is not None:  # after the List-Unsubscribe headers, so that it covers them
            copy = await asyncio.to_thread(self.services.dkim.sign, copy) if len(copy) > 1 << 20 else \
                self.services.dkim.sign(copy)
        return copy, row["sender"], row["recipient"]

    # Recording outcomes.

    async def _sent(self, rows: list[asyncpg.Record]) -> None:
        async with self.pool.acquire() as conn:
            recorded = await outbox_queries.delete_many_leased(conn, rows)
        if recorded < len(rows):
            log.warning("outbox: %d of %d sent rows had lost their lease meanwhile", len(rows) - recorded, len(rows))
        for row in rows:
            log.info("outbox %s %d: sent (try %d)", row["kind"], row["id"], row["attempts"] + 1)

    async def _forwarded(self, row: asyncpg.Record) -> None:
        async with self.pool.acquire() as conn:
            async with conn.transaction():
                if not await outbox_queries.delete_leased(conn, row["id"], row["lease_token"]):
                    log.warning("inbound %s: forwarded, but its lease was lost meanwhile", row["inbound_id"])
                    return
                action = {"type": "forwarded", "to": self.settings.forward_to,
                          "at": self.services.clock.now().isoformat()}
                await inbound_queries.finish_forward(conn, row["inbound_id"], InboundStatus.FORWARDED, [action])
        log.info("inbound %s: forwarded to staff (try %d)", row["inbound_id"], row["attempts"] + 1)

    async def _failed(self, row: asyncpg.Record, error: str, permanent: bool, also=None) -> None:
        """Record a failed try: retried later, held for staff or dead, as the domain decides.
        `also(conn, row)` runs in the same transaction and may return a line for the log."""
        now = self.services.clock.now()
        kind = OutboxKind(row["kind"])
        tries = row["attempts"] + 1
        step = after_failure(kind, tries, row["created_at"], now, permanent)
        async with self.pool.acquire() as conn:
            async with conn.transaction():
                if step.outcome is FailureOutcome.RETRY:
                    await outbox_queries.retry_later(conn, row, step.retry_at, error)
                    if kind is OutboxKind.FORWARD:
                        await inbound_queries.note_forward_failure(conn, row["inbound_id"], error)
                elif step.outcome is FailureOutcome.HOLD_FOR_STAFF:
                    if await outbox_queries.delete_leased(conn, row["id"], row["lease_token"]):
                        action = {"type": "held", "reason": f"not forwarded: {error}; {step.why}; kept for staff"}
                        await inbound_queries.finish_forward(conn, row["inbound_id"], InboundStatus.HELD, [action])
                else:
                    await outbox_queries.mark_dead(conn, row["id"], row["lease_token"], now, f"{error}; {step.why}")
                note = await also(conn, row) if also is not None else None
        what = f"inbound {row['inbound_id']}: forward" if kind is OutboxKind.FORWARD else f"outbox {kind} {row['id']}"
        if step.outcome is FailureOutcome.RETRY:
            log.info("%s try %d failed (%s); next try at %s", what, tries, error, step.retry_at.isoformat())
        else:
            log.warning("%s given up (%s; %s): %s", what, error, step.why,
                        "held for staff" if step.outcome is FailureOutcome.HOLD_FOR_STAFF else "dead, shown to staff")
        if note:
            log.warning("%s", note)


def _asks_for_link(row: asyncpg.Record) -> bool:
    """A row queued by POST /me: its mail is made when it is sent (a correction to staff comes whole)."""
    return row["kind"] == OutboxKind.SELF_SERVICE and row["message"] is None


class _ByteBudget:
    """At most `limit` bytes of copies in memory at once; a copy larger than the limit waits
    until it can be alone."""

    def __init__(self, limit: int):
        self.limit = limit
        self.used = 0
        self._changed = asyncio.Condition()

    @contextlib.asynccontextmanager
    async def holding(self, size: int):
        size = min(size, self.limit)
        async with self._changed:
            await self._changed.wait_for(lambda: self.used + size <= self.limit)
            self.used += size
        try:
            yield
        finally:
            async with self._changed:
                self.used -= size
                self._changed.notify_all()


def _summary_line(action: dict) -> str:
    """One action as the staff forward's note lists it; a privacy request says when it is due."""
    if action.get("type") == "privacy_request":
        return (f"- privacy request ({action.get('kind')}): answer by {action.get('due')} "
                "(one month, GDPR Art. 12(3)); close it in GET /v1/requests when done")
    return f"- {action.get('type')}: {action.get('email', action.get('to', ''))}".rstrip(": ")
