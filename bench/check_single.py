"""check_single: GET /v1/check?email=...&scope=newsletter from 32 concurrent clients, beside a
minimal aiohttp app whose handler does one asyncpg `fetchrow` from a pool of the same size.

Both servers run in this process, one at a time; the load comes from a separate process so
the clients' own work is charged to neither. Each timed run lasts --duration seconds after a
warm-up; requests per second and latency percentiles are the medians of the runs.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import resource
import time
from concurrent.futures import ProcessPoolExecutor
from urllib.parse import quote

import aiohttp
import asyncpg
from aiohttp import web

from service.storage.db import create_pool

from .check_bulk import load_suppressions, recipients
from .production import described, load_production
from .harness import fresh_schema, load_summary, median, report, running_service, serve, verdict

POOL_SIZE = 10  # the service's default pool (storage.db.create_pool)
ADDRESSES = 100_000  # as in check_bulk: one in ten suppressed
BASELINE_QUERY = "SELECT reason FROM suppressions WHERE address = $1 LIMIT 1"
TARGET_RPS_RATIO = 1.0
TARGET_P99_FACTOR = 1.0


def baseline_app(pool: asyncpg.Pool) -> web.Application:
    async def check(request: web.Request) -> web.Response:
        email = request.query["email"]
        row = await pool.fetchrow(BASELINE_QUERY, email)
        if row is None:
            return web.json_response({"email": email, "allowed": True})
        return web.json_response({"email": email, "allowed": False, "reason": row["reason"]})

    app = web.Application()
    app.router.add_get("/v1/check", check)
    return app


def drive(url: str, headers: dict, emails: list[str], concurrency: int, duration: float) -> dict:
    """In the load process: `concurrency` clients asking one address at a time for `duration` s."""
    return asyncio.run(_drive(url, headers, emails, concurrency, duration))


async def _drive(url: str, headers: dict, emails: list[str], concurrency: int, duration: float) -> dict:
    urls = [f"{url}/v1/check?email={quote(e)}&scope=newsletter" for e in emails]
    latencies: list[float] = []
    errors = 0

    async def client(offset: int, session: aiohttp.ClientSession, until: float) -> None:
        nonlocal errors
        i = offset
        while time.perf_counter() < until:
            started = time.perf_counter()
            async with session.get(urls[i % len(urls)], headers=headers) as response:
                await response.read()
                errors += response.status != 200
            latencies.append(time.perf_counter() - started)
            i += concurrency

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.perf_counter()
        cpu = time.process_time()
        await asyncio.gather(*(client(n, session, started + duration) for n in range(concurrency)))
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu
    return load_summary(latencies, elapsed, errors, cpu)


async def measure(
    loader: ProcessPoolExecutor,
    url: str,
    headers: dict,
    emails: list[str],
    concurrency: int,
    duration: float,
) -> dict:
    """One run of the load process against `url`, with this process's CPU use while it lasted."""
    loop = asyncio.get_running_loop()
    usage, started = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    result = await loop.run_in_executor(loader, drive, url, headers, emails, concurrency, duration)
    after, elapsed = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter() - started
    result["server_cpu"] = (after.ru_utime + after.ru_stime - usage.ru_utime - usage.ru_stime) / elapsed
    return result


async def alternating(
    loader: ProcessPoolExecutor, targets: dict, emails: list[str], args: argparse.Namespace
) -> dict[str, list[dict]]:
    """Warm each target up for a second, then time them in turn, so drift hits both alike."""
    for url, headers in targets.values():
        await measure(loader, url, headers, emails, args.concurrency, 1.0)
    runs: dict[str, list[dict]] = {name: [] for name in targets}
    for _ in range(args.repeat):
        for name, (url, headers) in targets.items():
            result = await measure(loader, url, headers, emails, args.concurrency, args.duration)
            runs[name].append(result)
    return runs


async def run(base_dsn: str, args: argparse.Namespace) -> None:
    emails = recipients(ADDRESSES)
    canonical = [e.lower() for e in emails]
    spawn = multiprocessing.get_context("spawn")
    async with fresh_schema(base_dsn) as dsn:
        service_pool = await create_pool(dsn, min_size=POOL_SIZE, max_size=POOL_SIZE)
        baseline_pool = await asyncpg.create_pool(dsn, min_size=POOL_SIZE, max_size=POOL_SIZE)
        try:
            async with service_pool.acquire() as conn:
                await load_suppressions(conn, canonical[::10])
                held = await load_production(conn, args.list_size, canonical)
            with ProcessPoolExecutor(1, mp_context=spawn) as loader:
                async with running_service(dsn, service_pool) as (url, headers):
                    async with serve(baseline_app(baseline_pool)) as raw_url:
                        targets = {"service": (url, headers), "baseline": (raw_url, {})}
                        runs = await alternating(loader, targets, canonical, args)
        finally:
            await service_pool.close()
            await baseline_pool.close()

    figures = {name: {key: median(r[key] for r in rs) for key in rs[0]} for name, rs in runs.items()}
    service, baseline = figures["service"], figures["baseline"]
    ratio = report("check_single", "requests", service["rps"], baseline["rps"])
    p99_factor = service["p99"] / baseline["p99"]
    print(f"  {args.concurrency} clients, {args.duration:g} s per run, median of {args.repeat}; {described(held)}")
    for name, f in figures.items():
        print(f"  {name:<8} p50 {f['p50'] * 1000:.2f} ms, p99 {f['p99'] * 1000:.2f} ms, "
              f"errors {f['errors']:.0f}, CPU: server process {f['server_cpu']:.0%}, "
              f"load process {f['client_cpu']:.0%}")
    verdict(f"requests/s ratio >= {TARGET_RPS_RATIO}", ratio >= TARGET_RPS_RATIO)
    verdict(f"p99 within {TARGET_P99_FACTOR:g}x of the baseline (is {p99_factor:.2f}x)",
            p99_factor <= TARGET_P99_FACTOR)
