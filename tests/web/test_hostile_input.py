"""Input crafted to reach the edges of what the service parses: always a 4xx, never a 5xx."""

import base64
import json

import pytest
from yarl import URL


def cursor_of(at: str, address: str, scope: str = "global", ensure_ascii: bool = True) -> str:
    raw = json.dumps([at, address, scope], ensure_ascii=ensure_ascii).encode("utf-8", "surrogatepass")
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize("cursor", [
    cursor_of("2026-01-01T00:00:00+00:00", "a\u0000b@example.be"),
    cursor_of("2026-01-01T00:00:00+00:00", "\ud800@example.be"),
    cursor_of("2026-01-01T00:00:00+00:00", "a@example.be", "glo\u0000bal"),
    cursor_of("2026-01-01T00:00:00+00:00", "a@example.be", "\udfff"),
    cursor_of("0001-01-01T00:00:00+01:00", "a@example.be"),
    cursor_of("9999-12-31T23:59:59-01:00", "a@example.be"),
    cursor_of("2026-01-01T00:00:00", "a@example.be"),
    cursor_of("2026-01-01T00:00:00+00:00", "a@example.be", ensure_ascii=False) + "\u0000",
    "\u0000",
    "%00",
    base64.urlsafe_b64encode(b'[1, 2, 3]').decode(),
])
async def test_a_listing_cursor_that_was_not_given_out_is_a_400(client, auth, cursor):
    response = await client.get("/v1/suppressions", params={"cursor": cursor}, headers=auth)
    assert response.status == 400
    assert (await response.json())["error"]["code"] == "invalid_input"


@pytest.mark.parametrize("since", [
    "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-23:59", "2026-01-01T00:00:00\u0000", "2026-01-01",
])
async def test_a_since_at_the_edges_of_the_calendar_is_a_400(client, auth, since):
    response = await client.get("/v1/suppressions", params={"since": since}, headers=auth)
    assert response.status == 400


async def test_a_since_at_the_far_edges_that_still_fits_is_answered(client, auth):
    for since in ("0001-01-01T00:00:00-01:00", "9999-12-31T00:00:00+01:00"):
        response = await client.get("/v1/suppressions", params={"since": since}, headers=auth)
        assert response.status == 200


@pytest.mark.parametrize("field", ["note", "email", "scope", "reason", "source", "created_at"])
async def test_an_ndjson_field_with_a_lone_surrogate_is_an_invalid_line(client, auth, field):
    item = {"email": "s@example.be", field: "a\ud800b"}
    body = (json.dumps(item) + "\n" + json.dumps({"email": "fine@example.be"}) + "\n").encode()
    response = await client.post("/v1/suppressions/import", data=body,
                                 headers={**auth, "Content-Type": "application/x-ndjson"})
    assert response.status == 200
    summary = await response.json()
    assert summary["imported"] == 1 and [i["line"] for i in summary["invalid"]] == [1]


@pytest.mark.parametrize("body", [{"note": "a\ud800b"}, {"scope": "global", "source": "phone", "note": "\udfff"}])
async def test_a_lone_surrogate_in_a_note_is_a_400(client, auth, body):
    raw = json.dumps(body).encode()
    response = await client.put("/v1/suppressions/a@example.be", data=raw,
                                headers={**auth, "Content-Type": "application/json"})
    assert response.status == 400


@pytest.mark.parametrize("path", ["/v1/events", "/v1/check"])
async def test_a_lone_surrogate_or_nul_in_an_address_is_not_a_500(client, auth, path):
    for email in ("\ud800@example.be", "a\u0000@example.be", "a@exa\u0000mple.be", "a@\udfff.be"):
        response = await client.get(path, params={"email": email}, headers=auth)
        assert response.status < 500, email


@pytest.mark.parametrize("raw", ["%ED%A0%80", "%00", "%FF%FE", "%C0%80", "W10%00"])
async def test_a_listing_cursor_of_bytes_that_are_not_text_is_a_400(client, auth, raw):
    response = await client.get(URL(f"/v1/suppressions?cursor={raw}", encoded=True), headers=auth)
    assert response.status == 400


def nameless_multipart(*parts: tuple[str | None, str]) -> dict:
    """A multipart body as a client may send it, parts without a name included (aiohttp's writer refuses)."""
    boundary = "b0undary"
    body = "".join(
        f"--{boundary}\r\nContent-Disposition: form-data{f'; name={name}' if name else ''}\r\n\r\n{value}\r\n"
        for name, value in parts or [(None, "oo_deadbeef_secret")]
    ) + f"--{boundary}--\r\n"
    return {"data": body.encode(), "headers": {"Content-Type": f"multipart/form-data; boundary={boundary}"}}


async def test_a_multipart_login_without_a_field_name_is_a_400(client):
    response = await client.post("/staff/login", **nameless_multipart())
    assert response.status == 400
    assert "<form" in await response.text()


async def test_a_multipart_staff_form_without_a_field_name_is_a_400(client, pool):
    from tests.conftest import make_key
    from tests.web.conftest import login

    assert (await login(client, await make_key(pool, "write"))).status == 303
    response = await client.post("/staff/suppress", **nameless_multipart(("email", "a@example.be"), (None, "x")))
    assert response.status == 400


@pytest.mark.parametrize("path", ["/u/{token}", "/u/{token}/resubscribe"])
async def test_a_multipart_unsubscribe_without_a_field_name_is_a_400(client, auth, path):
    from tests.web.test_unsubscribe import allowed, token_for

    form = nameless_multipart(("List-Unsubscribe", "One-Click"), (None, "x"))
    response = await client.post(path.format(token=token_for()), **form)
    assert response.status == 400
    assert await allowed(client, auth)


async def test_a_form_in_an_unknown_charset_is_a_400(client):
    response = await client.post("/staff/login", data=b"key=x",
                                 headers={"Content-Type": "application/x-www-form-urlencoded; charset=no-such"})
    assert response.status == 400


async def test_a_cursor_of_deeply_nested_json_is_a_400(client, auth):
    cursor = base64.urlsafe_b64encode(b"[" * 3000).decode()
    response = await client.get("/v1/suppressions", params={"cursor": cursor}, headers=auth)
    assert response.status == 400


async def test_an_ndjson_line_of_deeply_nested_json_is_an_invalid_line(client, auth):
    body = b"[" * 50_000 + b"\n" + b'{"email": "ok@example.be"}\n'
    response = await client.post("/v1/suppressions/import", data=body,
                                 headers={**auth, "Content-Type": "application/x-ndjson"})
    assert response.status == 200
    summary = await response.json()
    assert summary["imported"] == 1 and summary["invalid"][0]["line"] == 1


@pytest.mark.parametrize("path", ["/u/{token}", "/staff/login", "/v1/check", "/v1/links"])
async def test_a_body_that_is_not_the_gzip_it_claims_is_a_4xx(client, auth, path):
    from tests.web.test_unsubscribe import token_for

    response = await client.post(path.format(token=token_for()), data=b"List-Unsubscribe=One-Click", headers={
        **auth, "Content-Type": "application/x-www-form-urlencoded", "Content-Encoding": "gzip", "Connection": "close"})
    assert 400 <= response.status < 500


@pytest.mark.parametrize("fields", ["action=subscribe&scope=%00", "action=unsubscribe&scope=news%00",
                                    "action=subscribe&scope=newsletter%00", "action=unsubscribe&scope=%ED%A0%80"])
async def test_a_nul_in_the_scope_of_an_own_page_action_is_a_400_page(client, auth, pool, fields):
    from tests.web.self_service_helpers import open_page
    response = await client.put("/v1/scopes/newsletter", headers=auth,
                                json={"labels": {"nl": "Nieuwsbrief", "en": "Newsletter", "fr": "Lettre"}})
    assert response.status in (200, 201)
    path, csrf = await open_page(client, auth, pool)
    response = await client.post(path, data=f"{fields}&csrf={csrf}&lang=en".encode(),
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status == 400 and "Nothing has changed" in await response.text()
    assert await pool.fetchval("SELECT count(*) FROM suppressions") == 0
    assert await pool.fetchval("SELECT count(*) FROM consents") == 0
