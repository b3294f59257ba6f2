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
