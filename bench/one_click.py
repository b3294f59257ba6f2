"""one_click: RFC 8058 one-click POSTs to /u/{token} from 32 concurrent clients, each for a new
address (a suppression and its event committed before the 200), beside 32 asyncpg connections
each committing single-row `INSERT ... ON CONFLICT DO NOTHING` (autocommit) for new addresses.

The service runs in this process with its default pool; the clients and the raw inserts run in
a separate process, so the load's own work is charged to neither. The database holds what
production holds (bench/production.py), and both sides write to its suppressions table. Each timed run lasts
--duration seconds after a warm-up; the figures are the medians of the runs. Then, in this
process on one core: TokenSigner.sign and .verify per second beside a bare HMAC-SHA256 of what a
token signs, and the length of a token and of its List-Unsubscribe header.
"""

from __future__ import annotations

import argparse
import base64
import asyncio
import functools
import hashlib
import hmac
import multiprocessing
import os
import resource
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Awaitable, Callable

import aiohttp
import asyncpg

from service.app import create_app
from service.domain.tokens import TokenSigner
from service.domain.suppressions import suppression_list
from service.domain.suppressions.keyed_hash import KeyedHash
from service.domain.suppressions.links import ONE_CLICK_BODY, link_for
from service.settings import Settings
from service.storage.db import connect, create_pool

from .harness import fresh_schema, load_summary, median, postgres_cpu_seconds, report, serve, verdict
from .scaling import SECRET_KEY, optout_serve
from .production import HASH_KEY, described, load_production

POOL_SIZE = 10  # the service's default pool (storage.db.create_pool)
SCOPE = "newsletter"
CAMPAIGN = "2026-12-black-friday"
# Addresses made ready per second of a run, well above each side's rate; a run that uses all says so.
TOKENS_PER_SECOND = 12_000
ADDRESSES_PER_SECOND = 40_000
BASELINE_INSERT = (
    "INSERT INTO suppressions (address, scope, reason, source) "
    "VALUES ($1, 'newsletter', 'unsubscribe', 'one_click') ON CONFLICT DO NOTHING"
)
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
SETTINGS = Settings(secret_keys=("x" * 32,), hash_key=b"h" * 32, public_url="https://optout.cetit.be")
EXAMPLES = {
    "typical": ("jan.peeters@telenet.be", None),
    "long": ("firstname.lastname+newsletter@subdomain.example.be", CAMPAIGN),
}
MAILBOXES = ("jan.peeters", "marie.dubois", "an.janssens", "firstname.lastname+newsletter")
DOMAINS = ("telenet.be", "gmail.com", "skynet.be", "subdomain.example.be")
SIGNED = 20_000
TARGET_RPS_RATIO = 0.5


def signer() -> TokenSigner:
    """Made as service.app.create_app makes it, from the same settings as the service."""
    return TokenSigner(SETTINGS.secret_keys, timedelta(days=SETTINGS.link_max_age_days))


def new_addresses(prefix: str, count: int) -> list[str]:
    return [f"{prefix}.reader.{i}@example{i % 500}.be" for i in range(count)]


async def one_click(session: aiohttp.ClientSession, url: str, token: str) -> bool:
    async with session.post(f"{url}/u/{token}", data=ONE_CLICK_BODY, headers=FORM) as response:
        await response.read()
        return response.status == 200


async def raw_insert(conn: asyncpg.Connection, address: str) -> bool:
    await conn.execute(BASELINE_INSERT, address)
    return True


async def statement(conn: asyncpg.Connection, keyed_hash: KeyedHash, recipient_id: str) -> bool:
    """The one statement a one-click of a campaign's link runs, without HTTP around it."""
    address, _created, _suppression = await suppression_list.suppress_recipient(
        conn, int(recipient_id), SCOPE, "unsubscribe", "one_click", keyed_hash=keyed_hash, campaign=CAMPAIGN)
    return address is not None


def drive_statement(dsn: str, recipient_ids: list[str], concurrency: int, duration: float) -> dict:
    """In the load process: the one-click's statement for these recipients, from `concurrency`
    connections set up as the service's pool sets them up."""
    async def run() -> dict:
        connections = [await connect(dsn) for _ in range(concurrency)]
        try:
            keyed_hash = KeyedHash(HASH_KEY)
            return await timed([functools.partial(statement, c, keyed_hash) for c in connections], recipient_ids, duration)
        finally:
            await asyncio.gather(*(c.close() for c in connections))
    return asyncio.run(run())


def drive(target: str, items: list[str], concurrency: int, duration: float) -> dict:
    """In the load process: POST the tokens to `target` (a URL), or insert the addresses (a DSN)."""
    return asyncio.run(_drive(target, items, concurrency, duration))


async def _drive(target: str, items: list[str], concurrency: int, duration: float) -> dict:
    if target.startswith("http"):
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:
            return await timed([functools.partial(one_click, session, target)] * concurrency, items, duration)
    connections = [await asyncpg.connect(target) for _ in range(concurrency)]
    try:
        return await timed([functools.partial(raw_insert, c) for c in connections], items, duration)
    finally:
        await asyncio.gather(*(c.close() for c in connections))


async def timed(senders: list[Callable[[str], Awaitable[bool]]], items: list[str], duration: float) -> dict:
    """Each sender takes the next unused item until `duration` s are up; every item is used once."""
    pending = iter(items)
    latencies: list[float] = []
    errors = 0

    async def client(send: Callable[[str], Awaitable[bool]], until: float) -> None:
        nonlocal errors
        for item in pending:
            started = time.perf_counter()
            errors += not await send(item)
            latencies.append(time.perf_counter() - started)
            if started >= until:
                return

    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(client(send, started + duration) for send in senders))
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    return {**load_summary(latencies, elapsed, errors, cpu),
            "sent": len(latencies), "exhausted": len(latencies) == len(items)}


async def measure(
    loader: ProcessPoolExecutor, target: str, items: list[str], args: argparse.Namespace, duration: float
) -> dict:
    """One run of the load process, with this process's CPU use while it lasted."""
    loop = asyncio.get_running_loop()
    usage, started, database = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter(), postgres_cpu_seconds()
    result = await loop.run_in_executor(loader, drive, target, items, args.concurrency, duration)
    after, elapsed = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter() - started
    result["server_cpu"] = (after.ru_utime + after.ru_stime - usage.ru_utime - usage.ru_stime) / elapsed
    result["database_cpu"] = (postgres_cpu_seconds() - database) / elapsed
    return result


async def alternating(
    loader: ProcessPoolExecutor, url: str, dsn: str, args: argparse.Namespace
) -> dict[str, list[dict]]:
    """A one-second warm-up of each, then the timed runs in turn, each on addresses never used before."""
    sign = signer().sign
    runs: dict[str, list[dict]] = {"service": [], "baseline": []}
    for n, duration in enumerate([1.0] + [args.duration] * args.repeat):
        tokens = [sign(a, SCOPE) for a in new_addresses(f"service{n}", int(TOKENS_PER_SECOND * duration))]
        runs["service"].append(await measure(loader, url, tokens, args, duration))
        raw = new_addresses(f"raw{n}", int(ADDRESSES_PER_SECOND * duration))
        runs["baseline"].append(await measure(loader, dsn, raw, args, duration))
    return runs


async def deployed_runs(loader: ProcessPoolExecutor, dsn: str, args: argparse.Namespace) -> dict[int, list[dict]]:
    """The same load on `optout serve` as deployed, with one web process and with two (the
    service, PostgreSQL and the load share this machine's cores): a warm-up and the timed runs."""
    sign = TokenSigner([SECRET_KEY], timedelta(days=SETTINGS.link_max_age_days)).sign
    runs: dict[int, list[dict]] = {}
    with tempfile.TemporaryDirectory(prefix="optout-bench-") as folder:
        for processes in (1, 2):
            async with optout_serve(dsn, {}, Path(folder), processes) as server:
                runs[processes] = []
                for n, duration in enumerate([1.0] + [args.duration] * args.repeat):
                    prefix = f"serve{processes}x{n}"
                    tokens = [sign(a, SCOPE) for a in new_addresses(prefix, int(TOKENS_PER_SECOND * duration))]
                    runs[processes].append(await measure(loader, server.url, tokens, args, duration))
    return runs


async def run(base_dsn: str, args: argparse.Namespace) -> None:
    await one_click_rates(base_dsn, args)
    token_rates(args)


async def one_click_rates(base_dsn: str, args: argparse.Namespace) -> None:
    async with fresh_schema(base_dsn) as dsn:
        pool = await create_pool(dsn, min_size=POOL_SIZE, max_size=POOL_SIZE)
        try:
            async with pool.acquire() as conn:
                held = await load_production(conn, args.list_size)
            with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as loader:
                async with serve(create_app(SETTINGS.with_overrides(database_url=dsn), pool)) as url:
                    runs = await alternating(loader, url, dsn, args)
                deployed = await deployed_runs(loader, dsn, args)
            stored = await pool.fetchrow(
                "SELECT (SELECT count(*) FROM suppressions WHERE address LIKE 'service%') AS suppressions,"
                " (SELECT count(*) FROM events WHERE source = 'one_click' AND address LIKE 'service%') AS events"
            )
        finally:
            await pool.close()

    answered = sum(r["sent"] - r["errors"] for r in runs["service"])
    timed_runs = {name: rs[1:] for name, rs in runs.items()}
    figures = {name: {key: median(r[key] for r in rs) for key in rs[0]} for name, rs in timed_runs.items()}
    ratio = report("one_click", "requests", figures["service"]["rps"], figures["baseline"]["rps"])
    print(f"  {args.concurrency} clients, {args.duration:g} s per run, median of {args.repeat}; "
          f"service pool {POOL_SIZE}; baseline: {args.concurrency} connections, a request is one INSERT")
    print(f"  both write to the same suppressions table: {described(held)}")
    for name, f in figures.items():
        print(f"  {name:<8} p50 {f['p50'] * 1000:.2f} ms, p99 {f['p99'] * 1000:.2f} ms, "
              f"errors {sum(r['errors'] for r in runs[name])}, CPU: this process {f['server_cpu']:.0%}, "
              f"PostgreSQL {f['database_cpu']:.0%}, "
              f"load process {f['client_cpu']:.0%}")
        if any(r["exhausted"] for r in runs[name]):
            print(f"  {name}: a run ran out of new addresses, so its figures are too low")
    for processes, rs in deployed.items():
        f = {key: median(r[key] for r in rs[1:]) for key in ("rps", "p50", "p99", "database_cpu", "client_cpu")}
        print(f"  `optout serve`, WEB_CONCURRENCY={processes}: {f['rps']:,.0f} requests/s "
              f"(ratio {f['rps'] / figures['baseline']['rps']:.2f}), p50 {f['p50'] * 1000:.2f} ms, "
              f"p99 {f['p99'] * 1000:.2f} ms, errors {sum(r['errors'] for r in rs)}, CPU: PostgreSQL "
              f"{f['database_cpu']:.0%}, load process {f['client_cpu']:.0%} ({os.cpu_count()} cores in all)")
    print(f"  service answered 200 {answered:,} times; stored {stored['suppressions']:,} suppressions "
          f"and {stored['events']:,} events")
    verdict(f"requests/s ratio >= {TARGET_RPS_RATIO}", ratio >= TARGET_RPS_RATIO)


def rate(step: Callable[[object], object], inputs: list, repeat: int) -> float:
    """Calls per second of `step` over `inputs`, median of `repeat` passes after one warm-up pass."""
    def one_pass() -> float:
        started = time.perf_counter()
        for value in inputs:
            step(value)
        return len(inputs) / (time.perf_counter() - started)

    one_pass()
    return median(one_pass() for _ in range(repeat))


def token_rates(args: argparse.Namespace) -> None:
    """Opaque tokens (what links carry now): a recipient id, scope, campaign and day, with their
    MAC; the baseline is a bare HMAC-SHA256 of the same bytes."""
    tokens_of = signer()
    claims = [(1_000_000 + i, SCOPE, CAMPAIGN) for i in range(SIGNED)]
    tokens = [tokens_of.issue(*claim) for claim in claims]
    signed_parts = [base64.urlsafe_b64decode(t + "=" * (-len(t) % 4))[:-10] for t in tokens]  # what the MAC covers
    key = hmac.digest(SETTINGS.secret_keys[0].encode(), b"optout.link.v2", "sha256")

    def raw_hmac(payload: bytes) -> bytes:
        return hmac.new(key, payload, hashlib.sha256).digest()

    hmacs = rate(raw_hmac, signed_parts, args.repeat)
    report("token_sign", "tokens", rate(lambda claim: tokens_of.issue(*claim), claims, args.repeat), hmacs)
    report("token_verify", "tokens", rate(tokens_of.verify, tokens, args.repeat), hmacs)
    print(f"  {SIGNED:,} recipients with scope and campaign, one core; baseline: HMAC-SHA256 of "
          f"{median(len(p) for p in signed_parts):.0f} bytes")
    for name, (address, campaign) in EXAMPLES.items():
        link = link_for(tokens_of, SETTINGS.public_url, SETTINGS.mailto, address, SCOPE, campaign, 1_234_567)
        token = link.url.rsplit("/", 1)[1]
        print(f"  {name} token ({address}, {SCOPE}, campaign {campaign}): {len(token)} chars; "
              f"List-Unsubscribe for {SETTINGS.public_url}: {len(link.headers['List-Unsubscribe'])} chars")
