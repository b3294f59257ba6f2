"""Migration 0017 gives the consents already recorded their mailbox by the rule the service
writes new ones with (service.domain.addresses.mailbox_of)."""

from __future__ import annotations

import secrets
import shutil

import asyncpg

from service.domain.addresses import canonical_address, mailbox_of
from service.storage.db import migrate, migration_files
from tests.conftest import with_search_path

ADDRESSES = ["jan@example.be", "jan+news@example.be", "jan+a+b@example.be", "jan+@example.be", "j.a.n+x@example.be",
             "+only@example.be", "o'neil+1@example.ie", "victim+7@xn--exmple-cua.be", "zoë+x@xn--caf-dma.fr",
             "a_b%c+d@example.org"]


async def test_consents_recorded_before_the_mailbox_get_it_by_the_same_rule(server_dsn, tmp_path):
    before = tmp_path / "migrations"
    before.mkdir()
    for version, _name, path in migration_files():
        if version < 17:
            shutil.copyfile(str(path), before / path.name)
    schema = f"mailbox_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(server_dsn)
    await admin.execute(f'CREATE SCHEMA "{schema}"')
    conn = await asyncpg.connect(with_search_path(server_dsn, schema))
    try:
        await migrate(conn, before)
        assert [canonical_address(a) for a in ADDRESSES] == ADDRESSES
        await conn.executemany(
            "INSERT INTO consents (address, scope, status, source, text, language) "
            "VALUES ($1, 'news', 'pending', 'web_form', 'ja', 'nl')", [(a,) for a in ADDRESSES])
        assert "0017_consent_mailbox" in await migrate(conn)
        rows = await conn.fetch("SELECT address, mailbox FROM consents ORDER BY id")
        assert {r["address"]: r["mailbox"] for r in rows} == {a: mailbox_of(a) for a in ADDRESSES}
    finally:
        await conn.close()
        await admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await admin.close()
