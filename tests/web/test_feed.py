"""GET /v1/events/feed: every published event once, in commit order, late commits included;
and every event names its actor."""

import asyncio
import base64
import io
import json
import os
from datetime import timedelta

import pytest

from service.domain.events.model import PUBLIC_TYPE
from service.domain.tokens import TokenSigner
from tests.conftest import make_key
from tests.test_cli import optout


async def settled(pool) -> None:
    """Wait until no transaction older than the newest event is running anywhere on the server
    (another test run may hold one open for a moment): the feed lists events only from then on."""
    for _ in range(600):
        if await pool.fetchval("SELECT coalesce(max(tx), '0') < pg_snapshot_xmin(pg_current_snapshot()) FROM events"):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("a transaction on the database server stayed open for 30 s")


async def feed(client, auth, **params) -> tuple[int, dict]:
    response = await client.get("/v1/events/feed", params=params, headers=auth)
    return response.status, await response.json()


async def read_to_the_end(client, auth, after=None, limit=2) -> tuple[list[dict], str]:
    events, params = [], {"limit": limit, **({"after": after} if after else {})}
    while True:
        status, page = await feed(client, auth, **params)
        assert status == 200 and len(page["events"]) <= limit
        if not page["events"]:
            assert page["next"] == params.get("after", page["next"])
            return events, page["next"]
        events += page["events"]
        params["after"] = page["next"]


async def put(client, auth, email, scope="global"):
    response = await client.put(f"/v1/suppressions/{email}", json={"scope": scope}, headers=auth)
    assert response.status in (200, 201)


async def test_the_feed_pages_to_its_end_with_each_event_once_in_commit_order(client, auth, pool):
    await pool.execute("""INSERT INTO events (address, type, scope, reason, source, tx)
                          VALUES ('old1@example.be', 'suppressed', 'global', 'manual', 'phone', NULL),
                                 ('old2@example.be', 'suppressed', 'global', 'manual', 'phone', NULL)""")
    for n in range(5):
        await put(client, auth, f"p{n}@example.be", "newsletter")
    await pool.execute("INSERT INTO events (address, type) VALUES ('p1@example.be', 'not_published')")
    lifted = await client.delete("/v1/suppressions/p2@example.be", params={"scope": "newsletter"},
                                 json={"evidence": "asked on the phone"}, headers=auth)
    assert lifted.status == 200
    await settled(pool)
    events, end = await read_to_the_end(client, auth)
    expected = await pool.fetch("SELECT id FROM events WHERE type = ANY($1::text[]) ORDER BY tx NULLS FIRST, id",
                                list(PUBLIC_TYPE))
    assert [e["id"] for e in events] == [f"evt_{r['id']}" for r in expected]
    assert [e["data"]["email"] for e in events][:2] == ["old1@example.be", "old2@example.be"]
    assert [e["type"] for e in events][-1] == "suppression.lifted" and len(events) == 8
    assert all(set(e) == {"id", "type", "at", "data"} for e in events)
    await put(client, auth, "later@example.be")
    await settled(pool)
    newer, _ = await read_to_the_end(client, auth, after=end, limit=100)
    assert [e["data"]["email"] for e in newer] == ["later@example.be"]


async def test_a_transaction_that_commits_late_still_comes_after_a_cursor_taken_before(client, auth, pool):
    await put(client, auth, "before@example.be")
    await settled(pool)
    _, cursor = await read_to_the_end(client, auth)
    async with pool.acquire() as slow:
        writing = slow.transaction()
        await writing.start()
        await slow.execute("INSERT INTO events (address, type, scope, reason, source) "
                           "VALUES ('slow@example.be', 'suppressed', 'global', 'manual', 'api')")
        await put(client, auth, "quick@example.be")  # begun after the slow one, committed before it
        seen_meanwhile, cursor_meanwhile = await read_to_the_end(client, auth, after=cursor)
        await writing.commit()
    await settled(pool)
    assert seen_meanwhile == []
    after, _ = await read_to_the_end(client, auth, after=cursor_meanwhile)
    assert [e["data"]["email"] for e in after] == ["slow@example.be", "quick@example.be"]


async def test_an_erased_address_appears_nowhere_and_its_erasure_names_no_one(client, auth, pool):
    await put(client, auth, "jan@example.be")
    await put(client, auth, "jan@example.be", "events")
    await put(client, auth, "els@example.be")
    erased = await client.post("/v1/erasure", json={"email": "jan@example.be"}, headers=auth)
    assert erased.status == 200
    await settled(pool)
    events, _ = await read_to_the_end(client, auth, limit=1000)
    assert "jan@example.be" not in json.dumps(events)
    assert [(e["type"], e["data"].get("email")) for e in events] == [
        ("suppression.created", "els@example.be"), ("subject.erased", None)]
    assert "email" not in events[-1]["data"] and events[-1]["data"]["actor"] == "admin"


@pytest.mark.parametrize("after", [
    "nope!", "MTo", base64.urlsafe_b64encode(b"1:2:3").decode(), base64.urlsafe_b64encode(b"01:2").decode(),
    base64.urlsafe_b64encode(b"-1:2").decode(), "MDow=", "MDow\n", "évt", base64.urlsafe_b64encode(b"1:" + b"9" * 19).decode(),
])
async def test_a_cursor_this_service_did_not_give_out_is_a_400(client, auth, after):
    status, body = await feed(client, auth, after=after)
    assert status == 400 and body["error"]["code"] == "invalid_input" and body["error"]["field"] == "after"


@pytest.mark.parametrize("limit", ["0", "1001", "ten"])
async def test_a_limit_outside_1_to_1000_is_a_400(client, auth, limit):
    assert (await feed(client, auth, limit=limit))[0] == 400


async def test_an_empty_feed_answers_a_cursor_to_ask_again_with(client, auth):
    status, page = await feed(client, auth)
    assert status == 200 and page["events"] == [] and page["next"]
    assert await feed(client, auth, after=page["next"]) == (200, page)


async def test_the_feed_needs_a_key_with_scope_check(client, pool):
    assert (await client.get("/v1/events/feed")).status == 401
    links_only = {"Authorization": f"Bearer {await make_key(pool, 'links')}"}
    assert (await client.get("/v1/events/feed", headers=links_only)).status == 403
    checker = {"Authorization": f"Bearer {await make_key(pool, 'check')}"}
    assert (await client.get("/v1/events/feed", headers=checker)).status == 200


async def test_an_import_is_one_published_event_whose_cursor_leads_to_its_rows(client, auth, pool):
    created = await client.post("/v1/webhooks", headers=auth, json={
        "url": "https://crm.example.be/hooks", "events": ["suppression.created", "suppression.imported"]})
    assert created.status == 201
    await put(client, auth, "already@example.be")
    body = b"email,scope\nnew1@example.be,events\nnot an address\nalready@example.be\nnew2@example.be\n"
    response = await client.post("/v1/suppressions/import", data=io.BytesIO(body),
                                 headers={**auth, "Content-Type": "text/csv"})
    assert response.status == 200
    await put(client, auth, "after@example.be")
    await settled(pool)
    events, _ = await read_to_the_end(client, auth, limit=1000)
    [imported] = [e for e in events if e["type"] == "suppression.imported"]
    data = imported["data"]
    assert {k: data[k] for k in ("imported", "already", "invalid", "actor")} == {
        "imported": 2, "already": 1, "invalid": 1, "actor": "admin"}
    assert "email" not in data
    following, _ = await read_to_the_end(client, auth, after=data["cursor"], limit=1)
    assert [(e["type"], e["data"].get("email"), e["data"]["actor"]) for e in following] == [
        ("suppression.created", "new1@example.be", "admin"), ("suppression.created", "new2@example.be", "admin"),
        ("suppression.imported", None, "admin"), ("suppression.created", "after@example.be", "admin")]
    deliveries = await pool.fetch("SELECT e.type FROM outbox o JOIN events e ON e.id = o.event_id ORDER BY o.id")
    assert [r["type"] for r in deliveries] == ["suppressed", "imported", "suppressed"]  # no delivery per row


async def test_an_import_that_adds_nothing_publishes_nothing(client, auth, pool):
    response = await client.post("/v1/suppressions/import", data=io.BytesIO(b"not an address\n"),
                                 headers={**auth, "Content-Type": "text/csv"})
    assert (await response.json())["imported"] == 0
    await settled(pool)
    assert (await read_to_the_end(client, auth))[0] == []


@pytest.fixture
def env(dsn, tmp_path):
    return {**os.environ, "DATABASE_URL": dsn, "OPTOUT_VAR_DIR": str(tmp_path / "var"),
            "OPTOUT_SECRET_KEYS": "new-key-" + "n" * 24, "OPTOUT_HASH_KEY": "h" * 32}


async def test_every_event_names_its_actor(client, pool, env, settings, tmp_path):
    crm = {"Authorization": f"Bearer {await make_key(pool, 'write', 'check', name='crm')}"}
    await put(client, crm, "api@example.be")
    token = TokenSigner(list(settings.secret_keys), timedelta(days=90)).sign("link@example.be", "newsletter", None)
    clicked = await client.post(f"/u/{token}", data="List-Unsubscribe=One-Click",
                                headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert clicked.status == 200
    undone = await client.post(f"/u/{token}/resubscribe", data={"scope": "newsletter"})
    assert undone.status == 200
    done = await asyncio.to_thread(optout, ["suppress", "cli@example.be", "--scope", "events"], env)
    assert done.returncode == 0, done.stderr
    source = tmp_path / "list.csv"
    source.write_text("imported@example.be\n")
    assert (await asyncio.to_thread(optout, ["import", str(source)], env)).returncode == 0
    await settled(pool)
    events, _ = await read_to_the_end(client, crm, limit=1000)
    assert [(e["type"], e["data"].get("email"), e["data"]["actor"]) for e in events] == [
        ("suppression.created", "api@example.be", "crm"),
        ("suppression.created", "link@example.be", "recipient"),
        ("suppression.lifted", "link@example.be", "recipient"),
        ("suppression.created", "cli@example.be", "cli"),
        ("suppression.created", "imported@example.be", "cli"),
        ("suppression.imported", None, "cli"),
    ]
    history = await (await client.get("/v1/events", params={"email": "link@example.be"}, headers=crm)).json()
    assert [(e["type"], e["actor"]) for e in history["events"]] == [
        ("suppressed", "recipient"), ("resubscribed", "recipient")]
