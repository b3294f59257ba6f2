"""The inbound worker: the labeled corpus end to end, forwarding, failures, leases, two processes."""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import email
import os
import signal
import socket
import subprocess
import sys
from collections import Counter
from email import policy

import pytest
from aiosmtpd.controller import Controller

from service.domain import inbound
from service.domain.erasure import hmac_pads
from service.domain.tokens import TokenSigner
from service.storage.db import transaction
from service.storage.known_queries import remember_addresses
from service.worker import Worker, WorkerConfig
from tests.conftest import CORPUS, ROOT, make_key

FAST = WorkerConfig(batch=50, idle_seconds=0.05, retry_seconds=0, forward_backoff=0, forward_attempts=3)


async def drain(worker: Worker, rounds: int = 50) -> None:
    for _ in range(rounds):
        if not await worker.run_once():
            return


async def post_all(pool, raws: list[bytes]) -> list[str]:
    ids = []
    async with transaction(pool) as conn:
        for raw in raws:
            ids.append(str((await inbound.store(conn, "http", raw)).id))
    return ids


async def describe(pool, message_id: str) -> dict:
    async with pool.acquire() as conn:
        return await inbound.describe(conn, inbound.parse_id(message_id))


async def known(pool, settings, addresses) -> None:
    """Reports and named addresses act only on addresses CETIT knows: as if their links were issued."""
    async with pool.acquire() as conn:
        await remember_addresses(conn, sorted(set(addresses)), "link", hmac_pads(settings.hash_key))


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


async def test_the_corpus_end_to_end_suppresses_what_the_labels_say(client, pool, settings):
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
    await drain(Worker(pool, settings, FAST))

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


async def test_a_reply_with_a_scoped_token_unsubscribes_in_that_scope_with_source_reply(pool, settings):
    signer = TokenSigner(settings.secret_keys, __import__("datetime").timedelta(days=90))
    raw = (CORPUS / "replies/token-subject.eml").read_bytes().replace(
        b"{TOKEN}", signer.sign("newsletter.reader@example.be", "events").encode())
    [message_id] = await post_all(pool, [raw])
    await drain(Worker(pool, settings, FAST))
    row = await pool.fetchrow("SELECT scope, reason, source FROM suppressions")
    assert tuple(row) == ("events", "unsubscribe", "reply")
    assert (await describe(pool, message_id))["status"] == "processed"


async def test_soft_bounces_suppress_at_the_limit(pool, settings):
    raw = (CORPUS / "bounces/lhost-gmx-01.eml").read_bytes()
    copies = [raw.replace(b"Message-ID: <", b"Message-ID: <%d." % i, 1) for i in range(3)]
    assert len(set(copies)) == 3
    worker = Worker(pool, settings, FAST)
    await known(pool, settings, ["shironeko@example.jp"])
    for number, copy in enumerate(copies, 1):
        await post_all(pool, [copy])
        await drain(worker)
        count = await pool.fetchval("SELECT count(*) FROM suppressions WHERE address = 'shironeko@example.jp'")
        assert count == (1 if number == settings.soft_bounce_limit else 0)
    row = await pool.fetchrow("SELECT reason, source, note FROM suppressions")
    assert (row["reason"], row["source"]) == ("bounce", "dsn") and "3 soft bounces" in row["note"]


async def test_human_mail_is_forwarded_and_a_relay_that_is_down_is_tried_again(pool, settings):
    port = free_port()
    settings = dataclasses.replace(settings, relay_url=f"smtp://127.0.0.1:{port}", forward_to="staff@cetit.be")
    raw = (CORPUS / "replies/nl-vraag-offerte.eml").read_bytes()
    [message_id] = await post_all(pool, [raw])
    worker = Worker(pool, settings, FAST)
    await worker.run_once()  # classified: human, to be forwarded
    await worker.run_once()  # the relay is down: left queued for a later attempt
    waiting = await describe(pool, message_id)
    assert waiting["status"] == "queued" and waiting["classification"] == "human"
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        await drain(worker)
    finally:
        controller.stop()
    done = await describe(pool, message_id)
    assert done["status"] == "forwarded" and any(a["type"] == "forwarded" for a in done["actions"])
    [(mail_from, recipients, forwarded)] = sink.messages
    assert recipients == ["staff@cetit.be"] and mail_from == settings.mailto
    message = email.message_from_bytes(forwarded, policy=policy.default)
    assert message["Auto-Submitted"] == "auto-forwarded" and message["Reply-To"] == "pieter@bakkerij-goossens.be"
    attached = [p for p in message.walk() if p.get_content_type() == "message/rfc822"]
    assert attached and raw.replace(b"\n", b"\r\n") in forwarded


async def test_without_a_relay_a_person_s_message_is_held_for_staff(pool, settings):
    [message_id] = await post_all(pool, [(CORPUS / "replies/en-question-training.eml").read_bytes()])
    await drain(Worker(pool, settings, FAST))
    body = await describe(pool, message_id)
    assert body["status"] == "held" and body["actions"][-1]["type"] == "held"


async def test_a_message_that_fails_three_times_is_quarantined_and_the_rest_go_on(pool, settings, monkeypatch):
    good, bad = await post_all(pool, [(CORPUS / "replies/nl-uitschrijven-kort.eml").read_bytes(),
                                      b"From: x@example.be\r\nSubject: poison\r\n\r\npoison\r\n"])
    import service.worker as worker_module

    real = worker_module.classify

    def flaky(raw, *args, **kwargs):
        if b"poison" in raw:
            raise RuntimeError("cannot read this one")
        return real(raw, *args, **kwargs)

    monkeypatch.setattr(worker_module, "classify", flaky)
    worker = Worker(pool, settings, FAST)
    for _ in range(3):
        await worker.run_once()
    failed = await describe(pool, bad)
    assert failed["status"] == "failed" and "cannot read this one" in failed["error"]
    assert (await describe(pool, good))["status"] == "processed"
    assert await worker.run_once() == 0


async def test_two_thousand_nested_parts_fail_with_the_reason_at_once(pool, settings):
    from tests.domain.test_classify import nested

    [message_id] = await post_all(pool, [nested(2000)])
    await Worker(pool, settings, FAST).run_once()
    body = await describe(pool, message_id)
    assert body["status"] == "failed" and "nested" in body["error"]


async def test_a_message_left_by_a_dead_worker_is_claimed_again_after_its_lease(pool, settings):
    [message_id] = await post_all(pool, [(CORPUS / "replies/nl-uitschrijven-kort.eml").read_bytes()])
    from service.storage import inbound_queries

    async with pool.acquire() as conn:
        [claimed] = await inbound_queries.claim_inbound(conn, 10, 0.2)  # then this worker "dies"
    worker = Worker(pool, settings, FAST)
    assert await worker.run_once() == 0
    await asyncio.sleep(0.3)
    assert await worker.run_once() == 1
    assert (await describe(pool, message_id))["status"] == "processed" and claimed["id"]


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
        async with pool.acquire() as conn:  # the bounced addresses were mailed: their links were issued
            await remember_addresses(conn, [f"gone{n}@example.org" for n in range(total)], "link",
                                     hmac_pads(b"h" * 32))
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


async def test_erasure_removes_the_stored_messages_from_the_address(client, pool, settings, auth):
    [message_id] = await post_all(pool, [(CORPUS / "replies/nl-vraag-offerte.eml").read_bytes()])
    await drain(Worker(pool, settings, FAST))
    access = await (await client.get("/v1/subjects/pieter@bakkerij-goossens.be", headers=auth)).json()
    assert [m["id"] for m in access["messages"]] == [message_id]
    erased = await client.post("/v1/erasure", json={"email": "pieter@bakkerij-goossens.be"}, headers=auth)
    assert erased.status == 200 and (await erased.json())["removed"]["messages"] == 1
    assert await pool.fetchval("SELECT count(*) FROM inbound_messages") == 0
