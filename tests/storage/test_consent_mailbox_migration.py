"""Migration 0016 gives the consents already recorded their mailbox by the rule the service
writes new ones with (service.domain.addresses.mailbox_of), without working out every consent's
check mark again: the marks do not read the mailbox, and on a big table that work held the lock
that every suppression write waits for."""

from __future__ import annotations

import contextlib
import secrets
import shutil

import asyncpg

from service.domain.addresses import canonical_address, mailbox_of
from service.storage.db import migrate, migration_files
from tests.conftest import with_search_path

ADDRESSES = ["jan@example.be", "jan+news@example.be", "jan+a+b@example.be", "jan+@example.be", "j.a.n+x@example.be",
             "+only@example.be", "o'neil+1@example.ie", "victim+7@xn--exmple-cua.be", "zoë+x@xn--caf-dma.fr",
             "a_b%c+d@example.org", "jan.peeters@gmail.com", "j.anpeeters+x.y@gmail.com", "jan.peeters@googlemail.com",
             "j.a.n+x@googlemail.com", "+z@gmail.com", "jan.peeters@mail.gmail.com", "jan.peeters@gmail.be",
             "jan.peeters@notgmail.com", "jan.peeters@gmail.com.example.be"]


@contextlib.asynccontextmanager
async def before_the_mailbox(server_dsn, tmp_path):
    """A connection to a schema of its own, migrated up to the one before 0016."""
    before = tmp_path / "migrations"
    before.mkdir()
    for version, _name, path in migration_files():
        if version < 16:
            shutil.copyfile(str(path), before / path.name)
    schema = f"mailbox_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(server_dsn)
    await admin.execute(f'CREATE SCHEMA "{schema}"')
    conn = await asyncpg.connect(with_search_path(server_dsn, schema))
    try:
        await migrate(conn, before)
        yield conn
    finally:
        await conn.close()
        await admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await admin.close()


async def test_consents_recorded_before_the_mailbox_get_it_by_the_same_rule(server_dsn, tmp_path):
    async with before_the_mailbox(server_dsn, tmp_path) as conn:
        assert [canonical_address(a) for a in ADDRESSES] == ADDRESSES
        await conn.executemany(
            "INSERT INTO consents (address, scope, status, source, text, language) "
            "VALUES ($1, 'news', 'pending', 'web_form', 'ja', 'nl')", [(a,) for a in ADDRESSES])
        assert "0016_consent_mailbox" in await migrate(conn)
        rows = await conn.fetch("SELECT address, mailbox FROM consents ORDER BY id")
        assert {r["address"]: r["mailbox"] for r in rows} == {a: mailbox_of(a) for a in ADDRESSES}


async def test_the_mailbox_backfill_leaves_the_check_marks_as_they_were(server_dsn, tmp_path):
    async with before_the_mailbox(server_dsn, tmp_path) as conn:
        await conn.executemany(
            "INSERT INTO consents (address, scope, status, source, text, language, given_at, confirmed_at) "
            "VALUES ($1, $2, 'given', 'web_form', 'ja', 'nl', now(), CASE WHEN $2 = 'news' THEN now() END)",
            [(a, scope) for a in ADDRESSES for scope in ("news", "global")])
        marks = "SELECT xmin::text AS version, address, scope, mark, at FROM check_marks ORDER BY address, scope"
        before = await conn.fetch(marks)
        assert len(before) == 2 * len(ADDRESSES)
        await migrate(conn)
        # the same rows, not written again (a written row has a new xmin): no mark was worked out anew
        assert await conn.fetch(marks) == before
        await conn.execute("UPDATE consents SET status = 'withdrawn' WHERE address = $1 AND scope = 'news'",
                           ADDRESSES[0])
        assert await conn.fetchval("SELECT count(*) FROM check_marks WHERE address = $1", ADDRESSES[0]) == 1
