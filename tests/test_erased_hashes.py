"""A check tests erasures against the erased addresses' HMACs that its process holds, read at a
generation that every change to erased_addresses moves: an erasure blocks the first check whose
snapshot sees it, in every process; past the limit held, or at another generation, the
database answers."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from service.app import create_app
from service.domain.suppressions import suppression_list
from service.domain.suppressions.erased_hashes import ErasedHashes
from service.domain.suppressions.keyed_hash import KeyedHash
from service.services import Services

OTHERS = [f"reader.{i}@example.be" for i in range(200)]


async def bulk(client, auth, emails: list[str], scope: str = "newsletter") -> dict[str, dict]:
    response = await client.post("/v1/check", json={"scope": scope, "recipients": emails}, headers=auth)
    assert response.status == 200
    return {r["email"]: r for r in (await response.json())["results"]}


async def erase(client, auth, email: str) -> None:
    assert (await client.post("/v1/erasure", json={"email": email}, headers=auth)).status == 200


async def generation(pool: asyncpg.Pool) -> tuple[int, str]:
    row = await pool.fetchrow("SELECT changes, token::text FROM erasure_generation")
    return row["changes"], row["token"]


def test_many_hashes_at_once_are_each_the_keyed_hash_of_the_address():
    key = b"k" * 40
    addresses = ["jan@example.be", "zoë@bücher.example", ""]
    keyed_hash = KeyedHash(key)
    assert keyed_hash.of_many(addresses) == [keyed_hash.of(a) for a in addresses]


async def test_every_change_to_the_erased_addresses_moves_the_generation(pool):
    seen = [await generation(pool)]
    for change in ("INSERT INTO erased_addresses (address_hmac, reason) VALUES ('\\x01', 'manual')",
                   "UPDATE erased_addresses SET reason = 'unsubscribe'", "DELETE FROM erased_addresses",
                   "TRUNCATE erased_addresses"):
        await pool.execute(change)
        seen.append(await generation(pool))
    assert [changes for changes, _ in seen] == list(range(seen[0][0], seen[0][0] + 5))
    assert len({token for _, token in seen}) == 5


async def test_a_change_rolled_back_leaves_no_generation_that_comes_again(pool):
    before = await generation(pool)
    async with pool.acquire() as conn:
        transaction = conn.transaction()
        await transaction.start()
        await conn.execute("INSERT INTO erased_addresses (address_hmac, reason) VALUES ('\\x02', 'manual')")
        undone = await conn.fetchrow("SELECT changes, token::text FROM erasure_generation")
        await transaction.rollback()
    assert await generation(pool) == before
    await pool.execute("INSERT INTO erased_addresses (address_hmac, reason) VALUES ('\\x03', 'manual')")
    after = await generation(pool)
    # The same count as the change that was undone, but not the same generation: a process that
    # read the set inside that transaction cannot take it for this one.
    assert after[0] == undone["changes"] and after[1] != undone["token"]


async def test_an_erasure_in_one_process_blocks_at_once_where_another_holds_the_erased(
    aiohttp_client, client, auth, settings, pool
):
    # `client` and `other` keep their own ErasedHashes, as two processes of the service do.
    other = await aiohttp_client(create_app(settings, pool, Services.build(settings)))
    first, second = "first.gone@example.be", "second.gone@example.be"
    await erase(other, auth, first)
    seen = await bulk(client, auth, [first, second, *OTHERS])  # `client` reads the erased now
    assert seen[first]["allowed"] is False and seen[first]["scope"] == "global"
    assert seen[second]["allowed"] is True

    await erase(other, auth, second)
    seen = await bulk(client, auth, [first, second, *OTHERS])
    assert (seen[first]["allowed"], seen[second]["allowed"]) == (False, False)
    assert seen[second]["scope"] == "global" and seen[second]["reason"] == "unsubscribe"
    assert all(seen[a]["allowed"] for a in OTHERS)
    single = await client.get("/v1/check", params={"email": second.upper(), "scope": "events"}, headers=auth)
    assert (await single.json())["allowed"] is False


async def test_past_the_limit_held_the_database_answers_for_each_check(client, auth, pool, settings):
    held = ErasedHashes(limit=1)
    keyed_hash = KeyedHash(settings.hash_key)
    gone = ["one.gone@example.be", "two.gone@example.be"]
    for email in gone:
        await erase(client, auth, email)
    async with pool.acquire() as conn:
        for _ in range(2):
            results = await suppression_list.check(conn, [*gone, *OTHERS], "newsletter", keyed_hash, held)
            assert [r.allowed for r in results[:2]] == [False, False]
            assert all(r.allowed for r in results[2:])


async def test_a_generation_the_set_cannot_be_read_at_is_answered_by_the_database(pool, settings, client, auth):
    await erase(client, auth, "jan@example.be")
    held = ErasedHashes()
    hashes = KeyedHash(settings.hash_key).of_many(["an@example.be", "jan@example.be"])
    async with pool.acquire() as conn:
        # A snapshot older than what is read now (a standby behind, a check begun before an
        # erasure committed) names a generation that the set read now is not at.
        found = await held.among(conn, "0:00000000-0000-0000-0000-000000000000", hashes)
    assert list(found) == [1] and found[1][0] == "unsubscribe"


async def test_without_a_holder_the_check_asks_the_database(pool, settings, client, auth):
    await erase(client, auth, "jan@example.be")
    async with pool.acquire() as conn:
        results = await suppression_list.check(conn, ["JAN@example.be", "an@example.be"], "global", KeyedHash(settings.hash_key))
    assert [r.allowed for r in results] == [False, True]


async def test_a_big_check_cancelled_while_it_hashes_leaves_no_query_on_its_connection(pool, settings):
    emails = [f"reader.{i}@example.be" for i in range(20_000)]
    async with pool.acquire() as conn:
        for _ in range(3):
            checking = asyncio.ensure_future(
                suppression_list.check(conn, emails, "newsletter", KeyedHash(settings.hash_key), ErasedHashes()))
            await asyncio.sleep(0.005)  # the query is sent, the HMACs are being worked out
            checking.cancel()
            with pytest.raises(asyncio.CancelledError):
                await checking
            assert await conn.fetchval("SELECT 1") == 1  # not "another operation is in progress"


async def test_a_caller_that_stops_after_one_part_leaves_no_query_on_its_connection(pool, settings):
    """The next part's query is under way while the caller reads a part: closing the iterator
    early ends it, and the connection serves the next statement."""
    import contextlib

    emails = [f"reader.{i}@example.be" for i in range(50)]
    async with pool.acquire() as conn:
        parts = suppression_list.check_in_parts(conn, emails, "newsletter", KeyedHash(settings.hash_key), ErasedHashes(),
                                          part_size=10)
        async with contextlib.aclosing(parts) as in_parts:
            async for first in in_parts:
                assert len(first) == 10 and all(r.allowed for r in first)
                break
        assert await conn.fetchval("SELECT 1") == 1  # not "another operation is in progress"
        gathered = await suppression_list.check(conn, emails, "newsletter", KeyedHash(settings.hash_key), ErasedHashes())
        assert len(gathered) == 50


async def test_a_big_check_in_the_caller_s_transaction_reads_in_it_and_leaves_it_open(pool, settings, client, auth):
    """A big check reads in a transaction of its own (one snapshot for all its parts); inside a
    caller's transaction, it reads in that one, sees its writes, and leaves it to the caller."""
    emails = [f"reader.{i}@example.be" for i in range(120)]
    async with pool.acquire() as conn:
        async with conn.transaction():
            await conn.execute("INSERT INTO suppressions (address, scope, reason, source) "
                               "VALUES ('reader.7@example.be', 'global', 'manual', 'api')")
            results = await suppression_list.check(conn, emails, "newsletter", KeyedHash(settings.hash_key), ErasedHashes())
            assert [i for i, r in enumerate(results) if not r.allowed] == [7]
            assert conn.is_in_transaction()
        assert not conn.is_in_transaction()
        results = await suppression_list.check(conn, emails, "newsletter", KeyedHash(settings.hash_key), ErasedHashes())
        assert [i for i, r in enumerate(results) if not r.allowed] == [7]
        assert not conn.is_in_transaction()
