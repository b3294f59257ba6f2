"""service.client against the real service on a real socket."""

import pytest
from aiohttp import web

from service.client import OptoutClient, OptoutError, OptoutUnavailable


@pytest.fixture
async def base_url(served):
    return await served()


async def test_check_suppress_unsuppress_and_events(base_url, admin_key):
    async with OptoutClient(base_url, admin_key) as optout:
        created = await optout.suppress("Jan@Example.be", scope="newsletter", source="phone", note="called")
        assert created.created is True and created.scope == "newsletter"
        results = await optout.check(["jan@example.be", "marie@example.be", "nope"], scope="newsletter")
        assert [(r.email, r.allowed, r.reason) for r in results] == [
            ("jan@example.be", False, "manual"), ("marie@example.be", True, None), ("nope", False, "invalid_address")]
        assert (await optout.check_one("jan@example.be", "events")).allowed is True
        assert [s.scope for s in await optout.suppressions("jan@example.be")] == ["newsletter"]
        await optout.unsuppress("jan@example.be", "newsletter", evidence="asked again by mail")
        assert await optout.suppressions("jan@example.be") == []
        assert [e.type for e in await optout.events("jan@example.be")] == ["suppressed", "lifted"]


async def test_check_splits_lists_above_the_limit_and_keeps_order(base_url, admin_key, monkeypatch):
    import service.client as client_module

    monkeypatch.setattr(client_module, "MAX_CHECK", 3)
    async with OptoutClient(base_url, admin_key) as optout:
        await optout.suppress("u4@example.be")
        emails = [f"u{i}@example.be" for i in range(8)]
        results = await optout.check(emails)
        assert [r.email for r in results] == emails
        assert [r.allowed for r in results] == [True] * 4 + [False] + [True] * 3


async def test_links_carry_headers_that_unsubscribe(base_url, admin_key):
    import aiohttp

    async with OptoutClient(base_url, admin_key) as optout:
        [link, bad] = await optout.links(["a@example.be", "nope"], scope="newsletter", campaign="dec")
        assert link.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click" and bad.error["code"] == "invalid_address"
        async with aiohttp.ClientSession() as session:
            response = await session.post(link.url, data="List-Unsubscribe=One-Click",
                                          headers={"Content-Type": "application/x-www-form-urlencoded"})
            assert response.status == 200
        assert (await optout.check(["a@example.be"], "newsletter"))[0].allowed is False


async def test_a_4xx_raises_with_the_servers_code(base_url, admin_key):
    async with OptoutClient(base_url, admin_key) as optout:
        with pytest.raises(OptoutError) as error:
            await optout.check(["a@example.be"], scope="Not Valid")
        assert error.value.status == 400 and error.value.code == "invalid_scope"
    async with OptoutClient(base_url, "wrong") as optout:
        with pytest.raises(OptoutError) as error:
            await optout.check(["a@example.be"])
        assert error.value.status == 401


async def test_503_and_connection_errors_are_retried_then_raised(unused_tcp_port_factory):
    calls = 0

    async def flaky(request):
        nonlocal calls
        calls += 1
        if calls < 3:
            return web.json_response({"error": {"code": "unavailable", "message": "db"}}, status=503)
        return web.json_response({"scope": "global", "results": [{"email": "a@example.be", "allowed": True}]})

    app = web.Application()
    app.router.add_post("/v1/check", flaky)
    runner = web.AppRunner(app)
    await runner.setup()
    port = unused_tcp_port_factory()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        async with OptoutClient(f"http://127.0.0.1:{port}", "k", backoff=0.01) as optout:
            assert (await optout.check(["a@example.be"]))[0].allowed is True
        assert calls == 3
    finally:
        await runner.cleanup()
    async with OptoutClient(f"http://127.0.0.1:{unused_tcp_port_factory()}", "k", retries=2, backoff=0.01) as optout:
        with pytest.raises(OptoutUnavailable):
            await optout.check(["a@example.be"])


async def test_a_full_size_check_goes_through_the_client(base_url, admin_key):
    emails = [f"user{i}@example.be" for i in range(100_000)]
    async with OptoutClient(base_url, admin_key) as optout:
        await optout.suppress("user99999@example.be")
        results = await optout.check(emails, scope="newsletter")
    assert len(results) == 100_000 and results[-1].allowed is False and results[0].allowed is True


async def test_campaigns_are_read_checked_while_paused_and_resumed(served, settings, pool, admin_key):
    from tests.test_campaign_guardrails import arf
    from tests.test_worker import FAST, drain
    from service.worker import Worker

    judged_from_three = {"guard_min_sent": 3}
    base_url = await served(**judged_from_three)
    name = "nieuwsbrief 2026/12"  # a space and a slash: quoted whole in the path
    worker = Worker(pool, settings.with_overrides(**judged_from_three), FAST)
    try:
        async with OptoutClient(base_url, admin_key) as optout:
            links = await optout.links(["a@example.be", "b@example.be", "c@example.be"], "newsletter", name)
            found = await optout.campaign(name)
            assert (found.campaign, found.sent, found.status, found.paused) == (name, 3, "active", False)
            await optout.inbound(arf({"headers": links[0].headers}, 1))
            await drain(worker)
            found = await optout.campaign(name)
            assert found.paused and found.complaints == 1 and "complaint rate" in found.paused_reason
            assert [c.campaign for c in await optout.campaigns(status="paused")] == [name]
            assert await optout.campaigns(status="active") == []
            results = await optout.check(["b@example.be", "nope"], "newsletter", campaign=name)
            assert [(r.email, r.allowed, r.reason) for r in results] == [
                ("b@example.be", False, "campaign_paused"), ("nope", False, "campaign_paused")]
            assert (await optout.check(["b@example.be"], "newsletter"))[0].allowed is True
            assert (await optout.check_one("b@example.be", "newsletter", campaign=name)).reason == "campaign_paused"
            resumed = await optout.resume_campaign(name, "The complaint came from an address typed in by hand.")
            assert (resumed.status, resumed.sent, resumed.resumed_by) == ("active", 0, "admin")
            assert resumed.resume_note == "The complaint came from an address typed in by hand."
            assert (await optout.check_one("b@example.be", "newsletter", campaign=name)).allowed is True
            with pytest.raises(OptoutError) as error:
                await optout.resume_campaign(name, "again")
            assert error.value.status == 409
            with pytest.raises(OptoutError) as error:
                await optout.campaign("none-such")
            assert error.value.status == 404
    finally:
        worker.close()
