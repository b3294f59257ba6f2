"""Each statement that records events queues, in the same statement, one webhook delivery per
subscription to the event's public type, and none for an event that is not published."""

from datetime import date, datetime, timezone

from service.domain.suppressions.keyed_hash import KeyedHash
from service.storage.consent_queries import confirm_consent, insert_consent, insert_request, restore_consents
from service.storage.queries import insert_event, insert_suppression
from service.storage.webhook_queries import insert_webhook

KEY = b"k" * 32
KEYED = KeyedHash(KEY)
PUBLIC = ["suppression.created", "consent.given", "consent.withdrawn", "request.received", "subject.erased"]


async def subscribe(conn) -> tuple:
    """A webhook subscribed to every public type written here, and one to a type none of them is."""
    every = await insert_webhook(conn, "https://crm.example.be/in", PUBLIC, "whsec_every", "test")
    other = await insert_webhook(conn, "https://other.example.be/in", ["campaign.paused"], "whsec_other", "test")
    return every["id"], other["id"]


async def deliveries(conn, event_id: int) -> list[tuple]:
    return [tuple(row) for row in await conn.fetch(
        "SELECT webhook_id, address FROM outbox WHERE kind = 'webhook' AND event_id = $1 ORDER BY id", event_id)]


async def events(conn, address: str | None = None) -> list:
    return await conn.fetch("SELECT id, type, scope, reason, source, actor FROM events "
                            "WHERE address IS NOT DISTINCT FROM $1 ORDER BY id", address)


async def give(conn, address: str, scope: str, status: str = "given"):
    return await insert_consent(conn, address, scope, status, "web_form", "Ja.", "2026-12", "nl", None, None, None,
                                "web", KEYED.of(address), address)


async def test_a_suppression_and_the_withdrawal_it_causes_are_each_delivered_once(pool):
    async with pool.acquire() as conn:
        every, _ = await subscribe(conn)
        await give(conn, "ann@example.be", "news")
        row = await insert_suppression(conn, "ann@example.be", "global", "unsubscribe", "one_click", None,
                                       {"via": "test"}, KEYED.of("ann@example.be"), actor="recipient",
                                       published_as="suppression.created")
        assert row["outcome"] == "inserted"
        # The statement's two events come in no set order: its CTEs run at the same time.
        written = {row["type"]: row for row in await events(conn, "ann@example.be")}
        given, suppressed, withdrawn = (written[t] for t in ("consent_given", "suppressed", "consent_withdrawn"))
        assert (suppressed["type"], suppressed["scope"], suppressed["reason"], suppressed["source"],
                suppressed["actor"]) == ("suppressed", "global", "unsubscribe", "one_click", "recipient")
        assert (withdrawn["type"], withdrawn["scope"], withdrawn["reason"], withdrawn["source"],
                withdrawn["actor"]) == ("consent_withdrawn", "news", "unsubscribe", "one_click", "recipient")
        for event in (given, suppressed, withdrawn):
            assert await deliveries(conn, event["id"]) == [(every, "ann@example.be")]


async def test_an_event_is_delivered_about_the_address_named_and_an_unpublished_one_not_at_all(pool):
    async with pool.acquire() as conn:
        every, _ = await subscribe(conn)
        erased = await insert_event(conn, None, "erased", actor="staff", published_as="subject.erased",
                                    delivered_about="gone@example.be")
        assert [row["id"] for row in await events(conn)] == [erased]
        assert await deliveries(conn, erased) == [(every, "gone@example.be")]
        quiet = await insert_event(conn, "bob@example.be", "lifted", scope="global", reason="manual", source="api")
        assert [tuple(row) for row in await events(conn, "bob@example.be")] == [
            (quiet, "lifted", "global", "manual", "api", None)]
        assert await deliveries(conn, quiet) == []


async def test_a_consent_given_at_once_is_delivered_and_a_requested_one_is_not(pool):
    async with pool.acquire() as conn:
        every, _ = await subscribe(conn)
        await give(conn, "cas@example.be", "news")
        await give(conn, "cas@example.be", "events", status="pending")
        given, requested = await events(conn, "cas@example.be")
        assert (given["type"], given["scope"], given["reason"], given["source"], given["actor"]) == (
            "consent_given", "news", None, "web_form", "web")
        assert (requested["type"], requested["scope"], requested["reason"]) == ("consent_requested", "events", None)
        assert await deliveries(conn, given["id"]) == [(every, "cas@example.be")]
        assert await deliveries(conn, requested["id"]) == []


async def test_a_confirmation_is_delivered(pool):
    async with pool.acquire() as conn:
        every, _ = await subscribe(conn)
        pending = await give(conn, "dirk@example.be", "news", status="pending")
        assert (await confirm_consent(conn, pending["id"], "203.0.113.9", "Safari"))["status"] == "given"
        _, confirmed = await events(conn, "dirk@example.be")
        assert (confirmed["type"], confirmed["scope"], confirmed["reason"], confirmed["actor"]) == (
            "consent_given", "news", None, "recipient")
        assert await deliveries(conn, confirmed["id"]) == [(every, "dirk@example.be")]


async def test_the_consents_a_resubscribe_gives_back_are_delivered(pool):
    async with pool.acquire() as conn:
        every, _ = await subscribe(conn)
        await give(conn, "eva@example.be", "news")
        await insert_suppression(conn, "eva@example.be", "news", "unsubscribe", "link", None, None,
                                 KEYED.of("eva@example.be"), actor="recipient",
                                 published_as="suppression.created")
        assert await restore_consents(conn, "eva@example.be", "news", "recipient") == 1
        restored = (await events(conn, "eva@example.be"))[-1]
        assert (restored["type"], restored["scope"], restored["reason"], restored["source"], restored["actor"]) == (
            "consent_given", "news", None, "web_form", "recipient")
        assert await deliveries(conn, restored["id"]) == [(every, "eva@example.be")]


async def test_a_privacy_request_is_delivered(pool):
    async with pool.acquire() as conn:
        every, _ = await subscribe(conn)
        request = await insert_request(conn, "access", "fien@example.be", None,
                                       datetime(2026, 12, 7, tzinfo=timezone.utc), date(2027, 1, 7))
        [recorded] = await events(conn, "fien@example.be")
        assert (recorded["type"], recorded["scope"], recorded["reason"], recorded["source"], recorded["actor"]) == (
            "request", None, None, None, "recipient")
        assert await conn.fetchval("SELECT detail->>'request' FROM events WHERE id = $1",
                                   recorded["id"]) == str(request["id"])
        assert await deliveries(conn, recorded["id"]) == [(every, "fien@example.be")]
