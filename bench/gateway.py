"""gateway: 100-recipient newsletters (X-Optout-Scope: newsletter) through the sending gateway from
--senders (8) concurrent SMTP clients, beside the same messages sent by the same clients straight
to the sink the gateway relays to; then OptoutClient.check of 100,000 recipients beside the same
POST /v1/check made with a bare aiohttp session, on the same running service.

One recipient in ten is suppressed in scope global, so the gateway refuses it at RCPT and relays
one copy, with its own List-Unsubscribe headers, to each of the other 90: where the baseline makes
one SMTP transaction a message, the gateway makes 91. The gateway answers once the copies are in
its outbox and its drainer relays them; a service run ends when the outbox is empty again, and
its time counts from the first message to the last copy relayed. The sink is an aiosmtpd server in
a process of its own that counts what it takes; the clients run in another process; the gateway
runs in this one. A message is one 100-recipient submission. Each timed run lasts --duration
seconds after a one-second warm-up; the figures are the medians of --repeat runs.

The gateway works as in production: each copy leaves with its recipient's return path as MAIL FROM
(bounces+<token>@cetit.be) and a DKIM signature of its own (the tests' 2048-bit RSA key, selector
bench, domain cetit.be), which the sink checks on every copy it takes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import resource
import time
from pathlib import Path
from concurrent.futures import ProcessPoolExecutor
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY

import aiohttp
import aiosmtplib
from aiosmtpd.smtp import SMTP

from service.client import OptoutClient
from service.domain.addresses import canonical_or_none
from service.domain.suppressions.rules import MAX_CHECK
from service.settings import Settings
from service.smtp.gateway import Gateway
from service.storage.db import create_pool

from .check_bulk import WARMUP, load_suppressions, recipients
from .harness import fresh_schema, median, report, running_service, stopwatch, verdict

SCOPE = "newsletter"
PER_MESSAGE = 100
SUPPRESSED_EVERY = 10
MESSAGES = 200  # distinct messages, sent in turn
SENDER = "news@shop.example.be"
MTA = "mta.shop.example.be"
SETTINGS = Settings(secret_keys=("x" * 32,), hash_key=b"h" * 32)
TARGET_CLIENT_RATIO = 0.9
DKIM_KEY = Path(__file__).resolve().parents[1] / "tests" / "smtp" / "dkim-test-key.pem"


def newsletter(n: int) -> tuple[list[str], bytes]:
    """Message n: its 100 recipients and a small marketing mail, text and HTML, about 9 KB."""
    to = [f"reader.{n * PER_MESSAGE + i}@example{i % 50}.be" for i in range(PER_MESSAGE)]
    mail = EmailMessage(policy=SMTP_POLICY)
    mail["From"], mail["To"] = f"Shop <{SENDER}>", "newsletter@shop.example.be"
    mail["Subject"], mail["Message-ID"] = f"Offers of week {n % 52 + 1}", f"<news-{n}@shop.example.be>"
    mail["X-Optout-Scope"] = SCOPE
    items = [f"Item {i}: a product you may like, now {10 + i} EUR, was {20 + i} EUR." for i in range(40)]
    mail.set_content("\n".join(["Hello,", "", *items, "", "The shop team"]))
    rows = "".join(f'<tr><td style="padding:4px;font-family:Arial">{item}</td></tr>' for item in items)
    mail.add_alternative(f"<html><body><h1>Offers</h1><table>{rows}</table></body></html>", subtype="html")
    return to, mail.as_bytes()


class CountingSink:
    def __init__(self, copies, deliveries, production):
        self.copies, self.deliveries, self.production = copies, deliveries, production

    async def handle_DATA(self, server, session, envelope) -> str:
        # A copy as production sends it: its own return path, and signed before anything else.
        production = (envelope.mail_from.startswith("bounces+") and len(envelope.rcpt_tos) == 1
                      and envelope.content.startswith(b"DKIM-Signature:"))
        with self.copies.get_lock():
            self.copies.value += 1
            self.deliveries.value += len(envelope.rcpt_tos)
            self.production.value += production
        return "250 2.0.0 OK"


def sink(ports, copies, deliveries, production, stop) -> None:
    """In the sink process: an SMTP server on a free port that takes and counts every message."""
    asyncio.run(_sink(ports, copies, deliveries, production, stop))


async def _sink(ports, copies, deliveries, production, stop) -> None:
    loop = asyncio.get_running_loop()
    handler = CountingSink(copies, deliveries, production)
    server = await loop.create_server(
        lambda: SMTP(handler, hostname="sink.bench.example", decode_data=False, loop=loop), "127.0.0.1", 0
    )
    ports.put(server.sockets[0].getsockname()[1])
    await loop.run_in_executor(None, stop.wait)
    server.close()


def send_for(port: int, messages: list[tuple[list[str], bytes]], senders: int, duration: float) -> dict:
    """In the load process: `senders` SMTP connections sending the messages in turn for `duration` s."""
    return asyncio.run(_send_for(port, messages, senders, duration))


async def _send_for(port: int, messages: list, senders: int, duration: float) -> dict:
    counts = {"sent": 0, "accepted": 0, "refused": 0, "failures": 0}

    async def sender(offset: int, until: float) -> None:
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, local_hostname=MTA, timeout=120)
        await client.connect()
        i = offset
        while time.perf_counter() < until:
            to, raw = messages[i % len(messages)]
            try:
                refused, _reply = await client.sendmail(SENDER, to, raw)
            except aiosmtplib.SMTPException:
                counts["failures"] += 1
            else:
                counts["sent"] += 1
                counts["accepted"] += len(to) - len(refused)
                counts["refused"] += len(refused)
            i += senders
        await client.quit()

    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(sender(n, started + duration) for n in range(senders)))
    elapsed = time.perf_counter() - started
    return {**counts, "seconds": elapsed, "client_cpu": (time.process_time() - cpu) / elapsed}


async def measure(
    loader: ProcessPoolExecutor, port: int, messages: list, counters, args: argparse.Namespace,
    duration: float, settle=None,
) -> dict:
    """One run of the load process against `port`; what the sink took meanwhile (after `settle`,
    which waits for the copies still queued, its time counted in the run); this process's CPU."""
    copies, deliveries, production = counters
    with copies.get_lock():
        copies.value = deliveries.value = production.value = 0
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result = await asyncio.get_running_loop().run_in_executor(
        loader, send_for, port, messages, args.senders, duration
    )
    if settle is not None:
        result["seconds"] += await settle()
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = after.ru_utime + after.ru_stime - usage.ru_utime - usage.ru_stime
    return {**result, "copies": copies.value, "deliveries": deliveries.value, "production": production.value,
            "server_cpu": cpu / result["seconds"]}


async def alternating(loader, ports: dict[str, int], messages: list, counters, args,
                      settles: dict) -> dict[str, list[dict]]:
    for name, port in ports.items():
        await measure(loader, port, messages, counters, args, 1.0, settles.get(name))
    runs: dict[str, list[dict]] = {name: [] for name in ports}
    for _ in range(args.repeat):
        for name, port in ports.items():
            runs[name].append(await measure(loader, port, messages, counters, args, args.duration, settles.get(name)))
    return runs


def outbox_emptied(pool):
    """Wait until the gateway's outbox holds nothing; return how long that took."""
    async def settle() -> float:
        started = time.perf_counter()
        while await pool.fetchval("SELECT count(*) FROM outbox"):
            await asyncio.sleep(0.01)
        return time.perf_counter() - started
    return settle


async def gateway_rates(base_dsn: str, args: argparse.Namespace) -> None:
    messages = [newsletter(n) for n in range(MESSAGES)]
    suppressed = [canonical_or_none(to[i]) for to, _ in messages
                  for i in range(0, PER_MESSAGE, SUPPRESSED_EVERY)]
    spawn = multiprocessing.get_context("spawn")
    counters = (spawn.Value("q", 0), spawn.Value("q", 0), spawn.Value("q", 0))
    ports, stop = spawn.Queue(), spawn.Event()
    sink_process = spawn.Process(target=sink, args=(ports, *counters, stop), daemon=True)
    sink_process.start()
    sink_port = ports.get(timeout=60)
    try:
        async with fresh_schema(base_dsn) as dsn:
            pool = await create_pool(dsn)
            gateway = Gateway(pool, SETTINGS.with_overrides(
                database_url=dsn, gateway_port=0, relay_url=f"smtp://127.0.0.1:{sink_port}",
                dkim_key=DKIM_KEY.read_bytes(), dkim_selector="bench", dkim_domain="cetit.be"))
            try:
                async with pool.acquire() as conn:
                    rows = [(a, "global", "unsubscribe", "import") for a in suppressed]
                    await conn.copy_records_to_table(
                        "suppressions", records=rows, columns=["address", "scope", "reason", "source"])
                await gateway.start()
                with ProcessPoolExecutor(1, mp_context=spawn) as loader:
                    targets = {"service": gateway.port, "baseline": sink_port}
                    runs = await alternating(loader, targets, messages, counters, args,
                                             {"service": outbox_emptied(pool)})
            finally:
                await gateway.stop()
                await pool.close()
    finally:
        stop.set()
        sink_process.join(10)

    figures = {name: {key: median(r[key] / r["seconds"] for r in rs) for key in ("sent", "copies")}
               for name, rs in runs.items()}
    service, baseline = figures["service"], figures["baseline"]
    report("gateway", "messages", service["sent"], baseline["sent"])
    print(f"  {args.senders} SMTP clients, {PER_MESSAGE} recipients a message, 1 in {SUPPRESSED_EVERY} "
          f"suppressed (global); {args.duration:g} s per run, median of {args.repeat}")
    print(f"  service {service['sent']:.1f} messages/s, {service['copies']:,.0f} copies relayed/s, each with "
          "its own return path and DKIM signature; "
          f"baseline {baseline['sent']:.1f} messages/s, one copy each to all {PER_MESSAGE} recipients")
    allowed = PER_MESSAGE - PER_MESSAGE // SUPPRESSED_EVERY
    mismatches = []
    for name, rs in runs.items():
        for n, r in enumerate(rs, 1):
            copies = r["sent"] * (allowed if name == "service" else 1)
            deliveries = r["sent"] * (allowed if name == "service" else PER_MESSAGE)
            counted = (r["copies"], r["deliveries"], r["accepted"], r["failures"])
            if name == "service" and r["production"] != r["copies"]:
                mismatches.append(f"service run {n}: {r['copies'] - r['production']:,} copies without their own "
                                  "return path or without a DKIM signature")
            if counted != (copies, deliveries, deliveries, 0):
                mismatches.append(
                    f"{name} run {n}: sink took {r['copies']:,} copies for {r['deliveries']:,} recipients, "
                    f"expected {copies:,} for {deliveries:,} ({r['sent']:,} messages, "
                    f"{r['refused']:,} recipients refused, {r['failures']} messages failed)")
        print(f"  {name:<8} {sum(r['sent'] for r in rs):,} messages, {sum(r['refused'] for r in rs):,} "
              f"recipients refused at RCPT, sink took {sum(r['copies'] for r in rs):,} copies; CPU: "
              f"this process {median(r['server_cpu'] for r in rs):.0%}, "
              f"load process {median(r['client_cpu'] for r in rs):.0%}")
    for line in mismatches:
        print(f"  mismatch: {line}")
    verdict("the sink took exactly the expected copies", not mismatches)


async def raw_check(session: aiohttp.ClientSession, url: str, headers: dict, emails: list[str]) -> list:
    async with session.post(f"{url}/v1/check", json={"scope": SCOPE, "recipients": emails},
                            headers=headers) as response:
        response.raise_for_status()
        return json.loads(await response.read())["results"]


async def client_rates(base_dsn: str, args: argparse.Namespace) -> None:
    count = min(args.recipients, MAX_CHECK)
    emails = recipients(count)
    async with fresh_schema(base_dsn) as dsn:
        pool = await create_pool(dsn)
        try:
            async with pool.acquire() as conn:
                await load_suppressions(conn, [canonical_or_none(e) for e in emails[::SUPPRESSED_EVERY]])
            async with running_service(dsn, pool) as (url, headers):
                api_key = headers["Authorization"].removeprefix("Bearer ")
                async with OptoutClient(url, api_key, timeout=120) as client, aiohttp.ClientSession(
                    timeout=aiohttp.ClientTimeout(total=120)
                ) as session:
                    sides = {
                        "client": lambda: stopwatch(lambda: client.check(emails, scope=SCOPE)),
                        "raw": lambda: stopwatch(lambda: raw_check(session, url, headers, emails)),
                    }
                    for _ in range(WARMUP // 2):  # both sides together past PostgreSQL's custom plans
                        for timed in sides.values():
                            await timed()
                    runs = {name: [] for name in sides}
                    for _ in range(args.repeat):
                        for name, timed in sides.items():
                            runs[name].append(await timed())
        finally:
            await pool.close()

    client_s, raw_s = median(runs["client"]), median(runs["raw"])
    ratio = report("client check", "recipients", count / client_s, count / raw_s)
    print(f"  {count:,} recipients, scope {SCOPE}: OptoutClient.check {client_s:.3f} s, bare aiohttp POST "
          f"and json.loads {raw_s:.3f} s (median of {args.repeat})")
    verdict(f"ratio >= {TARGET_CLIENT_RATIO}", ratio >= TARGET_CLIENT_RATIO)


async def run(base_dsn: str, args: argparse.Namespace) -> None:
    await gateway_rates(base_dsn, args)
    await client_rates(base_dsn, args)
