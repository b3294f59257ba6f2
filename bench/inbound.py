"""inbound: messages per second accepted over SMTP from 8 concurrent senders, and classified by one
worker, beside the raw rate of `email.message_from_bytes` with the same policy on the same messages.

The messages are the labeled corpus (bounces, complaints, auto-replies, replies), each copy
with a Message-ID of its own, repeated to --messages. The senders run in a separate process
so that their work is charged to neither side. The worker's figure covers claiming, parsing,
classifying, suppressing, counting soft bounces and recording the outcome in PostgreSQL, whose
database holds what production holds (bench/production.py).
"""

from __future__ import annotations

import argparse
import asyncio
import email
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import timedelta
from pathlib import Path

import aiosmtplib

from service.domain.inbound import mime
from service.domain.inbound.mime import SAFE_POLICY
from service.domain.tokens import TokenSigner
from service.settings import Settings
from service.smtp.receiver import Receiver
from service.storage.db import create_pool
from service.worker import Worker, WorkerConfig

from .harness import fresh_schema, report, verdict
from .production import described, load_production

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
SENDERS = 8
DEFAULT_MESSAGES = 2000
TARGET_RATIO = 0.5
KEYS = ("bench-signing-key-" + "b" * 16,)


def corpus_messages(count: int) -> list[bytes]:
    """The corpus, each copy made unique by a Message-ID header of its own."""
    signer = TokenSigner(KEYS, timedelta(days=90))
    originals = []
    for path in sorted(CORPUS.rglob("*.eml")):
        raw = path.read_bytes().replace(b"{TOKEN}", signer.sign("newsletter.reader@example.be").encode())
        originals.append(raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
    return [b"Message-ID: <bench-%d@bench.example>\r\n" % i + originals[i % len(originals)] for i in range(count)]


def send_all(port: int, messages: list[bytes], concurrency: int) -> dict:
    """In the sender process: `concurrency` SMTP connections sharing the messages."""
    return asyncio.run(_send_all(port, messages, concurrency))


async def _send_all(port: int, messages: list[bytes], concurrency: int) -> dict:
    failures = 0

    async def sender(offset: int) -> None:
        nonlocal failures
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, timeout=60)
        await client.connect()
        for raw in messages[offset::concurrency]:
            try:
                await client.sendmail("mta@bench.example", ["info@cetit.be"], raw)
            except aiosmtplib.SMTPException:
                failures += 1
        await client.quit()

    started = time.perf_counter()
    await asyncio.gather(*(sender(n) for n in range(concurrency)))
    return {"seconds": time.perf_counter() - started, "failures": failures}


def plain_parse(raw: bytes) -> object:
    return email.message_from_bytes(raw, policy=SAFE_POLICY)


def parse_rate(messages: list[bytes], repeat: int, parse=plain_parse) -> float:
    """The raw baseline: message_from_bytes with the worker's policy, best of `repeat` runs."""
    best = 0.0
    for _ in range(repeat):
        started = time.perf_counter()
        for raw in messages:
            parse(raw)
        best = max(best, len(messages) / (time.perf_counter() - started))
    return best


async def run(dsn: str, args: argparse.Namespace) -> None:
    count = getattr(args, "messages", DEFAULT_MESSAGES)
    messages = corpus_messages(count)
    async with fresh_schema(dsn) as schema_dsn:
        pool = await create_pool(schema_dsn, min_size=2, max_size=10)
        try:
            async with pool.acquire() as conn:
                held = await load_production(conn, args.list_size)
            receiver = Receiver(pool, "127.0.0.1", 0, max_bytes=26214400)
            await receiver.start()
            loop = asyncio.get_running_loop()
            with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as senders:
                sent = await loop.run_in_executor(senders, send_all, receiver.port, messages, SENDERS)
            await receiver.stop(grace=5)
            stored = await pool.fetchval("SELECT count(*) FROM inbound_messages")
            accepted = stored / sent["seconds"]
            print(f"inbound smtp: {accepted:,.0f} messages/s accepted from {SENDERS} senders "
                  f"({stored} stored, {sent['failures']} refused)")

            settings = Settings(database_url=schema_dsn, secret_keys=KEYS, hash_key=b"h" * 32)
            worker = Worker(pool, settings, WorkerConfig(batch=100))
            started = time.perf_counter()
            await worker.run_until_empty()
            classified = stored / (time.perf_counter() - started)
        finally:
            await pool.close()
    baseline = parse_rate(messages, getattr(args, "repeat", 3))
    ratio = report("inbound worker", "messages", classified, baseline)
    print(f"  {stored:,} messages; {described(held)}")
    verdict(f"worker >= {TARGET_RATIO} x raw parse rate", ratio >= TARGET_RATIO)
    # The worker parses with SAFE_POLICY plus a per-message header memo (mime.parse), which is
    # faster than the plain standard-library parse above: its own parse rate, for comparison.
    report("inbound worker vs its own parse", "messages", classified,
           parse_rate(messages, getattr(args, "repeat", 3), parse=mime.parse))
