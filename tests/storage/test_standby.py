"""Reads from a real hot standby (DATABASE_READ_URL): a primary and a streaming replica
started from Debian's PostgreSQL binaries, each on a port of its own."""

from __future__ import annotations

import logging

import pytest

from service.app import create_app
from service.settings import Settings
from service.storage.db import migrate_dsn
from service.storage.standby import WalClock
from tests.conftest import make_key
from tests.pgcluster import Cluster, fetchval, owned_folder, wait_until

EMAIL = "jan@example.be"


@pytest.fixture(scope="module")
async def replicated(unused_tcp_port_factory):
    """A migrated primary and its standby, caught up."""
    primary = Cluster(owned_folder("optout-primary-"), unused_tcp_port_factory()).init_primary().start()
    standby = Cluster(owned_folder("optout-standby-"), unused_tcp_port_factory())
    try:
        standby.init_standby_of(primary).start()
        await migrate_dsn(primary.dsn)
        await wait_until(lambda: fetchval(standby.dsn, "SELECT to_regclass('suppressions') IS NOT NULL"),
                         what="the standby to replay the migrations")
        yield primary, standby
    finally:
        standby.remove()
        primary.remove()


@pytest.fixture
async def primary_pool(replicated):
    import asyncpg

    primary, _standby = replicated
    pool = await asyncpg.create_pool(primary.dsn, min_size=1, max_size=2)
    await pool.execute("TRUNCATE suppressions, events, api_keys, erased_addresses RESTART IDENTITY")
    yield pool
    await pool.close()


async def app_reading_from(aiohttp_client, replicated, tmp_path, read_url=None, max_lag_ms=1000):
    primary, standby = replicated
    settings = Settings(database_url=primary.dsn, database_read_url=read_url or standby.dsn,
                        read_max_lag_ms=max_lag_ms, secret_keys=("k" * 32,), hash_key=b"h" * 32,
                        var_dir=tmp_path / "var")
    return await aiohttp_client(create_app(settings))


async def served_by(client, server: str) -> float:
    text = await (await client.get("/metrics")).text()
    for line in text.splitlines():
        if line.startswith(f'optout_reads_total{{server="{server}"}}'):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def allowed(client, key: str) -> bool:
    answer = await client.get("/v1/check", params={"email": EMAIL, "scope": "newsletter"},
                              headers={"Authorization": f"Bearer {key}"})
    assert answer.status == 200, await answer.text()
    return (await answer.json())["allowed"]


async def caught_up(standby: Cluster, primary: Cluster) -> bool:
    wal = await fetchval(primary.dsn, "SELECT pg_current_wal_lsn()::text")
    return await fetchval(standby.dsn, "SELECT pg_last_wal_replay_lsn() >= $1::text::pg_lsn", wal)


async def test_checks_are_read_from_the_standby_and_a_lagging_one_is_skipped(
        replicated, primary_pool, aiohttp_client, tmp_path):
    primary, standby = replicated
    key = await make_key(primary_pool, "admin")
    patient = await app_reading_from(aiohttp_client, replicated, tmp_path, max_lag_ms=60_000)
    strict = await app_reading_from(aiohttp_client, replicated, tmp_path, max_lag_ms=300)
    await wait_until(lambda: caught_up(standby, primary), what="the standby to catch up")
    assert await allowed(patient, key) and await served_by(patient, "standby") == 1

    await fetchval(standby.dsn, "SELECT pg_wal_replay_pause()")
    try:
        put = await patient.put(f"/v1/suppressions/{EMAIL}", json={"scope": "newsletter", "reason": "manual"},
                                headers={"Authorization": f"Bearer {key}"})
        assert put.status == 201  # written to the primary
        # Within its allowed lag the standby still answers, from before the write: reads go there.
        assert await allowed(patient, key) and await served_by(patient, "standby") == 2
        # An app that allows 300 ms skips it once the paused standby falls behind, for the primary.
        await wait_until(lambda: _blocked(strict, key), seconds=5, what="the strict app to read the primary")
        assert await served_by(strict, "primary") >= 1
    finally:
        await fetchval(standby.dsn, "SELECT pg_wal_replay_resume()")
    await wait_until(lambda: caught_up(standby, primary), what="the standby to catch up again")
    await wait_until(lambda: _served_again(strict, key), seconds=5, what="reads back on the standby")
    assert not await allowed(strict, key)  # the standby has the suppression now


async def test_an_idle_primary_does_not_make_a_caught_up_standby_look_late(
        replicated, primary_pool, aiohttp_client, tmp_path):
    primary, standby = replicated
    key = await make_key(primary_pool, "check")
    strict = await app_reading_from(aiohttp_client, replicated, tmp_path, max_lag_ms=200)
    await wait_until(lambda: caught_up(standby, primary), what="the standby to catch up")
    import asyncio

    await asyncio.sleep(1.5)  # nothing is written: the standby's last replay grows old, its lag does not
    for _ in range(5):
        assert await allowed(strict, key)
    assert await served_by(strict, "standby") == 5 and await served_by(strict, "primary") == 0


async def test_a_standby_that_is_down_or_misnamed_is_skipped_without_an_error(
        replicated, primary_pool, aiohttp_client, tmp_path, unused_tcp_port_factory, caplog):
    primary, standby = replicated
    key = await make_key(primary_pool, "check")
    caplog.set_level(logging.WARNING, logger="optout.standby")
    nowhere = f"postgresql://postgres@127.0.0.1:{unused_tcp_port_factory()}/postgres"
    misnamed = standby.dsn.rsplit("/", 1)[0] + "/no_such_database"
    for read_url in (nowhere, misnamed):
        client = await app_reading_from(aiohttp_client, replicated, tmp_path, read_url=read_url)
        assert await allowed(client, key) and await served_by(client, "primary") == 1
    assert caplog.text.count("DATABASE_READ_URL") >= 2 and "no_such_database" in caplog.text

    client = await app_reading_from(aiohttp_client, replicated, tmp_path)
    await wait_until(lambda: _served_again(client, key), what="a read served by the standby")
    primary_reads = await served_by(client, "primary")
    standby.stop("immediate")
    try:
        for _ in range(3):  # the first read may meet the dead standby: it is run again on the primary
            assert await allowed(client, key)
        assert await served_by(client, "primary") == primary_reads + 3
    finally:
        standby.start()
    await wait_until(lambda: _served_again(client, key), what="reads back on the restarted standby")


async def _blocked(client, key) -> bool:
    return not await allowed(client, key)


async def _served_again(client, key) -> bool:
    before = await served_by(client, "standby")
    await allowed(client, key)
    return await served_by(client, "standby") > before


def test_the_wal_clock_measures_lag_from_when_the_primary_passed_the_replay_position():
    clock = WalClock(horizon=10)
    for at, position in [(0.0, 100), (1.0, 100), (2.0, 150), (3.0, 200)]:
        clock.saw(at, position)
    assert clock.lag(3.5, 200) == 0.0  # replayed everything: no lag, however long ago it was written
    assert clock.lag(3.5, 150) == pytest.approx(1.5)  # the primary was last at 150 at t=2
    assert clock.lag(3.5, 120) == pytest.approx(2.5)  # at or below 120 last at t=1 (errs long)
    assert clock.lag(30, 10) >= 10  # behind everything kept: at least the horizon
    assert WalClock(horizon=10).lag(1, 0) is None
