"""Bad input gets a 4xx JSON error naming the problem; a database that is down gets a 503."""

import io

import asyncpg
import pytest

from service.app import create_app

BAD_BODIES = [
    (b"{not json", "not valid JSON"),
    (b"[1, 2]", "JSON object"),
    (b"\xff\xfe garbage", "UTF-8"),
    (b"", "JSON body"),
    (b'{"recipients": "a@example.be"}', "list"),
    (b'{"scope": "Not A Scope", "recipients": []}', "Scope"),
    (b'{"scope": 5, "recipients": []}', "Scope"),
]


@pytest.mark.parametrize("body, says", BAD_BODIES)
async def test_bad_check_bodies_are_400_with_a_message(client, auth, body, says):
    response = await client.post("/v1/check", data=body, headers={**auth, "Content-Type": "application/json"})
    assert response.status == 400
    error = (await response.json())["error"]
    assert error["code"] and says in error["message"]


@pytest.mark.parametrize("body", [
    {"scope": "global", "reason": "spite"},
    {"scope": "global", "source": "pigeon"},
    {"scope": ["global"]},
    {"note": 42},
    {"scope": "x" * 65},
])
async def test_bad_suppression_fields_are_400(client, auth, body):
    response = await client.put("/v1/suppressions/a@example.be", json=body, headers=auth)
    assert response.status == 400
    assert (await response.json())["error"]["message"]


async def test_invalid_address_in_path_is_400(client, auth):
    response = await client.put("/v1/suppressions/not-an-address", json={}, headers=auth)
    assert response.status == 400
    assert (await response.json())["error"]["code"] == "invalid_address"


async def test_body_over_the_limit_is_413(client, auth):
    huge = io.BytesIO(b'{"recipients": ["' + b"a" * (17 * 1024 * 1024) + b'"]}')
    response = await client.post("/v1/check", data=huge, headers={**auth, "Content-Type": "application/json"})
    assert response.status == 413
    assert (await response.json())["error"]["code"] == "body_too_large"


async def test_unknown_route_is_a_json_404(client):
    response = await client.get("/v1/nothing-here")
    assert response.status == 404
    assert (await response.json())["error"]["code"] == "not_found"


@pytest.fixture
async def client_without_database(aiohttp_client, settings):
    dead = await asyncpg.create_pool("postgresql://postgres@127.0.0.1:1/none", min_size=0, timeout=2)
    yield await aiohttp_client(create_app(settings, dead))
    await dead.close()


async def test_database_down_gives_503_and_never_allowed(client_without_database):
    client = client_without_database
    auth = {"Authorization": "Bearer oo_x_anything"}
    assert (await client.get("/healthz")).status == 200
    assert (await client.get("/readyz")).status == 503
    for method, path, kwargs in [
        ("GET", "/v1/check", {"params": {"email": "a@example.be"}}),
        ("POST", "/v1/check", {"json": {"recipients": ["a@example.be"]}}),
        ("GET", "/v1/suppressions/a@example.be", {}),
        ("PUT", "/v1/suppressions/a@example.be", {"json": {}}),
        ("GET", "/v1/suppressions", {}),
        ("GET", "/v1/suppressions.csv", {}),
        ("GET", "/v1/events", {"params": {"email": "a@example.be"}}),
    ]:
        response = await client.request(method, path, headers=auth, **kwargs)
        assert response.status == 503, path
        body = await response.json()
        assert body["error"]["code"] == "unavailable" and "allowed" not in str(body)


async def test_a_read_only_database_gives_503_not_500(aiohttp_client, settings, dsn):
    from datetime import timedelta

    from service.domain.tokens import TokenSigner
    from service.storage.db import create_pool

    read_only = await create_pool(dsn + "&default_transaction_read_only=on", min_size=0)
    client = await aiohttp_client(create_app(settings, read_only))
    token = TokenSigner(settings.secret_keys, timedelta(days=90)).sign("jan@example.be", "newsletter")
    response = await client.post(f"/u/{token}", data="List-Unsubscribe=One-Click",
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status == 503
    await read_only.close()


@pytest.mark.parametrize("body", [{"note": "a\u0000b"}, {"scope": "global", "source": "phone", "note": "\u0000"}])
async def test_a_nul_character_is_a_400(client, auth, body):
    response = await client.put("/v1/suppressions/a@example.be", json=body, headers=auth)
    assert response.status == 400 and "NUL" in (await response.json())["error"]["message"]


async def test_a_nul_character_in_evidence_or_campaign_is_a_400(client, auth):
    await client.put("/v1/suppressions/a@example.be", json={"scope": "events"}, headers=auth)
    lift = await client.delete("/v1/suppressions/a@example.be", params={"scope": "events"},
                               json={"evidence": "a\u0000b"}, headers=auth)
    assert lift.status == 400
    links = await client.post("/v1/links", json={"recipients": [{"email": "a@example.be", "campaign": "c\u0000"}]},
                              headers=auth)
    assert links.status == 400


async def test_concurrent_suppress_and_lift_of_one_address_never_fail(client, auth):
    import asyncio

    async def put():
        response = await client.put("/v1/suppressions/race@example.be", json={"scope": "events"}, headers=auth)
        assert response.status in (200, 201)

    async def lift():
        response = await client.delete("/v1/suppressions/race@example.be", params={"scope": "events"},
                                       json={"evidence": "test"}, headers=auth)
        assert response.status in (200, 404)

    for _ in range(40):
        await asyncio.gather(put(), put(), lift(), put(), lift())


async def test_an_error_on_a_recipients_page_is_an_html_page_in_their_language(client, auth):
    from tests.web.test_unsubscribe import token_for

    bad_link = await client.get(f"/u/{token_for()[:-2]}", params={"lang": "fr"})
    assert bad_link.status == 400 and bad_link.content_type == "text/html"
    text = await bad_link.text()
    assert '<html lang="fr">' in text and "Ce lien ne fonctionne pas" in text
    assert bad_link.headers["Content-Security-Policy"].startswith("default-src 'none'")
    await client.put("/v1/suppressions/jan@example.be", json={"scope": "global", "reason": "complaint", "source": "arf"},
                     headers=auth)
    refused = await client.post(f"/u/{token_for(scope='global')}/resubscribe", data={"scope": "global", "lang": "en"})
    assert refused.status == 409 and refused.content_type == "text/html"
    assert "This cannot be undone here" in await refused.text()


async def test_a_failure_http_finds_on_a_recipients_page_is_an_html_page_too(client):
    from tests.web.test_unsubscribe import token_for

    not_taken = await client.get(f"/u/{token_for()}/resubscribe", headers={"Accept-Language": "en"})
    assert not_taken.status == 405 and not_taken.content_type == "text/html"
    assert "This request could not be handled" in await not_taken.text()
    nowhere = await client.get("/u/a/b/c")
    assert nowhere.status == 404 and nowhere.content_type == "text/html"
    assert '<html lang="nl">' in await nowhere.text()


async def test_an_error_on_a_staff_page_is_an_html_page_in_the_consoles_layout(client, pool):
    from tests.conftest import make_key
    from tests.web.conftest import login

    assert (await login(client, await make_key(pool, "write"))).status == 303
    for path, status in [("/staff/messages/not-a-uuid", 404), ("/staff/outbox/x/retry", 405), ("/staff/nothing", 404)]:
        response = await client.get(path)
        assert response.status == status and response.content_type == "text/html", path
        assert "· optout</title>" in await response.text() and 'class="staff"' in await response.text()
    forged = await client.post("/staff/suppress", data={"csrf": "forged", "email": "a@example.be"})
    assert forged.status == 403 and forged.content_type == "text/html"
    assert "laad de pagina opnieuw" in await forged.text()


async def test_a_staff_page_without_its_database_says_so_with_503(client_without_database, settings):
    from itsdangerous import URLSafeTimedSerializer

    signed = URLSafeTimedSerializer(list(reversed(settings.secret_keys)), salt="optout.staff.session")
    session = signed.dumps("a-session-id")  # the session is looked up on the server on every page
    response = await client_without_database.get("/staff/", headers={"Cookie": f"optout_staff={session}"},
                                                 allow_redirects=False)
    assert response.status == 503 and response.content_type == "text/html"
    assert "Databank niet bereikbaar" in await response.text()


async def test_the_api_keeps_answering_json_beside_the_pages(client, auth):
    from tests.web.test_unsubscribe import token_for

    assert (await client.get(f"/u/{token_for()[:-2]}")).content_type == "text/html"
    for response in [await client.get("/v1/check", params={"email": "nonsense"}),
                     await client.put("/v1/suppressions/nonsense", json={}, headers=auth),
                     await client.get("/unsubscribe")]:
        assert response.content_type == "application/json"
        assert (await response.json())["error"]["code"]


async def test_the_pages_are_counted_and_logged_by_route_without_their_token(client, caplog):
    from tests.web.test_unsubscribe import token_for

    token = token_for()
    caplog.set_level("INFO", logger="optout.web")
    assert (await client.get(f"/u/{token}")).status == 200
    assert (await client.get(f"/u/{token[:-2]}")).status == 400
    assert (await client.get("/staff/", allow_redirects=False)).status == 303
    metrics = await (await client.get("/metrics")).text()
    assert 'route="/u/{token}",status="200"' in metrics and 'route="/u/{token}",status="400"' in metrics
    assert 'route="/staff/",status="303"' in metrics
    assert "GET /u/{token} -> 400" in caplog.text
    assert token[:30] not in metrics + caplog.text
