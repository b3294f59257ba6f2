"""The inbound worker: the labeled corpus end to end, forwarding, failures, leases, classification
in child processes under a time limit, text PostgreSQL refuses, two processes."""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import email
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from email import policy

import aiosmtplib
import pytest
from aiosmtpd.controller import Controller

import service.worker as worker_module
from service.domain.inbound import inbox
from service.domain.inbound.classify import classify
from service.domain.inbound.model import InboundStatus
from service.domain.inbound.policy import Classified
from service.domain.tokens import TokenSigner
from service.services import Services
from service.smtp.receiver import Receiver
from service.storage import inbound_queries
from service.web import views
from service.storage.db import transaction
from service.app import create_app
from service.worker import Worker, WorkerConfig
from tests.clock import ManualClock
from tests.conftest import CORPUS, ROOT, make_key

FAST = WorkerConfig(batch=50, idle_seconds=0.05, retry_seconds=0)


@pytest.fixture
async def workers(pool):
    """Make workers on the test database, each with a clock of its own that `drain` moves on;
    their classifying processes and outbox drainers go at the end of the test."""
    made = []

    def make(settings, config: WorkerConfig = FAST) -> Worker:
        made.append(Worker(pool, settings, config, Services.build(settings, clock=ManualClock())))
        return made[-1]

    yield make
    for worker in made:
        worker.close()
        await worker.outbox.close()


def acting_up(raw: bytes, *args, **kwargs):
    """Stands in for classify in the classifying process (it travels there by name), and
    misbehaves as the message's X-Test header says."""
    if b"X-Test: poison" in raw:
        raise RuntimeError("cannot read this one")
    if b"X-Test: hostile" in raw:
        re.fullmatch(r"(?:a+)+b", "a" * 64)  # backtracks for ages without letting go of the GIL
    if b"X-Test: crash" in raw:
        os.kill(os.getpid(), signal.SIGKILL)
    if b"X-Test: slow" in raw:
        time.sleep(2.5)
    return classify(raw, *args, **kwargs)


def marked(behaviour: str, number: int = 0) -> bytes:
    return (f"From: sender{number}@example.be\r\nTo: info@cetit.be\r\nSubject: a question ({behaviour})\r\n"
            f"X-Test: {behaviour}\r\nMessage-ID: <{behaviour}-{number}@example.be>\r\n\r\n"
            f"Could you call me back?\r\n").encode()


async def inbound_row(pool, message_id: str):
    return await pool.fetchrow("SELECT status, error, attempts, abandoned, lease_token FROM inbound_messages "
                               "WHERE id = $1", inbox.parse_id(message_id))


async def drain(worker: Worker, rounds: int = 50) -> None:
    """Work the inbound queue and the outbox until both are empty, an hour passing on the
    worker's clock between two rounds (so that retries are due)."""
    idle = 0
    for _ in range(rounds):
        if await worker.run_once() + await worker.outbox.drain_once():
            idle = 0
            continue
        idle += 1
        if idle > 1 or not hasattr(worker.services.clock, "advance"):
            return
        worker.services.clock.advance(hours=1)


async def post_all(pool, raws: list[bytes]) -> list[str]:
    ids = []
    async with transaction(pool) as conn:
        for raw in raws:
            ids.append(str((await inbox.store(conn, "http", raw)).id))
    return ids


async def describe(pool, message_id: str) -> dict:
    """The message as GET /v1/inbound/{id} answers it."""
    async with pool.acquire() as conn:
        return views.inbound_message(await inbox.describe(conn, inbox.parse_id(message_id)))


async def known(pool, settings, addresses) -> None:
    """Reports and named addresses act only on addresses CETIT knows: as if they were mailed
    before return paths (no recipient id), so that a report about them sent to info@ counts."""
    await pool.execute("""INSERT INTO known_addresses (address, source, recipient_id)
                          SELECT DISTINCT a, 'link', NULL::bigint FROM unnest($1::text[]) AS a ON CONFLICT DO NOTHING""",
                       sorted(set(addresses)))


def corpus_rows() -> list[dict]:
    with (CORPUS / "labels.tsv").open(encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter="\t"))


class Sink:
    """A real SMTP server standing in for the relay; remembers what it was given."""

    def __init__(self):
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 2.0.0 queued"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_the_corpus_end_to_end_suppresses_what_the_labels_say(client, pool, settings, workers):
    rows = corpus_rows()
    signer = TokenSigner(settings.secret_keys, __import__("datetime").timedelta(days=90))
    raws = []
    for row in rows:
        raw = (CORPUS / row["file"]).read_bytes()
        raws.append(raw.replace(b"{TOKEN}", signer.sign(row["addresses"]).encode()))
    key = await make_key(pool, "inbound")
    await known(pool, settings, [a for r in rows for a in r["addresses"].split(",") if a])
    ids = []
    for raw in raws:
        response = await client.post("/v1/inbound", data=raw, headers={"Authorization": f"Bearer {key}",
                                                                        "Content-Type": "message/rfc822"})
        assert response.status in (200, 202)
        ids.append((await response.json())["id"])
    await drain(workers(settings))

    soft = Counter(a for r in rows if r["kind"] == "soft" for a in r["addresses"].split(","))
    expected = {a for r in rows if r["classification"] in ("unsubscribe", "complaint") or r["kind"] == "hard"
                for a in r["addresses"].split(",") if a}
    expected |= {a for a, n in soft.items() if n >= settings.soft_bounce_limit}
    suppressed = {r["address"] for r in await pool.fetch("SELECT address FROM suppressions")}
    assert suppressed == expected
    for row, message_id in zip(rows, ids):
        body = await (await client.get(f"/v1/inbound/{message_id}", headers={"Authorization": f"Bearer {key}"})).json()
        assert body["classification"] == row["classification"], row["file"]
        assert sorted(body["addresses"]) == sorted(a for a in row["addresses"].split(",") if a), row["file"]
        assert body["status"] == ("held" if row["classification"] == "human" or "also-forward" in row["note"]
                                  else "processed"), row["file"]
    events = await pool.fetch("SELECT detail FROM events WHERE type = 'suppressed'")
    assert events and all(e["detail"]["message_id"] in ids for e in events)


async def test_a_reply_with_a_scoped_token_unsubscribes_in_that_scope_with_source_reply(pool, settings, workers):
    signer = TokenSigner(settings.secret_keys, __import__("datetime").timedelta(days=90))
    raw = (CORPUS / "replies/token-subject.eml").read_bytes().replace(
        b"{TOKEN}", signer.sign("newsletter.reader@example.be", "events").encode())
    [message_id] = await post_all(pool, [raw])
    await drain(workers(settings))
    row = await pool.fetchrow("SELECT scope, reason, source FROM suppressions")
    assert tuple(row) == ("events", "unsubscribe", "reply")
    assert (await describe(pool, message_id))["status"] == "processed"


async def test_soft_bounces_suppress_at_the_limit(pool, settings, workers):
    raw = (CORPUS / "bounces/lhost-gmx-01.eml").read_bytes()
    copies = [raw.replace(b"Message-ID: <", b"Message-ID: <%d." % i, 1) for i in range(3)]
    assert len(set(copies)) == 3
    worker = workers(settings)
    await known(pool, settings, ["shironeko@example.jp"])
    for number, copy in enumerate(copies, 1):
        await post_all(pool, [copy])
        await drain(worker)
        count = await pool.fetchval("SELECT count(*) FROM suppressions WHERE address = 'shironeko@example.jp'")
        assert count == (1 if number == settings.soft_bounce_limit else 0)
    row = await pool.fetchrow("SELECT reason, source, note FROM suppressions")
    assert (row["reason"], row["source"]) == ("bounce", "dsn") and "3 soft bounces" in row["note"]


async def test_human_mail_is_forwarded_and_a_relay_that_is_down_is_tried_again(pool, settings, workers):
    port = free_port()
    settings = dataclasses.replace(settings, relay_url=f"smtp://127.0.0.1:{port}", forward_to="staff@cetit.be")
    raw = (CORPUS / "replies/nl-vraag-offerte.eml").read_bytes()
    [message_id] = await post_all(pool, [raw])
    worker = workers(settings)
    await worker.run_once()  # classified: human, to be forwarded
    await worker.outbox.drain_once()  # the relay is down: left queued for a later attempt
    waiting = await describe(pool, message_id)
    assert waiting["status"] == "queued" and waiting["classification"] == "human"
    assert await pool.fetchval("SELECT attempts FROM outbox WHERE kind = 'forward'") == 1
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        await drain(worker)
    finally:
        controller.stop()
    done = await describe(pool, message_id)
    assert done["status"] == "forwarded" and any(a["type"] == "forwarded" for a in done["actions"])
    assert await pool.fetchval("SELECT forward_attempts FROM inbound_messages") == 2  # one failed, one taken
    [(mail_from, recipients, forwarded)] = sink.messages
    assert recipients == ["staff@cetit.be"] and mail_from == settings.mailto
    message = email.message_from_bytes(forwarded, policy=policy.default)
    assert message["Auto-Submitted"] == "auto-forwarded" and message["Reply-To"] == "pieter@bakkerij-goossens.be"
    attached = [p for p in message.walk() if p.get_content_type() == "message/rfc822"]
    assert attached and raw.replace(b"\n", b"\r\n") in forwarded


async def test_without_a_relay_a_person_s_message_is_held_for_staff(pool, settings, workers):
    [message_id] = await post_all(pool, [(CORPUS / "replies/en-question-training.eml").read_bytes()])
    await drain(workers(settings))
    body = await describe(pool, message_id)
    assert body["status"] == "held" and body["actions"][-1]["type"] == "held"


async def test_a_message_that_fails_three_times_is_quarantined_and_the_rest_go_on(pool, settings, monkeypatch,
                                                                                  workers):
    good, bad = await post_all(pool, [(CORPUS / "replies/nl-uitschrijven-kort.eml").read_bytes(), marked("poison")])
    monkeypatch.setattr(worker_module, "classify", acting_up)
    worker = workers(settings)
    for _ in range(3):
        await worker.run_once()
    failed = await describe(pool, bad)
    assert failed["status"] == "failed" and "cannot read this one" in failed["error"]
    assert (await describe(pool, good))["status"] == "processed"
    assert await worker.run_once() == 0


async def test_two_thousand_nested_parts_fail_with_the_reason_at_once(pool, settings, workers):
    from tests.domain.test_classify import nested

    [message_id] = await post_all(pool, [nested(2000)])
    await workers(settings).run_once()
    body = await describe(pool, message_id)
    assert body["status"] == "failed" and "nested" in body["error"]


async def test_a_message_left_by_a_dead_worker_is_claimed_again_after_its_lease(pool, settings, workers):
    [message_id] = await post_all(pool, [(CORPUS / "replies/nl-uitschrijven-kort.eml").read_bytes()])
    async with pool.acquire() as conn:
        [claimed] = await inbound_queries.claim_inbound(conn, 10, 0.2)  # then this worker "dies"
    worker = workers(settings)
    assert await worker.run_once() == 0
    await asyncio.sleep(0.3)
    assert await worker.run_once() == 1
    assert (await describe(pool, message_id))["status"] == "processed" and claimed["id"]


async def test_a_worker_that_dies_holding_a_message_does_not_cost_it_one_of_its_tries(pool, settings, monkeypatch,
                                                                                        workers):
    [message_id] = await post_all(pool, [marked("poison")])
    for _ in range(4):  # four workers claim it and die before they are done with it
        async with pool.acquire() as conn:
            assert len(await inbound_queries.claim_inbound(conn, 10, 0.05)) == 1
        await asyncio.sleep(0.1)
    monkeypatch.setattr(worker_module, "classify", acting_up)
    assert await workers(settings).run_once() == 1  # the first real try fails
    row = await inbound_row(pool, message_id)
    assert (row["status"], row["attempts"], row["abandoned"]) == ("queued", 1, 4)
    assert "cannot read this one" in row["error"] and row["lease_token"] is None


async def test_a_message_that_every_worker_dies_on_is_given_up_in_the_end(pool, settings, workers):
    [message_id] = await post_all(pool, [(CORPUS / "replies/nl-uitschrijven-kort.eml").read_bytes()])
    for _ in range(3):
        async with pool.acquire() as conn:
            await inbound_queries.claim_inbound(conn, 10, 0.05)
        await asyncio.sleep(0.1)
    await workers(settings, dataclasses.replace(FAST, max_abandoned=3)).run_once()
    row = await inbound_row(pool, message_id)
    assert row["status"] == "failed" and "3 workers stopped while handling it" in row["error"]


async def test_a_lease_is_renewed_while_its_message_is_worked_on(pool, settings, monkeypatch, workers):
    [message_id] = await post_all(pool, [marked("slow")])
    monkeypatch.setattr(worker_module, "classify", acting_up)
    worker = workers(settings, dataclasses.replace(FAST, lease_seconds=1.0))
    working = asyncio.create_task(worker.run_once())
    for _ in range(100):
        if (await inbound_row(pool, message_id))["lease_token"] is not None:
            break
        await asyncio.sleep(0.02)
    await asyncio.sleep(1.5)  # longer than one lease: only a renewal keeps the message this worker's
    async with pool.acquire() as conn:
        assert await inbound_queries.claim_inbound(conn, 10, 1.0) == []
    assert await working == 1
    row = await inbound_row(pool, message_id)
    assert (row["status"], row["attempts"], row["abandoned"]) == ("held", 0, 0)


async def test_a_message_past_the_time_limit_fails_at_once_and_the_queue_goes_on(pool, settings, monkeypatch, workers):
    """The hostile classification never ends (acting_up): read in this process it would hold
    the event loop for good; read in a child, it is stopped at the limit."""
    good, hostile = await post_all(pool, [(CORPUS / "replies/nl-uitschrijven-kort.eml").read_bytes(),
                                          marked("hostile")])
    monkeypatch.setattr(worker_module, "classify", acting_up)
    worker = workers(settings, dataclasses.replace(FAST, classify_seconds=1.0, classify_processes=1))
    assert await worker.run_once() == 2
    failed = await describe(pool, hostile)
    assert failed["status"] == "failed" and "longer than 1 s" in failed["error"]
    assert (await describe(pool, good))["status"] == "processed"
    [later] = await post_all(pool, [marked("fine", 1)])
    assert await worker.run_once() == 1  # read by the process that replaced the killed one
    assert (await describe(pool, later))["status"] == "held"


async def test_a_message_that_kills_its_classifying_process_costs_one_try_and_the_rest_go_on(
        pool, settings, monkeypatch, workers):
    crash, good = await post_all(pool, [marked("crash"), (CORPUS / "replies/nl-uitschrijven-kort.eml").read_bytes()])
    monkeypatch.setattr(worker_module, "classify", acting_up)
    worker = workers(settings, dataclasses.replace(FAST, classify_processes=1))
    assert await worker.run_once() == 2
    row = await inbound_row(pool, crash)
    assert (row["status"], row["attempts"]) == ("queued", 1) and "process died" in row["error"]
    assert (await describe(pool, good))["status"] == "processed"
    await drain(worker)
    assert (await inbound_row(pool, crash))["status"] == "failed"


async def test_in_chunks_a_message_that_kills_its_process_or_raises_costs_only_itself(pool, settings, monkeypatch,
                                                                                      workers):
    """Messages go to a child ten at a time: a crash in one chunk and a failure in the next cost
    those two messages one try each, an unreadable one fails at once, and every other message of
    both chunks is read."""
    from tests.domain.test_classify import nested

    raws = [marked("fine", n) for n in range(12)]
    raws[3], raws[10], raws[11] = marked("crash", 3), nested(2000), marked("poison", 11)
    ids = await post_all(pool, raws)
    monkeypatch.setattr(worker_module, "classify", acting_up)
    worker = workers(settings, dataclasses.replace(FAST, classify_processes=1))
    assert await worker.run_once() == 12
    rows = {message_id: await inbound_row(pool, message_id) for message_id in ids}
    assert (rows[ids[3]]["status"], rows[ids[3]]["attempts"]) == ("queued", 1)
    assert "process died" in rows[ids[3]]["error"]
    assert (rows[ids[11]]["status"], rows[ids[11]]["attempts"]) == ("queued", 1)
    assert "cannot read this one" in rows[ids[11]]["error"]
    assert rows[ids[10]]["status"] == "failed" and "nested" in rows[ids[10]]["error"]  # unreadable: at once
    assert all(rows[i]["status"] == "held" for n, i in enumerate(ids) if n not in (3, 10, 11))


def test_chunks_hold_ten_messages_or_a_mebibyte_and_a_bigger_message_goes_alone():
    from service.classifying import CHUNK_BYTES, chunks

    assert chunks([]) == []
    assert chunks([100] * 25) == [range(0, 10), range(10, 20), range(20, 25)]
    big = CHUNK_BYTES + 1
    assert chunks([100, big, 100, 100]) == [range(0, 1), range(1, 2), range(2, 4)]
    assert chunks([CHUNK_BYTES // 2] * 3) == [range(0, 2), range(2, 3)]


async def test_text_postgresql_refuses_is_made_storable_when_a_classification_is_recorded(pool):
    [message_id] = await post_all(pool, [marked("fine")])
    outcome = Classified(inbox.parse_id(message_id), InboundStatus.HELD, "human", None, ("nul\x00@example.be",),
                         ({"type": "held", "reason": "kept\x00 for staff \udcff"},), "sender\x00@example.be",
                         "Vraag\x00 over \udcfe de offerte", False)
    async with pool.acquire() as conn:
        await inbound_queries.record_classifications(conn, [outcome])
    row = await pool.fetchrow("SELECT addresses, actions, sender, subject FROM inbound_messages")
    assert row["subject"] == "Vraag over \ufffd de offerte" and row["sender"] == "sender@example.be"
    assert list(row["addresses"]) == ["nul@example.be"]
    assert row["actions"] == [{"type": "held", "reason": "kept for staff \ufffd"}]


async def test_a_person_s_mail_with_nul_in_its_subject_is_stored_and_forwarded(pool, settings, workers):
    port = free_port()
    settings = dataclasses.replace(settings, relay_url=f"smtp://127.0.0.1:{port}", forward_to="staff@cetit.be")
    sink = Sink()
    relay = Controller(sink, hostname="127.0.0.1", port=port)
    relay.start()
    receiver = Receiver(pool, "127.0.0.1", 0, max_bytes=100_000)
    await receiver.start()
    raw = (b"From: Pieter Goossens <pieter@bakkerij-goossens.be>\r\nTo: info@cetit.be\r\n"
           b"Subject: Vraag\x00 over de offerte \xff\r\nMessage-ID: <nul-subject@bakkerij-goossens.be>\r\n\r\n"
           b"Kunnen jullie mij een offerte sturen voor de opleiding?\r\n")
    try:
        await aiosmtplib.send(raw, sender="pieter@bakkerij-goossens.be", recipients=["info@cetit.be"],
                              hostname="127.0.0.1", port=receiver.port)
        await drain(workers(settings))
    finally:
        await receiver.stop(grace=2)
        relay.stop()
    row = await pool.fetchrow("SELECT status, classification, subject, error FROM inbound_messages")
    assert (row["status"], row["classification"]) == ("forwarded", "human"), row["error"]
    assert row["subject"].startswith("Vraag over de offerte") and "\x00" not in row["subject"]
    [(_from, recipients, forwarded)] = sink.messages
    assert recipients == ["staff@cetit.be"]
    decoded = b"".join(part.get_payload(decode=True) or b""
                       for part in email.message_from_bytes(forwarded, policy=policy.default).walk()
                       if not part.is_multipart())
    assert b"Kunnen jullie mij een offerte sturen" in decoded


async def test_a_message_stored_in_the_worker_s_process_wakes_it_from_its_idle_wait(aiohttp_client, pool, settings):
    """Under `optout run` the web app, the receiver and the worker share one process: a message
    stored by either is read at once, not at the worker's next idle poll (an hour here)."""
    services = Services.build(settings)
    idle = Worker(pool, settings, dataclasses.replace(FAST, idle_seconds=3600), services)
    client = await aiohttp_client(create_app(settings, pool, services))
    receiver = Receiver(pool, "127.0.0.1", 0, max_bytes=100_000, stored=services.inbound)
    await receiver.start()
    key = await make_key(pool, "inbound")
    stop = asyncio.Event()
    running = asyncio.create_task(idle.run(stop))
    try:
        await asyncio.sleep(0.5)  # its first claim found nothing: it waits
        posted = await client.post("/v1/inbound", data=marked("posted"),
                                   headers={"Authorization": f"Bearer {key}", "Content-Type": "message/rfc822"})
        assert posted.status == 202
        await aiosmtplib.send(marked("received", 1), sender="sender1@example.be", recipients=["info@cetit.be"],
                              hostname="127.0.0.1", port=receiver.port)
        async with asyncio.timeout(30):
            while await pool.fetchval("SELECT count(*) FROM inbound_messages WHERE processed_at IS NOT NULL") < 2:
                await asyncio.sleep(0.05)
    finally:
        stop.set()
        await asyncio.wait_for(running, 30)
        await receiver.stop(grace=2)
    rows = await pool.fetch("SELECT via, status FROM inbound_messages ORDER BY via")
    assert [(r["via"], r["status"]) for r in rows] == [("http", "held"), ("smtp", "held")]


def hard_bounce(number: int) -> bytes:
    return (
        f"From: MAILER-DAEMON@mx.example.net\r\nTo: info@cetit.be\r\nSubject: Undelivered Mail\r\n"
        f"Message-ID: <bounce-{number}@mx.example.net>\r\nMIME-Version: 1.0\r\n"
        f"Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n"
        f"--b\r\nContent-Type: text/plain\r\n\r\nfailed\r\n--b\r\nContent-Type: message/delivery-status\r\n\r\n"
        f"Reporting-MTA: dns; mx.example.net\r\n\r\nFinal-Recipient: rfc822; gone{number}@example.org\r\n"
        f"Action: failed\r\nStatus: 5.1.1\r\nDiagnostic-Code: smtp; 550 5.1.1 user unknown\r\n--b--\r\n"
    ).encode()


async def test_two_worker_processes_on_one_queue_process_every_message_exactly_once(pool, dsn, tmp_path):
    env = {**os.environ, "DATABASE_URL": dsn, "OPTOUT_VAR_DIR": str(tmp_path), "OPTOUT_SECRET_KEYS": "k" * 32,
           "OPTOUT_HASH_KEY": "h" * 32, "OPTOUT_SMTP_PORT": "0"}
    workers = [subprocess.Popen([sys.executable, "-m", "service", "worker"], cwd=ROOT, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    try:
        total = 600
        # The bounced addresses were mailed before return paths: a report at info@ counts for them.
        await known(pool, None, [f"gone{n}@example.org" for n in range(total)])
        await asyncio.sleep(1.0)
        await post_all(pool, [hard_bounce(n) for n in range(total)])
        for _ in range(300):
            if await pool.fetchval("SELECT count(*) FROM inbound_messages WHERE status = 'processed'") == total:
                break
            await asyncio.sleep(0.1)
    finally:
        for process in workers:
            process.send_signal(signal.SIGTERM)
        logs = [process.communicate(timeout=30)[1] for process in workers]
    assert [p.returncode for p in workers] == [0, 0], logs
    handled = [line.split("inbound ")[1].split(":")[0] for log in logs for line in log.splitlines()
               if "-> processed" in line]
    assert len(handled) == total and len(set(handled)) == total
    assert all(" -> processed" in log for log in logs), "both workers took a share"
    assert await pool.fetchval("SELECT count(*) FROM events WHERE type = 'suppressed'") == total


async def test_erasure_removes_the_stored_messages_from_the_address(client, pool, settings, auth, workers):
    [message_id] = await post_all(pool, [(CORPUS / "replies/nl-vraag-offerte.eml").read_bytes()])
    await drain(workers(settings))
    access = await (await client.get("/v1/subjects/pieter@bakkerij-goossens.be", headers=auth)).json()
    assert [m["id"] for m in access["messages"]] == [message_id]
    erased = await client.post("/v1/erasure", json={"email": "pieter@bakkerij-goossens.be"}, headers=auth)
    assert erased.status == 200 and (await erased.json())["removed"]["messages"] == 1
    assert await pool.fetchval("SELECT count(*) FROM inbound_messages") == 0


async def test_batches_in_hand_at_once_see_every_message_through_once(pool, settings, workers):
    raws = [marked("plain", n) for n in range(13)]
    ids = await post_all(pool, raws)
    worker = workers(settings, dataclasses.replace(FAST, batch=2, lanes=2))
    assert await worker.run_until_empty() == 13
    rows = [await inbound_row(pool, message_id) for message_id in ids]
    # Questions to a person, with no relay to forward them: each held for staff, read once.
    assert [r["status"] for r in rows] == ["held"] * 13 and all(r["attempts"] == 0 for r in rows)
    assert await pool.fetchval("SELECT count(*) FROM inbound_messages WHERE classification = 'human'") == 13
