"""Migrations: applied once, in order, safely when several processes start at the same time."""

import asyncio
import os
import secrets
import subprocess
import sys

import asyncpg
import pytest

from service.storage.db import MigrationsMissing, migrate_dsn, migration_files
from tests.conftest import ROOT, with_search_path


def test_migration_files_are_numbered_in_order():
    versions = [v for v, _name, _path in migration_files()]
    assert versions == sorted(versions) and len(set(versions)) == len(versions) and versions[0] == 1


async def test_two_processes_migrating_at_once_apply_each_migration_once(server_dsn, tmp_path):
    schema = f"mig_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(server_dsn)
    await admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        env = {**os.environ, "DATABASE_URL": with_search_path(server_dsn, schema),
               "OPTOUT_VAR_DIR": str(tmp_path), "OPTOUT_SECRET_KEYS": "k" * 32, "OPTOUT_HASH_KEY": "h" * 32}
        procs = [
            await asyncio.create_subprocess_exec(
                sys.executable, "-m", "service", "migrate", cwd=ROOT, env=env,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            )
            for _ in range(2)
        ]
        outputs = [await p.communicate() for p in procs]
        assert [p.returncode for p in procs] == [0, 0], outputs
        rows = await admin.fetch(f'SELECT version FROM "{schema}".schema_migrations ORDER BY version')
        assert [r["version"] for r in rows] == [v for v, _n, _p in migration_files()]
        logs = b"".join(err for _out, err in outputs).decode()
        assert logs.count("applied migration 0001_init") == 1
        assert await migrate_dsn(with_search_path(server_dsn, schema)) == []
    finally:
        await admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await admin.close()


def test_an_install_without_its_migrations_stops_with_a_clear_message(tmp_path):
    with pytest.raises(MigrationsMissing) as missing:
        migration_files(tmp_path / "migrations")
    assert "reinstall" in str(missing.value)
    (tmp_path / "migrations").mkdir()
    with pytest.raises(MigrationsMissing):
        migration_files(tmp_path / "migrations")


def test_the_migrations_are_found_through_the_installed_package():
    from importlib import resources

    assert [name for _v, name, _p in migration_files()][0] == "0001_init"
    assert (resources.files("service.sql") / "migrations" / "0001_init.sql").is_file()


async def test_the_answers_of_failing_receivers_kept_before_0017_are_forgotten_but_their_status(pool):
    webhook = await pool.fetchval("INSERT INTO webhooks (url, events, secret, created_by) "
                                  "VALUES ('https://crm.example.be/in', '{}', 'whsec_x', 'test') RETURNING id")
    kept = ["answered 500: db-primary 10.0.0.7 down; retry", "answered 302 (redirects are not followed): /login",
            "answered 502: proxy error; not taken within 3 days (17 tries)", "timed out after 10 s"]
    for error in kept:
        await pool.execute("INSERT INTO outbox (kind, webhook_id, event_id, last_error) VALUES ('webhook', $1, 1, $2)",
                           webhook, error)
    [(_v, _name, path)] = [f for f in migration_files() if f[1] == "0017_webhook_answers_forgotten"]
    await pool.execute(path.read_text())
    assert [r["last_error"] for r in await pool.fetch("SELECT last_error FROM outbox ORDER BY id")] == [
        "answered 500", "answered 302 (redirects are not followed)",
        "answered 502; not taken within 3 days (17 tries)", "timed out after 10 s"]
