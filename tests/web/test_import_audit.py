"""An import's rows are audited as a set (0024): no `events` row each, yet each imported
suppression reads as its own 'suppressed' event wherever the history is read (the address's
history, the GDPR access, the feed, the console's counts), keeps it when it is lifted, and leaves
nothing behind when the address is erased."""

from __future__ import annotations

import io

from service.domain.suppressions import reports
from tests.web.test_feed import read_to_the_end, settled

LIST = (b"email,scope,reason,source,note\n"
        b"an@example.be,global,unsubscribe,import,oude lijst\n"
        b"bo@example.be,newsletter,manual,phone,\n"
        b"cas@example.be,global,bounce,import,\n")


async def import_list(client, auth, body: bytes = LIST) -> dict:
    response = await client.post("/v1/suppressions/import", data=io.BytesIO(body),
                                 headers={**auth, "Content-Type": "text/csv"})
    assert response.status == 200
    return await response.json()


async def history(client, auth, email: str) -> list[dict]:
    response = await client.get("/v1/events", params={"email": email}, headers=auth)
    assert response.status == 200
    return (await response.json())["events"]


async def test_an_import_writes_one_event_yet_each_row_has_its_own_in_the_history(client, auth, pool):
    assert (await import_list(client, auth))["imported"] == 3
    assert await pool.fetchval("SELECT count(*) FROM events") == 1  # the import's own
    assert await pool.fetchval("SELECT type FROM events") == "imported"
    [event] = await history(client, auth, "bo@example.be")
    assert (event["type"], event["scope"], event["reason"], event["source"], event["actor"]) == (
        "suppressed", "newsletter", "manual", "phone", "admin")
    access = await (await client.get("/v1/subjects/an@example.be", headers=auth)).json()
    assert [e["type"] for e in access["events"]] == ["suppressed"]


async def test_a_lifted_imported_row_keeps_its_event_with_the_same_id_in_the_feed(client, auth, pool):
    await import_list(client, auth)
    await settled(pool)
    before, _ = await read_to_the_end(client, auth, limit=1000)
    answer = await client.delete("/v1/suppressions/an@example.be", params={"scope": "global"},
                                 json={"evidence": "Belde en wil de nieuwsbrief weer."}, headers=auth)
    assert answer.status == 200
    assert [e["type"] for e in await history(client, auth, "an@example.be")] == ["suppressed", "lifted"]
    await settled(pool)
    after, _ = await read_to_the_end(client, auth, limit=1000)
    assert after[:len(before)] == before  # what was read once reads the same: the same ids, in place
    assert [e["type"] for e in after[len(before):]] == ["suppression.lifted"]


async def test_an_erased_imported_address_leaves_no_trace(client, auth, pool):
    await import_list(client, auth)
    answer = await client.post("/v1/erasure", json={"email": "cas@example.be"}, headers=auth)
    assert answer.status == 200
    assert await pool.fetchval("SELECT count(*) FROM history WHERE address = 'cas@example.be'") == 0
    assert await pool.fetchval("SELECT count(*) FROM suppressions WHERE address = 'cas@example.be'") == 0
    await settled(pool)
    events, _ = await read_to_the_end(client, auth, limit=1000)
    assert all(e["data"].get("email") != "cas@example.be" for e in events)
    assert await history(client, auth, "cas@example.be") == []


async def test_the_console_counts_imported_rows_by_day(pool, client, auth):
    await import_list(client, auth)
    async with pool.acquire() as conn:
        activity = await reports.recent_activity(conn, 7)
    assert activity.total("unsubscribe") == 1 and activity.total("hard_bounce") == 1
    assert dict(activity.unsubscribes_by_source) == {"import": 1}
