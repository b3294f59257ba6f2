"""Erasure leaves no trace of an address in clear: not in any table, in any case or encoding,
and not after a later one-click, bounce, reply, import or staff entry."""

from __future__ import annotations

import asyncio
import base64
import subprocess
import sys
from datetime import timedelta
from email.header import Header

import pytest

from service.domain.suppressions import erasure
from service.domain.inbound import mentions
from service.domain.suppressions import suppression_list
from service.domain.suppressions.keyed_hash import KeyedHash
from service.domain.errors import Conflict
from service.domain.tokens import TokenSigner
from service.services import Services
from service.storage import outbox_queries
from service.storage.known_queries import remember_addresses
from service.worker import Worker
from tests.conftest import CORPUS, ROOT
from tests.clock import ManualClock
from tests.test_worker import FAST, drain, post_all

ADDRESS = "jan.peeters@example.be"
WRITTEN = "Jan.Peeters@Example.BE"  # as a person or a mail program may write it

# Column types that can hold an address as text or bytes; arrays and jsonb are read as text.
SEARCHED_TYPES = ("text", "character varying", "character", "json", "jsonb", "bytea", "ARRAY", "USER-DEFINED")


async def clear_traces(pool, address: str, kept_messages: tuple[str, ...] = ()) -> list[str]:
    """Every table.column of the schema that holds `address` in any case (bytea read as
    escaped text), except the rows of `kept_messages` in inbound_messages."""
    columns = await pool.fetch(
        """SELECT table_name, column_name, data_type FROM information_schema.columns
            WHERE table_schema = current_schema() AND data_type = ANY($1::text[])
            ORDER BY table_name, column_name""",
        list(SEARCHED_TYPES),
    )
    found = []
    for table, column, data_type in columns:
        value = f"encode(\"{column}\", 'escape')" if data_type == "bytea" else f"\"{column}\"::text"
        rows = await pool.fetch(f'SELECT * FROM "{table}" WHERE position($1 in lower({value})) > 0', address.lower())
        rows = [r for r in rows if not (table == "inbound_messages" and str(r["id"]) in kept_messages)]
        if rows:
            found.append(f"{table}.{column}")
    return found


def plain(sender: str, subject: str, body: str, number: int) -> bytes:
    return (f"From: {sender}\r\nTo: info@cetit.be\r\nSubject: {subject}\r\n"
            f"Message-ID: <erasure-{number}@example.net>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
            f"{body}\r\n").encode()


def encoded(sender: str, transfer: str, body: bytes, number: int, kind: str = "text/plain") -> bytes:
    return (f"From: {sender}\r\nTo: info@cetit.be\r\nSubject: een vraag\r\n"
            f"Message-ID: <erasure-{number}@example.net>\r\nMIME-Version: 1.0\r\n"
            f"Content-Type: {kind}; charset=utf-8\r\nContent-Transfer-Encoding: {transfer}\r\n\r\n").encode() + body


def messages_about_jan() -> list[bytes]:
    """The address in every form that a search of the raw bytes does not see."""
    about = f"Mijn collega {WRITTEN} wil geen mails meer.\n".encode()
    subject = Header(f"Over {ADDRESS}", "utf-8").encode()
    return [
        plain(f"Jan Peeters <{WRITTEN}>", "vraag", "Hallo, een vraag over de opleiding.", 1),
        encoded("An <an@example.net>", "base64", base64.encodebytes(about), 2),
        encoded("Piet <piet@example.net>", "quoted-printable", b"Stuur het naar jan.peeters@exam=\r\nple.be aub.\r\n", 3),
        plain("Mia <mia@example.net>", subject, "Zie onderwerp.", 4),
        encoded("Tom <tom@example.net>", "7bit", b"<p>Schrijf jan.peeters&#64;example.be uit.</p>\r\n", 5, "text/html"),
    ]


def bounce_for(address: str) -> bytes:
    raw = (CORPUS / "bounces/rfc3464-26.eml").read_bytes()
    assert b"kijitora@example.or.jp" in raw
    return raw.replace(b"kijitora@example.or.jp", address.encode())


def reply_from(address: str) -> bytes:
    """A person's 'uitschrijven aub' from `address` (the corpus reply, another sender)."""
    raw = (CORPUS / "replies/nl-uitschrijven-kort.eml").read_bytes()
    return raw.replace(b"an.peeters@telenet.be", address.encode()).replace(b"<a1f3.", b"<later.")


@pytest.fixture
def worker(pool, settings):
    """The real worker on the test database; its classifying processes go at the end."""
    made = Worker(pool, settings, FAST, Services.build(settings, clock=ManualClock()))
    yield made
    if hasattr(made, "close"):
        made.close()


async def erase(client, auth, email: str = f" {WRITTEN} ") -> dict:
    response = await client.post("/v1/erasure", json={"email": email}, headers=auth)
    assert response.status == 200
    return await response.json()


async def blocked(client, auth) -> bool:
    result = await (await client.get("/v1/check", params={"email": ADDRESS, "scope": "newsletter"}, headers=auth)).json()
    return result["allowed"] is False


def test_the_mentions_of_a_message_are_read_decoded_in_every_case_and_encoding():
    for raw in messages_about_jan():
        assert ADDRESS in mentions.mentioned_addresses(raw), raw
    others = mentions.mentioned_addresses(plain("x@example.net", "hi", "nothing here", 9))
    assert others == {"x@example.net", "info@cetit.be", "erasure-9@example.net"}  # a Message-ID reads as one
    assert ADDRESS in mentions.mentioned_addresses(None, "to=jan.peeters@example.be", [{"email": ADDRESS}])


def test_reading_the_mentions_of_a_hostile_text_ends_before_the_watchdog():
    """4 MB of address characters around 200,000 @s: a few seconds when linear, hours when not.
    Read in a process of its own, which the watchdog stops; no figure is asserted."""
    child = ("from service.domain.inbound import mentions\n"
             "print(sorted(mentions.mentioned_addresses(b'a' * 2_000_000 + b'@' * 200_000 + b'b' * 2_000_000)))")
    try:
        done = subprocess.run([sys.executable, "-c", child], capture_output=True, cwd=ROOT, timeout=120, check=True)
    except subprocess.TimeoutExpired:
        pytest.fail("the mentions of 4 MB were not read within 120 s: a pattern backtracks")
    assert done.stdout.strip() == b"[]"


async def test_erasure_deletes_every_message_that_mentions_the_address_however_it_is_written(
        client, auth, pool, worker):
    ids = await post_all(pool, messages_about_jan() + [plain("Els <els@example.net>", "vraag", "Geen adres.", 6)])
    await drain(worker)
    assert await pool.fetchval("SELECT count(*) FROM inbound_messages WHERE subject ILIKE $1", f"%{ADDRESS}%") == 1

    body = await erase(client, auth)
    assert body["removed"]["messages"] == 5
    assert [str(r["id"]) for r in await pool.fetch("SELECT id FROM inbound_messages")] == [ids[-1]]
    assert await clear_traces(pool, ADDRESS) == []
    assert await blocked(client, auth)


async def test_access_lists_the_messages_that_erasure_deletes(client, auth, pool):
    ids = await post_all(pool, messages_about_jan())
    access = await (await client.get(f"/v1/subjects/{WRITTEN}", headers=auth)).json()
    assert sorted(m["id"] for m in access["messages"]) == sorted(ids)
    assert (await erase(client, auth))["removed"]["messages"] == len(ids)


async def test_messages_stored_before_the_index_existed_are_read_at_the_erasure(client, auth, pool):
    await post_all(pool, messages_about_jan())
    await (await client.get("/v1/subjects/someone@example.net", headers=auth)).json()
    await pool.execute("DELETE FROM message_mentions")  # as before migration 0006
    assert (await erase(client, auth))["removed"]["messages"] == 5
    assert await clear_traces(pool, ADDRESS) == []


async def test_a_large_message_is_read_whole_for_its_mentions(client, auth, pool):
    filler = base64.encodebytes(b"x" * (mentions.RAW_INLINE_LIMIT + 1000) + f" groeten, {WRITTEN}\n".encode())
    [large] = await post_all(pool, [encoded("An <an@example.net>", "base64", filler, 10)])
    access = await (await client.get(f"/v1/subjects/{ADDRESS}", headers=auth)).json()
    assert [m["id"] for m in access["messages"]] == [large]
    assert (await erase(client, auth))["removed"]["messages"] == 1


async def test_a_message_naming_more_addresses_than_are_indexed_is_read_again_in_full(client, auth, pool, monkeypatch):
    monkeypatch.setattr(mentions, "MAX_CANDIDATES", 5)
    listing = "\n".join(f"person{n}@example.net" for n in range(20)) + f"\n{WRITTEN}\n"
    [listed, other] = await post_all(pool, [plain("An <an@example.net>", "lijst", listing, 11),
                                            plain("Els <els@example.net>", "lijst", listing.replace(WRITTEN, ""), 12)])
    access = await (await client.get(f"/v1/subjects/{ADDRESS}", headers=auth)).json()
    assert [m["id"] for m in access["messages"]] == [listed]
    assert await pool.fetchval("SELECT count(*) FROM message_mentions WHERE mentions @> ARRAY[''::bytea]") == 2
    assert (await erase(client, auth))["removed"]["messages"] == 1
    assert [str(r["id"]) for r in await pool.fetch("SELECT id FROM inbound_messages")] == [other]


async def test_erasure_removes_the_queued_copies_to_and_about_them_and_the_known_address(client, auth, pool, settings):
    async with pool.acquire() as conn:
        await remember_addresses(conn, [ADDRESS, "els@example.net"], "link", KeyedHash(settings.hash_key).pads)
        await outbox_queries.queue_gateway_message(conn, plain("info@cetit.be", "Nieuws", "Hallo", 7),
                                                   [(ADDRESS, WRITTEN, "bounces+x@cetit.be")], "newsletter")
        await outbox_queries.queue_gateway_message(
            conn, encoded("info@cetit.be", "base64", base64.encodebytes(f"Zoals {WRITTEN} zei".encode()), 8),
            [("els@example.net", "els@example.net", "bounces+y@cetit.be")], "newsletter")
        await outbox_queries.queue_gateway_message(conn, plain("info@cetit.be", "N", "Hoi", 9),
                                                   [("els@example.net", "els@example.net", "bounces+z@cetit.be")],
                                                   "newsletter")
    assert (await erase(client, auth))["removed"]["outgoing"] == 2
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 1
    assert await pool.fetchval("SELECT count(*) FROM outbox_bodies") == 1
    assert [r["address"] for r in await pool.fetch("SELECT address FROM known_addresses")] == ["els@example.net"]
    assert await clear_traces(pool, ADDRESS) == []


async def test_a_one_click_on_an_old_link_after_erasure_stores_nothing_in_clear(client, auth, pool):
    links = await (await client.post("/v1/links", json={"recipients": [{"email": WRITTEN, "scope": "newsletter"}]},
                                     headers=auth)).json()
    url = links["links"][0]["url"].split("/u/", 1)[1]
    await erase(client, auth)
    response = await client.post(f"/u/{url}", data="List-Unsubscribe=One-Click",
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status == 200
    old = TokenSigner(["old-key-" + "o" * 24], timedelta(days=1)).sign(ADDRESS, "events")
    response = await client.post(f"/u/{old}", data="List-Unsubscribe=One-Click",
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status == 200
    assert await clear_traces(pool, ADDRESS) == []
    assert await blocked(client, auth)


async def test_the_old_link_of_an_erased_address_cannot_subscribe_it_again(client, auth, pool):
    links = await (await client.post("/v1/links", json={"recipients": [{"email": WRITTEN, "scope": "newsletter"}]},
                                     headers=auth)).json()
    token = links["links"][0]["url"].split("/u/", 1)[1]
    clicked = await client.post(f"/u/{token}", data="List-Unsubscribe=One-Click",
                                headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert clicked.status == 200
    await erase(client, auth)
    undone = await client.post(f"/u/{token}/resubscribe", data={"scope": "newsletter"})
    assert undone.status == 403 and "jan" not in (await undone.text()).lower()
    page = await client.get(f"/u/{token}")
    assert page.status == 200 and "jan" not in (await page.text()).lower()
    assert await clear_traces(pool, ADDRESS) == []
    assert await blocked(client, auth)


async def test_an_import_and_new_links_after_erasure_store_nothing_in_clear(client, auth, pool):
    await erase(client, auth)
    imported = await client.post("/v1/suppressions/import", data=f"email,scope\n{WRITTEN},newsletter\n".encode(),
                                 headers={**auth, "Content-Type": "text/csv"})
    assert imported.status == 200 and (await imported.json())["imported"] == 0
    links = await client.post("/v1/links", json={"recipients": [{"email": WRITTEN, "scope": "newsletter"}]},
                              headers=auth)
    assert links.status == 200
    assert await clear_traces(pool, ADDRESS) == []
    assert await blocked(client, auth)


async def test_an_api_suppression_or_lift_of_an_erased_address_writes_nothing_in_clear(client, auth, pool):
    await erase(client, auth)
    put = await client.put(f"/v1/suppressions/{WRITTEN}", json={"scope": "events", "reason": "manual",
                                                                "source": "phone", "note": "called"}, headers=auth)
    assert put.status == 200 and (await put.json())["reason"] == "unsubscribe"
    lifted = await client.delete(f"/v1/suppressions/{ADDRESS}", params={"scope": "global"},
                                 json={"evidence": "asked again", "force": True}, headers=auth)
    assert lifted.status in (404, 409)
    assert await clear_traces(pool, ADDRESS) == []
    assert await blocked(client, auth)


async def test_suppress_given_the_key_writes_nothing_for_an_erased_address_and_lift_refuses(client, auth, pool, settings):
    await client.put(f"/v1/suppressions/{ADDRESS}", json={"reason": "complaint", "source": "arf"}, headers=auth)
    await erase(client, auth)
    keyed_hash = KeyedHash(settings.hash_key)
    async with pool.acquire() as conn:
        created, item = await suppression_list.suppress(conn, WRITTEN, "global", "bounce", "dsn", keyed_hash=keyed_hash)
        assert created is False and (item.scope, item.reason) == ("global", "complaint")
        with pytest.raises(Conflict):
            await suppression_list.lift(conn, ADDRESS, "global", "asked again", True, "staff", keyed_hash=keyed_hash)
        created, _ = await suppression_list.suppress(conn, "els@example.net", "global", "bounce", "dsn", keyed_hash=keyed_hash)
        assert created is True
    assert await clear_traces(pool, ADDRESS) == []


async def test_a_bounce_after_erasure_suppresses_no_one_in_clear(client, auth, pool, settings, worker):
    async with pool.acquire() as conn:
        await remember_addresses(conn, [ADDRESS], "link", KeyedHash(settings.hash_key).pads)
    await erase(client, auth)
    [bounce] = await post_all(pool, [bounce_for(WRITTEN)])
    await drain(worker)
    assert await pool.fetchval("SELECT status FROM inbound_messages WHERE id = $1::uuid", bounce) == "processed"
    assert await clear_traces(pool, ADDRESS, kept_messages=(bounce,)) == []
    assert (await erase(client, auth))["removed"]["messages"] == 1
    assert await clear_traces(pool, ADDRESS) == []


async def test_mail_from_the_person_after_erasure_is_kept_but_writes_no_suppression_or_event(
        client, auth, pool, worker):
    await erase(client, auth)
    [reply] = await post_all(pool, [reply_from(WRITTEN)])
    await drain(worker)
    row = await pool.fetchrow("SELECT status, classification, raw IS NOT NULL AS kept FROM inbound_messages")
    assert row["kept"] and row["classification"] == "unsubscribe"
    assert await clear_traces(pool, ADDRESS, kept_messages=(reply,)) == []
    assert await pool.fetchval("SELECT count(*) FROM suppressions") == 0
    assert [r["type"] for r in await pool.fetch("SELECT type FROM events")] == ["erased"]
    assert await blocked(client, auth)
    assert (await erase(client, auth))["removed"]["messages"] == 1
    assert await clear_traces(pool, ADDRESS) == []


async def test_the_erasure_event_names_no_address_and_the_hash_is_keyed(client, auth, pool, settings):
    await erase(client, auth)
    [event] = await pool.fetch("SELECT address, type, detail FROM events")
    assert event["address"] is None and event["type"] == "erased" and ADDRESS not in str(event["detail"])
    assert await pool.fetchval("SELECT address_hmac FROM erased_addresses") == KeyedHash(settings.hash_key).of(ADDRESS)


def token_reply(settings, number: int) -> bytes:
    """A reply from another mailbox whose subject carries the link token of ADDRESS: the
    address is nowhere in the message as text, yet reading it names the person."""
    token = TokenSigner(list(settings.secret_keys), timedelta(days=90)).sign(ADDRESS, "newsletter")
    return plain("Alias <alias@example.net>", f"unsubscribe {token}", "graag", 100 + number)


async def test_a_message_read_after_the_erasure_does_not_name_the_erased_address(client, auth, pool, settings, worker):
    await post_all(pool, [token_reply(settings, 1)])  # received before the erasure, read after it
    await erase(client, auth)
    await drain(worker)
    assert await pool.fetchval("SELECT status FROM inbound_messages") in ("processed", "held", "forwarded")
    assert await clear_traces(pool, ADDRESS) == []
    assert await blocked(client, auth)


async def test_a_message_indexed_before_it_was_read_is_found_by_a_later_erasure(client, auth, pool, settings, worker):
    await post_all(pool, [token_reply(settings, 2)])
    async with pool.acquire() as conn:
        await mentions.index_messages(conn, KeyedHash(settings.hash_key))  # as any access or erasure does
    await drain(worker)
    assert await clear_traces(pool, ADDRESS) != []  # reading it named the person
    assert (await erase(client, auth))["removed"]["messages"] == 1
    assert await clear_traces(pool, ADDRESS) == []


async def test_a_suppression_written_while_an_erasure_runs_is_erased_too(pool, settings):
    keyed_hash = KeyedHash(settings.hash_key)
    erasing, writing = await pool.acquire(), await pool.acquire()
    try:
        transaction = erasing.transaction()
        await transaction.start()
        await erasure.erase(erasing, keyed_hash, ADDRESS, "staff")
        racing = asyncio.ensure_future(suppression_list.suppress(writing, WRITTEN, "global", "manual", "api", keyed_hash=keyed_hash))
        await asyncio.sleep(0.3)  # the write has begun and waits, or is done
        await transaction.commit()
        created, item = await racing
    finally:
        await pool.release(erasing)
        await pool.release(writing)
    assert created is False and item.scope == "global"
    assert await clear_traces(pool, ADDRESS) == []
