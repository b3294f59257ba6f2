"""Retention: raw inbound messages are deleted OPTOUT_RETENTION_DAYS after processing, the record stays."""

from __future__ import annotations

import asyncio
import dataclasses
import re

import asyncpg

from service.domain.inbound import inbox
from service.storage import inbound_queries
from service.storage.db import transaction
from service.worker import Worker, WorkerConfig
from tests.conftest import make_key

FAST = WorkerConfig(idle_seconds=0.05, retry_seconds=0, retention_batch=500, retention_pause=0)
ACTIONS = [{"type": "suppressed", "email": "jan@example.be", "scope": "global", "reason": "unsubscribe",
            "source": "reply"}]


def message(number: int, sender: str = "jan@example.be") -> bytes:
    return (f"From: Jan <{sender}>\r\nTo: info@cetit.be\r\nSubject: uitschrijven {number}\r\n"
            f"Message-ID: <retention-{number}@example.be>\r\n\r\nGraag uitschrijven, {sender}.\r\n").encode()


async def stored(pool, status: str, days_ago: float | None, number: int = 1, sender: str = "jan@example.be") -> str:
    """A message stored as the receiver does, then set to `status`, processed `days_ago` days ago."""
    async with transaction(pool) as conn:
        message_id = (await inbox.store(conn, "smtp", message(number, sender), sender, ["info@cetit.be"])).id
        await conn.execute(
            """UPDATE inbound_messages
                  SET status = $2, classification = 'unsubscribe', addresses = $3, actions = $4::jsonb,
                      sender = $5, subject = 'uitschrijven',
                      processed_at = CASE WHEN $6::float8 IS NULL THEN NULL
                                          ELSE now() - make_interval(secs => $6::float8 * 86400) END
                WHERE id = $1""",
            message_id, status, [sender], ACTIONS, sender, days_ago)
    return str(message_id)


async def row_of(pool, message_id: str) -> asyncpg.Record:
    return await pool.fetchrow(
        """SELECT raw, raw_deleted_at, subject, status, classification, addresses, actions, sender, dedup_key
             FROM inbound_messages WHERE id = $1::uuid""", message_id)


async def purge(pool, settings, batch: int = 500) -> int:
    worker = Worker(pool, settings, dataclasses.replace(FAST, retention_batch=batch))
    return await worker.purge_expired_raw(asyncio.Event())


async def test_old_processed_and_forwarded_messages_lose_their_raw_bytes_but_keep_what_was_decided(pool, settings):
    processed = await stored(pool, "processed", 91, 1)
    forwarded = await stored(pool, "forwarded", 120, 2)
    assert await purge(pool, settings) == 2
    for message_id, status in ((processed, "processed"), (forwarded, "forwarded")):
        row = await row_of(pool, message_id)
        assert row["raw"] is None and row["raw_deleted_at"] is not None and row["subject"] is None
        assert (row["status"], row["classification"], list(row["addresses"]), row["actions"], row["sender"]) == (
            status, "unsubscribe", ["jan@example.be"], ACTIONS, "jan@example.be")


async def test_held_failed_queued_and_young_processed_messages_keep_their_raw_bytes(pool, settings):
    kept = [await stored(pool, "held", 200, 1), await stored(pool, "failed", 200, 2),
            await stored(pool, "queued", None, 3), await stored(pool, "processed", 89, 4),
            await stored(pool, "forwarded", 0, 5)]
    assert await purge(pool, settings) == 0
    for message_id in kept:
        row = await row_of(pool, message_id)
        assert row["raw"] is not None and row["raw_deleted_at"] is None and row["subject"] == "uitschrijven"


async def test_the_retention_period_follows_the_setting(pool, settings):
    message_id = await stored(pool, "processed", 8)
    assert await purge(pool, settings.with_overrides(retention_days=10)) == 0
    assert await purge(pool, settings.with_overrides(retention_days=7)) == 1
    assert (await row_of(pool, message_id))["raw"] is None


async def test_a_released_message_counts_as_processed_from_its_release(pool, settings):
    message_id = await stored(pool, "held", 200)
    async with pool.acquire() as conn:
        assert await inbound_queries.release_held(conn, inbox.parse_id(message_id), False, {"type": "released"})
    assert await purge(pool, settings) == 0
    assert (await row_of(pool, message_id))["raw"] is not None
    await pool.execute("UPDATE inbound_messages SET processed_at = now() - interval '91 days'")
    assert await purge(pool, settings) == 1


async def test_more_rows_than_one_batch_are_all_handled_in_one_pass(pool, settings):
    await pool.execute(
        """INSERT INTO inbound_messages (via, raw, size, dedup_key, status, classification, processed_at)
           SELECT 'smtp', convert_to('Subject: old ' || g, 'UTF8'), 20, 'sha256:old-' || g, 'processed', 'bounce',
                  now() - interval '100 days' - make_interval(secs => g)
             FROM generate_series(1, 1200) AS g""")
    assert await purge(pool, settings, batch=500) == 1200
    assert await pool.fetchval("SELECT count(*) FROM inbound_messages WHERE raw IS NOT NULL") == 0
    assert await pool.fetchval("SELECT count(*) FROM inbound_messages WHERE classification = 'bounce'") == 1200


async def test_a_batch_never_waits_on_a_row_another_transaction_holds(pool, settings):
    locked = await stored(pool, "processed", 100, 1)
    free = await stored(pool, "processed", 100, 2)
    async with pool.acquire() as holder:
        async with holder.transaction():
            await holder.execute("SELECT 1 FROM inbound_messages WHERE id = $1::uuid FOR UPDATE", locked)
            async with pool.acquire() as conn:
                deleted = await asyncio.wait_for(inbound_queries.delete_expired_raw(conn, 90, 500), 5)
            assert deleted == 1
    assert (await row_of(pool, free))["raw"] is None and (await row_of(pool, locked))["raw"] is not None
    assert await purge(pool, settings) == 1


async def test_the_retention_query_finds_its_candidates_through_the_partial_index(pool):
    async with pool.acquire() as conn:
        async with conn.transaction():
            await conn.execute("SET LOCAL enable_seqscan = off")
            plan = "\n".join(r[0] for r in await conn.fetch("EXPLAIN " + inbound_queries.DELETE_EXPIRED_RAW, 90, 500))
    assert "inbound_messages_raw_expiry" in plan


async def test_a_row_cannot_lose_its_raw_bytes_without_a_deletion_time(pool):
    message_id = await stored(pool, "processed", 1)
    try:
        await pool.execute("UPDATE inbound_messages SET raw = NULL WHERE id = $1::uuid", message_id)
    except asyncpg.CheckViolationError:
        pass
    else:
        raise AssertionError("raw bytes were cleared without raw_deleted_at")


async def test_the_running_worker_deletes_expired_raw_messages_on_its_own(pool, settings, caplog):
    caplog.set_level("INFO", logger="optout.worker")
    stop = asyncio.Event()
    task = asyncio.create_task(Worker(pool, settings, dataclasses.replace(FAST, retention_interval=0.1)).run(stop))
    try:
        await asyncio.sleep(0.2)  # the pass at start found nothing; the next passes must find these
        ids = [await stored(pool, "processed", 0, n) for n in range(3)]
        await pool.execute("UPDATE inbound_messages SET processed_at = now() - interval '100 days'")
        for _ in range(100):
            if await pool.fetchval("SELECT count(*) FROM inbound_messages WHERE raw IS NULL") == 3:
                break
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
    assert [(await row_of(pool, i))["raw"] for i in ids] == [None, None, None]
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("retention:")]
    assert "retention: deleted 3 raw message(s) processed more than 90 day(s) ago" in lines
    assert not any("jan@example.be" in line for line in lines)


async def test_a_database_error_in_retention_does_not_stop_the_queue(pool, settings, monkeypatch, caplog):
    async def broken(conn, older_than_days, limit):
        raise asyncpg.exceptions.UndefinedColumnError("column does not exist")

    monkeypatch.setattr(inbound_queries, "delete_expired_raw", broken)
    async with transaction(pool) as conn:
        message_id = (await inbox.store(conn, "http", message(1))).id
    stop = asyncio.Event()
    task = asyncio.create_task(Worker(pool, settings, dataclasses.replace(FAST, retention_interval=0.05)).run(stop))
    try:
        for _ in range(100):
            if await pool.fetchval("SELECT status FROM inbound_messages WHERE id = $1", message_id) != "queued":
                break
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
    assert await pool.fetchval("SELECT classification FROM inbound_messages WHERE id = $1", message_id) is not None
    assert any("retention: unexpected error" in r.getMessage() for r in caplog.records)


async def test_get_inbound_of_a_purged_message_answers_with_what_was_decided(client, pool, settings, auth):
    message_id = await stored(pool, "processed", 100)
    await purge(pool, settings)
    response = await client.get(f"/v1/inbound/{message_id}", headers=auth)
    assert response.status == 200
    body = await response.json()
    assert (body["status"], body["classification"], body["addresses"], body["actions"]) == (
        "processed", "unsubscribe", ["jan@example.be"], ACTIONS)


async def test_a_purged_message_delivered_again_is_still_a_duplicate(client, pool, settings):
    message_id = await stored(pool, "processed", 100)
    await purge(pool, settings)
    key = await make_key(pool, "inbound")
    again = await client.post("/v1/inbound", data=message(1),
                              headers={"Authorization": f"Bearer {key}", "Content-Type": "message/rfc822"})
    assert again.status == 200 and await again.json() == {"id": message_id, "duplicate": True}


async def test_subject_access_and_erasure_still_find_a_purged_message(client, pool, settings, auth):
    message_id = await stored(pool, "processed", 100)
    await purge(pool, settings)
    access = await client.get("/v1/subjects/jan@example.be", headers=auth)
    assert access.status == 200
    assert [(m["id"], m["subject"]) for m in (await access.json())["messages"]] == [(message_id, None)]
    erased = await client.post("/v1/erasure", json={"email": "jan@example.be"}, headers=auth)
    assert erased.status == 200 and (await erased.json())["removed"]["messages"] == 1


async def staff_login(client, pool):
    key = await make_key(pool, "write", name="Ann at the desk")
    page = await (await client.get("/staff/login")).text()
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    response = await client.post("/staff/login", data={"csrf": csrf, "key": key}, allow_redirects=False)
    assert response.status == 303


async def test_the_staff_page_of_a_purged_message_says_the_raw_message_was_deleted(client, pool, settings):
    message_id = await stored(pool, "processed", 100)
    await purge(pool, settings)
    await staff_login(client, pool)
    response = await client.get(f"/staff/messages/{message_id}")
    page = await response.text()
    assert response.status == 200
    assert "Het bericht zelf werd gewist na de bewaartermijn van 90 dagen" in page
    assert "unsubscribe" in page and "jan@example.be" in page and "Graag uitschrijven" not in page
