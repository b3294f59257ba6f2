"""Shared fixtures: a real PostgreSQL (a fresh schema per test session), the app on a real socket."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from urllib.parse import urlencode, urlsplit, parse_qsl, urlunsplit

import asyncpg
import pytest
from aiohttp import web

from service.app import create_app
from service.domain.apikeys import create_key
from service.settings import Settings
from service.storage.db import create_pool, migrate_dsn, start_embedded

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "corpus"
# The shared corpus, beside the checkout (and in CI): it also holds the larger sisimai-labeled set.
SHARED_CORPUS = ROOT.parent / "shared" / "corpus"


def known_disagreements() -> dict[tuple[str, str], str]:
    """(file, field) -> why this reading is kept against the corpus label (tests/corpus/disagreements.tsv)."""
    import csv
    with (CORPUS / "disagreements.tsv").open(encoding="utf-8", newline="") as f:
        rows = csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        return {(row["file"], row["field"]): row["reason"] for row in rows}
TABLES = ("suppressions", "erased_addresses", "events", "api_keys", "inbound_messages", "soft_bounces", "outbox", "outbox_bodies", "webhooks",
          "scopes", "consents", "privacy_requests", "check_marks", "staff_sessions", "staff_login_failures",
          "known_addresses", "message_mentions", "self_service_asks", "self_service_clients",
          "self_service_uses", "campaigns", "campaign_recipients", "campaign_reports", "imports")


def with_search_path(dsn: str, schema: str) -> str:
    parts = urlsplit(dsn)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "search_path"]
    query.append(("search_path", schema))
    return urlunsplit(parts._replace(query=urlencode(query)))


@pytest.fixture(scope="session")
def server_dsn() -> str:
    dsn = os.environ.get("TEST_DATABASE_URL")
    if dsn:
        return dsn
    _server, uri = start_embedded(ROOT / "var")
    return uri


@pytest.fixture(scope="session")
async def dsn(server_dsn: str):
    """A schema of its own for this test session, migrated, dropped at the end."""
    schema = f"test_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(server_dsn)
    await admin.execute(f'CREATE SCHEMA "{schema}"')
    url = with_search_path(server_dsn, schema)
    try:
        await migrate_dsn(url)
        yield url
    finally:
        await admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await admin.close()


@pytest.fixture(scope="session")
async def pool(dsn: str):
    pool = await create_pool(dsn, min_size=1, max_size=10)
    yield pool
    await pool.close()


@pytest.fixture(autouse=True)
async def clean(request):
    """Each test starts from empty tables (only for tests that use the database)."""
    if "pool" not in request.fixturenames:
        yield
        return
    pool = request.getfixturevalue("pool")
    await pool.execute("TRUNCATE " + ", ".join(TABLES) + " RESTART IDENTITY")
    yield


@pytest.fixture
def settings(dsn: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=dsn,
        public_url="http://127.0.0.1:8080",
        secret_keys=("new-key-" + "n" * 24, "old-key-" + "o" * 24),
        hash_key=b"test-hash-key-" + b"h" * 18,
        var_dir=tmp_path / "var",
    )


@pytest.fixture
async def client(aiohttp_client, settings: Settings, pool):
    """The app on a real socket (aiohttp's test server listens on 127.0.0.1)."""
    return await aiohttp_client(create_app(settings, pool))


@pytest.fixture
async def served(settings: Settings, pool, unused_tcp_port_factory):
    """Start the app as `optout serve` runs it, on a free port; call it, get its base URL."""
    from service.runner import app_runner

    runners = []

    async def start(**overrides) -> str:
        port = unused_tcp_port_factory()
        base = f"http://127.0.0.1:{port}"
        runner = app_runner(create_app(settings.with_overrides(public_url=base, **overrides), pool))
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        runners.append(runner)
        return base

    yield start
    for runner in runners:
        await runner.cleanup()


async def make_key(pool, *scopes: str, name: str = "test") -> str:
    async with pool.acquire() as conn:
        _id, key = await create_key(conn, name, list(scopes))
    return key


@pytest.fixture
async def admin_key(pool) -> str:
    return await make_key(pool, "admin", name="admin")


@pytest.fixture
def auth(admin_key: str) -> dict:
    return {"Authorization": f"Bearer {admin_key}"}
