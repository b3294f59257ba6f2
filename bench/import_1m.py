"""import_1m: POST /v1/suppressions/import of a generated CSV file (1,000,000 rows by default,
--rows for a quick run) streamed from disk, beside COPY of the same file into a plain copy of
the suppressions table.

Both tables hold what production holds (bench/production.py: a list of --list-size other
suppressions, erased addresses, consents) and grow as production's does: each timed run
imports a file of new addresses, one row in a thousand of them an erased address, which the
service leaves out (it stays erased) and COPY writes like any other row. The service also
audits the rows (the import, and on each row its transaction and event id: 0024) and keeps
check_marks, which COPY does not.
Memory: the process's peak RSS (ru_maxrss) before and after the service's import, and the
highest RSS sampled while it ran, show whether the import holds the file in memory.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import os
import resource
import tempfile
from pathlib import Path

import aiohttp
import asyncpg

from service.storage.db import create_pool

from .harness import fresh_schema, median, postgres_cpu_seconds, report, running_service, stopwatch, verdict
from .production import ERASED_ELSEWHERE, described, load_production

COLUMNS = ["address", "scope", "reason", "source", "note"]
WARMUP_ROWS = 10_000
ERASED_EVERY = 1_000
RUNS_AT_MOST = 8  # the warm-up and up to seven timed runs, each with erased addresses of its own
TARGET_RATIO = 0.5
MIB = 1 << 20


def write_csv(path: Path, rows: int, run: int) -> int:
    """email,scope,reason,source,note lines in every valid mix; one note in ten is quoted; one
    address in a thousand is erased (a different one in each run). Returns how many are erased."""
    reasons = {
        "global": ("unsubscribe", "bounce", "complaint", "manual"),
        "newsletter": ("unsubscribe", "manual"),
        "events": ("unsubscribe", "manual"),
    }
    scopes = list(reasons)
    per_run = ERASED_ELSEWHERE // RUNS_AT_MOST
    if rows // ERASED_EVERY > per_run:
        raise ValueError(f"at most {per_run * ERASED_EVERY:,} rows per file: the erased addresses would repeat")
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("email,scope,reason,source,note\n")
        for i in range(rows):
            scope = scopes[i % 3]
            reason = reasons[scope][i % len(reasons[scope])]
            note = '"from the old list, 2019"' if i % 10 == 0 else ("" if i % 2 else "legacy")
            if i % ERASED_EVERY == ERASED_EVERY - 1:
                out.write(f"gone.{run * per_run + i // ERASED_EVERY}@example.org,{scope},{reason},import,{note}\n")
            else:
                out.write(f"run{run}.member.{i}@example{i % 997}.be,{scope},{reason},import,{note}\n")
    return rows // ERASED_EVERY


def rss_now() -> int:
    """Resident memory of this process in bytes, now (Linux); 0 where /proc is missing."""
    with contextlib.suppress(OSError):
        return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    return 0


def peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


async def import_over_http(
    session: aiohttp.ClientSession, url: str, headers: dict, path: Path, rows: int, erased: int
) -> None:
    """POST the file as the body; aiohttp streams a file object in chunks."""
    headers = {**headers, "Content-Type": "text/csv"}
    with path.open("rb") as body:
        async with session.post(f"{url}/v1/suppressions/import", data=body, headers=headers) as response:
            summary = await response.json()
    if summary.get("imported") != rows - erased:
        raise RuntimeError(f"the service imported {summary.get('imported')} of {rows} rows, "
                           f"{erased} of them erased: {summary}")


async def sampled(run, samples: list[int]) -> float:
    """Time `run` while sampling this process's RSS every 50 ms."""
    async def sample() -> None:
        while True:
            samples.append(rss_now())
            await asyncio.sleep(0.05)

    sampler = asyncio.create_task(sample())
    try:
        return await stopwatch(run)
    finally:
        sampler.cancel()


async def run(base_dsn: str, args: argparse.Namespace) -> None:
    rows = args.rows
    with tempfile.TemporaryDirectory(prefix="optout-bench-") as tmp:
        warmup = Path(tmp) / "warmup.csv", write_csv(Path(tmp) / "warmup.csv", min(rows, WARMUP_ROWS), 0)
        files = []
        for run_number in range(1, args.repeat + 1):
            path = Path(tmp) / f"import-{run_number}.csv"
            files.append((path, write_csv(path, rows, run_number)))
        size = files[0][0].stat().st_size
        async with fresh_schema(base_dsn) as dsn:
            pool = await create_pool(dsn)
            try:
                async with pool.acquire() as conn:
                    held = await load_production(conn, args.list_size)
                    await conn.execute("CREATE TABLE raw_copy (LIKE suppressions INCLUDING ALL)")
                    await conn.execute("INSERT INTO raw_copy SELECT * FROM suppressions")
                    await conn.execute("VACUUM ANALYZE raw_copy")
                service, memory, cpu = await service_imports(pool, dsn, files, warmup, rows)
                async with pool.acquire() as conn:
                    baseline, copy_cpu = await baseline_copies(conn, files, warmup[0])
            finally:
                await pool.close()

    ratio = report("import_1m", "rows", rows / median(service), rows / median(baseline))
    print(f"  {rows:,} rows ({size / MIB:.0f} MiB CSV), {files[0][1]:,} of them erased: service {median(service):.1f} s, "
          f"baseline COPY {median(baseline):.1f} s (median of {args.repeat})")
    print(f"  {described(held)}; each run's rows are added to it")
    print(f"  CPU while the service imported: this process {cpu[0]:.0%}, PostgreSQL {cpu[1]:.0%} (an import is "
          f"one transaction: one server process); while COPY ran: PostgreSQL {copy_cpu:.0%} ({os.cpu_count()} cores)")
    verdict(f"ratio >= {TARGET_RATIO}", ratio >= TARGET_RATIO)
    peak_before, peak_after, start, highest = (value / MIB for value in memory)
    print(f"  memory of this process: RSS {start:.0f} MiB when the service's imports started, "
          f"at most {highest:.0f} MiB while they ran; peak RSS (ru_maxrss) {peak_before:.0f} MiB "
          f"before, {peak_after:.0f} MiB after")


async def service_imports(
    pool: asyncpg.Pool, dsn: str, files: list[tuple[Path, int]], warmup: tuple[Path, int], rows: int
) -> tuple[list[float], tuple[int, int, int, int], tuple[float, float]]:
    """Seconds of each import after a warm-up, and the memory of this process: (peak RSS
    before, peak RSS after, RSS at the start, highest RSS sampled during the imports), and the CPU
    share of this process and of PostgreSQL while they ran."""
    timeout = aiohttp.ClientTimeout(total=None)
    async with running_service(dsn, pool) as (url, headers):
        async with aiohttp.ClientSession(timeout=timeout) as session:
            await import_over_http(session, url, headers, warmup[0], min(rows, WARMUP_ROWS), warmup[1])
            times, samples = [], []
            before, start = peak_rss(), rss_now()
            cpu = resource.getrusage(resource.RUSAGE_SELF)
            database = postgres_cpu_seconds()
            for path, erased in files:
                upload = functools.partial(import_over_http, session, url, headers, path, rows, erased)
                times.append(await sampled(upload, samples))
            database = (postgres_cpu_seconds() - database) / sum(times)
            after = resource.getrusage(resource.RUSAGE_SELF)
            own = (after.ru_utime + after.ru_stime - cpu.ru_utime - cpu.ru_stime) / sum(times)
            return times, (before, peak_rss(), start, max(samples)), (own, database)


async def baseline_copies(
    conn: asyncpg.Connection, files: list[tuple[Path, int]], warmup: Path
) -> tuple[list[float], float]:
    """Seconds of each COPY of the same files into raw_copy, after a warm-up; PostgreSQL's CPU share."""
    async def copy(source: Path) -> None:
        await conn.copy_to_table("raw_copy", source=source, columns=COLUMNS, format="csv", header=True)

    await copy(warmup)
    database = postgres_cpu_seconds()
    times = [await stopwatch(functools.partial(copy, path)) for path, _ in files]
    return times, (postgres_cpu_seconds() - database) / sum(times)
