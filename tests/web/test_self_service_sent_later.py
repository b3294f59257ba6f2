"""POST /me does the same work for every address: one outbox row of the same shape. Whether a mail
leaves is decided when the row is sent: only a known address that was not erased, and is not
suppressed for a bounce or a complaint, gets one; every other row goes in that pass."""

from __future__ import annotations

import logging

import pytest

from tests.web.self_service_helpers import ERASED, KNOWN, UNKNOWN, ask, mails, make_known, queued

ABOUT_THE_ROW = ("id", "address", "created_at", "next_attempt_at")


async def test_a_known_and_an_unknown_address_queue_the_same_row_and_only_the_known_gets_a_mail(
        client, auth, pool, settings):
    await make_known(client, auth)
    for address in (KNOWN, UNKNOWN):
        assert (await ask(client, address)).status == 200
    rows = [dict(row) for row in await queued(pool)]
    assert [row["address"] for row in rows] == [KNOWN, UNKNOWN]
    known, unknown = ({k: v for k, v in row.items() if k not in ABOUT_THE_ROW} for row in rows)
    assert known == unknown and known["message"] is None and known["language"] == "en"
    sent = await mails(pool, settings)
    assert [mail["recipient"] for mail in sent] == [KNOWN]
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 0


async def test_a_known_and_an_unknown_address_run_the_same_statements(client, auth, pool, monkeypatch):
    import contextlib

    from service.storage import db
    from service.web import me

    statements: list[str] = []

    @contextlib.asynccontextmanager
    async def watched(pool_):
        async with db.transaction(pool_) as conn:
            logger = lambda record: statements.append(record.query)  # noqa: E731
            conn.add_query_logger(logger)
            try:
                yield conn
            finally:
                conn.remove_query_logger(logger)

    monkeypatch.setattr(me, "transaction", watched)
    await make_known(client, auth)
    ran = {}
    for address in (KNOWN, UNKNOWN):
        statements.clear()
        assert (await ask(client, address)).status == 200
        ran[address] = list(statements)
    assert ran[KNOWN] == ran[UNKNOWN] and any("INSERT INTO outbox" in q for q in ran[KNOWN])


async def test_an_erased_address_gets_no_mail_and_its_row_goes_in_the_first_pass(client, auth, pool, settings,
                                                                                caplog):
    await make_known(client, auth, ERASED)
    assert (await client.post("/v1/erasure", headers=auth, json={"email": ERASED})).status == 200
    assert (await ask(client, ERASED)).status == 200
    assert len(await queued(pool)) == 1
    with caplog.at_level(logging.DEBUG, logger="optout"):
        assert await mails(pool, settings) == []
    assert not any(ERASED in r.getMessage() for r in caplog.records if r.levelno >= logging.INFO)
    for table in ("outbox", "outbox_bodies", "known_addresses", "suppressions", "events", "self_service_asks",
                  "self_service_clients"):
        rows = await pool.fetch(f"SELECT * FROM {table}")
        assert not any(ERASED in str(dict(row)) for row in rows), table


async def test_an_erasure_while_the_row_waits_takes_the_row(client, auth, pool, settings):
    await make_known(client, auth)
    assert (await ask(client, KNOWN)).status == 200
    assert (await client.post("/v1/erasure", headers=auth, json={"email": KNOWN})).status == 200
    assert await queued(pool) == []
    assert await mails(pool, settings) == []


@pytest.mark.parametrize("reason", ["bounce", "complaint"])
async def test_no_link_mail_to_an_address_suppressed_for_a_bounce_or_a_complaint(client, auth, pool, settings,
                                                                                 reason):
    await make_known(client, auth)
    assert (await client.put(f"/v1/suppressions/{KNOWN}", headers=auth,
                             json={"scope": "global", "reason": reason, "source": "api"})).status in (200, 201)
    answer = await ask(client, KNOWN)
    assert answer.status == 200 and "If CETIT knows this address" in await answer.text()
    assert await mails(pool, settings) == []
    assert await queued(pool) == []


async def test_a_person_who_unsubscribed_still_gets_the_link(client, auth, pool, settings):
    await make_known(client, auth)
    assert (await client.put(f"/v1/suppressions/{KNOWN}", headers=auth,
                             json={"scope": "global", "reason": "unsubscribe", "source": "api"})).status in (200, 201)
    assert (await ask(client, KNOWN)).status == 200
    assert [mail["recipient"] for mail in await mails(pool, settings)] == [KNOWN]


async def test_without_a_relay_a_row_that_may_get_no_mail_still_goes_in_the_first_pass(client, auth, pool,
                                                                                       settings):
    from service.mail.outbox import Drainer
    from service.services import Services

    await make_known(client, auth)
    for address in (KNOWN, UNKNOWN):
        assert (await ask(client, address)).status == 200
    drainer = Drainer(pool, Services.build(settings.with_overrides(relay_url=None)))
    try:
        await drainer.drain_once()
    finally:
        await drainer.close()
    left = await pool.fetch("SELECT address, status, last_error FROM outbox")
    assert [(r["address"], r["status"]) for r in left] == [(KNOWN, "dead")]
    assert "OPTOUT_RELAY_URL" in left[0]["last_error"]
