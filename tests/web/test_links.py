"""POST /v1/links: URL and RFC 8058 headers per recipient, in input order."""

from urllib.parse import unquote

from tests.conftest import make_key


async def test_links_give_url_and_both_headers_in_input_order(client, auth):
    recipients = [{"email": "Jan@Example.be", "scope": "newsletter", "campaign": "nov"},
                  {"email": "nope"}, {"email": "marie@example.be"}]
    response = await client.post("/v1/links", json={"recipients": recipients}, headers=auth)
    assert response.status == 200
    links = (await response.json())["links"]
    assert [link["email"] for link in links] == ["Jan@Example.be", "nope", "marie@example.be"]
    first = links[0]
    assert first["url"].startswith("http://127.0.0.1:8080/u/")
    token = first["url"].rsplit("/", 1)[1]
    assert first["headers"] == {
        "List-Unsubscribe": f"<{first['url']}>, <mailto:info@cetit.be?subject=unsubscribe%20{token}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    assert unquote(first["headers"]["List-Unsubscribe"].split("subject=")[1][:-1]) == f"unsubscribe {token}"
    assert links[1]["error"]["code"] == "invalid_address" and "url" not in links[1]


async def test_links_refuse_a_bad_scope_and_too_many_recipients(client, auth):
    bad = await client.post("/v1/links", json={"recipients": [{"email": "a@example.be", "scope": "Nieuws Brief"}]}, headers=auth)
    assert bad.status == 400 and (await bad.json())["error"]["code"] == "invalid_scope"
    many = await client.post("/v1/links", json={"recipients": [{"email": "a@example.be"}] * 10_001}, headers=auth)
    assert many.status == 400
    wrong = await client.post("/v1/links", json={"recipients": ["a@example.be"]}, headers=auth)
    assert wrong.status == 400


async def test_links_need_the_links_scope(client, pool):
    check_only = await make_key(pool, "check")
    response = await client.post("/v1/links", json={"recipients": []}, headers={"Authorization": f"Bearer {check_only}"})
    assert response.status == 403
    links_key = await make_key(pool, "links")
    response = await client.post("/v1/links", json={"recipients": []}, headers={"Authorization": f"Bearer {links_key}"})
    assert response.status == 200


async def test_issuing_links_records_the_addresses_as_known(client, auth, pool):
    answer = await client.post("/v1/links", json={"recipients": [
        {"email": "Jan@Example.be", "scope": "newsletter"}, {"email": "nope"}]}, headers=auth)
    assert answer.status == 200
    assert await pool.fetchval("SELECT array_agg(address) FROM known_addresses") == ["jan@example.be"]


async def test_each_link_has_a_return_path_the_same_for_the_same_address_that_names_no_one(client, auth, settings):
    from service.domain.suppressions.return_paths import ReturnPaths

    recipients = [{"email": "Jan@Example.be", "scope": "newsletter"}, {"email": "marie@example.be"},
                  {"email": "jan@example.be", "scope": "events"}, {"email": "nope"}]
    links = (await (await client.post("/v1/links", json={"recipients": recipients}, headers=auth)).json())["links"]
    again = (await (await client.post("/v1/links", json={"recipients": recipients[:1]}, headers=auth)).json())["links"]
    jan, marie, jan_events, invalid = links
    assert jan["return_path"] == jan_events["return_path"] == again[0]["return_path"] != marie["return_path"]
    assert "return_path" not in invalid
    for path in (jan["return_path"], marie["return_path"]):
        local, domain = path.split("@")
        assert domain == "cetit.be" and local.startswith("bounces+") and len(local) <= 64
        token = local.removeprefix("bounces+")
        assert token.isalnum() and token == token.lower() and len(token) == 26
        assert "jan" not in token and "marie" not in token
    paths = ReturnPaths(settings.secret_keys, settings.bounce_address)
    jan_id = paths.recipient_of(jan["return_path"].split("+")[1].split("@")[0].upper())  # mail may change the case
    assert jan_id is not None and paths.recipient_of("a" * 26) is None
    other_keys = ReturnPaths(("another-key-" + "x" * 20,), settings.bounce_address)
    assert other_keys.recipient_of(jan["return_path"].split("+")[1].split("@")[0]) is None
    rotated = ReturnPaths(("newer-key-" + "n" * 20, *settings.secret_keys), settings.bounce_address)
    assert rotated.recipient_of(jan["return_path"].split("+")[1].split("@")[0]) == jan_id


async def test_a_link_for_an_erased_address_has_a_return_path_that_names_no_one(client, auth, pool):
    assert (await client.post("/v1/erasure", json={"email": "jan@example.be"}, headers=auth)).status == 200
    links = (await (await client.post("/v1/links", json={"recipients": [{"email": "jan@example.be"}]},
                                      headers=auth)).json())["links"]
    assert links[0]["return_path"].startswith("bounces+")
    assert await pool.fetchval("SELECT count(*) FROM known_addresses") == 0
