"""`optout run` with WEB_CONCURRENCY=2: a second process serves the web app on the same port,
and a SIGTERM stops both, requests in flight answered."""

from __future__ import annotations

import asyncio

import aiohttp

from tests.faults.conftest import wait


async def test_run_with_two_web_processes_serves_from_both_and_stops_both(services):
    service = services("run", WEB_CONCURRENCY="2")
    await service.logged("1 more web process(es) share port")
    async def both_listen() -> bool:
        return service.log().count("web listening on") == 2
    await wait(both_listen, 60, "both web processes to listen")
    url = f"http://127.0.0.1:{services.ports['PORT']}"
    async with aiohttp.ClientSession() as session:
        async def ready() -> int:
            async with session.get(f"{url}/readyz") as answer:
                return answer.status
        statuses = await asyncio.gather(*(ready() for _ in range(200)))
    assert set(statuses) == {200}
    assert service.stop() == 0
    assert service.log().count("stopped") >= 2  # each process says it stopped


async def test_a_web_process_whose_parent_was_killed_stops_and_frees_the_port(services):
    """kill -9 of `optout run`: the process it started for the web app has no one to stop it
    with SIGTERM; it notices it was left and stops by itself, so the port is free again."""
    service = services("run", WEB_CONCURRENCY="2")
    async def both_listen() -> bool:
        return service.log().count("web listening on") == 2
    await wait(both_listen, 60, "both web processes to listen")
    service.kill()
    url = f"http://127.0.0.1:{services.ports['PORT']}/readyz"

    async def nothing_answers() -> bool:
        try:
            async with aiohttp.ClientSession() as session, session.get(url, timeout=aiohttp.ClientTimeout(2)):
                return False
        except aiohttp.ClientConnectionError:
            return True
    await wait(nothing_answers, 30, "the orphaned web process to stop")
    assert "its parent process is gone" in service.log()
