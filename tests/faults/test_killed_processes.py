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
