"""Webhook deliveries through the outbox, to a real receiver on a socket: signed as Standard
Webhooks do, retried with the same id while the receiver is down, in order per address,
given up only after days, and an erasure that leaves nothing of the person once delivered."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging

import pytest
from aiohttp import web

from service.mail.outbox import Drainer
from service.services import Services
from tests.clock import ManualClock
from tests.conftest import make_key
from tests.web.conftest import login

MARKER = "receiver-secret-7f3a"


class Receiver:
    """A webhook receiver: answers `status` (200 by default), and keeps what it was sent."""

    def __init__(self):
        self.status = 200
        self.received: list[tuple[dict, dict]] = []
        self.arrived: list[float] = []  # the loop's clock at each request
        self.verified = True  # every request so far carried a good signature
        self.secret = ""
        self.answer = ""  # the body of a failing answer; "down" when not set

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.received.append((dict(request.headers), json.loads(body)))
        self.arrived.append(asyncio.get_running_loop().time())
        self.verified = self.verified and verify(self.secret, request.headers, body)
        return web.Response(status=self.status, text="ok" if self.status < 300 else self.answer or "down")


def verify(secret: str, headers, body: bytes) -> bool:
    """The Standard Webhooks check a receiver does: the secret's bytes sign "id.timestamp.body"."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return any(hmac.compare_digest(f"v1,{expected}", given) for given in headers["webhook-signature"].split())


@pytest.fixture
async def receiver(aiohttp_server):
    keeper = Receiver()
    app = web.Application()
    app.router.add_post("/hook", keeper.handle)
    server = await aiohttp_server(app)
    keeper.url = str(server.make_url("/hook"))
    return keeper


@pytest.fixture
async def drainer(pool, settings):
    made = Drainer(pool, Services.build(settings, clock=ManualClock()))
    yield made
    await made.close()


async def subscribe(client, auth, receiver, events) -> dict:
    response = await client.post("/v1/webhooks", json={"url": receiver.url, "events": events}, headers=auth)
    assert response.status == 201, await response.text()
    created = await response.json()
    receiver.secret = created["secret"]
    return created


async def suppress(client, auth, email: str, scope: str = "global"):
    response = await client.put(f"/v1/suppressions/{email}", headers=auth,
                                json={"scope": scope, "reason": "manual", "source": "phone"})
    assert response.status == 201


async def drain(drainer: Drainer) -> int:
    total = 0
    while (claimed := await drainer.drain_once()):
        total += claimed
    return total


async def test_a_suppression_reaches_the_receiver_signed_with_its_actor(client, auth, pool, receiver, drainer):
    await subscribe(client, auth, receiver, ["suppression.created"])
    await suppress(client, auth, "Jan@Example.be")
    assert await drain(drainer) == 1
    [(headers, payload)] = receiver.received
    assert receiver.verified
    assert headers["webhook-id"] == payload["id"] and payload["type"] == "suppression.created"
    assert payload["data"]["email"] == "jan@example.be" and payload["data"]["actor"] == "admin"
    assert (payload["data"]["scope"], payload["data"]["reason"], payload["data"]["source"]) == ("global", "manual", "phone")
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 0


async def test_a_receiver_that_is_down_gets_the_same_id_again_and_later_events_wait_in_order(
        client, auth, pool, receiver, drainer):
    await subscribe(client, auth, receiver, ["suppression.created", "suppression.lifted"])
    receiver.status = 503
    await suppress(client, auth, "jan@example.be", "newsletter")
    assert await drain(drainer) == 1  # tried once, failed
    lifted = await client.delete("/v1/suppressions/jan@example.be", params={"scope": "newsletter"}, headers=auth,
                                 json={"evidence": "asked again on the phone"})
    assert lifted.status == 200
    await suppress(client, auth, "marie@example.be")
    assert await drain(drainer) == 1  # marie's goes; jan's lift waits for jan's suppression
    first_try = receiver.received[0][1]
    assert [p["data"]["email"] for _h, p in receiver.received] == ["jan@example.be", "marie@example.be"]
    receiver.status = 200
    drainer.services.clock.advance(seconds=70)  # the first retry comes within a minute (with jitter)
    assert await drain(drainer) == 3  # jan's suppression again, then marie's again, then jan's lift
    jan = [(p["type"], p["id"]) for _h, p in receiver.received[2:] if p["data"]["email"] == "jan@example.be"]
    assert jan[0] == ("suppression.created", first_try["id"]) and jan[1][0] == "suppression.lifted"
    assert receiver.verified and await pool.fetchval("SELECT count(*) FROM outbox") == 0


async def test_a_receiver_down_for_an_hour_gets_every_event_afterwards(client, auth, pool, receiver, drainer):
    await subscribe(client, auth, receiver, ["suppression.created"])
    receiver.status = 500
    for n in range(5):
        await suppress(client, auth, f"lezer{n}@example.be")
    for _minute in range(0, 60, 5):
        await drain(drainer)
        drainer.services.clock.advance(minutes=5)
    assert await pool.fetchval("SELECT count(*) FROM outbox WHERE status = 'pending'") == 5
    receiver.status = 204
    drainer.services.clock.advance(hours=2)
    await drain(drainer)
    taken = {p["id"] for _h, p in receiver.received[-5:]}
    assert len(taken) == 5 and await pool.fetchval("SELECT count(*) FROM outbox") == 0


async def test_a_delivery_dies_only_after_days_and_is_shown_as_dead(client, auth, pool, receiver, drainer):
    await subscribe(client, auth, receiver, ["suppression.created"])
    receiver.status = 500
    await suppress(client, auth, "jan@example.be")
    await drain(drainer)
    drainer.services.clock.advance(hours=23)
    await drain(drainer)
    assert await pool.fetchval("SELECT status FROM outbox") == "pending"  # never given up within 24 hours
    for _ in range(40):
        drainer.services.clock.advance(hours=4)
        await drain(drainer)
    row = await pool.fetchrow("SELECT status, attempts, last_error FROM outbox")
    assert row["status"] == "dead" and row["attempts"] > 5 and "500" in row["last_error"]
    assert len({p["id"] for _h, p in receiver.received}) == 1  # every try the same event
    metrics = await (await client.get("/metrics")).text()
    assert 'optout_outbox_rows{kind="webhook",status="dead"} 1.0' in metrics


async def test_an_erasure_is_delivered_with_the_address_and_then_nothing_of_it_stays(
        client, auth, pool, receiver, drainer):
    await subscribe(client, auth, receiver, ["suppression.created", "subject.erased"])
    receiver.status = 500
    await suppress(client, auth, "jan@example.be")
    await drain(drainer)  # the suppression's delivery is waiting for a retry
    response = await client.post("/v1/erasure", json={"email": "jan@example.be"}, headers=auth)
    assert response.status == 200
    rows = await pool.fetch("SELECT address FROM outbox")
    assert [r["address"] for r in rows] == ["jan@example.be"]  # only the erasure's own delivery
    receiver.status = 200
    drainer.services.clock.advance(minutes=5)
    await drain(drainer)
    erased = receiver.received[-1][1]
    assert erased["type"] == "subject.erased" and erased["data"]["email"] == "jan@example.be"
    assert erased["data"]["actor"] == "admin"
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 0


async def test_an_erasure_that_cannot_be_delivered_dies_without_the_address(client, auth, pool, receiver, drainer,
                                                                           aiohttp_server):
    await subscribe(client, auth, receiver, ["subject.erased"])
    receiver.status = 422
    await suppress(client, auth, "jan@example.be")
    assert (await client.post("/v1/erasure", json={"email": "jan@example.be"}, headers=auth)).status == 200
    for _ in range(30):
        await drain(drainer)
        drainer.services.clock.advance(hours=4)
    row = await pool.fetchrow("SELECT status, address, last_error FROM outbox")
    assert row["status"] == "dead" and row["address"] is None and "jan" not in row["last_error"]
    assert receiver.received[0][1]["data"]["email"] == "jan@example.be"


async def test_deliveries_waiting_behind_a_retry_are_put_off_with_it(client, auth, pool, receiver, drainer):
    """Later deliveries of the same address wait as long as the one being retried, so that the
    claim does not walk over them on every round."""
    await subscribe(client, auth, receiver, ["suppression.created"])
    receiver.status = 500
    await suppress(client, auth, "jan@example.be", "newsletter")
    await drain(drainer)
    for scope in ("events", "offers"):
        await suppress(client, auth, "jan@example.be", scope)
    assert await drain(drainer) == 0  # due, but behind the first
    drainer.services.clock.advance(seconds=70)
    assert await drain(drainer) == 1  # only the first, which fails again
    times = [r["next_attempt_at"] for r in await pool.fetch("SELECT next_attempt_at FROM outbox ORDER BY id")]
    assert times[1] >= times[0] and times[2] >= times[0]
    receiver.status = 200
    drainer.services.clock.advance(hours=1)
    assert await drain(drainer) == 3
    assert [p["data"]["scope"] for _h, p in receiver.received[-3:]] == ["newsletter", "events", "offers"]


async def test_a_subscription_that_is_removed_gets_nothing_more(client, auth, pool, receiver, drainer):
    created = await subscribe(client, auth, receiver, ["suppression.created"])
    receiver.status = 500
    await suppress(client, auth, "jan@example.be")
    assert (await client.delete(f"/v1/webhooks/{created['id']}", headers=auth)).status == 200
    assert await drain(drainer) == 0 and receiver.received == []
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 0


async def test_what_a_failing_receiver_answers_is_kept_nowhere_but_its_status(
        client, auth, pool, receiver, drainer, caplog):
    """A receiver's answer may read back an internal service (an error page, a metadata
    document): only its status code is stored, logged or shown to staff."""
    caplog.set_level(logging.DEBUG)
    await subscribe(client, auth, receiver, ["suppression.created"])
    receiver.status, receiver.answer = 500, f"internal error; {MARKER}: 10.0.0.7 db-primary"
    await suppress(client, auth, "jan@example.be")
    await drain(drainer)
    pending = await pool.fetchval("SELECT row_to_json(o)::text FROM outbox o")
    assert MARKER not in pending and "answered 500" in pending
    for _ in range(30):
        drainer.services.clock.advance(hours=4)
        await drain(drainer)
    dead = await pool.fetchrow("SELECT status, last_error, row_to_json(o)::text AS whole FROM outbox o")
    assert dead["status"] == "dead" and dead["last_error"].startswith("answered 500")
    assert MARKER not in dead["whole"] and MARKER not in caplog.text and "answered 500" in caplog.text
    assert (await login(client, await make_key(pool, "write", name="Ann"))).status == 303
    page = await (await client.get("/staff/outbox")).text()
    assert "answered 500" in page and MARKER not in page
