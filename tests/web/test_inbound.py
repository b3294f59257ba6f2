"""POST /v1/inbound and GET /v1/inbound/{id} over real HTTP and PostgreSQL."""

from __future__ import annotations

import dataclasses

import pytest

from service.app import create_app
from tests.conftest import make_key

RAW = b"From: jan@example.be\r\nTo: info@cetit.be\r\nSubject: vraag\r\nMessage-ID: <http-1@example.be>\r\n\r\nHallo?\r\n"
MESSAGE = {"Content-Type": "message/rfc822"}


@pytest.fixture
async def inbound_auth(pool) -> dict:
    return {"Authorization": f"Bearer {await make_key(pool, 'inbound', name='mailbox')}", **MESSAGE}


async def test_post_stores_and_answers_202_then_200_for_the_same_message_id(client, inbound_auth):
    first = await client.post("/v1/inbound", data=RAW, headers=inbound_auth)
    assert first.status == 202
    body = await first.json()
    assert body["status"] == "queued" and body["id"]
    again = await client.post("/v1/inbound", data=b"Received: from mx2 by mx1\r\n" + RAW, headers=inbound_auth)
    assert again.status == 200 and await again.json() == {"id": body["id"], "duplicate": True}
    shown = await client.get(f"/v1/inbound/{body['id']}", headers=inbound_auth)
    assert shown.status == 200
    assert {k: v for k, v in (await shown.json()).items() if k in ("id", "status", "classification", "addresses",
                                                                   "actions")} == {
        "id": body["id"], "status": "queued", "classification": None, "addresses": [], "actions": []}


async def test_a_different_message_that_reuses_a_message_id_is_kept_too(client, inbound_auth):
    first = await (await client.post("/v1/inbound", data=RAW, headers=inbound_auth)).json()
    other = await client.post("/v1/inbound", data=RAW.replace(b"Hallo?", b"Dag!"), headers=inbound_auth)
    assert other.status == 202 and (await other.json())["id"] != first["id"]


async def test_without_message_id_the_bytes_decide_what_is_a_duplicate(client, inbound_auth):
    raw = b"From: a@example.be\r\nSubject: x\r\n\r\nbody\r\n"
    ids = [(await (await client.post("/v1/inbound", data=data, headers=inbound_auth)).json())["id"]
           for data in (raw, raw, raw + b"more\r\n")]
    assert ids[0] == ids[1] != ids[2]


async def test_keys_need_the_inbound_scope(client, pool, auth):
    check_only = {"Authorization": f"Bearer {await make_key(pool, 'check')}", **MESSAGE}
    assert (await client.post("/v1/inbound", data=RAW, headers=check_only)).status == 403
    assert (await client.post("/v1/inbound", data=RAW, headers=MESSAGE)).status == 401
    posted = await client.post("/v1/inbound", data=RAW, headers={**auth, **MESSAGE})
    assert posted.status == 202
    assert (await client.get(f"/v1/inbound/{(await posted.json())['id']}", headers=check_only)).status == 403


async def test_bad_requests_are_4xx_with_a_json_error(client, inbound_auth):
    wrong_type = await client.post("/v1/inbound", data=RAW, headers={**inbound_auth, "Content-Type": "application/json"})
    assert wrong_type.status == 415
    empty = await client.post("/v1/inbound", data=b"  ", headers=inbound_auth)
    assert empty.status == 400 and (await empty.json())["error"]["code"]
    for missing in ("00000000-0000-0000-0000-000000000000", "not-a-uuid"):
        response = await client.get(f"/v1/inbound/{missing}", headers=inbound_auth)
        assert response.status == 404 and (await response.json())["error"]["code"] == "not_found"


async def test_a_message_over_the_size_limit_is_413(aiohttp_client, settings, pool, inbound_auth):
    small = await aiohttp_client(create_app(dataclasses.replace(settings, max_message_bytes=10_000), pool))
    response = await small.post("/v1/inbound", data=RAW + b"x" * 20_000, headers=inbound_auth)
    assert response.status == 413 and (await response.json())["error"]["code"] == "message_too_large"
    assert await pool.fetchval("SELECT count(*) FROM inbound_messages") == 0


async def test_the_same_message_with_an_extra_header_is_a_duplicate(client, pool):
    from tests.conftest import make_key

    key = await make_key(pool, "inbound")
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "message/rfc822"}
    raw = b"From: a@example.be\r\nTo: info@cetit.be\r\nSubject: vraag\r\nMessage-ID: <same-1@example.be>\r\n\r\nHallo\r\n"
    first = await client.post("/v1/inbound", data=raw, headers=headers)
    again = await client.post("/v1/inbound", data=b"X-Spam-Score: 1\r\n" + raw, headers=headers)
    assert first.status == 202 and again.status == 200
    assert (await again.json()) == {"id": (await first.json())["id"], "duplicate": True}


async def test_the_listing_pages_newest_first_to_its_end_and_filters_by_status(client, inbound_auth, pool):
    ids = []
    for n in range(5):
        raw = RAW.replace(b"<http-1@", f"<list-{n}@".encode()).replace(b"vraag", f"vraag {n}".encode())
        ids.append((await (await client.post("/v1/inbound", data=raw, headers=inbound_auth)).json())["id"])
    await pool.execute("UPDATE inbound_messages SET status = 'held' WHERE id = $1::uuid", ids[1])
    seen, cursor = [], None
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = await (await client.get("/v1/inbound", params=params, headers=inbound_auth)).json()
        seen += page["messages"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [m["id"] for m in seen] == list(reversed(ids))
    # Sender and subject are read by the worker: until then the listing has them as null.
    assert (seen[-1]["subject"], seen[-1]["sender"], seen[-1]["status"]) == (None, None, "queued")
    held = await (await client.get("/v1/inbound", params={"status": "held"}, headers=inbound_auth)).json()
    assert [m["id"] for m in held["messages"]] == [ids[1]] and held["next_cursor"] is None


@pytest.mark.parametrize("params", [{"status": "lost"}, {"cursor": "bm90LW91cnM"}, {"cursor": "%%%"},
                                    {"limit": "0"}, {"since": "yesterday"}, {"since": "2026-01-01T00:00:00"}])
async def test_a_bad_listing_query_is_a_400(client, inbound_auth, params):
    response = await client.get("/v1/inbound", params=params, headers=inbound_auth)
    assert response.status == 400 and (await response.json())["error"]["code"] == "invalid_input"


async def test_a_burst_of_posted_messages_logs_the_first_ones_then_how_many_more(client, inbound_auth, caplog):
    """A mailbox fetched at once posts hundreds: the first of a window are logged one by one,
    the rest told as a count when the window ends; every one of them is stored."""
    import asyncio
    import logging

    from service.web.keys import INBOUND_LOGGED

    burst = client.app[INBOUND_LOGGED]
    burst.each, burst.window = 3, 0.3
    with caplog.at_level(logging.INFO, logger="optout.inbound"):
        for n in range(8):
            raw = RAW.replace(b"Hallo?", f"Hallo {n}?".encode())
            posted = await client.post("/v1/inbound", data=raw, headers=inbound_auth)
            assert posted.status == 202
        await asyncio.sleep(0.5)
    lines = [r.getMessage() for r in caplog.records if r.name == "optout.inbound"]
    assert [line.split(": ", 1)[1] for line in lines[:3]] == [f"stored from http ({len(raw)} bytes) by mailbox"] * 3
    assert lines[3:] == ["inbound stored from http: 5 more in the last 0.3 s, not logged one by one"]
    listed = await client.get("/v1/inbound?limit=100", headers=inbound_auth)
    assert len((await listed.json())["messages"]) == 8
