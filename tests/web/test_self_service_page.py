"""The person's own page: what it shows, its export, that a GET changes nothing, and each action
with and without the page's CSRF field, under the consent rules."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from service.domain.consent.rules import due_date
from service.domain.suppressions.keyed_hash import KeyedHash
from tests.web.self_service_helpers import KNOWN, open_page

LABELS = {"nl": "Nieuwsbrief", "en": "Newsletter", "fr": "Lettre d'information"}
TABLES = ("suppressions", "events", "consents", "privacy_requests", "erased_addresses")


async def register(client, auth, scope="newsletter", consent="none"):
    labels = {k: v if scope == "newsletter" else scope.title() for k, v in LABELS.items()}
    response = await client.put(f"/v1/scopes/{scope}", headers=auth, json={"labels": labels, "consent": consent})
    assert response.status in (200, 201)


async def snapshot(pool) -> dict:
    return {table: await pool.fetch(f"SELECT * FROM {table} ORDER BY 1") for table in TABLES}


async def allowed(client, auth, scope, email=KNOWN):
    body = await (await client.get("/v1/check", headers=auth, params={"email": email, "scope": scope})).json()
    return body["allowed"], body.get("reason")


async def test_the_page_shows_suppressions_consents_history_and_open_requests_in_plain_words(client, auth, pool):
    await register(client, auth)
    await client.put(f"/v1/suppressions/{KNOWN}", headers=auth,
                     json={"scope": "newsletter", "reason": "unsubscribe", "source": "api"})
    await pool.execute("INSERT INTO privacy_requests (kind, address, received_at, due) VALUES "
                       "('access', $1, now(), current_date + 30)", KNOWN)
    path, _ = await open_page(client, auth, pool)
    text = await (await client.get(path + "?lang=en")).text()
    assert KNOWN in text and "Newsletter: you unsubscribed, since" in text
    assert "access, received on" in text and "unsubscribed or blocked" in text
    assert "<script" not in text and "http" not in text.replace("http-equiv", "")


async def test_get_and_the_export_change_nothing(client, auth, pool):
    path, _ = await open_page(client, auth, pool)
    before = await snapshot(pool)
    for _ in range(2):
        assert (await client.get(path)).status == 200
        assert (await client.get(path + "/export.json")).status == 200
        assert (await client.head(path)).status == 200
    assert await snapshot(pool) == before


async def test_the_export_equals_the_subject_access_of_the_api(client, auth, pool):
    await register(client, auth)
    path, csrf = await open_page(client, auth, pool)
    await client.post(path, data={"csrf": csrf, "action": "subscribe", "scope": "newsletter"})
    export = await client.get(path + "/export.json")
    assert export.status == 200 and "attachment" in export.headers["Content-Disposition"]
    api = await client.get(f"/v1/subjects/{KNOWN}", headers=auth)
    assert await export.json() == await api.json()


@pytest.mark.parametrize("form", [
    {"action": "unsubscribe", "scope": "global"},
    {"action": "subscribe", "scope": "newsletter"},
    {"action": "correct", "text": "My name is spelled Jan, not Jean."},
    {"action": "erase", "confirm": "yes"},
], ids=lambda form: form["action"])
async def test_every_action_without_the_csrf_field_changes_nothing(client, auth, pool, form):
    await register(client, auth)
    path, csrf = await open_page(client, auth, pool)
    before = await snapshot(pool)
    for sent in ({}, {"csrf": ""}, {"csrf": csrf[:-1] + ("A" if csrf[-1] != "A" else "B")}):
        response = await client.post(path, data={**form, **sent})
        assert response.status == 403 and "Er is niets veranderd" in await response.text()
    assert await snapshot(pool) == before


async def test_unsubscribe_is_a_one_click_by_the_recipient_on_the_own_page(client, auth, pool):
    await register(client, auth)
    path, csrf = await open_page(client, auth, pool)
    response = await client.post(path, data={"csrf": csrf, "action": "unsubscribe", "scope": "newsletter",
                                             "lang": "en"})
    assert response.status == 200 and "no longer receives: Newsletter" in await response.text()
    row = await pool.fetchrow("SELECT reason, source FROM suppressions WHERE address = $1", KNOWN)
    assert (row["reason"], row["source"]) == ("unsubscribe", "self_service")
    event = await pool.fetchrow("SELECT actor, source FROM events WHERE type = 'suppressed'")
    assert (event["actor"], event["source"]) == ("recipient", "self_service")
    assert await allowed(client, auth, "newsletter") == (False, "unsubscribe")
    unregistered = await client.post(path, data={"csrf": csrf, "action": "unsubscribe", "scope": "made-up"})
    assert unregistered.status == 400


async def test_subscribe_lifts_the_persons_own_unsubscribe_with_a_confirmed_consent(client, auth, pool):
    await register(client, auth, "newsletter", consent="required")
    path, csrf = await open_page(client, auth, pool)
    await client.post(path, data={"csrf": csrf, "action": "unsubscribe", "scope": "global"})
    assert await allowed(client, auth, "newsletter") == (False, "unsubscribe")
    response = await client.post(path, data={"csrf": csrf, "action": "subscribe", "scope": "newsletter", "lang": "en"})
    assert response.status == 200 and "will now receive: Newsletter" in await response.text()
    assert await allowed(client, auth, "newsletter") == (True, None)
    consent = await pool.fetchrow("SELECT * FROM consents WHERE address = $1", KNOWN)
    assert consent["source"] == "self_service" and consent["confirmed_at"] is not None
    assert consent["text"] == "I want to receive Newsletter from CETIT at this address."
    assert consent["actor"] == "recipient"


@pytest.mark.parametrize("reason", ["bounce", "complaint", "manual"])
async def test_subscribe_never_lifts_a_bounce_a_complaint_or_a_manual_suppression(client, auth, pool, reason):
    await register(client, auth)
    path, csrf = await open_page(client, auth, pool)
    await client.put(f"/v1/suppressions/{KNOWN}", headers=auth,
                     json={"scope": "global", "reason": reason, "source": "api"})
    response = await client.post(path, data={"csrf": csrf, "action": "subscribe", "scope": "newsletter"})
    assert response.status == 409 and "text/html" in response.content_type
    assert await pool.fetchval("SELECT count(*) FROM consents") == 0
    assert (await allowed(client, auth, "newsletter"))[0] is False


async def test_correct_creates_a_correction_request_due_in_a_month(client, auth, pool):
    path, csrf = await open_page(client, auth, pool)
    response = await client.post(path, data={"csrf": csrf, "action": "correct", "text": "Spell my name Jan."})
    assert response.status == 200
    listed = (await (await client.get("/v1/requests?status=open", headers=auth)).json())["requests"]
    assert [(r["kind"], r["email"]) for r in listed] == [("correction", KNOWN)]
    assert listed[0]["due"] == due_date(datetime.now(timezone.utc)).isoformat()
    assert await pool.fetchval("SELECT text FROM privacy_requests") == "Spell my name Jan."
    assert await pool.fetchval("SELECT actor FROM events WHERE type = 'request'") == "recipient"
    empty = await client.post(path, data={"csrf": csrf, "action": "correct", "text": "  "})
    assert empty.status == 400


async def test_staff_read_the_words_of_a_correction_in_the_console(client, auth, pool, staff):
    path, csrf = await open_page(client, auth, pool)
    await client.post(path, data={"csrf": csrf, "action": "correct", "text": "Spell my name <Jan>."})
    request_id = await pool.fetchval("SELECT id FROM privacy_requests")
    page = await staff.get(f"/staff/requests/{request_id}")
    text = await page.text()
    assert page.status == 200 and "Asked on the own page" in text and "Spell my name &lt;Jan&gt;." in text
    listed = (await (await client.get("/v1/requests", headers=auth)).json())["requests"]
    assert listed[0]["text"] == "Spell my name <Jan>."


async def test_erase_needs_its_confirmation(client, auth, pool):
    path, csrf = await open_page(client, auth, pool)
    before = await snapshot(pool)
    response = await client.post(path, data={"csrf": csrf, "action": "erase"})
    assert response.status == 400
    assert await snapshot(pool) == before


async def test_erase_leaves_no_trace_in_clear_and_a_closed_request_that_names_no_one(client, auth, pool):
    await register(client, auth)
    path, csrf = await open_page(client, auth, pool)
    await client.post(path, data={"csrf": csrf, "action": "subscribe", "scope": "newsletter"})
    await client.post(path, data={"csrf": csrf, "action": "correct", "text": "Spell my name Jan."})
    response = await client.post(path, data={"csrf": csrf, "action": "erase", "confirm": "yes", "lang": "en"})
    text = await response.text()
    assert response.status == 200 and "Everything was erased" in text and KNOWN not in text and "j…@" not in text
    for table in ("suppressions", "events", "consents", "privacy_requests", "known_addresses", "outbox",
                  "inbound_messages", "self_service_asks", "self_service_clients", "self_service_uses"):
        rows = await pool.fetch(f"SELECT * FROM {table}")
        assert not any("example.be" in str(dict(row)) for row in rows), table
    closed = await pool.fetch("SELECT kind, status, address FROM privacy_requests WHERE kind = 'erasure'")
    assert [tuple(r) for r in closed] == [("erasure", "closed", None)]
    assert await pool.fetchval("SELECT source FROM events WHERE type = 'erased'") == "self_service"
    assert await allowed(client, auth, "newsletter") == (False, "unsubscribe")
    assert (await client.get(path)).status == 400  # the link names no one any more


async def test_the_page_reads_no_stored_message_and_writes_nothing(client, auth, pool):
    """A stranger's huge message is not read, nor indexed, when the page is viewed (the page shows none)."""
    import uuid
    path, _ = await open_page(client, auth, pool)
    raw = "From: x@example.org\r\nTo: " + ", ".join(f"a{i}@example.org" for i in range(2000)) + "\r\n\r\nhi\r\n"
    await pool.execute("""INSERT INTO inbound_messages (via, raw, size, dedup_key, status)
                          VALUES ('http', $1, $2, $3, 'processed')""", raw.encode(), len(raw), str(uuid.uuid4()))
    before = await pool.fetchval("SELECT count(*) FROM message_mentions")
    for _ in range(2):
        assert (await client.get(path)).status == 200
        assert (await client.head(path)).status == 200
    assert await pool.fetchval("SELECT count(*) FROM message_mentions") == before


async def test_the_page_shows_the_recent_history_only(client, auth, pool):
    from service.domain.self_service.own_page import HISTORY_SHOWN
    path, _ = await open_page(client, auth, pool)
    await pool.execute("""INSERT INTO events (address, type, scope, reason, source, actor)
                          SELECT $1, 'suppressed', 'global', 'unsubscribe', 'api', 'test'
                            FROM generate_series(1, $2)""", KNOWN, HISTORY_SHOWN + 50)
    text = await (await client.get(path + "?lang=en")).text()
    history = text.split('<ul class="held">')[1].split("</ul>")[0]
    assert history.count("<li>") == HISTORY_SHOWN


async def test_at_most_three_exports_an_hour_per_person(client, auth, pool):
    path, _ = await open_page(client, auth, pool)
    statuses = [(await client.get(path + "/export.json?lang=en")).status for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    refused = await client.get(path + "/export.json?lang=en")
    assert "Try again after" in await refused.text() and 0 < int(refused.headers["Retry-After"]) <= 3600
    assert (await client.get(path)).status == 200  # the page itself stays open


async def test_the_export_lists_the_messages_without_holding_a_connection_while_they_are_parsed(
        client, auth, pool, dsn, settings, monkeypatch):
    """Equal to GET /v1/subjects with a message about the person, and each parse runs with every
    connection of a pool of one given back (else the probe could not take it)."""
    import asyncio
    import uuid
    from service.domain.inbound import mentions
    from service.storage.db import create_pool
    path, _ = await open_page(client, auth, pool)
    raw = f"From: {KNOWN}\r\nTo: staff@cetit.example\r\nSubject: hi\r\n\r\nplease\r\n"
    for text in (raw, "From: x@example.org\r\nTo: y@example.org\r\n\r\n" + f"{KNOWN}\r\n"):
        await pool.execute("""INSERT INTO inbound_messages (via, raw, size, dedup_key, status)
                              VALUES ('http', $1, $2, $3, 'processed')""", text.encode(), len(text), str(uuid.uuid4()))
    small = await create_pool(dsn, min_size=1, max_size=1)
    parses, to_thread = [], asyncio.to_thread

    async def probed(function, *args):
        async with small.acquire(timeout=2):
            parses.append(function.__name__)
        return await to_thread(function, *args)
    monkeypatch.setattr(mentions.asyncio, "to_thread", probed)
    try:
        found = await mentions.messages_mentioning_from(small, KeyedHash(settings.hash_key), KNOWN)
    finally:
        await small.close()
    assert len(found) == 2 and parses
    monkeypatch.setattr(mentions.asyncio, "to_thread", to_thread)
    export = await client.get(path + "/export.json")
    api = await client.get(f"/v1/subjects/{KNOWN}", headers=auth)
    body = await export.json()
    assert len(body["messages"]) == 2 and body == await api.json()


async def test_at_most_three_corrections_a_day_per_address_whichever_link(client, auth, pool):
    path, csrf = await open_page(client, auth, pool)
    answers = [await client.post(path, data={"csrf": csrf, "action": "correct", "text": f"Fix {i}.", "lang": "en"})
               for i in range(4)]
    assert [a.status for a in answers] == [200, 200, 200, 429]
    text = await answers[-1].text()
    assert "Try again after" in text and 80_000 < int(answers[-1].headers["Retry-After"]) <= 86_400
    other, other_csrf = await open_page(client, auth, pool)  # a new link counts for the same address
    again = await client.post(other, data={"csrf": other_csrf, "action": "correct", "text": "Fix 5."})
    assert again.status == 429
    assert await pool.fetchval("SELECT count(*) FROM privacy_requests WHERE kind = 'correction'") == 3


async def test_an_empty_correction_is_not_counted(client, auth, pool):
    path, csrf = await open_page(client, auth, pool)
    for _ in range(3):
        assert (await client.post(path, data={"csrf": csrf, "action": "correct", "text": " "})).status == 400
    assert (await client.post(path, data={"csrf": csrf, "action": "correct", "text": "Jan."})).status == 200


async def test_at_most_thirty_actions_an_hour_per_person(client, auth, pool):
    path, csrf = await open_page(client, auth, pool)
    form = {"csrf": csrf, "action": "unsubscribe", "scope": "global", "lang": "en"}
    statuses = [(await client.post(path, data=form)).status for _ in range(31)]
    assert statuses == [200] * 30 + [429]
    refused = await client.post(path, data=form)
    assert "Try again after" in await refused.text() and 0 < int(refused.headers["Retry-After"]) <= 3600
    erase = await client.post(path, data={"csrf": csrf, "action": "erase", "confirm": "yes"})
    assert erase.status == 429 and await pool.fetchval("SELECT count(*) FROM erased_addresses") == 0


async def test_counted_uses_older_than_the_longest_window_are_forgotten(client, auth, pool):
    await pool.execute("""INSERT INTO self_service_uses (key_hmac, kind, at)
                          VALUES ('\\x00', 'correction', now() - interval '3 days')""")
    path, csrf = await open_page(client, auth, pool)
    assert (await client.post(path, data={"csrf": csrf, "action": "unsubscribe", "scope": "global"})).status == 200
    assert await pool.fetchval("SELECT count(*) FROM self_service_uses WHERE at < now() - interval '2 days'") == 0
    assert await pool.fetchval("SELECT count(*) FROM self_service_uses") == 1
