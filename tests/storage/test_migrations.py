"""Migrations: applied once, in order, safely when several processes start at the same time;
each applied one's checksum recorded, and a released migration never edited."""

import asyncio
import os
import secrets
import shutil
import subprocess
import sys

import asyncpg
import pytest

from service.storage.db import (MigrationChanged, MigrationsMissing, migrate, migrate_dsn, migration_checksum,
                                migration_files)
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


# Each released migration as it was released. A database that applied one never runs it again,
# so an edit would reach no database that has it: a change is a new migration, and its line
# is added here when it is released.
RELEASED = {
    "0001_init": "c6e3a5cecd7818f4d57de28500a55da2e0c1707d637488cacedd590f28e15e9e",
    "0002_inbound": "238d61ff8fba11ba4eef9ad7867682b5d1f6b8b4c4b6fcf3cf7ffd7886134da5",
    "0003_gateway": "4fa5f30f4aefec53db9a87b713986a5ca2c400fff2baf2f42a48812105615df2",
    "0004_retention": "0440150efe638bd9502a0f9d7e628f52b7d27d08c8ccce7a0b69fa97af0c36cb",
    "0005_known_addresses": "1704b6d1535262721b9ac129009c58fb5c9a70ad2fdca2a94a8717669e77a14f",
    "0006_mentions": "d5ffbca6d6bc638c2a75e5b42e3fa0cfcf167a4c9f351a0cae45695a79fdae13",
    "0007_inbound_abandoned_claims": "3078057a9214d899e4d9ff8fa407034d80f3dc1b52e0c8126aabcf50f757eb39",
    "0008_erasure_lock": "019ce95468d06647f7bd04a8ad2cede5bdb161ac834a7c5aa51b8512ac474eb0",
    "0009_outbox": "01764705fe5a674127b79a9ed281bd6371712a03055cb7e9a8aec135f4d6c47f",
    "0010_inbound_listing": "96482e7714a353e297ea400381f00b9348e7e363cc49ae13c205da872b1d0233",
    "0011_return_paths": "29b761099d17086eb94aabaedc46bda9a7a3769eef66171cca0ac29078c1916a",
    "0012_consent": "45aa2eeac6c14b0966e410c066d2e968b4b3be2218140d35b95c0a101bb4f3d7",
    "0013_staff_sessions": "a8bf9df28f31ff0134de0f1efbae8a71f1dc11e32ef3577fd4d2ee2d8fe76de7",
    "0014_erasure_generation": "0698d18ac9ad4ec69829839b94cbee78163ed5fdbdd353dc9662e38112f48513",
    "0015_marks_plain_insert": "135acf5345af46899834aa79cb12b4fa6128d503756e1b3c62a84a44833c59db",
    "0016_consent_mailbox": "d8b824419ecda9caf74433b5ac3a8e20ac5bdf091391b337159a33a82850f151",
    "0017_webhook_answers_forgotten": "5d8653e3237b4b21fc871abd092381849f5cbfef84dc8ef36327de4459eeabe0",
    "0018_webhook_circuits": "c6baac94a416a66dd641280a17563225e75b5b1d235167605772eac1ec1738a3",
    "0019_self_service": "9ccf7330351c982ccea0b05df8367090e4f96c2cfd6ebfc02d67463564dfeac7",
    "0020_self_service_counts_by_time": "1252a2cb4e33d8bff4e3cf5e88c5bd7669b8120b30da6acb72b92def095b0b35",
    "0021_self_service_links_made_when_sent": "fdc051012c70d2f8e303e06b5ce6a02a485be9329ee3b3aa10e2f227ce47d760",
    "0022_own_page_limits": "fff6d073117422ccf22663dc796c975208cabe8f9cc173da9a79319cab4a7b29",
    "0023_campaign_guardrails": "fe835d8abe5b431f2f46ca083918c830f507876f0da2eb97388b557b43f77f0f",
    "0024_imports_audited_as_a_set": "876fa1adcad9f61840325ee98a1ac0e354350043b6a37a82eafdb40ea55c84ee",
}


def test_released_migrations_are_never_edited():
    found = {name: migration_checksum(path) for _v, name, path in migration_files()}
    edited = [name for name, checksum in RELEASED.items() if found.get(name) != checksum]
    assert not edited, f"released migrations edited: {edited}; put the change in a new migration instead"
    assert all(name > max(RELEASED) for name in set(found) - set(RELEASED))  # a new one comes after them


@pytest.fixture
async def own_schema(server_dsn):
    """A connection whose search path is a schema of its own, dropped at the end."""
    schema = f"mig_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(server_dsn)
    await admin.execute(f'CREATE SCHEMA "{schema}"')
    conn = await asyncpg.connect(with_search_path(server_dsn, schema))
    try:
        yield conn, schema
    finally:
        await conn.close()
        await admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await admin.close()


async def test_a_migration_edited_after_it_was_applied_is_refused_with_what_to_do(own_schema, tmp_path):
    conn, _schema = own_schema
    released = tmp_path / "migrations"
    shutil.copytree(ROOT / "sql" / "migrations", released)
    assert len(await migrate(conn, released)) == len(RELEASED)
    recorded = {r["name"]: r["checksum"] for r in await conn.fetch("SELECT name, checksum FROM schema_migrations")}
    assert recorded == {name: migration_checksum(path) for _v, name, path in migration_files(released)}
    edited = released / "0012_consent.sql"
    edited.write_text(edited.read_text() + "\nCREATE INDEX consents_by_nothing ON consents (id);\n")
    with pytest.raises(MigrationChanged) as refused:
        await migrate(conn, released)
    assert "0012_consent" in str(refused.value) and "new migration" in str(refused.value)
    assert await conn.fetchval("SELECT to_regclass('consents_by_nothing')") is None


async def test_a_database_migrated_before_checksums_were_kept_takes_them_once(own_schema):
    conn, _schema = own_schema
    await migrate(conn)
    await conn.execute("UPDATE schema_migrations SET checksum = NULL")
    await conn.execute("ALTER TABLE schema_migrations DROP COLUMN checksum")  # as such a database has it
    assert await migrate(conn) == []
    recorded = {r["name"]: r["checksum"] for r in await conn.fetch("SELECT name, checksum FROM schema_migrations")}
    assert recorded == {name: migration_checksum(path) for _v, name, path in migration_files()}


async def test_optout_migrate_refuses_a_database_whose_migration_differs_and_says_what_to_do(own_schema, server_dsn,
                                                                                              tmp_path):
    conn, schema = own_schema
    await migrate(conn)
    await conn.execute("UPDATE schema_migrations SET checksum = 'released-otherwise' WHERE name = '0009_outbox'")
    env = {**os.environ, "DATABASE_URL": with_search_path(server_dsn, schema), "OPTOUT_VAR_DIR": str(tmp_path),
           "OPTOUT_SECRET_KEYS": "k" * 32, "OPTOUT_HASH_KEY": "h" * 32}
    done = subprocess.run([sys.executable, "-m", "service", "migrate"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "optout: migration 0009_outbox differs from the file" in done.stderr and "new migration" in done.stderr
