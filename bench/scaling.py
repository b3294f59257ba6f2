"""scaling: the checks on a big list against a small one, `optout serve` with one web process
against two, and checks read from a hot standby against the primary.

It starts its own PostgreSQL primary (and, once the data is loaded, a pg_basebackup standby)
from Debian's binaries with tests.pgcluster, in temporary folders removed at the end (also
on Ctrl-C, SIGTERM or an error); the shared server of the other benchmarks is not used.
Two databases are migrated and filled inside PostgreSQL (generate_series, the indexes built
after the rows): SCALING_ROWS suppressions (10,000,000) and SCALING_SMALL_ROWS (100,000), in
mixed scopes and reasons, each beside SCALING_ERASED erased addresses (10,000) kept as HMACs
as erasure keeps them. The service runs as `optout serve` in processes of its own; the single
check's baseline (check_single's aiohttp+asyncpg app) too; the load runs in this process.
Everything shares this machine's cores, which the figures' CPU lines show.

Sizes for a quick run: SCALING_ROWS=200000 SCALING_SMALL_ROWS=20000 python -m bench scaling
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import AsyncIterator, Awaitable, Callable

import aiohttp
import asyncpg
from aiohttp import web

from service.domain.apikeys import create_key
from service.domain.suppressions.keyed_hash import hmac_pads
from service.domain.suppressions.rules import MAX_CHECK
from service.storage.db import migrate_dsn
from tests.pgcluster import Cluster, owned_folder, postgres_bin, wait_until

from .check_bulk import BASELINE_QUERY, WARMUP, check_over_http
from .check_single import POOL_SIZE, baseline_app, drive
from .harness import median, report, stopwatch, verdict

TARGET_FLAT = 1.3
SCOPE = "newsletter"
HASH_KEY = "scaling-bench-hash-key-0123456789"
SECRET_KEY = "scaling-bench-secret-key-0123456789"
CHUNK = 1_000_000  # rows per INSERT ... SELECT while loading
ERASED_BASE = 3_000_000_000  # numbers of erased addresses: never those of a suppression
ABSENT_BASE = 4_000_000_000  # numbers of addresses on no list at all
SERVE_TIMEOUT = 60.0
BASEBACKUP_TIMEOUT = 1800
# A server sized for the list (pgcluster's own settings are for small tests): memory to
# cache and to sort while indexing, and no checkpoint storms while loading.
TUNING = """max_connections = 200
maintenance_work_mem = 1GB
max_wal_size = 8GB
checkpoint_timeout = 30min
effective_cache_size = 8GB
"""

FIRST_NAMES = ["jan", "marie", "peter", "an", "luc", "sofie", "tom", "els", "koen", "lies", "bart", "sarah",
               "wim", "emma", "pieter", "julie", "thomas", "laura", "david", "nathalie", "kevin", "ines",
               "jeroen", "lotte", "stijn", "hanne", "michel", "sophie", "nicolas", "camille", "mohamed",
               "fatima", "lucas", "lea", "arthur", "louise", "noah", "olivia", "finn", "mila"]
LAST_NAMES = ["peeters", "janssens", "maes", "jacobs", "mertens", "willems", "claes", "goossens", "wouters",
              "de.smet", "dubois", "lambert", "dupont", "martin", "vermeulen", "pauwels", "hermans", "aerts",
              "michiels", "desmet", "de.clercq", "van.damme", "smets", "leclercq", "segers", "dumont",
              "stevens", "de.backer", "coppens", "verhoeven", "simon", "laurent", "lemaire", "martens",
              "bosmans", "de.vos", "de.wilde", "cools", "van.den.broeck", "verstraete", "renard", "francois",
              "moens", "declercq", "wuyts", "de.meyer", "thys", "verbeke", "baert", "diallo"]
DOMAINS = ["gmail.com", "gmail.com", "gmail.com", "gmail.com", "hotmail.com", "hotmail.com", "outlook.com",
           "telenet.be", "telenet.be", "telenet.be", "skynet.be", "proximus.be", "yahoo.com", "icloud.com",
           "live.be", "hotmail.be", "ugent.be", "kuleuven.be", "cetit.be", "scarlet.be"]
# Nine scopes in twenty are global, as most unsubscribes from a one-click header are.
SCOPES = ["global"] * 9 + ["newsletter"] * 6 + ["events"] * 3 + ["courses"] * 2
UNSUBSCRIBE_SOURCES = ["one_click"] * 5 + ["link", "link", "reply", "import", "api"]


def address_of(n: str) -> str:
    """SQL for the address numbered `n`: a name at a common domain, unique by its number."""
    return (f"(ARRAY{FIRST_NAMES})[(1 + {n} % {len(FIRST_NAMES)})::int] || '.' || "
            f"(ARRAY{LAST_NAMES})[(1 + {n} / {len(FIRST_NAMES)} % {len(LAST_NAMES)})::int] || {n} || '@' || "
            f"(ARRAY{DOMAINS})[(1 + {n} * 7 % {len(DOMAINS)})::int]")


# Row n suppresses address n in a scope drawn from SCOPES, with a reason that scope allows;
# every tenth row is instead a second scope ('offers') of the address before it.
INSERT_SUPPRESSIONS = f"""
INSERT INTO suppressions (address, scope, reason, source, note, created_at)
SELECT {address_of('a')}, scope, reason,
       CASE reason WHEN 'bounce' THEN 'dsn' WHEN 'complaint' THEN 'arf'
                   WHEN 'manual' THEN (ARRAY['phone', 'api'])[(1 + h % 2)::int]
                   ELSE (ARRAY{UNSUBSCRIBE_SOURCES})[(1 + h / 2000 % 10)::int] END,
       CASE WHEN reason = 'manual' THEN 'asked by phone' END,
       now() - make_interval(secs => n * 48271 % 157680000)
  FROM (SELECT n, a, h, scope,
               CASE WHEN scope <> 'global' THEN CASE WHEN h / 20 % 10 = 0 THEN 'manual' ELSE 'unsubscribe' END
                    WHEN h / 20 % 100 < 55 THEN 'unsubscribe'
                    WHEN h / 20 % 100 < 85 THEN 'bounce'
                    WHEN h / 20 % 100 < 92 THEN 'complaint'
                    ELSE 'manual' END AS reason
          FROM (SELECT n, n - (n % 10 = 0)::int AS a, n * 2654435761 % 1000003 AS h,
                       CASE WHEN n % 10 = 0 THEN 'offers'
                            ELSE (ARRAY{SCOPES})[(1 + n * 2654435761 % 1000003 % 20)::int] END AS scope
                  FROM generate_series($1::bigint, $2::bigint) AS n) AS numbered) AS reasoned
"""

# As erasure keeps them: HMAC-SHA256(OPTOUT_HASH_KEY, address), from the key's pads ($1, $2).
INSERT_ERASED = f"""
INSERT INTO erased_addresses (address_hmac, reason, erased_at)
SELECT sha256($2::bytea || sha256($1::bytea || convert_to({address_of('n')}, 'UTF8'))),
       (ARRAY['unsubscribe', 'unsubscribe', 'bounce', 'complaint'])[(1 + n % 4)::int],
       now() - make_interval(secs => n * 48271 % 63072000)
  FROM generate_series($3::bigint, $4::bigint) AS n
"""

ADDRESSES_OF = f"SELECT {address_of('n')} FROM unnest($1::bigint[]) WITH ORDINALITY AS t(n, i) ORDER BY i"

# What a fast load drops and builds again after the rows: the table's keys and indexes.
INDEXES_OF_SUPPRESSIONS = """
SELECT format('ALTER TABLE suppressions DROP CONSTRAINT %I', conname) AS drop,
       format('ALTER TABLE suppressions ADD CONSTRAINT %I %s', conname, pg_get_constraintdef(oid)) AS build
  FROM pg_constraint
 WHERE conrelid = 'suppressions'::regclass AND contype IN ('p', 'u', 'x')
UNION ALL
SELECT format('DROP INDEX %s', i.indexrelid::regclass), pg_get_indexdef(i.indexrelid)
  FROM pg_index i
 WHERE i.indrelid = 'suppressions'::regclass
   AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
"""


@dataclass(frozen=True)
class Sizes:
    rows: int
    small_rows: int
    erased: int
    shared_buffers: str

    @classmethod
    def from_environment(cls) -> "Sizes":
        def count(name: str, default: int) -> int:
            raw = os.environ.get(name) or str(default)
            if not raw.replace("_", "").isdigit() or int(raw) < 1:
                raise SystemExit(f"{name} must be a positive whole number, got {raw!r}")
            return int(raw)

        return cls(count("SCALING_ROWS", 10_000_000), count("SCALING_SMALL_ROWS", 100_000),
                   count("SCALING_ERASED", 10_000), os.environ.get("SCALING_SHARED_BUFFERS") or "2GB")


class ListServer(Cluster):
    """A pgcluster server tuned for a list of millions; its standby copies files for up to half an hour."""

    shared_buffers = "2GB"

    def _settings(self) -> str:
        return f"{super()._settings()}{TUNING}shared_buffers = {self.shared_buffers}\n"

    def init_standby_of(self, primary: Cluster) -> "ListServer":
        self.run("pg_basebackup", "-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres",
                 "-D", str(self.data), "-R", "-X", "stream", "-c", "fast", timeout=BASEBACKUP_TIMEOUT)
        self._append_settings()
        return self

    def postmaster_pid(self) -> int:
        return int((self.data / "postmaster.pid").read_text().split()[0])

    def database(self, name: str) -> str:
        return f"{self.dsn.rsplit('/', 1)[0]}/{name}"


@contextlib.contextmanager
def list_server(prefix: str, shared_buffers: str):
    """A ListServer in a fresh folder on a free port, stopped and removed at the end."""
    server = ListServer(owned_folder(prefix), free_port())
    server.shared_buffers = shared_buffers
    try:
        yield server
    finally:
        server.remove()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- loading ---------------------------------------------------------------------------------

async def create_list(primary: ListServer, name: str, rows: int, erased: int) -> str:
    """A migrated database `name` holding `rows` suppressions and `erased` erased addresses; its DSN."""
    admin = await asyncpg.connect(primary.dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    dsn = primary.database(name)
    await migrate_dsn(dsn)
    started = time.perf_counter()
    conn = await asyncpg.connect(dsn)
    try:
        indexes = await drop_indexes(conn)
        await insert_rows(dsn, name, rows)
        loaded = time.perf_counter()
        await conn.execute(INSERT_ERASED, *hmac_pads(HASH_KEY.encode()), ERASED_BASE + 1, ERASED_BASE + erased)
        for statement in indexes:
            await conn.execute(statement)
        indexed = time.perf_counter()
        await conn.execute("VACUUM (ANALYZE) suppressions")
        await conn.execute("VACUUM (ANALYZE) erased_addresses")
        sizes = await conn.fetchrow(
            """SELECT pg_size_pretty(pg_table_size('suppressions')) AS heap,
                      pg_size_pretty(pg_indexes_size('suppressions')) AS indexes""")
    finally:
        await conn.close()
    done = time.perf_counter()
    print(f"  {name}: {rows:,} suppressions (table {sizes['heap']}, indexes {sizes['indexes']}), "
          f"{erased:,} erased addresses; rows {loaded - started:.0f} s, indexes {indexed - loaded:.0f} s, "
          f"VACUUM ANALYZE {done - indexed:.0f} s", flush=True)
    return dsn


async def drop_indexes(conn: asyncpg.Connection) -> list[str]:
    """Drop the keys and indexes of suppressions; return the statements that build them again."""
    found = await conn.fetch(INDEXES_OF_SUPPRESSIONS)
    try:
        async with conn.transaction():
            for row in found:
                await conn.execute(row["drop"])
    except asyncpg.DependentObjectsStillExistError:
        print("  (another table depends on a key of suppressions: loading with its indexes in place)")
        return []
    return [row["build"] for row in found]


async def insert_rows(dsn: str, name: str, rows: int) -> None:
    """INSERT ... SELECT over generate_series in chunks, one connection per core."""
    chunks = deque((low, min(low + CHUNK - 1, rows)) for low in range(1, rows + 1, CHUNK))
    done = 0
    started = time.perf_counter()

    async def loader() -> None:
        nonlocal done
        conn = await asyncpg.connect(dsn)
        try:
            while chunks:
                low, high = chunks.popleft()
                await conn.execute(INSERT_SUPPRESSIONS, low, high)
                done += high - low + 1
                if rows > CHUNK:
                    print(f"    {name}: {done:,} of {rows:,} rows ({time.perf_counter() - started:.0f} s)",
                          flush=True)
        finally:
            await conn.close()

    await asyncio.gather(*(loader() for _ in range(min(os.cpu_count() or 2, len(chunks)))))


async def make_standby(primary: ListServer, standby: ListServer) -> None:
    """pg_basebackup of the loaded primary, started and caught up."""
    started = time.perf_counter()
    await asyncio.to_thread(lambda: standby.init_standby_of(primary).start())

    async def caught_up() -> bool:
        wal = await fetchval(primary.dsn, "SELECT pg_current_wal_lsn()::text")
        return await fetchval(standby.dsn, "SELECT pg_last_wal_replay_lsn() >= $1::text::pg_lsn", wal)

    await wait_until(caught_up, seconds=300, every=0.5, what="the standby to catch up")
    print(f"  standby: pg_basebackup and catch-up {time.perf_counter() - started:.0f} s", flush=True)


async def fetchval(dsn: str, query: str, *args):
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        return await conn.fetchval(query, *args)
    finally:
        await conn.close()


# --- the recipients of a campaign ------------------------------------------------------------

@dataclass
class Campaign:
    """Recipients as a sender sends them (some capitalised), their canonical forms, who is on which list."""

    emails: list[str]
    canonical: list[str]
    listed: int  # on the suppression list, in some scope
    erased: set[str]  # canonical forms of the erased recipients


async def campaign(dsn: str, rows: int, erased: int, count: int) -> Campaign:
    """`count` recipients: 9% on the list (in any scope), 1% erased, the rest on no list, shuffled."""
    rng = random.Random(rows)
    on_list = rng.sample(range(rows // 10 * 9), min(count * 9 // 100, rows // 10 * 9))
    numbers = [k // 9 * 10 + k % 9 + 1 for k in on_list]  # skips every tenth row: a second scope
    gone = [ERASED_BASE + 1 + k for k in rng.sample(range(erased), min(count // 100, erased))]
    absent = [ABSENT_BASE + k for k in rng.sample(range(100_000_000), count - len(numbers) - len(gone))]
    everyone = numbers + gone + absent
    rng.shuffle(everyone)
    conn = await asyncpg.connect(dsn)
    try:
        canonical = [r[0] for r in await conn.fetch(ADDRESSES_OF, everyone)]
        erased_forms = {r[0] for r in await conn.fetch(ADDRESSES_OF, gone)}
    finally:
        await conn.close()
    emails = [e.capitalize() if i % 7 == 0 else e for i, e in enumerate(canonical)]
    return Campaign(emails, canonical, len(numbers), erased_forms)


async def api_key(dsn: str) -> dict[str, str]:
    conn = await asyncpg.connect(dsn)
    try:
        _, key = await create_key(conn, "scaling-bench", ["check"])
    finally:
        await conn.close()
    return {"Authorization": f"Bearer {key}"}


# --- servers ---------------------------------------------------------------------------------

@dataclass
class Server:
    url: str
    pids: list[int]
    headers: dict[str, str] = field(default_factory=dict)


def optout_command() -> list[str]:
    """The console script beside this interpreter (the same as `python -m service`)."""
    script = Path(sys.executable).with_name("optout")
    return [str(script), "serve"] if script.exists() else [sys.executable, "-m", "service", "serve"]


@contextlib.asynccontextmanager
async def optout_serve(dsn: str, headers: dict, folder: Path, web_concurrency: int = 1,
                       read_dsn: str | None = None) -> AsyncIterator[Server]:
    """`optout serve` as deployed: a process of its own (and its web processes), on a free port."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPTOUT_", "DATABASE_"))}
    env.update(DATABASE_URL=dsn, PORT=str(port), WEB_CONCURRENCY=str(web_concurrency),
               OPTOUT_SECRET_KEYS=SECRET_KEY, OPTOUT_HASH_KEY=HASH_KEY, OPTOUT_VAR_DIR=str(folder / "var"))
    if read_dsn:
        env["DATABASE_READ_URL"] = read_dsn
    log_path = folder / f"optout-serve-{port}.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(optout_command(), env=env, cwd=folder, stdout=log_file,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}"
        await answering(f"{url}/readyz", process.poll, log_path)
        if web_concurrency > 1:
            await asyncio.sleep(2)  # the other web processes bind the port a moment later
        yield Server(url, [process.pid], headers)
    finally:
        await asyncio.to_thread(stop_process, process)


def stop_process(process: subprocess.Popen) -> None:
    """SIGTERM (optout stops gracefully), then SIGKILL to its process group after 30 s."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


async def answering(url: str, exit_code: Callable[[], int | None], log_path: Path | None = None) -> None:
    """Wait until `url` answers 200; fail early, with the log's end, when the process exits."""
    deadline = time.monotonic() + SERVE_TIMEOUT
    async with aiohttp.ClientSession() as session:
        while True:
            with contextlib.suppress(aiohttp.ClientError, asyncio.TimeoutError):
                async with session.get(url, timeout=aiohttp.ClientTimeout(total=2)) as answer:
                    if answer.status == 200:
                        return
            code = exit_code()
            if code is not None or time.monotonic() > deadline:
                tail = log_path.read_text(errors="replace")[-3000:] if log_path else ""
                raise RuntimeError(f"{url} did not answer (exit code {code}):\n{tail}")
            await asyncio.sleep(0.2)


def serve_baseline(dsn: str, port: int) -> None:
    """In a process of its own: check_single's minimal aiohttp+asyncpg app, until SIGTERM."""

    async def application() -> web.Application:
        pool = await asyncpg.create_pool(dsn, min_size=POOL_SIZE, max_size=POOL_SIZE)
        app = baseline_app(pool)

        async def close(_app: web.Application) -> None:
            await pool.close()

        app.on_cleanup.append(close)
        return app

    web.run_app(application(), host="127.0.0.1", port=port, access_log=None, print=None)


@contextlib.asynccontextmanager
async def baseline_server(dsn: str) -> AsyncIterator[Server]:
    port = free_port()
    process = multiprocessing.get_context("spawn").Process(
        target=serve_baseline, args=(dsn, port), name="baseline-app")
    process.start()
    try:
        url = f"http://127.0.0.1:{port}"
        await answering(f"{url}/v1/check?email=ready%40example.be", lambda: process.exitcode)
        yield Server(url, [process.pid])
    finally:
        process.terminate()
        await asyncio.to_thread(process.join, 10)
        if process.is_alive():
            process.kill()
            process.join()


# --- CPU: who used the shared cores ------------------------------------------------------------

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def processes() -> dict[int, tuple[int, float]]:
    """pid -> (parent pid, CPU seconds so far) of every process (Linux /proc)."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            found[int(stat.parent.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / CLOCK_TICKS)
    return found


def machine_busy() -> float:
    """CPU seconds all cores spent on anything but idling and waiting for disk, so far."""
    ticks = [int(t) for t in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(ticks[:8]) - ticks[3] - ticks[4]) / CLOCK_TICKS


def cpu_seconds(groups: dict[str, list[int]]) -> dict[str, float]:
    """CPU seconds used so far by each group of process trees, by this process, and by the machine."""
    table = processes()
    children = defaultdict(list)
    for pid, (parent, _) in table.items():
        children[parent].append(pid)
    totals = {}
    for name, roots in groups.items():
        seen, stack = set(), list(roots)
        while stack:
            pid = stack.pop()
            if pid in table and pid not in seen:
                seen.add(pid)
                stack.extend(children[pid])
        totals[name] = sum(table[pid][1] for pid in seen)
    totals["load"] = time.process_time()
    totals["machine"] = machine_busy()
    return totals


def cpu_shares(before: dict[str, float], after: dict[str, float], elapsed: float) -> dict[str, float]:
    return {name: (after[name] - before[name]) / elapsed for name in after}


def cpu_line(shares: dict[str, float]) -> str:
    parts = ", ".join(f"{name} {share:.0%}" for name, share in shares.items() if name != "machine")
    return (f"CPU in % of one core: {parts}; the {os.cpu_count()} cores busy "
            f"{shares['machine'] / (os.cpu_count() or 1):.0%}")


# --- measuring -------------------------------------------------------------------------------

async def single_figures(targets: dict[str, tuple[Server, list[str]]], postgres: list[int],
                         args: argparse.Namespace) -> dict[str, dict]:
    """check_single's load (in a thread of this process) against each target in turn, warmed up
    first; medians of the runs, with the CPU shares of the target, PostgreSQL and the load."""

    async def one_run(server: Server, emails: list[str], duration: float) -> dict:
        groups = {"server": server.pids, "PostgreSQL": postgres}
        before, started = cpu_seconds(groups), time.perf_counter()
        result = await asyncio.to_thread(drive, server.url, server.headers, emails, args.concurrency, duration)
        result["cpu"] = cpu_shares(before, cpu_seconds(groups), time.perf_counter() - started)
        result["requests"] = result["rps"] * duration
        return result

    for target in targets.values():
        await one_run(*target, 1.0)
    runs: dict[str, list[dict]] = {name: [] for name in targets}
    for _ in range(args.repeat):
        for name, target in targets.items():
            runs[name].append(await one_run(*target, args.duration))
    figures = {}
    for name, results in runs.items():
        figures[name] = {key: median(r[key] for r in results) for key in ("rps", "p50", "p99", "errors")}
        figures[name]["cpu"] = {k: median(r["cpu"][k] for r in results) for k in results[0]["cpu"]}
        figures[name]["requests"] = sum(r["requests"] for r in results)
    return figures


async def bulk_figures(targets: dict[str, Callable[[], Awaitable[object]]], repeat: int) -> dict[str, float]:
    """Median seconds of each bulk check, after WARMUP runs of each (past the generic-plan switch)."""
    for run in targets.values():
        for _ in range(WARMUP):
            await run()
    times: dict[str, list[float]] = {name: [] for name in targets}
    for _ in range(repeat):
        for name, run in targets.items():
            times[name].append(await stopwatch(run))
    return {name: median(t) for name, t in times.items()}


async def verify_check(session: aiohttp.ClientSession, server: Server, people: Campaign) -> int:
    """One bulk check outside the timing: every erased recipient must be blocked. Returns the blocked."""
    async with session.post(f"{server.url}/v1/check", json={"scope": SCOPE, "recipients": people.emails},
                            headers=server.headers) as answer:
        answer.raise_for_status()
        results = (await answer.json())["results"]
    missed = [c for c, r in zip(people.canonical, results) if c in people.erased and r["allowed"]]
    if len(results) != len(people.emails) or missed:
        raise RuntimeError(f"the check let {len(missed)} erased recipients through (a hash key mismatch?)")
    return sum(not r["allowed"] for r in results)


def single_line(name: str, service: dict, baseline: dict) -> None:
    report(name, "requests", service["rps"], baseline["rps"])
    print(f"  p99: service {service['p99'] * 1000:.2f} ms, baseline {baseline['p99'] * 1000:.2f} ms, "
          f"ratio {service['p99'] / baseline['p99']:.2f}; p50: service {service['p50'] * 1000:.2f} ms, "
          f"baseline {baseline['p50'] * 1000:.2f} ms; errors {service['errors']:.0f}/{baseline['errors']:.0f}")


def bulk_line(name: str, count: int, service_s: float, baseline_s: float) -> None:
    report(name, "recipients", count / service_s, count / baseline_s)
    print(f"  seconds per check of {count:,}: service {service_s:.3f} s, baseline {baseline_s:.3f} s")


async def metric(url: str, name: str) -> float:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{url}/metrics") as answer:
            text = await answer.text()
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


# --- the three comparisons -------------------------------------------------------------------

@dataclass
class Bench:
    """What the parts share: the servers, the databases, the campaigns and the arguments."""

    args: argparse.Namespace
    sizes: Sizes
    folder: Path
    primary: ListServer
    standby: ListServer
    dsn: dict[str, str]  # "small", "big"
    people: dict[str, Campaign]
    headers: dict[str, dict]
    session: aiohttp.ClientSession
    table: dict[str, str] = field(default_factory=dict)

    @property
    def postgres(self) -> list[int]:
        return [s.postmaster_pid() for s in (self.primary, self.standby) if s.running()]

    def bulk_over_http(self, server: Server, size: str) -> Callable[[], Awaitable[object]]:
        return lambda: check_over_http(self.session, server.url, server.headers, self.people[size].emails)


async def flatness(bench: Bench) -> None:
    sizes, count = bench.sizes, len(bench.people["big"].emails)
    label = {"small": f"{sizes.small_rows:,}", "big": f"{sizes.rows:,}"}
    print(f"\n1. flatness: {label['big']} suppressions against {label['small']}, {count:,} recipients "
          f"per bulk check, {bench.args.concurrency} clients for the single check")
    async with contextlib.AsyncExitStack() as stack:
        service, raw, pools = {}, {}, {}
        for size in ("small", "big"):
            service[size] = await stack.enter_async_context(
                optout_serve(bench.dsn[size], bench.headers[size], bench.folder))
            raw[size] = await stack.enter_async_context(baseline_server(bench.dsn[size]))
            pools[size] = await asyncpg.create_pool(bench.dsn[size], min_size=1, max_size=1)
            stack.push_async_callback(pools[size].close)
            blocked = await verify_check(bench.session, service[size], bench.people[size])
            print(f"  {label[size]} suppressions: {blocked:,} of {count:,} recipients blocked in {SCOPE} "
                  f"({bench.people[size].listed:,} on the list in some scope, {len(bench.people[size].erased):,} erased)")
        bulk = await bulk_figures({
            **{f"service {s}": bench.bulk_over_http(service[s], s) for s in service},
            **{f"raw {s}": (lambda s=s: pools[s].fetch(BASELINE_QUERY, bench.people[s].canonical)) for s in pools},
        }, bench.args.repeat)
        single = await single_figures({**{f"service {s}": (service[s], bench.people[s].canonical) for s in service},
                                       **{f"raw {s}": (raw[s], bench.people[s].canonical) for s in raw}},
                                      bench.postgres, bench.args)
    for size in ("small", "big"):
        bulk_line(f"scaling bulk check, {label[size]} suppressions", count, bulk[f"service {size}"], bulk[f"raw {size}"])
    bulk_growth = {kind: bulk[f"{kind} big"] / bulk[f"{kind} small"] for kind in ("service", "raw")}
    print(f"scaling bulk check, time at {label['big']} against {label['small']}: service {bulk_growth['service']:.2f}x, "
          f"baseline {bulk_growth['raw']:.2f}x, ratio {bulk_growth['service'] / bulk_growth['raw']:.2f}")
    verdict(f"service within {TARGET_FLAT}x", bulk_growth["service"] <= TARGET_FLAT)
    for size in ("small", "big"):
        single_line(f"scaling single check, {label[size]} suppressions", single[f"service {size}"], single[f"raw {size}"])
        print(f"  service: {cpu_line(single[f'service {size}']['cpu'])}")
    slower = {k: single[f"{k} small"]["rps"] / single[f"{k} big"]["rps"] for k in ("service", "raw")}
    p99 = {k: single[f"{k} big"]["p99"] / single[f"{k} small"]["p99"] for k in ("service", "raw")}
    print(f"scaling single check, requests/s at {label['small']} over {label['big']}: service {slower['service']:.2f}x, "
          f"baseline {slower['raw']:.2f}x, ratio {slower['service'] / slower['raw']:.2f}")
    print(f"scaling single check, p99 at {label['big']} over {label['small']}: service {p99['service']:.2f}x, "
          f"baseline {p99['raw']:.2f}x, ratio {p99['service'] / p99['raw']:.2f}")
    verdict(f"service within {TARGET_FLAT}x (requests/s and p99)", max(slower["service"], p99["service"]) <= TARGET_FLAT)
    rows = [f"| bulk check, {count:,} recipients: optout (s) | {bulk['service small']:.3f} | {bulk['service big']:.3f} | {bulk_growth['service']:.2f}x |",
            f"| bulk check: raw `= ANY($1)` query (s) | {bulk['raw small']:.3f} | {bulk['raw big']:.3f} | {bulk_growth['raw']:.2f}x |"]
    for kind, name in (("service", "optout"), ("raw", "raw aiohttp+asyncpg app")):
        small, big = single[f"{kind} small"], single[f"{kind} big"]
        rows.append(f"| single check: {name} (requests/s) | {small['rps']:,.0f} | {big['rps']:,.0f} | {small['rps'] / big['rps']:.2f}x slower |")
        rows.append(f"| single check: {name} p99 (ms) | {small['p99'] * 1000:.2f} | {big['p99'] * 1000:.2f} | {big['p99'] / small['p99']:.2f}x |")
    bench.table["flatness"] = "\n".join(
        [f"| figure | {label['small']} suppressions | {label['big']} suppressions | growth |", "|---|---:|---:|---:|", *rows])


async def web_processes(bench: Bench) -> None:
    print(f"\n2. WEB_CONCURRENCY=2 against 1: `optout serve` on {bench.sizes.rows:,} suppressions, single check, "
          f"{bench.args.concurrency} clients; the service, PostgreSQL and the load (this process) share "
          f"{os.cpu_count()} cores")
    async with contextlib.AsyncExitStack() as stack:
        servers = {n: await stack.enter_async_context(optout_serve(bench.dsn["big"], bench.headers["big"], bench.folder, n))
                   for n in (1, 2)}
        canonical = bench.people["big"].canonical
        single = await single_figures({f"WEB_CONCURRENCY={n}": (s, canonical) for n, s in servers.items()},
                                      bench.postgres, bench.args)
    one, two = single["WEB_CONCURRENCY=1"], single["WEB_CONCURRENCY=2"]
    report("scaling single check, WEB_CONCURRENCY=2 (service) against 1 (baseline)", "requests", two["rps"], one["rps"])
    rows = []
    for name, figures in single.items():
        print(f"  {name}: p50 {figures['p50'] * 1000:.2f} ms, p99 {figures['p99'] * 1000:.2f} ms, "
              f"errors {figures['errors']:.0f}; {cpu_line(figures['cpu'])}")
        cpu = figures["cpu"]
        rows.append(f"| {name} | {figures['rps']:,.0f} | {figures['p50'] * 1000:.2f} | {figures['p99'] * 1000:.2f} | "
                    f"{cpu['server']:.0%} / {cpu['PostgreSQL']:.0%} / {cpu['load']:.0%} |")
    bench.table["web"] = "\n".join([
        "| `optout serve` | single check requests/s | p50 (ms) | p99 (ms) | CPU: optout / PostgreSQL / load (% of one core) |",
        "|---|---:|---:|---:|---:|", *rows])


async def standby_reads(bench: Bench) -> None:
    count = len(bench.people["big"].emails)
    print(f"\n3. reads on the standby (DATABASE_READ_URL) against the primary, {bench.sizes.rows:,} suppressions; "
          f"both servers on the same {os.cpu_count()} cores")
    async with contextlib.AsyncExitStack() as stack:
        on_primary = await stack.enter_async_context(optout_serve(bench.dsn["big"], bench.headers["big"], bench.folder))
        standby_dsn = bench.standby.database("optout_big")
        on_standby = await stack.enter_async_context(
            optout_serve(bench.dsn["big"], bench.headers["big"], bench.folder, read_dsn=standby_dsn))
        pools = {}
        for name, dsn in (("primary", bench.dsn["big"]), ("standby", standby_dsn)):
            pools[name] = await asyncpg.create_pool(dsn, min_size=1, max_size=1)
            stack.push_async_callback(pools[name].close)
        await verify_check(bench.session, on_standby, bench.people["big"])
        canonical = bench.people["big"].canonical
        bulk = await bulk_figures({
            "service standby": bench.bulk_over_http(on_standby, "big"),
            "service primary": bench.bulk_over_http(on_primary, "big"),
            "raw standby": lambda: pools["standby"].fetch(BASELINE_QUERY, canonical),
            "raw primary": lambda: pools["primary"].fetch(BASELINE_QUERY, canonical),
        }, bench.args.repeat)
        single = await single_figures({"standby": (on_standby, canonical), "primary": (on_primary, canonical)},
                                      bench.postgres, bench.args)
        served = {s: await metric(on_standby.url, f'optout_reads_total{{server="{s}"}}') for s in ("standby", "primary")}
        lag = await metric(on_standby.url, "optout_standby_lag_seconds")
    report("scaling single check, reads on the standby (service) against the primary (baseline)",
           "requests", single["standby"]["rps"], single["primary"]["rps"])
    for name in ("standby", "primary"):
        print(f"  reads on the {name}: p50 {single[name]['p50'] * 1000:.2f} ms, p99 {single[name]['p99'] * 1000:.2f} ms; "
              f"{cpu_line(single[name]['cpu'])}")
    report("scaling bulk check, reads on the standby (service) against the primary (baseline)",
           "recipients", count / bulk["service standby"], count / bulk["service primary"])
    print(f"  seconds per check of {count:,}: standby {bulk['service standby']:.3f} s, primary {bulk['service primary']:.3f} s; "
          f"raw `= ANY($1)` query: standby {bulk['raw standby']:.3f} s, primary {bulk['raw primary']:.3f} s")
    checks = 1 + (WARMUP + bench.args.repeat) + single["standby"]["requests"]
    print(f"  /metrics of the standby-reading service: optout_reads_total{{server=\"standby\"}} {served['standby']:,.0f}, "
          f"{{server=\"primary\"}} {served['primary']:,.0f}, for about {checks:,.0f} checks sent "
          f"(timed runs; the warm-ups add some); optout_standby_lag_seconds {lag:.3f}")
    verdict("the standby served the checks (optout_reads_total{server=\"standby\"} > 0, none on the primary)",
            served["standby"] >= checks and served["primary"] == 0)
    bench.table["standby"] = "\n".join([
        "| checks read from | single check requests/s | p99 (ms) | bulk check (s) | raw `= ANY($1)` (s) |",
        "|---|---:|---:|---:|---:|",
        *(f"| {name} | {single[name]['rps']:,.0f} | {single[name]['p99'] * 1000:.2f} | "
          f"{bulk['service ' + name]:.3f} | {bulk['raw ' + name]:.3f} |" for name in ("primary", "standby")),
        f"\n`optout_reads_total{{server=\"standby\"}}` {served['standby']:,.0f}, "
        f"`{{server=\"primary\"}}` {served['primary']:,.0f}."])


# --- the run ---------------------------------------------------------------------------------

async def run(_shared_dsn: str, args: argparse.Namespace) -> None:
    """The shared database is not used: this benchmark starts (and removes) servers of its own."""
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, asyncio.current_task().cancel)
    try:
        await measure_everything(args, Sizes.from_environment())
    finally:
        loop.remove_signal_handler(signal.SIGTERM)


async def measure_everything(args: argparse.Namespace, sizes: Sizes) -> None:
    count = min(args.recipients, MAX_CHECK)
    started = time.perf_counter()
    print(f"scaling: PostgreSQL from {postgres_bin()}, {os.cpu_count()} cores shared by optout, PostgreSQL "
          f"(primary and standby) and the load; shared_buffers {sizes.shared_buffers} each", flush=True)
    folder = Path(tempfile.mkdtemp(prefix="optout-scaling-"))
    try:
        with list_server("optout-scaling-primary-", sizes.shared_buffers) as primary, \
                list_server("optout-scaling-standby-", sizes.shared_buffers) as standby:
            await asyncio.to_thread(lambda: primary.init_primary().start())
            dsn = {"small": await create_list(primary, "optout_small", sizes.small_rows, sizes.erased),
                   "big": await create_list(primary, "optout_big", sizes.rows, sizes.erased)}
            await make_standby(primary, standby)
            rows = {"small": sizes.small_rows, "big": sizes.rows}
            people = {s: await campaign(dsn[s], rows[s], sizes.erased, count) for s in dsn}
            headers = {s: await api_key(dsn[s]) for s in dsn}
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None)) as session:
                bench = Bench(args, sizes, folder, primary, standby, dsn, people, headers, session)
                print(f"  ready in {time.perf_counter() - started:.0f} s", flush=True)
                await flatness(bench)
                await web_processes(bench)
                await standby_reads(bench)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(f"\nscaling: summary (Markdown), {time.perf_counter() - started:.0f} s in all; command: "
          f"SCALING_ROWS={sizes.rows} SCALING_SMALL_ROWS={sizes.small_rows} SCALING_ERASED={sizes.erased} "
          f".venv/bin/python -m bench scaling --repeat {args.repeat} --duration {args.duration:g} "
          f"--concurrency {args.concurrency} --recipients {count}\n")
    for name in ("flatness", "web", "standby"):
        print(bench.table[name], end="\n\n")
