"""webhooks: the outbox drainer delivering --events (20,000) suppression.created events to one
subscription, beside the same payloads signed the same way and POSTed by a bare aiohttp session
with as many in flight as the drainer sends one subscription at once, to the same receiver.

The database is as in production: a list of LIST_ROWS suppressions (200,000) and ERASED erased
addresses (10,000). The events are about --addresses (5,000) people, four each (one suppression
in each of SCOPES, in that order), shuffled in time, so that the claim must keep each person's
deliveries in order. Their events and outbox rows are written in bulk with the columns the
service writes; before each service run the outbox is filled again with the same deliveries. A
service run is `Drainer.drain_once` in a loop until nothing is claimed; the outbox must then be
empty. The receiver is an aiohttp server in a process of its own that answers 204 to every POST
and counts them, verifying nothing. After a warm-up of each side, the figures are the medians of
--repeat runs, the two sides in turn.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import multiprocessing
import random
import time

import aiohttp
import asyncpg
import orjson
from aiohttp import web

from service.domain.addresses import canonical_or_none
from service.domain.events.model import EventType, event_from_row
from service.domain.events.webhooks import new_secret
from service.domain.outbox import OutboxKind
from service.domain.suppressions.keyed_hash import hmac_pads
from service.mail.outbox import Drainer, DrainerConfig
from service.mail.webhooks import USER_AGENT
from service.services import Services
from service.settings import Settings
from service.storage.db import create_pool

from .check_bulk import load_suppressions, recipients
from .harness import fresh_schema, median, report, serve, verdict
from .scaling import ERASED_BASE, INSERT_ERASED

LIST_ROWS = 200_000
ERASED = 10_000
SCOPES = ("global", "newsletter", "offers", "partners")  # each person's suppressions, in this order
ACTOR = "bench"
SETTINGS = Settings(secret_keys=("x" * 32,), hash_key=b"h" * 32)
CONFIG = DrainerConfig()

# The events of the suppressions, in the order given ($1 addresses, $2 scopes), as
# INSERT_SUPPRESSION records them.
INSERT_EVENTS = """
INSERT INTO events (address, type, scope, reason, source, detail, actor)
SELECT address, 'suppressed', scope, 'manual', 'api', '{}'::jsonb, $3
  FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS t(address, scope, n)
 ORDER BY n
"""
# One delivery per event, in the events' order, as INSERT_SUPPRESSION queues them.
QUEUE_DELIVERIES = """
INSERT INTO outbox (kind, webhook_id, event_id, address)
SELECT 'webhook', $1, id, address FROM events WHERE actor = $2 ORDER BY id
"""
EVENTS = """
SELECT id, at, address, type, scope, reason, source, actor, detail FROM events WHERE actor = $1 ORDER BY id
"""


def receiver(urls, received, stop) -> None:
    """In the receiver process: an HTTP server on a free port that answers 204 to every POST."""
    asyncio.run(_receiver(urls, received, stop))


async def _receiver(urls, received, stop) -> None:
    async def take(request: web.Request) -> web.Response:
        await request.read()
        with received.get_lock():
            received.value += 1
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hooks", take)
    async with serve(app) as url:
        urls.put(f"{url}/hooks")
        await asyncio.get_running_loop().run_in_executor(None, stop.wait)


def timeline(events: int, addresses: int) -> tuple[list[str], list[str]]:
    """The address and scope of each event, in the order they happen: `events` spread over
    `addresses` people, each person's suppressions in the order of SCOPES."""
    people = [f"subscriber.{k}@shop{k % 50}.example.be" for k in range(addresses)]
    order = [people[i % addresses] for i in range(events)]
    random.Random(events).shuffle(order)
    seen: dict[str, int] = {}
    scopes = []
    for address in order:
        n = seen.get(address, 0)
        seen[address] = n + 1
        scopes.append(SCOPES[n % len(SCOPES)] if n < len(SCOPES) else f"list-{n}")
    return order, scopes


async def prepare(conn: asyncpg.Connection, url: str, events: int, addresses: int) -> tuple[object, str, list]:
    """The list, the erased, one subscription and the events; the subscription's id and secret,
    and the payloads the events are published as."""
    await load_suppressions(conn, [canonical_or_none(e) for e in recipients(LIST_ROWS)])
    await conn.execute(INSERT_ERASED, *hmac_pads(SETTINGS.hash_key), ERASED_BASE + 1, ERASED_BASE + ERASED)
    secret = new_secret()
    webhook_id = await conn.fetchval(
        "INSERT INTO webhooks (url, events, secret, created_by) VALUES ($1, $2, $3, $4) RETURNING id",
        url, [str(EventType.SUPPRESSION_CREATED)], secret, ACTOR)
    order, scopes = timeline(events, addresses)
    async with conn.transaction():
        await conn.copy_records_to_table(
            "suppressions", records=[(a, s, "manual", "api") for a, s in zip(order, scopes)],
            columns=["address", "scope", "reason", "source"])
        await conn.execute(INSERT_EVENTS, order, scopes, ACTOR)
    await conn.execute("ANALYZE suppressions")
    await conn.execute("ANALYZE erased_addresses")
    await conn.execute("ANALYZE events")
    payloads = [event_from_row(row).as_published(address=row["address"])
                for row in await conn.fetch(EVENTS, ACTOR)]
    return webhook_id, secret, payloads


def reset(received) -> None:
    with received.get_lock():
        received.value = 0


async def service_run(pool: asyncpg.Pool, drainer: Drainer, webhook_id, received) -> dict:
    """Queue every event's delivery again, then drain until nothing is claimed."""
    async with pool.acquire() as conn:
        await conn.execute(QUEUE_DELIVERIES, webhook_id, ACTOR)
        await conn.execute("ANALYZE outbox")
    reset(received)
    started = time.perf_counter()
    claimed = 0
    while done := await drainer.drain_once():
        claimed += done
    seconds = time.perf_counter() - started
    left = await pool.fetchval("SELECT count(*) FROM outbox")
    return {"seconds": seconds, "sent": claimed, "received": received.value, "left": left}


async def baseline_run(session: aiohttp.ClientSession, url: str, secret: str, payloads: list[dict],
                       received) -> dict:
    """The same payloads, each signed as a delivery is, POSTed by as many workers as the drainer
    sends one subscription at once."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    pending = iter(payloads)
    answered = 0

    async def worker() -> None:
        nonlocal answered
        for payload in pending:
            body = orjson.dumps(payload)
            timestamp = int(time.time())
            mac = hmac.new(key, f"{payload['id']}.{timestamp}.".encode() + body, hashlib.sha256).digest()
            headers = {
                "webhook-id": payload["id"],
                "webhook-timestamp": str(timestamp),
                "webhook-signature": "v1," + base64.b64encode(mac).decode("ascii"),
                "content-type": "application/json",
                "user-agent": USER_AGENT,
            }
            async with session.post(url, data=body, headers=headers, allow_redirects=False) as response:
                if 200 <= response.status < 300:
                    answered += 1

    reset(received)
    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONFIG.webhook_per_subscription)))
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "sent": answered, "received": received.value, "left": 0}


async def run(base_dsn: str, args: argparse.Namespace) -> None:
    events, addresses = args.events, min(args.addresses, args.events)
    spawn = multiprocessing.get_context("spawn")
    received, urls, stop = spawn.Value("q", 0), spawn.Queue(), spawn.Event()
    receiver_process = spawn.Process(target=receiver, args=(urls, received, stop), daemon=True)
    receiver_process.start()
    url = urls.get(timeout=60)
    try:
        async with fresh_schema(base_dsn) as dsn:
            pool = await create_pool(dsn)
            drainer = Drainer(pool, Services.build(SETTINGS.with_overrides(database_url=dsn)),
                              kinds=(OutboxKind.WEBHOOK,), config=CONFIG)
            timeout = aiohttp.ClientTimeout(total=CONFIG.webhook_timeout)
            try:
                async with pool.acquire() as conn:
                    webhook_id, secret, payloads = await prepare(conn, url, events, addresses)
                async with aiohttp.ClientSession(timeout=timeout) as session:
                    sides = {
                        "service": lambda: service_run(pool, drainer, webhook_id, received),
                        "baseline": lambda: baseline_run(session, url, secret, payloads, received),
                    }
                    for side in sides.values():  # warm-up
                        await side()
                    runs: dict[str, list[dict]] = {name: [] for name in sides}
                    for _ in range(args.repeat):
                        for name, side in sides.items():
                            runs[name].append(await side())
            finally:
                await drainer.close()
                await pool.close()
    finally:
        stop.set()
        receiver_process.join(10)

    rates = {name: median(events / r["seconds"] for r in rs) for name, rs in runs.items()}
    report("webhooks", "deliveries", rates["service"], rates["baseline"])
    print(f"  {events:,} events (suppression.created) about {addresses:,} addresses, to one subscription; "
          f"list of {LIST_ROWS:,} suppressions, {ERASED:,} erased addresses; "
          f"{CONFIG.webhook_per_subscription} deliveries at once to the one subscription")
    for name, rs in runs.items():
        print(f"  {name:<8} {median(r['seconds'] for r in rs):.2f} s a run (median of {args.repeat})")
    mismatches = [
        f"{name} run {n}: {r['sent']:,} sent, receiver counted {r['received']:,}, "
        f"{r['left']:,} left in the outbox; expected {events:,}, {events:,} and 0"
        for name, rs in runs.items() for n, r in enumerate(rs, 1)
        if (r["sent"], r["received"], r["left"]) != (events, events, 0)
    ]
    for line in mismatches:
        print(f"  mismatch: {line}")
    verdict(f"the receiver counted exactly {events:,} deliveries a run and the outbox was left empty",
            not mismatches)
