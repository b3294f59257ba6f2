"""A privacy request by mail, end to end over SMTP: stored, classified by the worker, forwarded to
staff through a real relay, recorded with its due date, listed and closed over HTTP; an objection
also suppresses the sender and withdraws their consents; an erased sender's request names no one."""

from __future__ import annotations

import email
from datetime import date, datetime, timezone
from email import policy

import aiosmtplib
import pytest

from service.domain.consent import ledger
from service.domain.consent.ledger import ConsentInput
from service.domain.consent.rules import due_date
from service.domain.suppressions.erasure import erase
from service.domain.suppressions.keyed_hash import KeyedHash
from service.smtp.receiver import Receiver
from service.storage.db import transaction
from tests.smtp.conftest import Sink, start_sink
from service.services import Services
from service.worker import Worker
from tests.clock import ManualClock
from tests.test_worker import FAST, drain, post_all

SENDER = "els.janssens@example.be"


@pytest.fixture
async def workers(pool):
    made = []

    def make(settings) -> Worker:
        made.append(Worker(pool, settings, FAST, Services.build(settings, clock=ManualClock())))
        return made[-1]

    yield make
    for worker in made:
        worker.close()
        await worker.outbox.close()


def request_mail(body: str, number: int = 1) -> bytes:
    return (f"From: Els Janssens <{SENDER}>\r\nTo: info@cetit.be\r\nSubject: Mijn gegevens\r\n"
            f"Message-ID: <privacy-{number}@example.be>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
            f"{body}\r\n").encode()


def test_the_due_date_is_one_month_later_or_the_last_day_of_that_month():
    assert due_date(datetime(2026, 12, 2, 9, tzinfo=timezone.utc)) == date(2027, 1, 2)
    assert due_date(datetime(2027, 1, 31, 9, tzinfo=timezone.utc)) == date(2027, 2, 28)
    assert due_date(datetime(2028, 1, 30, 9, tzinfo=timezone.utc)) == date(2028, 2, 29)
    assert due_date(datetime(2026, 3, 31, 9, tzinfo=timezone.utc)) == date(2026, 4, 30)


async def test_an_access_request_by_smtp_is_forwarded_recorded_listed_and_closed(
        pool, settings, workers, client, auth, unused_tcp_port_factory):
    sink = Sink()
    controller = start_sink(sink, unused_tcp_port_factory())
    receiver = Receiver(pool, "127.0.0.1", 0, max_bytes=1_000_000)
    await receiver.start()
    try:
        reply = await aiosmtplib.send(request_mail("Graag had ik inzage in de persoonsgegevens die u van mij "
                                                   "bijhoudt, zoals de AVG mij toelaat."),
                                      sender=SENDER, recipients=["info@cetit.be"], hostname="127.0.0.1",
                                      port=receiver.port)
        assert "stored as" in reply[1].lower()
        config = settings.with_overrides(relay_url=f"smtp://127.0.0.1:{sink.port}", forward_to="privacy@cetit.be")
        await drain(workers(config))
    finally:
        await receiver.stop(grace=1)
        controller.stop()

    [(to, raw)] = sink.messages
    assert to == ["privacy@cetit.be"]
    forwarded = email.message_from_bytes(raw, policy=policy.default)
    note = forwarded.get_body(("plain",)).get_content()
    assert "privacy request (access): answer by " in note
    assert b"inzage in de persoonsgegevens" in raw  # the original, attached unchanged

    listed = await (await client.get("/v1/requests?status=open", headers=auth)).json()
    [item] = listed["requests"]
    received = datetime.fromisoformat(item["received_at"])
    assert (item["kind"], item["email"], item["status"]) == ("access", SENDER, "open")
    assert item["due"] == due_date(received).isoformat() and item["message_id"]
    assert f"answer by {item['due']}" in note
    message = await (await client.get(f"/v1/inbound/{item['message_id']}", headers=auth)).json()
    assert message["classification"] == "privacy_request"
    assert [a["type"] for a in message["actions"]].count("privacy_request") == 1
    allowed = await (await client.get("/v1/check", headers=auth, params={"email": SENDER})).json()
    assert allowed["allowed"] is True, "an access request does not unsubscribe"

    closed = await client.post(f"/v1/requests/{item['id']}/close", headers=auth,
                               json={"note": "Kopie per post verstuurd op 3 december."})
    assert closed.status == 200 and (await closed.json())["status"] == "closed"
    assert (await client.post(f"/v1/requests/{item['id']}/close", headers=auth, json={"note": "again"})).status == 409
    assert (await (await client.get("/v1/requests?status=open", headers=auth)).json())["requests"] == []
    record = await (await client.get(f"/v1/subjects/{SENDER}", headers=auth)).json()
    assert [r["kind"] for r in record["requests"]] == ["access"]


async def test_an_objection_suppresses_the_sender_and_withdraws_their_consents(pool, settings, workers, client,
                                                                              auth):
    keyed_hash = KeyedHash(settings.hash_key)
    async with pool.acquire() as conn:
        await ledger.give(conn, ConsentInput.read({
            "email": SENDER, "scope": "newsletter", "source": "phone", "language": "nl",
            "text": "Akkoord met de nieuwsbrief.", "note": "telefonisch"}), actor="staff", keyed_hash=keyed_hash)
    await post_all(pool, [request_mail("Ik maak bezwaar tegen het gebruik van mijn gegevens voor direct marketing.")])
    await drain(workers(settings))
    checked = await (await client.get("/v1/check", headers=auth, params={"email": SENDER})).json()
    assert (checked["allowed"], checked["reason"], checked["scope"]) == (False, "unsubscribe", "global")
    consents = await (await client.get(f"/v1/consents/{SENDER}", headers=auth)).json()
    assert [(c["status"], c["withdrawn_by"]) for c in consents["consents"]] == [("withdrawn", "unsubscribe:global")]
    [item] = (await (await client.get("/v1/requests", headers=auth)).json())["requests"]
    assert item["kind"] == "objection"


async def test_the_same_message_twice_is_one_request(pool, settings, workers, client, auth):
    raw = request_mail("Please delete all my personal data.", number=7)
    await post_all(pool, [raw])
    await post_all(pool, [raw])
    await drain(workers(settings))
    assert len((await (await client.get("/v1/requests", headers=auth)).json())["requests"]) == 1


async def test_an_erasure_keeps_the_request_without_the_address(pool, settings, workers, client, auth):
    await post_all(pool, [request_mail("Ik beroep mij op mijn recht op vergetelheid.", number=3)])
    await drain(workers(settings))
    async with transaction(pool) as conn:
        await erase(conn, KeyedHash(settings.hash_key), SENDER, "staff")
    [item] = (await (await client.get("/v1/requests", headers=auth)).json())["requests"]
    assert item["kind"] == "erasure" and item["email"] is None
    # A later request from the erased person is recorded, and names no one in clear.
    await post_all(pool, [request_mail("Welke gegevens hebben jullie nog van mij? Ik wil een kopie.", number=4)])
    await drain(workers(settings))
    later = (await (await client.get("/v1/requests", headers=auth)).json())["requests"]
    assert [(r["kind"], r["email"]) for r in later] == [("erasure", None), ("access", None)]
    assert await pool.fetchval("SELECT count(*) FROM privacy_requests WHERE address IS NOT NULL") == 0


@pytest.mark.parametrize("body, kind", [
    ("mag ik eens zien wat jullie allemaal over mij bijhouden?", "access"),
    ("Graag wil ik dat u al mijn gegevens wist", "erasure"),
    ("I want you to delete all personal data you hold about me. This is an erasure request under GDPR.", "erasure"),
])
async def test_a_request_in_plain_words_gets_its_due_date(pool, settings, workers, client, auth, body, kind):
    await post_all(pool, [request_mail(body, number=11)])
    await drain(workers(settings))
    [item] = (await (await client.get("/v1/requests?status=open", headers=auth)).json())["requests"]
    assert (item["kind"], item["email"]) == (kind, SENDER)
    assert item["due"] == due_date(datetime.fromisoformat(item["received_at"])).isoformat()
    message = await (await client.get(f"/v1/inbound/{item['message_id']}", headers=auth)).json()
    assert message["classification"] == "privacy_request" and message["status"] == "held"  # no relay: kept for staff
    assert (await (await client.get("/v1/check", headers=auth, params={"email": SENDER})).json())["allowed"] is True


async def test_business_mail_with_the_same_verbs_records_no_request(pool, settings, workers, client, auth):
    await post_all(pool, [request_mail("Can you correct the invoice address? Please delete my previous order.",
                                       number=12)])
    await drain(workers(settings))
    assert (await (await client.get("/v1/requests", headers=auth)).json())["requests"] == []
