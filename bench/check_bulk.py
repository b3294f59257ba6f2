"""check_bulk: POST /v1/check with 100,000 recipients, end to end, beside one raw
`address = ANY($1)` query for the same canonical addresses on the same database; in scope
newsletter (no consent needed) and in scope news, registered `consent: required`.

The database is as production's (bench/production.py): besides the recipients' own rows, a list
of --list-size (1,000,000) other suppressions, 10,000 erased addresses (and 1 recipient in 100
erased), and consents: 9 recipients in 10 gave one in news, and 100,000 other addresses did. One recipient in
ten is suppressed (COPY-loaded, half in scope global, half in newsletter). The service's time
includes the client encoding the request and parsing the answer (with orjson, as a sender
that checks 100,000 addresses at a time would); the breakdown times the same
steps one by one in this process. The consent figure is the news check's time beside the
newsletter check's, both from this run: the contract wants it within 10%.
"""

from __future__ import annotations

import argparse
import random
import time

import aiohttp
import orjson
import asyncpg

from service.domain.suppressions import suppression_list
from service.domain.addresses import canonical_batch, canonical_or_none
from service.domain.suppressions.erased_hashes import ErasedHashes
from service.domain.suppressions.keyed_hash import KeyedHash
from service.domain.suppressions.rules import MAX_CHECK
from service.storage import queries
from service.storage.db import create_pool
from service.web import views

from .production import CONSENT_SCOPE, described, load_production
from .harness import fresh_schema, median, repeated, report, running_service, stopwatch, verdict

SCOPE = "newsletter"
BLOCKING_SCOPES = ("global", "newsletter")
TARGET_CONSENT_OVERHEAD = 1.10
BASELINE_QUERY = (
    "SELECT address, scope, reason, created_at FROM suppressions WHERE address = ANY($1::text[])"
)
TARGET_RATIO = 0.5
TARGET_SECONDS = 1.5
# PostgreSQL plans a prepared statement for its parameters five times, then may switch to a
# generic plan: warm both sides past that, into the state of a long-running process.
WARMUP = 6


def recipients(count: int) -> list[str]:
    """Addresses as a campaign tool sends them: in no particular order, some capitalised."""
    emails = [f"{'Reader' if i % 7 == 0 else 'reader'}.{i}@example{i % 500}.be" for i in range(count)]
    random.Random(count).shuffle(emails)
    return emails


async def load_suppressions(conn: asyncpg.Connection, addresses: list[str]) -> None:
    rows = [(a, BLOCKING_SCOPES[i % 2], "unsubscribe", "import") for i, a in enumerate(addresses)]
    await conn.copy_records_to_table(
        "suppressions", records=rows, columns=["address", "scope", "reason", "source"]
    )
    await conn.execute("ANALYZE suppressions")
    await conn.execute("ANALYZE check_marks")


async def check_over_http(
    session: aiohttp.ClientSession, url: str, headers: dict, emails: list[str], scope: str = SCOPE
) -> dict[str, float]:
    """One bulk check as a sender makes it; the seconds of each client-side step."""
    started = time.perf_counter()
    body = orjson.dumps({"scope": scope, "recipients": emails})
    encoded = time.perf_counter()
    headers = {**headers, "Content-Type": "application/json"}
    async with session.post(f"{url}/v1/check", data=body, headers=headers) as response:
        raw = await response.read()
        response.raise_for_status()
    received = time.perf_counter()
    results = orjson.loads(raw)["results"]
    done = time.perf_counter()
    assert len(results) == len(emails)
    return {
        "total": done - started,
        "client encode": encoded - started,
        "request and answer": received - encoded,
        "client decode": done - received,
    }


async def server_steps(pool: asyncpg.Pool, emails: list[str], erased: ErasedHashes) -> dict[str, float]:
    """The service's own steps for the same check, timed one by one without HTTP."""
    keyed_hash = KeyedHash(b"h" * 32)
    body = orjson.dumps({"scope": SCOPE, "recipients": emails})
    steps = {}
    started = time.perf_counter()
    orjson.loads(body)
    steps["server parse"] = time.perf_counter() - started
    started = time.perf_counter()
    canonical = set(canonical_batch(emails))
    canonical.discard(None)
    distinct = sorted(canonical)
    steps["  canonicalise and sort"] = time.perf_counter() - started
    started = time.perf_counter()
    keyed_hash.of_many(distinct)
    steps["  HMACs (while the query runs)"] = time.perf_counter() - started
    async with pool.acquire() as conn:
        steps["  query"] = await stopwatch(lambda: queries.check_marks(conn, distinct, SCOPE))
        started = time.perf_counter()
        results = await suppression_list.check(conn, emails, SCOPE, keyed_hash, erased)
        steps["server check (all of it)"] = time.perf_counter() - started
    started = time.perf_counter()
    orjson.dumps({"scope": SCOPE, "results": views.check_results(results)})
    steps["server encode (JSON made at the edge)"] = time.perf_counter() - started
    return steps


async def service_runs(dsn: str, pool: asyncpg.Pool, emails: list[str], repeat: int) -> dict[str, list[dict]]:
    """The newsletter check and the consent-required check, in turn, on one running service."""
    timeout = aiohttp.ClientTimeout(total=None)
    runs: dict[str, list[dict]] = {SCOPE: [], CONSENT_SCOPE: []}
    async with running_service(dsn, pool) as (url, headers):
        async with aiohttp.ClientSession(timeout=timeout) as session:
            for _ in range(WARMUP):
                for scope in runs:
                    await check_over_http(session, url, headers, emails, scope)
            for _ in range(repeat):
                for scope in runs:
                    runs[scope].append(await check_over_http(session, url, headers, emails, scope))
    return runs


async def run(base_dsn: str, args: argparse.Namespace) -> None:
    count = min(args.recipients, MAX_CHECK)
    emails = recipients(count)
    canonical = [canonical_or_none(e) for e in emails]
    async with fresh_schema(base_dsn) as dsn:
        pool = await create_pool(dsn)
        try:
            async with pool.acquire() as conn:
                await load_suppressions(conn, canonical[::10])
                held = await load_production(conn, args.list_size, canonical)
            both = await service_runs(dsn, pool, emails, args.repeat)
            service = both[SCOPE]
            baseline = await repeated(
                lambda: stopwatch(lambda: pool.fetch(BASELINE_QUERY, canonical)), args.repeat, WARMUP
            )
            erased = ErasedHashes()
            steps = await repeated(lambda: server_steps(pool, emails, erased), args.repeat)
        finally:
            await pool.close()

    service_s, baseline_s = median(r["total"] for r in service), median(baseline)
    ratio = report("check_bulk", "recipients", count / service_s, count / baseline_s)
    print(f"  {count:,} recipients, {len(canonical[::10]):,} suppressed, {held['erased recipients']:,} erased; "
          f"{described(held)}")
    print(f"  scope {SCOPE}: service {service_s:.3f} s, baseline {baseline_s:.3f} s (median of {args.repeat})")
    consent_s = median(r["total"] for r in both[CONSENT_SCOPE])
    print(f"  scope {CONSENT_SCOPE} (consent required, 1 recipient in 10 without one): service {consent_s:.3f} s, "
          f"{consent_s / service_s:.2f} times the time without consent")
    verdict(f"consent-required check within {TARGET_CONSENT_OVERHEAD - 1:.0%} of the check without",
            consent_s <= service_s * TARGET_CONSENT_OVERHEAD)
    verdict(f"ratio baseline_time/service_time >= {TARGET_RATIO}", ratio >= TARGET_RATIO)
    verdict(f"service < {TARGET_SECONDS} s", service_s < TARGET_SECONDS)
    print("  breakdown (median seconds):")
    for step in ("client encode", "request and answer", "client decode"):
        print(f"    {step:<26} {median(r[step] for r in service):.3f}")
    for step in steps[0]:
        print(f"    {step:<26} {median(s[step] for s in steps):.3f}")
