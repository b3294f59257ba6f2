"""same_job: each job of the service beside the smallest aiohttp + asyncpg program that does the
same job over the same protocol (bench/minimal.py), in the same run, on the same PostgreSQL.

The service runs as deployed: `optout run` (web, inbound receiver, worker and gateway in one
process), an API key checked on every request; the minimal app runs as a process of its own.
Both are started afresh for each job, one after the other, on one schema loaded as production's
(bench/production.py); the load comes from a separate process. Beside them stays the raw figure
of the job's existing benchmark (COPY, the `email` parse, single-row INSERTs, one `= ANY` query,
check_single's app). Ratio = service/minimal, higher is better; targets are info only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import AsyncIterator

import aiohttp
import asyncpg

from service.domain.addresses import canonical_or_none
from service.domain.apikeys import create_key
from service.domain.suppressions.rules import MAX_CHECK
from service.storage.db import create_pool

from . import check_bulk, check_single, import_1m, inbound, minimal, one_click
from .harness import fresh_schema, median
from .production import CONSENT_SCOPE, HASH_KEY, described, load_production
from .scaling import SECRET_KEY, Server, answering, baseline_server, free_port, optout_command, stop_process

MIB = 1 << 20
KEY_SCOPES = ("write", "inbound", "links", "check")
INBOUND_MESSAGES = 500
INBOUND_SENDERS = 8
INBOUND_TIMEOUT = 300.0
LINKS_PER_CALL = 1_000
# New addresses made ready per second of a one-click run, well above each side's rate; a run
# that uses them all says so.
SERVICE_TOKENS_PER_SECOND = 4_000
MINIMAL_TOKENS_PER_SECOND = 12_000
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

    async def load(self, function, *args):
        """`function(*args)` in the load process."""
        return await asyncio.get_running_loop().run_in_executor(self.loader, function, *args)


# --- the two servers ----------------------------------------------------------------------------

@dataclass
class Started:
    server: Server
    log_path: Path

    @property
    def url(self) -> str:
        return self.server.url

    def memory(self) -> dict[str, int]:
        """VmRSS and VmHWM (peak) of the process, in bytes."""
        status = Path(f"/proc/{self.server.pids[0]}/status").read_text()
        return {line.split(":")[0]: int(line.split()[1]) * 1024 for line in status.splitlines()
                if line.startswith(("VmRSS", "VmHWM"))}


@contextlib.asynccontextmanager
async def process(command: list[str], env: dict[str, str], name: str, folder: Path, port: int,
                  ready_path: str) -> AsyncIterator[Started]:
    log_path = folder / f"{name}-{port}.log"
    with log_path.open("wb") as log_file:
        started = subprocess.Popen(command, env=env, cwd=folder, stdout=log_file, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}"
        await answering(f"{url}{ready_path}", started.poll, log_path)
        yield Started(Server(url, [started.pid]), log_path)
    finally:
        await asyncio.to_thread(stop_process, started)


def clean_environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("OPTOUT_", "DATABASE_", "WEB_"))}


@contextlib.asynccontextmanager
async def optout_run(dsn: str, folder: Path) -> AsyncIterator[Started]:
    """`optout run` as deployed: every part in one process, each on a free port."""
    port = free_port()
    env = clean_environment()
    env.update(DATABASE_URL=dsn, PORT=str(port), OPTOUT_SMTP_PORT=str(free_port()),
               OPTOUT_GATEWAY_PORT=str(free_port()), OPTOUT_SECRET_KEYS=SECRET_KEY,
               OPTOUT_HASH_KEY=HASH_KEY.decode(), OPTOUT_VAR_DIR=str(folder / "var"),
               OPTOUT_PUBLIC_URL="https://optout.cetit.be")
    async with process([*optout_command()[:-1], "run"], env, "optout-run", folder, port, "/readyz") as started:
        yield started


@contextlib.asynccontextmanager
async def minimal_app(dsn: str, folder: Path) -> AsyncIterator[Started]:
    port = free_port()
    env = {**clean_environment(), "DATABASE_URL": dsn}
    command = [sys.executable, "-m", "bench.minimal", "--port", str(port)]
    repository = Path(__file__).resolve().parents[1]
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(repository), env.get("PYTHONPATH")]))
    async with process(command, env, "minimal", folder, port, "/v1/check?email=ready%40example.be") as started:
        yield started


def log_warnings(started: Started) -> tuple[int, list[str]]:
    """How many lines the service logged, and its warnings, errors and tracebacks."""
    lines = started.log_path.read_text(errors="replace").splitlines()
    return len(lines), [line for line in lines
                        if any(word in line for word in (" WARNING ", " ERROR ", " CRITICAL ", "Traceback"))]


# --- the load, in the load process --------------------------------------------------------------

def upload(url: str, headers: dict, path: Path, rows: int, erased: int) -> float:
    async def timed() -> float:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None)) as session:
            started = time.perf_counter()
            await import_1m.import_over_http(session, url, headers, path, rows, erased)
            return time.perf_counter() - started
    return asyncio.run(timed())


def post_until_processed(url: str, headers: dict, messages: list[bytes], pending: str) -> dict:
    """POST every message from INBOUND_SENDERS clients, then poll `pending` until none is queued."""
    return asyncio.run(_post_until_processed(url, headers, messages, pending))


async def _post_until_processed(url: str, headers: dict, messages: list[bytes], pending: str) -> dict:
    statuses: dict[int, int] = {}
    posting = {**headers, "Content-Type": "message/rfc822"}

    async def sender(session: aiohttp.ClientSession, offset: int) -> None:
        for raw in messages[offset::INBOUND_SENDERS]:
            async with session.post(f"{url}/v1/inbound", data=raw, headers=posting) as response:
                await response.read()
                statuses[response.status] = statuses.get(response.status, 0) + 1

    async with aiohttp.ClientSession() as session:
        started = time.perf_counter()
        await asyncio.gather(*(sender(session, n) for n in range(INBOUND_SENDERS)))
        posted = time.perf_counter() - started
        while time.perf_counter() - started < INBOUND_TIMEOUT:
            async with session.get(f"{url}{pending}", headers=headers) as response:
                answer = await response.json()
            if not answer.get("messages", answer.get("pending")):
                break
            await asyncio.sleep(0.05)
        else:
            statuses[-1] = 1  # timed out
        return {"seconds": time.perf_counter() - started, "posted": posted, "statuses": statuses}


def bulk_checks(url: str, headers: dict, emails: list[str], scope: str, warmup: int, repeat: int) -> list[float]:
    async def runs() -> list[float]:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None)) as session:
            times = [(await check_bulk.check_over_http(session, url, headers, emails, scope))["total"]
                     for _ in range(warmup + repeat)]
        return times[warmup:]
    return asyncio.run(runs())


# --- the rows -----------------------------------------------------------------------------------

def figures(runs: list[dict]) -> dict[str, float]:
    return {key: median(r[key] for r in runs) for key in ("rps", "p50", "p99", "errors")}


async def single_check(bench: Bench) -> Row:
    args = bench.args

    async def runs(url: str, headers: dict) -> dict[str, float]:
        await bench.load(check_single.drive, url, headers, bench.canonical, args.concurrency, 1.0)
        return figures([await bench.load(check_single.drive, url, headers, bench.canonical, args.concurrency,
                                         args.duration) for _ in range(args.repeat)])

    async with optout_run(bench.dsn, bench.folder) as started:
        service = await runs(started.url, bench.keys["check"])
        warnings = log_warnings(started)
    async with minimal_app(bench.dsn, bench.folder) as started:
        small = await runs(started.url, {})
    async with baseline_server(bench.dsn) as server:
        raw = await runs(server.url, {})
    p99_factor = service["p99"] / small["p99"]
    ratio = service["rps"] / small["rps"]
    return Row(f"single check, {args.concurrency} clients (requests/s, p99)", rate_p99(service), rate_p99(small),
               ratio, TARGETS["single"], f"{rate_p99(raw)} (check_single's app)",
               [f"p99 {p99_factor:.2f}x the minimal app's (target <= {TARGET_P99_FACTOR}x); errors: service "
                f"{service['errors']:.0f}, minimal {small['errors']:.0f} per run", *warning_lines(warnings)],
               met=ratio >= TARGETS["single"] and p99_factor <= TARGET_P99_FACTOR)


def rate_p99(f: dict[str, float]) -> str:
    return f"{f['rps']:,.0f}/s, p99 {f['p99'] * 1000:.1f} ms"


def warning_lines(log: tuple[int, list[str]]) -> list[str]:
    count, warnings = log
    if not warnings:
        return [f"service log: {count:,} lines, no warnings or errors"]
    distinct = list(dict.fromkeys(w.split(" ", 2)[-1][:200] for w in warnings))
    return [f"service log: {count:,} lines, {len(warnings):,} warnings or errors, e.g.:", *distinct[:3]]


async def bulk_check(bench: Bench) -> Row:
    args, count = bench.args, len(bench.emails)

    async def runs(url: str, headers: dict) -> float:
        return median(await bench.load(bulk_checks, url, headers, bench.emails, CONSENT_SCOPE, check_bulk.WARMUP,
                                       args.repeat))

    async with optout_run(bench.dsn, bench.folder) as started:
        service = await runs(started.url, bench.keys["check"])
        warnings = log_warnings(started)
    async with minimal_app(bench.dsn, bench.folder) as started:
        small = await runs(started.url, {})
    for _ in range(check_bulk.WARMUP):
        await bench.pool.fetch(check_bulk.BASELINE_QUERY, bench.canonical)
    raw = []
    for _ in range(args.repeat):
        began = time.perf_counter()
        await bench.pool.fetch(check_bulk.BASELINE_QUERY, bench.canonical)
        raw.append(time.perf_counter() - began)
    return Row(f"bulk check, {count:,} recipients, scope {CONSENT_SCOPE} (consent required)", f"{service:.3f} s",
               f"{small:.3f} s", small / service, TARGETS["bulk"], f"{median(raw):.3f} s (one `= ANY` query)",
               warning_lines(warnings))


async def one_click_row(bench: Bench) -> Row:
    args = bench.args
    durations = [1.0] + [args.duration] * args.repeat
    async with optout_run(bench.dsn, bench.folder) as started:
        service = []
        for n, duration in enumerate(durations):
            tokens = await links(started.url, bench.keys["links"], one_click.new_addresses(
                f"samejob{n}", int(SERVICE_TOKENS_PER_SECOND * duration)))
            service.append(await bench.load(one_click.drive, started.url, tokens, args.concurrency, duration))
        warnings = log_warnings(started)
    async with minimal_app(bench.dsn, bench.folder) as started:
        small = []
        for n, duration in enumerate(durations):
            tokens = [minimal.sign(a) for a in one_click.new_addresses(
                f"minimal{n}", int(MINIMAL_TOKENS_PER_SECOND * duration))]
            small.append(await bench.load(one_click.drive, started.url, tokens, args.concurrency, duration))
    raw = []
    for n, duration in enumerate(durations):
        addresses = one_click.new_addresses(f"samejobraw{n}", int(one_click.ADDRESSES_PER_SECOND * duration))
        raw.append(await bench.load(one_click.drive, bench.dsn, addresses, args.concurrency, duration))
    notes = [f"errors (not 200): service {sum(r['errors'] for r in service)}, minimal "
             f"{sum(r['errors'] for r in small)}; service tokens from POST /v1/links, campaign {one_click.CAMPAIGN}"]
    for name, runs in (("service", service), ("minimal", small), ("raw", raw)):
        if any(r["exhausted"] for r in runs):
            notes.append(f"{name}: a run ran out of new addresses, so its figures are too low")
    service_f, small_f, raw_f = figures(service[1:]), figures(small[1:]), figures(raw[1:])
    return Row(f"one-click POST, {args.concurrency} clients (requests/s, p99)", rate_p99(service_f),
               rate_p99(small_f), service_f["rps"] / small_f["rps"], TARGETS["one_click"],
               f"{rate_p99(raw_f)} (single-row INSERT)", [*notes, *warning_lines(warnings)])


async def links(url: str, headers: dict, addresses: list[str]) -> list[str]:
    """Tokens of the service's links for `addresses`, LINKS_PER_CALL a call, as a campaign tool gets them."""
    tokens = []
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None)) as session:
        for start in range(0, len(addresses), LINKS_PER_CALL):
            recipients = [{"email": a, "scope": one_click.SCOPE, "campaign": one_click.CAMPAIGN}
                          for a in addresses[start:start + LINKS_PER_CALL]]
            async with session.post(f"{url}/v1/links", json={"recipients": recipients}, headers=headers) as answer:
                answer.raise_for_status()
                tokens += [link["url"].rsplit("/", 1)[1] for link in (await answer.json())["links"]]
    return tokens


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
    args = bench.args
    messages, origin = inbound_messages(INBOUND_MESSAGES)

    def numbered(side: str, n: int) -> list[bytes]:
        return [m.replace(b"<bench-", b"<%s-%d-" % (side.encode(), n), 1) for m in messages]

    async def runs(url: str, headers: dict, pending: str, side: str) -> list[dict]:
        return [await bench.load(post_until_processed, url, headers, numbered(side, n), pending)
                for n in range(args.repeat + 1)][1:]

    async with optout_run(bench.dsn, bench.folder) as started:
        service = await runs(started.url, bench.keys["inbound"], "/v1/inbound?status=queued&limit=1", "service")
        warnings = log_warnings(started)
    async with minimal_app(bench.dsn, bench.folder) as started:
        small = await runs(started.url, {}, "/v1/inbound/pending", "minimal")
    outcomes = await bench.pool.fetch("SELECT status, count(*) FROM inbound_messages GROUP BY status ORDER BY 1")
    service_rate = len(messages) / median(r["seconds"] for r in service)
    small_rate = len(messages) / median(r["seconds"] for r in small)
    raw = inbound.parse_rate(messages, args.repeat)
    statuses = {side: status_counts(rs) for side, rs in (("service", service), ("minimal", small))}
    return Row(f"inbound, {len(messages)} messages POSTed until processed (messages/s)", f"{service_rate:,.0f}/s",
               f"{small_rate:,.0f}/s", service_rate / small_rate, TARGETS["inbound"], f"{raw:,.0f}/s (`email` parse)",
               [f"{origin}, {INBOUND_SENDERS} clients; HTTP statuses (-1: timed out): {statuses}; service's "
                f"inbound_messages by status: {dict((r['status'], r['count']) for r in outcomes)}",
                *warning_lines(warnings)])


async def import_row(bench: Bench) -> Row:
    args, rows = bench.args, bench.args.rows
    if 2 * args.repeat + 1 >= import_1m.RUNS_AT_MOST:
        raise SystemExit(f"same_job imports at most {(import_1m.RUNS_AT_MOST - 2) // 2} timed runs a side")
    warmup_rows = min(rows, import_1m.WARMUP_ROWS)

    def write(run: int, count: int) -> tuple[Path, int]:
        path = bench.folder / f"import-{run}.csv"
        return path, import_1m.write_csv(path, count, run)

    service_files = [write(run, rows) for run in range(1, args.repeat + 1)]
    minimal_files = [write(run, rows) for run in range(args.repeat + 2, 2 * args.repeat + 2)]
    service_warmup, minimal_warmup = write(0, warmup_rows), write(args.repeat + 1, warmup_rows)
    async with bench.pool.acquire() as conn:
        await conn.execute("CREATE TABLE raw_copy (LIKE suppressions INCLUDING ALL)")
        await conn.execute("INSERT INTO raw_copy SELECT * FROM suppressions")
        await conn.execute("VACUUM ANALYZE raw_copy")

    async def runs(started: Started, headers: dict, files, warmup, erased: bool) -> tuple[list[float], dict]:
        await bench.load(upload, started.url, headers, warmup[0], warmup_rows, warmup[1] if erased else 0)
        before = started.memory()
        times = [await bench.load(upload, started.url, headers, path, rows, count if erased else 0)
                 for path, count in files]
        return times, {"start": before["VmRSS"], "peak before": before["VmHWM"], "peak after": started.memory()["VmHWM"]}

    async with optout_run(bench.dsn, bench.folder) as started:
        service, service_memory = await runs(started, bench.keys["write"], service_files, service_warmup, True)
        warnings = log_warnings(started)
    async with minimal_app(bench.dsn, bench.folder) as started:
        small, small_memory = await runs(started, {}, minimal_files, minimal_warmup, False)
    async with bench.pool.acquire() as conn:
        raw, _ = await import_1m.baseline_copies(conn, service_files, service_warmup[0])
    service_s, small_s, raw_s = median(service), median(small), median(raw)
    size = service_files[0][0].stat().st_size / MIB

    def memory(m: dict) -> str:
        return (f"RSS {m['start'] / MIB:.0f} MiB after the warm-up, peak (VmHWM) {m['peak before'] / MIB:.0f} MiB "
                f"before the timed imports, {m['peak after'] / MIB:.0f} MiB after")

    return Row(f"import of {rows:,} CSV rows over HTTP (s, rows/s)", f"{service_s:.1f} s, {rows / service_s:,.0f}/s",
               f"{small_s:.1f} s, {rows / small_s:,.0f}/s", small_s / service_s, TARGETS["import"],
               f"{raw_s:.1f} s, {rows / raw_s:,.0f}/s (`COPY`)",
               [f"{size:.0f} MiB CSV a run, new addresses each run, {service_files[0][1]:,} erased for the service",
                f"service process: {memory(service_memory)}", f"minimal process: {memory(small_memory)}",
                *warning_lines(warnings)])


# --- the run ------------------------------------------------------------------------------------

ORDER = ("import", "inbound", "one_click", "bulk", "single")
# The imports add millions of rows: they run last, so that the other jobs see production's size.
RUN_ORDER = {"single": single_check, "bulk": bulk_check, "one_click": one_click_row, "inbound": inbound_row,
             "import": import_row}


async def api_keys(pool: asyncpg.Pool) -> dict[str, dict[str, str]]:
    keys = {}
    async with pool.acquire() as conn:
        for scope in KEY_SCOPES:
            _, key = await create_key(conn, f"same-job-{scope}", [scope])
            keys[scope] = {"Authorization": f"Bearer {key}"}
    return keys


async def run(base_dsn: str, args: argparse.Namespace) -> None:
    emails = check_bulk.recipients(min(args.recipients, MAX_CHECK))
    canonical = [canonical_or_none(e) for e in emails]
    spawn = multiprocessing.get_context("spawn")
    results: dict[str, Row] = {}
    with tempfile.TemporaryDirectory(prefix="optout-bench-") as folder:
        async with fresh_schema(base_dsn) as dsn:
            pool = await create_pool(dsn, min_size=1, max_size=2)
            try:
                async with pool.acquire() as conn:
                    await check_bulk.load_suppressions(conn, canonical[::10])
                    held = await load_production(conn, args.list_size, canonical)
                with ProcessPoolExecutor(1, mp_context=spawn) as loader:
                    bench = Bench(dsn, pool, loader, Path(folder), args, await api_keys(pool), emails, canonical)
                    for name, job in RUN_ORDER.items():
                        results[name] = await job(bench)
                        print(f"same_job: {results[name].job} measured", flush=True)
            finally:
                await pool.close()
    print_table([results[name] for name in ORDER], held, args)


def print_table(rows: list[Row], held: dict[str, int], args: argparse.Namespace) -> None:
    print(f"same_job: `optout run` beside bench/minimal.py, median of {args.repeat} after a warm-up; "
          f"{described(held)}; {os.cpu_count()} cores shared by the server, PostgreSQL and the load")
    print("| job | service | minimal same-job app | ratio | target | raw baseline (existing benchmark) |")
    print("|---|---:|---:|---:|---:|---:|")
    for row in rows:
        print(f"| {row.job} | {row.service} | {row.minimal} | {row.ratio:.2f} | {row.target} | {row.raw} |")
    for row in rows:
        print(f"  {row.job}: target ratio >= {row.target}: {'met' if row.met else 'miss'} (info only)")
        for note in row.notes:
            print(f"    {note}")
