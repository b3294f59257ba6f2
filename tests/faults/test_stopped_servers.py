"""The database and the relay stop and come back while the service runs: it says so while
they are away (503, 451, mail kept queued) and works again without being restarted."""

from __future__ import annotations

import aiohttp
import aiosmtplib
import asyncpg
import pytest
from aiosmtpd.controller import Controller

from service.domain.apikeys import create_key
from tests.faults.conftest import question, send_mail, store, unsubscribe_request, wait
from tests.test_worker import Sink, free_port

BLOCKED = "weg@example.be"


async def test_while_the_database_is_down_the_api_answers_503_and_smtp_451_and_both_recover(
        db, cluster, services):
    _id, key = await create_key(db, "faults", ["admin"])
    service = services("run")
    await service.logged("inbound mail (LMTP and SMTP) listening")
    base, smtp_port = f"http://127.0.0.1:{services.ports['PORT']}", services.ports["OPTOUT_SMTP_PORT"]
    auth = {"Authorization": f"Bearer {key}"}

    async with aiohttp.ClientSession() as http:
        async def status(path: str) -> int:
            async with http.get(base + path, headers=auth) as response:
                return response.status

        async def checked_blocked() -> bool:
            async with http.get(f"{base}/v1/check", params={"email": BLOCKED, "scope": "newsletter"},
                                headers=auth) as response:
                return response.status == 200 and (await response.json())["allowed"] is False

        async with http.put(f"{base}/v1/suppressions/{BLOCKED}", headers=auth,
                            json={"scope": "global", "reason": "manual", "source": "phone"}) as response:
            assert response.status == 201, await response.text()
        assert await checked_blocked()
        await send_mail(smtp_port, unsubscribe_request("voor@example.be"), "voor@example.be")

        cluster.stop("fast")
        try:
            async def unready() -> bool:
                return await status("/readyz") == 503

            await wait(unready, 30, "/readyz to answer 503")
            assert await status(f"/v1/check?email={BLOCKED}&scope=newsletter") == 503
            with pytest.raises(aiosmtplib.SMTPResponseException) as refused:
                await send_mail(smtp_port, unsubscribe_request("tijdens@example.be"), "tijdens@example.be")
            assert refused.value.code == 451
        finally:
            cluster.start()

        async def ready() -> bool:
            return await status("/readyz") == 200

        async def stored_again() -> bool:
            try:
                await send_mail(smtp_port, unsubscribe_request("na@example.be"), "na@example.be")
            except aiosmtplib.SMTPResponseException:
                return False
            return True

        await wait(ready, 60, "/readyz to answer 200 again")
        await wait(checked_blocked, 30, "the check to answer again")
        await wait(stored_again, 30, "SMTP to answer 250 again")

    conn = await asyncpg.connect(cluster.dsn, timeout=10)
    try:
        async def processed() -> bool:
            return await conn.fetchval("SELECT count(*) FROM inbound_messages WHERE status = 'processed' "
                                       "AND mail_from IN ('voor@example.be', 'na@example.be')") == 2

        await wait(processed, 60, "the worker to process the mail stored before and after")
        assert await conn.fetchval("SELECT count(*) FROM inbound_messages WHERE mail_from = 'tijdens@example.be'") == 0
    finally:
        await conn.close()
    assert service.process.poll() is None, "the service was not restarted"


async def test_forwards_wait_while_the_relay_is_down_and_arrive_when_it_is_back(db, services):
    relay_port = free_port()
    services("worker", OPTOUT_RELAY_URL=f"smtp://127.0.0.1:{relay_port}", OPTOUT_FORWARD_TO="staff@cetit.be")
    senders = [f"persoon{n}@example.be" for n in range(3)]
    for number, sender in enumerate(senders):
        await store(db, question(sender, number), sender)

    async def all_tried_once() -> bool:
        return await db.fetchval("SELECT count(*) FROM inbound_messages WHERE status = 'queued' "
                                 "AND forward_pending AND forward_attempts >= 1") == len(senders)

    await wait(all_tried_once, 60, "a first forward attempt of each message to fail")
    sink = Sink()
    relay = Controller(sink, hostname="127.0.0.1", port=relay_port)
    relay.start()
    try:
        async def all_forwarded() -> bool:
            return await db.fetchval("SELECT count(*) FROM inbound_messages WHERE status = 'forwarded'") == len(senders)

        await wait(all_forwarded, 120, "the forwards to reach the relay once it is back")
    finally:
        relay.stop()
    assert sorted(recipients for _from, recipients, _raw in sink.messages) == [["staff@cetit.be"]] * len(senders)


async def test_the_gateway_keeps_what_it_took_while_the_relay_is_down_and_sends_it_once_it_is_back(db, services):
    """The gateway answers 250 once the copies are in the outbox; they wait there while the
    relay is away, and leave once it is back, except to a recipient who unsubscribed meanwhile."""
    relay_port = free_port()
    gateway = services("gateway", OPTOUT_RELAY_URL=f"smtp://127.0.0.1:{relay_port}")
    await gateway.logged("gateway listening")
    port = services.ports["OPTOUT_GATEWAY_PORT"]
    mail = (b"From: CETIT <nieuws@cetit.be>\r\nTo: lezer@example.be\r\nSubject: Nieuwsbrief\r\n"
            b"Message-ID: <relay-down@cetit.be>\r\n\r\nHallo\r\n")
    recipients = ["lezer@example.be", "weg@example.be"]
    errors, reply = await aiosmtplib.send(mail, sender="nieuws@cetit.be", recipients=recipients,
                                          hostname="127.0.0.1", port=port, timeout=20)
    assert errors == {} and reply.startswith("2.0.0 Queued")

    async def tried() -> bool:
        return await db.fetchval("SELECT count(*) FROM outbox WHERE kind = 'gateway' AND attempts >= 1") == 2

    await wait(tried, 60, "the gateway to try the relay once")
    async with db.transaction():  # one of them unsubscribes while the relay is away
        await db.execute("INSERT INTO suppressions (address, scope, reason, source) "
                         "VALUES ('weg@example.be', 'global', 'unsubscribe', 'one_click')")
    sink = Sink()
    relay = Controller(sink, hostname="127.0.0.1", port=relay_port)
    relay.start()
    try:
        await db.execute("UPDATE outbox SET next_attempt_at = now()")  # the time of the next try has come

        async def sent() -> bool:
            return await db.fetchval("SELECT count(*) FROM outbox") == 0

        await wait(sent, 60, "the copy to leave once the relay is back")
    finally:
        relay.stop()
    assert [recipients for _from, recipients, _raw in sink.messages] == [["lezer@example.be"]]
    assert "not sent, the recipient is blocked now (unsubscribe)" in gateway.log()
