"""The webhook lane delivers to each subscription on its own: a few deliveries in flight per
subscription, each recorded as it ends; a circuit that holds back the deliveries of a receiver
that keeps failing without spending their tries; leases that let drainers share the lane and
lose nothing when one dies."""

from __future__ import annotations

import asyncio
from collections import defaultdict

from aiohttp import web

from service.domain.outbox import CIRCUIT
from service.mail.outbox import Drainer, DrainerConfig
from service.services import Services
from service.storage import delivery_queries
from tests.clock import ManualClock
from tests.pgcluster import wait_until
from tests.test_webhook_delivery import drain, receiver, subscribe, suppress  # noqa: F401 (receiver: a fixture)

CREATED = ["suppression.created"]


def drainer_with(pool, settings, clock=None, **config) -> Drainer:
    return Drainer(pool, Services.build(settings, clock=clock or ManualClock()), config=DrainerConfig(**config))


def at_least(items: list, n: int):
    """A predicate for wait_until: `items` holds `n` or more."""
    async def enough() -> bool:
        return len(items) >= n
    return enough


async def tries(pool) -> list[int]:
    return [r["attempts"] for r in await pool.fetch("SELECT attempts FROM outbox ORDER BY id")]


async def test_a_failing_receiver_s_deliveries_wait_behind_its_circuit_without_spending_tries(
        client, auth, pool, settings, receiver):
    await subscribe(client, auth, receiver, CREATED)
    receiver.status = 500
    for n in range(12):
        await suppress(client, auth, f"lezer{n}@example.be")
    drainer = drainer_with(pool, settings, webhook_per_subscription=3)
    try:
        first = await drain(drainer)  # the fifth failure in a row opens the circuit; those in flight end
        assert CIRCUIT.failures <= first < CIRCUIT.failures + 3
        assert len(receiver.received) == first and (await tries(pool)).count(0) == 12 - first
        assert await drain(drainer) == 0  # due, but held back: not claimed over and over
        drainer.services.clock.advance(seconds=31)
        assert await drain(drainer) == 1  # one probe, which fails: a longer pause
        assert len(receiver.received) == first + 1 == sum(await tries(pool))  # no try spent but the probe's
        drainer.services.clock.advance(seconds=31)
        assert await drain(drainer) == 0
        receiver.status = 200
        drainer.services.clock.advance(minutes=2)
        assert await drain(drainer) == 12  # the probe gets through, the circuit closes, everything goes
    finally:
        await drainer.close()
    assert len({p["id"] for _h, p in receiver.received}) == 12 and await pool.fetchval("SELECT count(*) FROM outbox") == 0
    assert await pool.fetchval("SELECT failures FROM webhooks") == 0


async def test_deliveries_held_back_for_days_are_given_up_as_their_own_tries_would_be(
        client, auth, pool, settings, receiver):
    await subscribe(client, auth, receiver, CREATED + ["subject.erased"])
    receiver.status = 503
    for n in range(CIRCUIT.failures + 3):
        await suppress(client, auth, f"lezer{n}@example.be")
    await suppress(client, auth, "jan@example.be")
    assert (await client.post("/v1/erasure", json={"email": "jan@example.be"}, headers=auth)).status == 200
    drainer = drainer_with(pool, settings, webhook_per_subscription=1)
    try:
        await drain(drainer)
        assert (await tries(pool)).count(0) > 0
        drainer.services.clock.advance(days=3, hours=1)
        await drain(drainer)  # a probe fails: those held back for longer than a delivery lives go too
    finally:
        await drainer.close()
    rows = await pool.fetch("SELECT status, address, last_error FROM outbox")
    assert {r["status"] for r in rows} == {"dead"} and all(r["last_error"] for r in rows)
    assert "jan@example.be" not in {r["address"] for r in rows}  # the erasure's delivery died without it


async def test_a_subscription_never_has_more_than_its_share_in_flight(client, auth, pool, settings, aiohttp_server):
    arrived, release = [], asyncio.Event()

    async def slow(request: web.Request) -> web.Response:
        arrived.append(await request.read())
        await release.wait()
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", slow)
    server = await aiohttp_server(app)
    made = await client.post("/v1/webhooks", headers=auth, json={"url": str(server.make_url("/hook")), "events": CREATED})
    assert made.status == 201
    for n in range(8):
        await suppress(client, auth, f"lezer{n}@example.be")
    drainer = drainer_with(pool, settings, webhook_per_subscription=3)
    draining = asyncio.create_task(drainer.drain_once())
    try:
        await wait_until(at_least(arrived, 3), 10, what="three deliveries in flight")
        await asyncio.sleep(0.3)
        assert len(arrived) == 3
        leased = await pool.fetchval("SELECT count(*) FROM outbox WHERE lease_until > clock_timestamp()")
        assert leased == 3
        release.set()
        assert await asyncio.wait_for(draining, 30) == 8
    finally:
        release.set()
        await drainer.close()
    assert len(arrived) == 8 and await pool.fetchval("SELECT count(*) FROM outbox") == 0


async def test_events_of_one_address_arrive_in_order_while_other_addresses_go_alongside(
        client, auth, pool, settings, receiver):
    await subscribe(client, auth, receiver, CREATED)
    scopes = ["newsletter", "events", "offers", "partners"]
    for scope in scopes:
        for n in range(5):
            await suppress(client, auth, f"lezer{n}@example.be", scope)
    drainer = drainer_with(pool, settings)
    try:
        assert await drain(drainer) == 20
    finally:
        await drainer.close()
    seen = defaultdict(list)
    for _h, payload in receiver.received:
        seen[payload["data"]["email"]].append(payload["data"]["scope"])
    assert dict(seen) == {f"lezer{n}@example.be": scopes for n in range(5)}


async def test_two_drainers_share_the_lane_and_deliver_each_event_once(client, auth, pool, settings, receiver):
    await subscribe(client, auth, receiver, CREATED)
    drainers = [Drainer(pool, Services.build(settings)) for _ in range(2)]
    stop = asyncio.Event()
    running = [asyncio.create_task(d.run(stop)) for d in drainers]
    try:
        for n in range(60):
            await suppress(client, auth, f"lezer{n}@example.be")
        await wait_until(at_least(receiver.received, 60), 30, what="60 deliveries")
        await asyncio.sleep(0.5)
    finally:
        stop.set()
        await asyncio.gather(*running)
    assert len(receiver.received) == 60 and len({p["id"] for _h, p in receiver.received}) == 60
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 0


async def test_deliveries_a_dead_drainer_held_are_delivered_once_its_leases_run_out(
        client, auth, pool, settings, receiver):
    await subscribe(client, auth, receiver, CREATED)
    for n in range(5):
        await suppress(client, auth, f"lezer{n}@example.be")
    drainer = drainer_with(pool, settings)
    async with pool.acquire() as conn:  # a drainer claims them, then dies without a word
        held = await delivery_queries.claim(conn, drainer.services.clock.now(), 0.5, 100, 20, CIRCUIT.failures)
    assert len(held) == 5
    try:
        assert await drainer.drain_once() == 0
        await wait_until(lambda: drainer.drain_once(), 10, what="the leases to run out")
        await drain(drainer)
    finally:
        await drainer.close()
    assert len({p["id"] for _h, p in receiver.received}) == 5 and await pool.fetchval("SELECT count(*) FROM outbox") == 0
