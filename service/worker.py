"""The queue consumer: claims stored inbound messages, classifies them, acts, forwards.
A leased claim makes each message acted on exactly once; the worker also enforces retention."""

from __future__ import annotations

import asyncio
import functools
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import asyncpg

from .classifying import PROCESSES, TIME_LIMIT, ClassificationTimeout, Classifier, chunks
from .domain.inbound import inbox
from .domain.inbound.classify import Envelope, Verdict, classify
from .domain.inbound.mime import UnreadableMessage
from .domain.inbound.policy import Classified, Forwarding, after_classification
from .domain.campaigns import guard
from .domain.inbound.return_paths import at_return_path
from .domain.outbox import DEAD_KEPT_DAYS
from .mail.lanes import batches, every, leased_batch
from .mail.outbox import Drainer, DrainerConfig
from .services import Services
from .settings import Settings
from .storage import inbound_queries, outbox_queries

log = logging.getLogger("optout.worker")

LEASE_SECONDS = 20.0  # renewed every quarter of it while the batch is worked on


@dataclass(frozen=True)
class WorkerConfig:
    batch: int = 50
    lease_seconds: float = LEASE_SECONDS
    idle_seconds: float = 0.5
    max_attempts: int = 3  # recorded failures of one message before it is `failed`
    max_abandoned: int = 10  # workers that died holding one message before it is `failed`
    classify_seconds: float = TIME_LIMIT
    classify_processes: int = PROCESSES
    # Batches in hand at once: while one is committed, the next is classified, so neither the
    # classifying processes nor the database wait for the other (bench inbound: 427 to 497 a second).
    lanes: int = 2
    retry_seconds: float = 5.0
    outbox: DrainerConfig = DrainerConfig()
    retention_interval: float = 600.0  # seconds between two retention passes
    fold_interval: float = 5.0  # seconds between two folds of campaigns' unsubscribes into their counts
    retention_batch: int = 500  # raw messages deleted per statement
    retention_pause: float = 0.2  # seconds between two batches of one pass


@dataclass
class _Work:
    row: asyncpg.Record
    verdict: Verdict | None = None
    error: str | None = None
    fatal: bool = False


def _now() -> datetime:
    return datetime.now(timezone.utc)


class Worker:
    def __init__(self, pool: asyncpg.Pool, settings: Settings, config: WorkerConfig = WorkerConfig(),
                 services: Services | None = None):
        self.pool = pool
        self.settings = settings
        self.config = config
        self.services = services or Services.build(settings)
        self.classifier = Classifier(settings.secret_keys, timedelta(days=settings.link_max_age_days),
                                     processes=config.classify_processes, time_limit=config.classify_seconds)
        self._reading = asyncio.Semaphore(config.classify_processes)  # chunks of raw mail in memory at once
        self.own = frozenset(a.lower() for a in (settings.mailto, settings.forward_to, settings.bounce_address) if a)
        self.forwarding = Forwarding(self.services.relay is not None, settings.forward_to)
        self.outbox = Drainer(pool, self.services, config=config.outbox)

    async def run(self, stop: asyncio.Event) -> None:
        """Work until `stop` is set; the batch in hand is always finished first."""
        log.info("worker started (batch %d, lease %.0f s, %d classifying process(es))", self.config.batch,
                 self.config.lease_seconds, self.config.classify_processes)
        retention = asyncio.create_task(self.run_retention(stop))
        folding = asyncio.create_task(self.run_folding(stop))
        draining = asyncio.create_task(self.outbox.run(stop))
        try:
            await asyncio.gather(*(self._lane(stop) for _ in range(self.config.lanes)))
        except asyncio.CancelledError:
            retention.cancel()
            folding.cancel()
            draining.cancel()
            raise
        finally:
            # Their batches in hand are finished first.
            await asyncio.gather(retention, folding, draining, return_exceptions=True)
            self.close()
        log.info("worker stopped")

    async def _lane(self, stop: asyncio.Event) -> None:
        """Batch after batch until `stop` is set, the one in hand finished first; when the
        queue is empty, until a message is stored in this process or the idle poll is due."""
        stored = self.services.inbound.subscribe()
        try:
            await batches(stop, stored, self.config.idle_seconds, self.run_once, "worker")
        finally:
            self.services.inbound.unsubscribe(stored)

    async def run_until_empty(self) -> int:
        """Work the queue as `run` does, `lanes` batches in hand, until none is left to claim;
        return how many messages were claimed."""
        async def lane() -> int:
            claimed = 0
            while done := await self.run_once():
                claimed += done
            return claimed

        async with asyncio.TaskGroup() as lanes:  # one lane failing stops the others
            claimed = [lanes.create_task(lane()) for _ in range(self.config.lanes)]
        return sum(task.result() for task in claimed)

    def close(self) -> None:
        """Let the classifying processes go; a Worker used through run_once is closed by its owner."""
        self.classifier.close()

    async def run_retention(self, stop: asyncio.Event) -> None:
        """Retention passes at start and every `retention_interval` until `stop`, beside the queue."""
        async def retain() -> None:
            await self.purge_expired_raw(stop)
            await self.purge_dead_outbox_rows()
        await every(stop, self.config.retention_interval, retain, "retention")

    async def run_folding(self, stop: asyncio.Event) -> None:
        """Every `fold_interval`, the campaigns' new unsubscribes are added to their counts, so
        that reading a campaign adds only a few seconds' worth."""
        async def fold() -> None:
            async with self.pool.acquire() as conn:
                await guard.fold_unsubscribes(conn)
        await every(stop, self.config.fold_interval, fold, "campaigns: folding unsubscribes")

    async def purge_dead_outbox_rows(self) -> int:
        """Dead outbox rows staff did not send again within DEAD_KEPT_DAYS, in short batches."""
        deleted = 0
        while True:
            async with self.pool.acquire() as conn:
                count = await outbox_queries.purge_dead(conn, DEAD_KEPT_DAYS, self.config.retention_batch)
            deleted += count
            if count < self.config.retention_batch:
                break
        if deleted:
            log.info("retention: deleted %d outbox row(s) given up more than %d days ago", deleted, DEAD_KEPT_DAYS)
        return deleted

    async def purge_expired_raw(self, stop: asyncio.Event) -> int:
        """One retention pass: batches until one comes back short or `stop` is set, each
        committed on its own, with a pause between them so the database is never hogged."""
        days, batch, deleted = self.settings.retention_days, self.config.retention_batch, 0
        try:
            while True:
                async with self.pool.acquire() as conn:
                    count = await inbound_queries.delete_expired_raw(conn, days, batch)
                deleted += count
                if count < batch or stop.is_set():
                    return deleted
                try:
                    await asyncio.wait_for(stop.wait(), self.config.retention_pause)
                except asyncio.TimeoutError:
                    pass
        finally:
            log.log(logging.INFO if deleted else logging.DEBUG,
                    "retention: deleted %d raw message(s) processed more than %d day(s) ago", deleted, days)

    async def run_once(self) -> int:
        """Claim one batch and see it through, its leases renewed meanwhile; return how many
        messages were claimed."""
        claim = functools.partial(inbound_queries.claim_inbound, limit=self.config.batch,
                                  lease_seconds=self.config.lease_seconds)
        return await leased_batch(self.pool, claim, inbound_queries.renew_leases, self.config.lease_seconds,
                                  "worker", self._see_through)

    async def _see_through(self, rows: list[asyncpg.Record]) -> None:
        works = [_Work(row) for row in rows]
        for work in works:
            if work.row["abandoned"] >= self.config.max_abandoned:
                last = f" (the last error: {work.row['error']})" if work.row["error"] else ""
                work.error = f"given up: {work.row['abandoned']} workers stopped while handling it{last}"
                work.fatal = True
        live = [w for w in works if not w.fatal]
        await self._classify_all(live)
        await self._commit_classified([w for w in live if w.verdict is not None])
        await self._release_failed([w for w in works if w.error is not None])

    async def _classify_all(self, works: list[_Work]) -> None:
        """Read in the children a chunk at a time (`classifying.chunks`), as many chunks in
        memory at once as there are children."""
        parts = chunks([work.row["size"] or 0 for work in works])
        await asyncio.gather(*(self._classify_chunk([works[i] for i in part]) for part in parts))

    async def _classify_chunk(self, works: list[_Work]) -> None:
        """Classify in a child process; whatever happens there costs its message, never the worker."""
        async with self._reading:
            items, reading = [], []
            for work in works:
                try:
                    raw = work.row["raw"]
                    if raw is None:  # too big to come with the claim
                        async with self.pool.acquire() as conn:
                            raw = await inbound_queries.inbound_raw(conn, work.row["id"])
                except Exception as exc:
                    self._not_read(work, exc)
                    continue
                items.append((raw, Envelope(work.row["mail_from"], tuple(work.row["rcpt_to"]))))
                reading.append(work)
            outcomes = await self.classifier.classify_all(classify, items, self.own, self.settings.trusted_authserv_id)
        for work, (_raw, envelope), outcome in zip(reading, items, outcomes):
            try:
                if isinstance(outcome, Exception):
                    raise outcome
                token = self.services.return_paths.token_in(envelope.recipients)
                if token is not None:  # a bounce here is about the one recipient the token names
                    outcome = at_return_path(outcome, envelope, self.services.return_paths.recipient_of(token))
                work.verdict = outcome
            except Exception as exc:
                self._not_read(work, exc)

    def _not_read(self, work: _Work, exc: Exception) -> None:
        """What a message's reading raised, as its error: unreadable and too slow are final."""
        if isinstance(exc, UnreadableMessage):
            work.error, work.fatal = exc.message, True
        elif isinstance(exc, ClassificationTimeout):
            work.error, work.fatal = str(exc), True
        else:  # hostile input must cost one message, never the worker
            log.warning("inbound %s: classification failed (%s)", work.row["id"], exc.__class__.__name__,
                        exc_info=exc)
            work.error = f"classification failed: {exc.__class__.__name__}: {str(exc)[:300]}"

    async def _commit_classified(self, works: list[_Work]) -> None:
        """Act on a batch in one transaction; if that fails, again with a savepoint per message,
        so that one bad message costs only itself."""
        if not works:
            return
        try:
            await self._commit(works, isolate=False)
        except Exception as exc:
            log.warning("batch of %d not committed (%s); committing one by one", len(works), exc.__class__.__name__)
            await self._commit(works, isolate=True)

    async def _commit(self, works: list[_Work], isolate: bool) -> None:
        settings = self.settings
        outcomes, logged = [], []
        async with self.pool.acquire() as conn:
            async with conn.transaction():
                owned = await inbound_queries.lock_leased(
                    conn, [w.row["id"] for w in works], [w.row["lease_token"] for w in works])
                for work in works:
                    if work.row["id"] not in owned:
                        log.info("inbound %s: lease lost, left to the worker that holds it", work.row["id"])
                        continue
                    verdict = work.verdict
                    savepoint = conn.transaction() if isolate else None
                    try:
                        if savepoint is not None:
                            await savepoint.start()
                        actions = await inbox.act_on(conn, work.row["id"], verdict, settings.soft_bounce_limit,
                                                       settings.soft_bounce_days,
                                                       keyed_hash=self.services.keyed_hash,
                                                       max_actions=settings.max_actions_per_message,
                                                       thresholds=self.services.guard)
                        decision = after_classification(verdict, actions, self.forwarding)
                        addresses, recorded = await inbox.without_erased(
                            conn, inbox.addresses_about(verdict, actions), actions + list(decision.notes),
                            self.services.keyed_hash)
                        outcome = Classified(work.row["id"], decision.status, verdict.classification, verdict.kind,
                                             tuple(addresses), tuple(recorded), verdict.sender, verdict.subject,
                                             decision.forward)
                        if decision.forward:
                            await outbox_queries.queue_forward(conn, work.row["id"])
                        if savepoint is not None:
                            await inbound_queries.record_classifications(conn, [outcome])
                            await savepoint.commit()
                        else:
                            outcomes.append(outcome)
                    except Exception as exc:
                        if savepoint is None:
                            raise
                        await savepoint.rollback()
                        work.error = f"acting on it failed: {exc.__class__.__name__}: {str(exc)[:300]}"
                        continue
                    logged.append((work.row["id"], verdict, decision, len(actions)))
                if outcomes:
                    await inbound_queries.record_classifications(conn, outcomes)
        for message_id, verdict, decision, count in logged:
            log.info("inbound %s: %s%s -> %s, %d action(s)", message_id, verdict.classification,
                     f" ({verdict.kind})" if verdict.kind else "",
                     "queued for forwarding to staff" if decision.forward else decision.status, count)
        if any(decision.forward for _m, _v, decision, _c in logged):
            self.services.outbox.wake()

    async def _release_failed(self, works: list[_Work]) -> None:
        for work in works:
            failed = work.fatal or work.row["attempts"] + 1 >= self.config.max_attempts
            retry_at = _now() + timedelta(seconds=self.config.retry_seconds)
            async with self.pool.acquire() as conn:
                await inbound_queries.release_after_error(
                    conn, work.row["id"], work.row["lease_token"], work.error or "unknown error", failed, retry_at)
            log.warning("inbound %s: %s%s", work.row["id"], "failed: " if failed else "will retry: ", work.error)


async def run_worker(pool: asyncpg.Pool, settings: Settings, stop: asyncio.Event,
                     config: WorkerConfig = WorkerConfig(), services: Services | None = None) -> None:
    await Worker(pool, settings, config, services).run(stop)

