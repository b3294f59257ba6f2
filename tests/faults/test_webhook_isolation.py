"""One subscription's trouble is its own: a receiver that takes the connection and never
answers delays only its own deliveries, while a healthy one beside it gets each event within
seconds. The drainer runs as the worker runs it, with the production timeout of 10 s."""

from __future__ import annotations

import asyncio

from service.mail.outbox import Drainer
from service.services import Services
from tests.faults.conftest import silent_relay
from tests.pgcluster import wait_until
from tests.test_webhook_delivery import receiver, subscribe, suppress  # noqa: F401 (receiver: a fixture)

EVENTS = 120
WITHIN_SECONDS = 5.0  # each of the healthy receiver's events; a generous bound for "within seconds"


async def test_a_receiver_that_never_answers_delays_only_its_own_deliveries(client, auth, pool, settings, receiver):
    async with silent_relay() as port:
        dead = await client.post("/v1/webhooks", headers=auth, json={
            "url": f"http://127.0.0.1:{port}/hook", "events": ["suppression.created"]})
        assert dead.status == 201
        dead_id = (await dead.json())["id"]
        await subscribe(client, auth, receiver, ["suppression.created"])
        drainer = Drainer(pool, Services.build(settings))
        stop = asyncio.Event()
        running = asyncio.create_task(drainer.run(stop))
        try:
            queued = []
            for n in range(EVENTS):
                await suppress(client, auth, f"lezer{n}@example.be")
                queued.append(asyncio.get_running_loop().time())

            async def all_delivered() -> bool:
                return len(receiver.received) >= EVENTS

            await wait_until(all_delivered, 60, what=f"the healthy receiver to get all {EVENTS} events")
            arrived = {payload["data"]["email"]: at for (_h, payload), at in zip(receiver.received, receiver.arrived)}
            late = {n: arrived[f"lezer{n}@example.be"] - queued[n] for n in range(EVENTS)}
            assert max(late.values()) < WITHIN_SECONDS, sorted(late.items(), key=lambda kv: -kv[1])[:5]
            waiting = await pool.fetchval("SELECT count(*) FROM outbox WHERE webhook_id = $1 AND status = 'pending'",
                                          dead_id)
            assert waiting >= EVENTS - 20  # the silent receiver's deliveries queue, a few of them in flight
        finally:
            stop.set()
            await running
    assert receiver.verified
