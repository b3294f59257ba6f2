"""The record of addresses CETIT knows: links issued, suppressions and events count; a check does not."""

from service.domain.suppressions.keyed_hash import KeyedHash
from service.storage.known_queries import forget_address, known_among, remember_addresses

KEYED_HASH = KeyedHash(b"k" * 32)


async def test_issued_links_suppressions_and_events_make_an_address_known(pool):
    async with pool.acquire() as conn:
        await remember_addresses(conn, ["linked@example.be", "linked@example.be"], "link", KEYED_HASH.pads)
        await conn.execute("INSERT INTO suppressions (address, scope, reason, source) "
                           "VALUES ('suppressed@example.be', 'global', 'manual', 'phone')")
        await conn.execute("INSERT INTO events (address, type) VALUES ('evented@example.be', 'lifted')")
        found = await known_among(conn, ["linked@example.be", "suppressed@example.be", "evented@example.be",
                                         "stranger@example.be"])
        assert found == {"linked@example.be", "suppressed@example.be", "evented@example.be"}
        await forget_address(conn, "linked@example.be")
        assert await known_among(conn, ["linked@example.be"]) == set()
        assert await known_among(conn, []) == set()


async def test_an_erased_address_is_not_remembered_in_clear(pool):
    async with pool.acquire() as conn:
        await conn.execute("INSERT INTO erased_addresses (address_hmac, reason) VALUES ($1, 'erasure')",
                           KEYED_HASH.of("gone@example.be"))
        await remember_addresses(conn, ["gone@example.be", "here@example.be"], "link", KEYED_HASH.pads)
        assert await conn.fetchval("SELECT array_agg(address) FROM known_addresses") == ["here@example.be"]
