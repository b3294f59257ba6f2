"""kill -9 of the processes that hold mail: nothing answered 250 is lost, and what a dead
worker held is taken by another within one short lease."""

from __future__ import annotations

import asyncio

import aiosmtplib
from aiosmtpd.controller import Controller

from service.worker import LEASE_SECONDS
from tests.faults.conftest import question, send_mail, silent_relay, store, unsubscribe_request, wait
from tests.test_worker import Sink, free_port

SENDERS = 4


async def test_every_message_answered_250_is_processed_after_a_kill_during_deliveries(db, services):
    """`optout run` (receiver and worker in one process) killed while mail streams in, then started again."""
    first = services("run")
    await first.logged("inbound mail (LMTP and SMTP) listening")
    port = services.ports["OPTOUT_SMTP_PORT"]
    accepted: list[str] = []
    sending = True

    async def deliver(sender_number: int) -> None:
        number = 0
        while sending:
            sender = f"person-{sender_number}-{number}@example.be"
            number += 1
            try:
                await send_mail(port, unsubscribe_request(sender), sender)
            except (aiosmtplib.SMTPException, OSError, asyncio.TimeoutError):
                await asyncio.sleep(0.05)  # the receiver is gone: this one was not answered 250
                continue
            accepted.append(sender)

    def answered(count: int):
        async def enough() -> bool:
            return len(accepted) >= count
        return enough

    deliveries = [asyncio.create_task(deliver(n)) for n in range(SENDERS)]
    try:
        await wait(answered(60), 60, "60 messages answered 250")
        first.kill()
        second = services("run")
        await second.logged("inbound mail (LMTP and SMTP) listening")
        await wait(answered(len(accepted) + 20), 60, "deliveries to resume after the restart")
    finally:
        sending = False
        await asyncio.gather(*deliveries)

    async def all_processed() -> bool:
        done = await db.fetchval("SELECT count(*) FROM inbound_messages WHERE mail_from = ANY($1) "
                                 "AND status = 'processed'", accepted)
        return done == len(accepted)

    await wait(all_processed, LEASE_SECONDS + 60, f"all {len(accepted)} messages answered 250 to be processed")
    suppressed = await db.fetchval("SELECT count(*) FROM suppressions WHERE address = ANY($1)", accepted)
    assert suppressed == len(accepted)
    assert await db.fetchval("SELECT count(*) FROM inbound_messages WHERE status = 'failed'") == 0


async def test_a_message_held_by_a_killed_worker_is_taken_by_another_within_one_lease(db, services):
    """The first worker hangs on a relay that never answers, holding the message; it is killed."""
    message_id = await store(db, question("pieter@bakkerij-goossens.be"), "pieter@bakkerij-goossens.be")
    sink = Sink()
    relay = Controller(sink, hostname="127.0.0.1", port=free_port())
    relay.start()
    try:
        async with silent_relay() as silent_port:
            first = services("worker", OPTOUT_RELAY_URL=f"smtp://127.0.0.1:{silent_port}",
                             OPTOUT_FORWARD_TO="staff@cetit.be")

            async def held_while_forwarding() -> bool:
                return bool(await db.fetchval("SELECT lease_token IS NOT NULL FROM outbox "
                                              "WHERE kind = 'forward' AND inbound_id = $1::uuid", message_id))

            await wait(held_while_forwarding, 60, "the first worker to hold the message while it forwards")
            first.kill()
        second = services("worker", OPTOUT_RELAY_URL=f"smtp://127.0.0.1:{relay.port}",
                          OPTOUT_FORWARD_TO="staff@cetit.be")

        async def forwarded() -> bool:
            return await db.fetchval("SELECT status FROM inbound_messages WHERE id = $1::uuid",
                                     message_id) == "forwarded"

        await wait(forwarded, LEASE_SECONDS + 20, "the second worker to take the message and forward it")
    finally:
        relay.stop()
    [(_from, recipients, _forward)] = sink.messages
    assert recipients == ["staff@cetit.be"]
    row = await db.fetchrow("SELECT attempts, error FROM inbound_messages WHERE id = $1::uuid", message_id)
    assert row["attempts"] == 0 and row["error"] is None
    assert "forwarded to staff (try 1)" in second.log()  # the dead worker's claim cost no try


async def test_a_worker_killed_while_a_receiver_holds_its_delivery_loses_no_event_and_repeats_none_it_was_told_of(
        db, services, aiohttp_server):
    """The receiver holds the first delivery without answering; the worker is killed meanwhile.
    Another worker delivers every event afterwards: the held one again (it was never
    acknowledged), and none of those the receiver had acknowledged."""
    from aiohttp import web

    held = asyncio.Event()
    release = asyncio.Event()
    acknowledged: list[str] = []

    async def receive(request: web.Request) -> web.Response:
        payload = await request.json()
        if not held.is_set():
            held.set()
            await release.wait()  # the first delivery is never answered
            return web.Response(status=500)
        acknowledged.append(payload["id"])
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", receive)
    server = await aiohttp_server(app)
    await db.execute("INSERT INTO webhooks (url, events, secret, created_by) VALUES ($1, $2, $3, 'test')",
                     str(server.make_url("/hook")), ["suppression.created"], "whsec_" + "A" * 32)
    for n in range(5):  # each suppression commits on its own, with its delivery
        await db.execute(
            """WITH s AS (INSERT INTO suppressions (address, scope, reason, source)
                          VALUES ($1, 'global', 'manual', 'api') RETURNING address),
                    e AS (INSERT INTO events (address, type, scope, reason, source, actor)
                          SELECT address, 'suppressed', 'global', 'manual', 'api', 'test' FROM s RETURNING id, address)
               INSERT INTO outbox (kind, webhook_id, event_id, address)
               SELECT 'webhook', w.id, e.id, e.address FROM e, webhooks w""",
            f"lezer{n}@example.be")
    first = services("worker")
    await asyncio.wait_for(held.wait(), 60)

    async def only_the_held_one_left() -> bool:  # the others acknowledged and recorded
        return await db.fetchval("SELECT count(*) FROM outbox") == 1

    await wait(only_the_held_one_left, 60, "the other deliveries to be acknowledged and recorded")
    first.kill()
    release.set()
    services("worker")

    async def all_delivered() -> bool:
        return await db.fetchval("SELECT count(*) FROM outbox") == 0

    await wait(all_delivered, LEASE_SECONDS + 60, "another worker to deliver what the dead one held")
    events = await db.fetch("SELECT id FROM events ORDER BY id")
    assert sorted(acknowledged) == sorted(f"evt_{r['id']}" for r in events)  # each once, none lost
