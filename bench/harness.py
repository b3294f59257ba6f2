"""What the benchmarks share: the database, a fresh schema, a server on a real socket, the report."""

from __future__ import annotations

import contextlib
import os
import secrets
import statistics
import time
from pathlib import Path
from typing import AsyncIterator, Awaitable, Callable, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg
from aiohttp import web

from service.app import create_app
from service.domain.apikeys import create_key
from service.settings import Settings
from service.storage.db import migrate_dsn, start_embedded

DATABASE_VARIABLES = ("BENCH_DATABASE_URL", "DATABASE_URL", "TEST_DATABASE_URL")
T = TypeVar("T")


def database_url() -> tuple[str, object | None]:
    """The server to measure on, and the embedded server when none was given (keep it referenced)."""
    for name in DATABASE_VARIABLES:
        if os.environ.get(name):
            return os.environ[name], None
    server, dsn = start_embedded(Path("var"))
    return dsn, server


def with_search_path(dsn: str, schema: str) -> str:
    """The DSN with `search_path` as a query parameter, which asyncpg sends as a server setting."""
    parts = urlsplit(dsn)
    query = dict(parse_qsl(parts.query))
    query["search_path"] = schema
    return urlunsplit(parts._replace(query=urlencode(query)))


@contextlib.asynccontextmanager
async def fresh_schema(base_dsn: str) -> AsyncIterator[str]:
    """A new schema with the service's migrations applied; yields its DSN and drops it at the end."""
    schema = f"bench_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(base_dsn)
    try:
        await admin.execute(f'CREATE SCHEMA "{schema}"')
        dsn = with_search_path(base_dsn, schema)
        await migrate_dsn(dsn)
        yield dsn
    finally:
        await admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await admin.close()


@contextlib.asynccontextmanager
async def serve(app: web.Application) -> AsyncIterator[str]:
    """Run an app on a free port of 127.0.0.1, set up as `optout serve` does; yield its base URL."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()


@contextlib.asynccontextmanager
async def running_service(dsn: str, pool: asyncpg.Pool) -> AsyncIterator[tuple[str, dict[str, str]]]:
    """The service on a real socket; yields its base URL and the headers of an admin API key."""
    settings = Settings(database_url=dsn, secret_keys=("x" * 32,), hash_key=b"h" * 32)
    async with pool.acquire() as conn:
        _, key = await create_key(conn, "bench", ["admin"])
    async with serve(create_app(settings, pool)) as url:
        yield url, {"Authorization": f"Bearer {key}"}


async def repeated(run: Callable[[], Awaitable[T]], repeat: int, warmup: int = 1) -> list[T]:
    """Results of `repeat` runs after `warmup` runs whose results are thrown away."""
    for _ in range(warmup):
        await run()
    return [await run() for _ in range(repeat)]


async def stopwatch(run: Callable[[], Awaitable[object]]) -> float:
    started = time.perf_counter()
    await run()
    return time.perf_counter() - started


def median(values) -> float:
    return statistics.median(values)


def report(name: str, unit: str, service: float, baseline: float) -> float:
    """Print the benchmark's headline line; return the ratio service/baseline."""
    ratio = service / baseline
    print(f"{name}: service {service:,.0f} {unit}/s, baseline {baseline:,.0f} {unit}/s, "
          f"ratio {ratio:.2f}")
    return ratio


def verdict(target: str, met: bool) -> None:
    print(f"  target {target}: {'pass' if met else 'miss'} (info only)")


def postgres_cpu_seconds() -> float:
    """CPU seconds used so far by the PostgreSQL servers on this machine: their processes that
    run, and through each postmaster's count of its children, those that ended. NaN when
    /proc cannot tell (another system, or the server on another machine)."""
    tick = os.sysconf("SC_CLK_TCK")
    processes: dict[int, tuple[str, int, list[int]]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # it ended meanwhile
        name, rest = stat[stat.index("(") + 1:stat.rindex(")")], stat[stat.rindex(")") + 2:].split()
        processes[int(entry.name)] = (name, int(rest[1]), [int(v) for v in rest[11:15]])
    postmasters = {pid for pid, (name, parent, _) in processes.items()
                   if name == "postgres" and processes.get(parent, ("",))[0] != "postgres"}
    if not postmasters:
        return float("nan")
    total = sum(sum(times) for pid, (_, _, times) in processes.items() if pid in postmasters)
    total += sum(sum(times[:2]) for _, parent, times in processes.values() if parent in postmasters)
    return total / tick


def load_summary(latencies: list[float], elapsed: float, errors: int, cpu: float) -> dict:
    """Requests per second, p50 and p99 latency, and the load process's CPU share of a run."""
    latencies.sort()
    return {
        "rps": len(latencies) / elapsed,
        "p50": latencies[len(latencies) // 2],
        "p99": latencies[int(len(latencies) * 0.99)],
        "errors": errors,
        "client_cpu": cpu / elapsed,
    }
