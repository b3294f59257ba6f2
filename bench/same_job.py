"""same_job: each job of the service beside the smallest aiohttp + asyncpg program that does the
same job over the same protocol (bench/minimal.py), in the same run, on the same PostgreSQL.

The service runs as deployed: `optout run` (web, inbound receiver, worker and gateway in one
process), an API key checked on every request; the minimal app runs as a process of its own.
Both are started afresh for each job on one schema loaded as production's (bench/production.py);
the load comes from a separate process. Beside them stays the raw figure of the job's existing
benchmark (COPY, the `email` parse, single-row INSERTs, one `= ANY` query, check_single's app).
Each side gets a warm-up, then the timed runs take turns, so that drift on a shared machine hits
all sides alike. Ratio = service/minimal, higher is better; the targets are info only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import tempfile
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Awaitable, Callable

import asyncpg

from service.domain.addresses import canonical_or_none
from service.domain.apikeys import create_key
from service.domain.suppressions.rules import MAX_CHECK
from service.storage.db import create_pool

from . import check_bulk, check_single, import_1m, inbound, minimal, one_click
from .harness import fresh_schema, median
from .production import CONSENT_SCOPE, described, load_production
from .same_job_servers import (INBOUND_SENDERS, Started, bulk_checks, links, log_warnings, minimal_app, optout_run,
                               post_until_processed, upload)
from .scaling import baseline_server

MIB = 1 << 20
KEY_SCOPES = ("write", "inbound", "links", "check")
INBOUND_MESSAGES = 500
# New addresses made ready per second of a one-click run, well above each side's rate; a run
# that uses them all says so.
SERVICE_TOKENS_PER_SECOND = 4_000
MINIMAL_TOKENS_PER_SECOND = 12_000
STATEMENTS_PER_SECOND = 8_000
TARGETS = {"import": 0.7, "inbound": 0.7, "one_click": 0.7, "bulk": 0.7, "single": 0.8}
TARGET_P99_FACTOR = 1.5


@dataclass
class Row:
    job: str
    service: str
    minimal: str
    ratio: float
    target: float
    raw: str
    notes: list[str] = field(default_factory=list)
    met: bool | None = None

    def __post_init__(self) -> None:
        if self.met is None:
            self.met = self.ratio >= self.target


@dataclass
class Bench:
    dsn: str
    pool: asyncpg.Pool
    loader: ProcessPoolExecutor
    folder: Path
    args: argparse.Namespace
    keys: dict[str, dict[str, str]]
    emails: list[str]
    canonical: list[str]
    cpu: dict[str, float] = field(default_factory=dict)

    async def load(self, function, *args):
        """`function(*args)` in the load process."""
        return await asyncio.get_running_loop().run_in_executor(self.loader, function, *args)

    def servers(self) -> contextlib.AbstractAsyncContextManager:
        return both_servers(self.dsn, self.folder, self.args.web_concurrency)

    def duration(self, run: int) -> float:
        return 1.0 if run == 0 else self.args.duration

    async def in_turn(self, sides: dict[str, Callable[[int], Awaitable]],
                      servers: dict[str, Started]) -> dict[str, list]:
        """Run 0 of each side (the warm-up, thrown away), then the timed runs 1..repeat in turn;
        keeps the CPU share of each side's server process over its timed runs in `self.cpu`."""
        runs: dict[str, list] = {name: [] for name in sides}
        busy = {name: [0.0, 0.0] for name in servers}  # CPU seconds, wall seconds
        for n in range(self.args.repeat + 1):
            for name, measure in sides.items():
                cpu, started = servers[name].cpu_seconds() if name in servers else 0.0, time.perf_counter()
                runs[name].append(await measure(n))
                if n and name in servers:
                    busy[name][0] += servers[name].cpu_seconds() - cpu
                    busy[name][1] += time.perf_counter() - started
        self.cpu = {name: used / wall for name, (used, wall) in busy.items()}
        return {name: results[1:] for name, results in runs.items()}

    def cpu_note(self) -> str:
        shares = ", ".join(f"{name} {share:.0%}" for name, share in self.cpu.items())
        return f"CPU of each server and the processes under it while timed (of one core; {os.cpu_count()} in all): {shares}"


@contextlib.asynccontextmanager
async def both_servers(dsn: str, folder: Path, web_concurrency: int = 1):
    async with optout_run(dsn, folder, web_concurrency) as service, minimal_app(dsn, folder) as small:
        yield service, small


def figures(runs: list[dict]) -> dict[str, float]:
    return {key: median(r[key] for r in runs) for key in ("rps", "p50", "p99", "errors")}


def rate_p99(f: dict[str, float]) -> str:
    return f"{f['rps']:,.0f}/s, p99 {f['p99'] * 1000:.1f} ms"


def warning_lines(log: tuple[Counter, list[str]]) -> list[str]:
    """What the service logged (lines by level and logger), and its warnings and errors."""
    loggers, warnings = log
    common = ", ".join(f"{source} {count:,}" for source, count in loggers.most_common(3))
    if not warnings:
        return [f"service log: {sum(loggers.values()):,} lines ({common}), no warnings or errors"]
    distinct = list(dict.fromkeys(w.split(" ", 2)[-1][:200] for w in warnings))
    return [f"service log: {sum(loggers.values()):,} lines ({common}), {len(warnings):,} warnings or errors, e.g.:",
            *distinct[:3]]


async def single_check(bench: Bench) -> Row:
    concurrency = bench.args.concurrency

    def side(url: str, headers: dict):
        return lambda n: bench.load(check_single.drive, url, headers, bench.canonical, concurrency, bench.duration(n))

    async with bench.servers() as (service, small), baseline_server(bench.dsn) as raw:
        runs = await bench.in_turn({"service": side(service.url, bench.keys["check"]), "minimal": side(small.url, {}),
                                    "raw": side(raw.url, {})}, {"service": service, "minimal": small})
        log = log_warnings(service)
    service_f, small_f, raw_f = (figures(runs[name]) for name in ("service", "minimal", "raw"))
    p99_factor, ratio = service_f["p99"] / small_f["p99"], service_f["rps"] / small_f["rps"]
    return Row(f"single check, {concurrency} clients (requests/s, p99)", rate_p99(service_f), rate_p99(small_f),
               ratio, TARGETS["single"], f"{rate_p99(raw_f)} (check_single's app)",
               [f"p99 {p99_factor:.2f}x the minimal app's (target <= {TARGET_P99_FACTOR}x); not 200: service "
                f"{service_f['errors']:.0f}, minimal {small_f['errors']:.0f} a run", bench.cpu_note(), *warning_lines(log)],
               met=ratio >= TARGETS["single"] and p99_factor <= TARGET_P99_FACTOR)


async def bulk_check(bench: Bench) -> Row:
    warmup = check_bulk.WARMUP  # past PostgreSQL's switch to a generic plan, on both sides

    def side(url: str, headers: dict):
        async def measure(n: int) -> float:
            times = await bench.load(bulk_checks, url, headers, bench.emails, CONSENT_SCOPE, warmup if n == 0 else 0, 1)
            return times[0]
        return measure

    async def raw(n: int) -> float:
        for _ in range(warmup if n == 0 else 0):
            await bench.pool.fetch(check_bulk.BASELINE_QUERY, bench.canonical)
        started = time.perf_counter()
        await bench.pool.fetch(check_bulk.BASELINE_QUERY, bench.canonical)
        return time.perf_counter() - started

    async with bench.servers() as (service, small):
        runs = await bench.in_turn({"service": side(service.url, bench.keys["check"]), "minimal": side(small.url, {}),
                                    "raw": raw}, {"service": service, "minimal": small})
        log = log_warnings(service)
    service_s, small_s, raw_s = (median(runs[name]) for name in ("service", "minimal", "raw"))
    return Row(f"bulk check, {len(bench.emails):,} recipients, scope {CONSENT_SCOPE} (consent required)",
               f"{service_s:.3f} s", f"{small_s:.3f} s", small_s / service_s, TARGETS["bulk"],
               f"{raw_s:.3f} s (one `= ANY` query)", [bench.cpu_note(), *warning_lines(log)])


async def one_click_row(bench: Bench) -> Row:
    concurrency = bench.args.concurrency

    async def service_side(n: int) -> dict:
        addresses = one_click.new_addresses(f"samejob{n}", int(SERVICE_TOKENS_PER_SECOND * bench.duration(n)))
        tokens = await links(service.url, bench.keys["links"], addresses, one_click.SCOPE, one_click.CAMPAIGN)
        return await bench.load(one_click.drive, service.url, tokens, concurrency, bench.duration(n))

    async def minimal_side(n: int) -> dict:
        addresses = one_click.new_addresses(f"minimal{n}", int(MINIMAL_TOKENS_PER_SECOND * bench.duration(n)))
        tokens = [minimal.sign(a) for a in addresses]
        return await bench.load(one_click.drive, small.url, tokens, concurrency, bench.duration(n))

    async def raw_side(n: int) -> dict:
        addresses = one_click.new_addresses(f"samejobraw{n}", int(one_click.ADDRESSES_PER_SECOND * bench.duration(n)))
        return await bench.load(one_click.drive, bench.dsn, addresses, concurrency, bench.duration(n))

    async def statement_side(n: int) -> dict:  # the service's statement alone: what the database can give it
        addresses = one_click.new_addresses(f"samejobstatement{n}", int(STATEMENTS_PER_SECOND * bench.duration(n)))
        await links(service.url, bench.keys["links"], addresses, one_click.SCOPE, one_click.CAMPAIGN)
        ids = [str(r["recipient_id"]) for r in await bench.pool.fetch(
            "SELECT recipient_id FROM known_addresses WHERE address = ANY($1::text[])", addresses)]
        return await bench.load(one_click.drive_statement, bench.dsn, ids, concurrency, bench.duration(n))

    async with bench.servers() as (service, small):
        runs = await bench.in_turn({"service": service_side, "minimal": minimal_side, "raw": raw_side,
                                    "statement": statement_side}, {"service": service, "minimal": small})
        log = log_warnings(service)
    notes = [f"not 200: service {sum(r['errors'] for r in runs['service'])}, minimal "
             f"{sum(r['errors'] for r in runs['minimal'])}; the service's tokens come from POST /v1/links, "
             f"campaign {one_click.CAMPAIGN}, before each timed run"]
    notes += [f"{name}: a run ran out of new addresses, so its figures are too low"
              for name, results in runs.items() if any(r["exhausted"] for r in results)]
    service_f, small_f, raw_f, statement_f = (figures(runs[name]) for name in ("service", "minimal", "raw", "statement"))
    notes.append(f"the service's one-click statement alone, from {concurrency} connections without HTTP: "
                 f"{rate_p99(statement_f)}, {statement_f['rps'] / raw_f['rps']:.2f} of the single-row INSERT's rate: "
                 "the database work a click costs (the event, the campaign's count, the erasure ruled out, "
                 "the consents withdrawn)")
    return Row(f"one-click POST, {concurrency} clients (requests/s, p99)", rate_p99(service_f), rate_p99(small_f),
               service_f["rps"] / small_f["rps"], TARGETS["one_click"], f"{rate_p99(raw_f)} (single-row INSERT)",
               [*notes, bench.cpu_note(), *warning_lines(log)])


def inbound_messages(count: int) -> tuple[list[bytes], str]:
    """The labeled corpus, or generated messages where the corpus is missing."""
    if any(inbound.CORPUS.rglob("*.eml")):
        return inbound.corpus_messages(count), f"corpus messages ({inbound.CORPUS})"
    return [(b"Message-ID: <bench-%d@bench.example>\r\nFrom: reader%d@example.be\r\nTo: info@cetit.be\r\n"
             b"Subject: Re: our newsletter\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
             b"Please take me off your list.\r\n" % (i, i)) for i in range(count)], "generated messages (no corpus)"


def status_counts(runs: list[dict]) -> dict[int, int]:
    counts: dict[int, int] = {}
    for one in runs:
        for status, count in one["statuses"].items():
            counts[status] = counts.get(status, 0) + count
    return counts


async def inbound_row(bench: Bench) -> Row:
    messages, origin = inbound_messages(INBOUND_MESSAGES)

    def side(name: str, url: str, headers: dict, pending: str):
        def numbered(n: int) -> list[bytes]:  # a Message-ID of its own in each run: no duplicates
            return [m.replace(b"<bench-", b"<%s-%d-" % (name.encode(), n), 1) for m in messages]
        return lambda n: bench.load(post_until_processed, url, headers, numbered(n), pending)

    async def raw(_n: int) -> float:
        return inbound.parse_rate(messages, 1)

    async with bench.servers() as (service, small):
        runs = await bench.in_turn({
            "service": side("service", service.url, bench.keys["inbound"], "/v1/inbound?status=queued&limit=1"),
            "minimal": side("minimal", small.url, {}, "/v1/inbound/pending"), "raw": raw},
            {"service": service, "minimal": small})
        log = log_warnings(service)
    outcomes = await bench.pool.fetch("SELECT status, count(*) FROM inbound_messages GROUP BY status ORDER BY 1")
    service_rate, small_rate = (len(messages) / median(r["seconds"] for r in runs[name]) for name in ("service", "minimal"))
    statuses = {name: status_counts(runs[name]) for name in ("service", "minimal")}
    return Row(f"inbound, {len(messages)} messages POSTed until processed (messages/s)", f"{service_rate:,.0f}/s",
               f"{small_rate:,.0f}/s", service_rate / small_rate, TARGETS["inbound"],
               f"{median(runs['raw']):,.0f}/s (`email` parse)",
               [f"{origin}, {INBOUND_SENDERS} clients; HTTP statuses (-1: timed out): {statuses}",
                "seconds to POST them all, then until all were processed: " + ", ".join(
                    f"{name} {median(r['posted'] for r in runs[name]):.2f}, {median(r['seconds'] for r in runs[name]):.2f}"
                    for name in ("service", "minimal")) + " (an idle worker polls every 0.5 s; the service's is also woken by"
                " each message its own web app or receiver stores)",
                f"the service's inbound_messages by status: {dict((r['status'], r['count']) for r in outcomes)}",
                bench.cpu_note(), *warning_lines(log)])


async def import_row(bench: Bench) -> Row:
    args, rows = bench.args, bench.args.rows

    def write(run: int, count: int) -> tuple[Path, int]:
        path = bench.folder / f"import-{run}.csv"
        return path, import_1m.write_csv(path, count, run)

    warmup_rows = min(rows, import_1m.WARMUP_ROWS)
    files = {"service": [write(0, warmup_rows)] + [write(run, rows) for run in range(1, args.repeat + 1)],
             "minimal": [write(args.repeat + 1, warmup_rows)] +
                        [write(run, rows) for run in range(args.repeat + 2, 2 * args.repeat + 2)]}
    async with bench.pool.acquire() as conn:
        await conn.execute("CREATE TABLE raw_copy (LIKE suppressions INCLUDING ALL)")
        await conn.execute("INSERT INTO raw_copy SELECT * FROM suppressions")
        await conn.execute("VACUUM ANALYZE raw_copy")
    memory: dict[str, dict[str, int]] = {}

    def side(name: str, started: Started, headers: dict):
        async def measure(n: int) -> float:
            path, erased = files[name][n]
            if n == 1:
                memory[name] = {f"{k} before": v for k, v in started.memory().items()}
            return await bench.load(upload, started.url, headers, path, rows if n else warmup_rows,
                                    erased if name == "service" else 0)
        return measure

    async def raw(n: int) -> float:
        async with bench.pool.acquire() as conn:
            started = time.perf_counter()
            await conn.copy_to_table("raw_copy", source=files["service"][n][0], columns=import_1m.COLUMNS,
                                     format="csv", header=True)
            return time.perf_counter() - started

    async with bench.servers() as (service, small):
        runs = await bench.in_turn({"service": side("service", service, bench.keys["write"]),
                                    "minimal": side("minimal", small, {}), "raw": raw},
                                   {"service": service, "minimal": small})
        for name, started in (("service", service), ("minimal", small)):
            memory[name]["VmHWM after"] = started.memory()["VmHWM"]
        log = log_warnings(service)
    service_s, small_s, raw_s = (median(runs[name]) for name in ("service", "minimal", "raw"))

    def held(m: dict[str, int]) -> str:
        return (f"RSS {m['VmRSS before'] / MIB:.0f} MiB after the warm-up; peak RSS (VmHWM) "
                f"{m['VmHWM before'] / MIB:.0f} MiB before the timed imports, {m['VmHWM after'] / MIB:.0f} MiB after")

    return Row(f"import of {rows:,} CSV rows over HTTP (s, rows/s)", f"{service_s:.1f} s, {rows / service_s:,.0f}/s",
               f"{small_s:.1f} s, {rows / small_s:,.0f}/s", small_s / service_s, TARGETS["import"],
               f"{raw_s:.1f} s, {rows / raw_s:,.0f}/s (`COPY`)",
               [f"{files['service'][1][0].stat().st_size / MIB:.0f} MiB CSV a run, new addresses each run, "
                f"{files['service'][1][1]:,} of them erased for the service; the table grows by each run's rows",
                f"service process: {held(memory['service'])}", f"minimal process: {held(memory['minimal'])}",
                bench.cpu_note(), *warning_lines(log)])


ORDER = ("import", "inbound", "one_click", "bulk", "single")
# The imports add millions of rows: they run last, so that the other jobs see production's size.
RUN_ORDER = {"single": single_check, "bulk": bulk_check, "one_click": one_click_row, "inbound": inbound_row,
             "import": import_row}


async def api_keys(pool: asyncpg.Pool) -> dict[str, dict[str, str]]:
    """One key per job, with only the scope its route requires."""
    keys = {}
    async with pool.acquire() as conn:
        for scope in KEY_SCOPES:
            _, key = await create_key(conn, f"same-job-{scope}", [scope])
            keys[scope] = {"Authorization": f"Bearer {key}"}
    return keys


async def run(base_dsn: str, args: argparse.Namespace) -> None:
    if 2 * args.repeat + 1 >= import_1m.RUNS_AT_MOST:  # each import run needs erased addresses of its own
        raise SystemExit(f"same_job: --repeat at most {(import_1m.RUNS_AT_MOST - 2) // 2}")
    emails = check_bulk.recipients(min(args.recipients, MAX_CHECK))
    canonical = [canonical_or_none(e) for e in emails]
    results: dict[str, Row] = {}
    with tempfile.TemporaryDirectory(prefix="optout-bench-") as folder:
        async with fresh_schema(base_dsn) as dsn:
            pool = await create_pool(dsn, min_size=1, max_size=2)
            try:
                async with pool.acquire() as conn:
                    await check_bulk.load_suppressions(conn, canonical[::10])
                    held = await load_production(conn, args.list_size, canonical)
                with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as loader:
                    bench = Bench(dsn, pool, loader, Path(folder), args, await api_keys(pool), emails, canonical)
                    for name, job in RUN_ORDER.items():
                        if name not in args.jobs:
                            continue
                        results[name] = await job(bench)
                        print(f"same_job: {results[name].job}: measured", flush=True)
            finally:
                await pool.close()
    print_table([results[name] for name in ORDER if name in results], held, args)


def print_table(rows: list[Row], held: dict[str, int], args: argparse.Namespace) -> None:
    processes = f" with WEB_CONCURRENCY={args.web_concurrency}" if args.web_concurrency != 1 else ""
    print(f"same_job: `optout run`{processes} beside bench/minimal.py, median of {args.repeat} after a warm-up; "
          f"{described(held)}; {os.cpu_count()} cores shared by the servers, PostgreSQL and the load")
    print("| job | service | minimal same-job app | ratio | target | raw baseline (existing benchmark) |")
    print("|---|---:|---:|---:|---:|---:|")
    for row in rows:
        print(f"| {row.job} | {row.service} | {row.minimal} | {row.ratio:.2f} | {row.target} | {row.raw} |")
    for row in rows:
        print(f"  {row.job}: target ratio >= {row.target}: {'met' if row.met else 'miss'} (info only)")
        for note in row.notes:
            print(f"    {note}")
