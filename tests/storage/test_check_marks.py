"""check_marks, what the check reads, always says what suppressions and consents say, whatever
path wrote them: one statement, an import's COPY batches, a lift, an erasure, a withdrawal, a
resubscribe, a TRUNCATE."""

from __future__ import annotations

from datetime import timedelta

from service.domain.consent import ledger
from service.domain.consent.ledger import ConsentInput
from service.domain.suppressions import suppression_list
from service.domain.suppressions.transfer import Importer
from service.domain.suppressions.erasure import erase
from service.domain.suppressions.keyed_hash import KeyedHash
from service.storage.db import transaction

HASH_KEY = b"check-marks-hash-key-" + b"k" * 11
KEYED_HASH = KeyedHash(HASH_KEY)


async def expected(conn) -> set[tuple]:
    """The marks as worked out from the record itself."""
    rows = await conn.fetch("""
        SELECT address, scope, reason AS mark, created_at AS at FROM suppressions
        UNION ALL
        SELECT address, scope, 'consent', max(confirmed_at) FROM consents WHERE status = 'given'
         GROUP BY address, scope""")
    return {tuple(r) for r in rows}


async def marks(conn) -> set[tuple]:
    return {tuple(r) for r in await conn.fetch("SELECT address, scope, mark, at FROM check_marks")}


def consent(email: str, scope: str, confirm: bool = False) -> ConsentInput:
    return ConsentInput.read({"email": email, "scope": scope, "source": "api", "language": "nl",
                              "text": "Ja.", "confirm": confirm})


def compose(consent_id, address, language, label):
    return b"Subject: x\r\n\r\ny\r\n", "bounces@cetit.be", address


async def test_the_marks_follow_every_write_path(pool):
    async with transaction(pool) as conn:
        await suppression_list.suppress(conn, "a@example.be", "global", "unsubscribe", "link", keyed_hash=KEYED_HASH)
        await suppression_list.suppress(conn, "b@example.be", "newsletter", "manual", "phone", keyed_hash=KEYED_HASH)
        await ledger.give(conn, consent("c@example.be", "events"), actor="t", keyed_hash=KEYED_HASH)
        await ledger.give(conn, consent("c@example.be", "events"), actor="t", keyed_hash=KEYED_HASH)  # twice: one mark
        pending = await ledger.give(conn, consent("a@example.be", "events", confirm=True), actor="t", keyed_hash=KEYED_HASH,
                                    compose=compose)
        assert await marks(conn) == await expected(conn)
        await ledger.confirm(conn, pending.id, "192.0.2.1", "ua", max_age=timedelta(days=7))
        assert ("a@example.be", "events", "consent") in {m[:3] for m in await marks(conn)}
        assert await marks(conn) == await expected(conn)

    async with transaction(pool) as conn:  # an import: COPY into a batch, one INSERT ... SELECT
        async with Importer(conn, "csv", KEYED_HASH, batch_rows=2) as importer:
            await importer.feed(b"email,scope,reason\nd@example.be,global,bounce\ne@example.be,events,unsubscribe\n"
                                b"b@example.be,newsletter,manual\nf@example.be\n")
            summary = await importer.finish()
        assert (summary.imported, summary.already) == (3, 1)
        assert await marks(conn) == await expected(conn)
        assert len(await marks(conn)) == 7  # 5 suppressions, 2 consents

    async with transaction(pool) as conn:  # a lift, a withdrawal by unsubscribe, an erasure
        await suppression_list.lift(conn, "b@example.be", "newsletter", "asked again by phone", False, "staff", keyed_hash=KEYED_HASH)
        await suppression_list.suppress(conn, "c@example.be", "events", "unsubscribe", "reply", keyed_hash=KEYED_HASH)
        assert ("c@example.be", "events", "consent") not in {m[:3] for m in await marks(conn)}
        await erase(conn, KEYED_HASH, "a@example.be", "staff")
        assert not [m for m in await marks(conn) if m[0] == "a@example.be"]
        assert await marks(conn) == await expected(conn)

    await pool.execute("TRUNCATE suppressions, consents")
    assert await pool.fetchval("SELECT count(*) FROM check_marks") == 0


async def test_consents_of_one_address_given_at_the_same_moment_keep_one_mark(pool):
    import asyncio

    async def give():
        async with transaction(pool) as conn:
            await ledger.give(conn, consent("same@example.be", "events"), actor="t", keyed_hash=KEYED_HASH)

    await asyncio.gather(*(give() for _ in range(6)))
    async with pool.acquire() as conn:
        assert await marks(conn) == await expected(conn)
        assert len(await marks(conn)) == 1
