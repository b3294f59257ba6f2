"""POST/GET /v1/check over real HTTP against a real PostgreSQL."""

import io
import json

from tests.conftest import make_key


async def put(client, auth, email, **body):
    response = await client.put(f"/v1/suppressions/{email}", json=body, headers=auth)
    assert response.status in (200, 201), await response.text()


async def test_bulk_check_answers_every_recipient_in_input_order(client, auth):
    await put(client, auth, "b@example.be", scope="global", reason="unsubscribe", source="api")
    recipients = ["a@example.be", "b@example.be", "nope", "B@EXAMPLE.BE", "a@example.be"]
    response = await client.post("/v1/check", json={"scope": "newsletter", "recipients": recipients}, headers=auth)
    assert response.status == 200
    body = await response.json()
    assert body["scope"] == "newsletter"
    assert [r["email"] for r in body["results"]] == recipients
    assert [r["allowed"] for r in body["results"]] == [True, False, False, False, True]
    blocked = body["results"][1]
    assert blocked["reason"] == "unsubscribe" and blocked["scope"] == "global" and "since" in blocked
    assert body["results"][2] == {"email": "nope", "allowed": False, "reason": "invalid_address"}


async def test_global_suppression_blocks_every_scope(client, auth):
    await put(client, auth, "g@example.be", scope="global")
    for scope in ("newsletter", "events", "global"):
        response = await client.get("/v1/check", params={"email": "g@example.be", "scope": scope}, headers=auth)
        assert (await response.json())["allowed"] is False, scope


async def test_scoped_suppression_blocks_only_its_scope_and_a_global_check(client, auth):
    await put(client, auth, "e@example.be", scope="events")
    answers = {}
    for scope in ("events", "newsletter", "global"):
        response = await client.get("/v1/check", params={"email": "e@example.be", "scope": scope}, headers=auth)
        answers[scope] = (await response.json())["allowed"]
    assert answers == {"events": False, "newsletter": True, "global": False}


async def test_check_matches_canonical_forms(client, auth):
    await put(client, auth, "  Info@Bücher.BE ")
    for spelling in ("info@bücher.be", "INFO@xn--bcher-kva.be", " info@BÜCHER.be"):
        response = await client.get("/v1/check", params={"email": spelling}, headers=auth)
        assert (await response.json())["allowed"] is False, spelling


async def test_plus_tags_and_dots_are_kept_as_written(client, auth):
    await put(client, auth, "jan+news@example.be")
    response = await client.post(
        "/v1/check", json={"recipients": ["jan@example.be", "j.an+news@example.be", "jan+news@example.be"]}, headers=auth
    )
    assert [r["allowed"] for r in (await response.json())["results"]] == [True, True, False]


async def test_single_check_of_an_invalid_address_is_200_not_allowed(client, auth):
    response = await client.get("/v1/check", params={"email": "not an address"}, headers=auth)
    assert response.status == 200
    assert await response.json() == {"email": "not an address", "allowed": False, "reason": "invalid_address"}


async def test_check_without_scope_means_global(client, auth):
    await put(client, auth, "x@example.be", scope="events")
    response = await client.post("/v1/check", json={"recipients": ["x@example.be"]}, headers=auth)
    body = await response.json()
    assert body["scope"] == "global" and body["results"][0]["allowed"] is False


async def test_check_of_100000_recipients_is_accepted_and_more_refused(client, auth):
    recipients = [f"user{i}@example.be" for i in range(100_000)]

    def body(items):
        return io.BytesIO(json.dumps({"recipients": items}).encode())

    headers = {**auth, "Content-Type": "application/json"}
    response = await client.post("/v1/check", data=body(recipients), headers=headers)
    assert response.status == 200
    assert len((await response.json())["results"]) == 100_000
    response = await client.post("/v1/check", data=body(recipients + ["one@more.be"]), headers=headers)
    assert response.status == 413
    assert (await response.json())["error"]["code"] == "too_many_recipients"


async def test_check_needs_a_key_with_the_check_scope(client, pool):
    response = await client.get("/v1/check", params={"email": "a@example.be"})
    assert response.status == 401
    assert (await response.json())["error"]["code"] == "unauthorized"
    response = await client.get("/v1/check", params={"email": "a@example.be"}, headers={"Authorization": "Bearer wrong"})
    assert response.status == 401
    links_only = await make_key(pool, "links")
    response = await client.get("/v1/check", params={"email": "a@example.be"}, headers={"Authorization": f"Bearer {links_only}"})
    assert response.status == 403
    check_only = await make_key(pool, "check")
    response = await client.get("/v1/check", params={"email": "a@example.be"}, headers={"Authorization": f"Bearer {check_only}"})
    assert response.status == 200


async def test_revoked_key_is_refused(client, pool, settings):
    from service.storage import queries

    key = await make_key(pool, "check")
    async with pool.acquire() as conn:
        [row] = [r for r in await queries.list_api_keys(conn)]
        assert await queries.revoke_api_key(conn, row["id"])
    response = await client.get("/v1/check", params={"email": "a@example.be"}, headers={"Authorization": f"Bearer {key}"})
    assert response.status == 401


async def test_a_bulk_check_of_international_addresses_is_validated_off_the_event_loop(client, auth, monkeypatch):
    """Addresses outside the plain ASCII shape need the full validator (7 s for 100,000 of
    them): it must run in a worker thread, never on the thread of the event loop."""
    import threading

    from service.domain import addresses

    on_the_loop = []
    for name in ("validate_email", "validate_email_domain_name", "validate_email_local_part"):
        def watched(*args, _real=getattr(addresses, name), **kwargs):
            on_the_loop.append(threading.current_thread() is threading.main_thread())
            return _real(*args, **kwargs)
        monkeypatch.setattr(addresses, name, watched)
    addresses._domain_forms.cache_clear()
    recipients = [f"zoë.{i}@café-{i % 50}.example" for i in range(20_000)] + ["nope", "ascii@example.be"]
    response = await client.post("/v1/check", json={"scope": "newsletter", "recipients": recipients}, headers=auth)
    results = (await response.json())["results"]
    assert [r["email"] for r in results] == recipients
    assert [r["allowed"] for r in results] == [True] * 20_000 + [False, True]
    assert on_the_loop and not any(on_the_loop), "the validator ran on the event loop"


async def test_a_check_longer_than_a_part_answers_each_recipient_in_order_across_the_parts(client, auth):
    """A big check reaches the database in parts (suppression_list.PART): a recipient blocked in each
    part, an erased one, an invalid one and a repeat across parts all keep their places."""
    from service.domain.suppressions.suppression_list import PART

    await put(client, auth, "first@example.be", scope="global")
    await put(client, auth, "middle@example.be", scope="newsletter", reason="unsubscribe", source="api")
    assert (await client.post("/v1/erasure", json={"email": "gone@example.be"}, headers=auth)).status == 200
    recipients = [f"reader.{i}@example.be" for i in range(2 * PART + 5)]
    placed = {3: "first@example.be", PART - 1: "MIDDLE@example.be", PART: "nope", PART + 7: "first@example.be",
              2 * PART + 4: "gone@example.be"}
    for index, email in placed.items():
        recipients[index] = email
    response = await client.post("/v1/check", json={"scope": "newsletter", "recipients": recipients}, headers=auth)
    assert response.status == 200
    results = (await response.json())["results"]
    assert [r["email"] for r in results] == recipients
    assert {i: r["reason"] for i, r in enumerate(results) if not r["allowed"]} == {
        3: "manual", PART - 1: "unsubscribe", PART: "invalid_address", PART + 7: "manual", 2 * PART + 4: "unsubscribe"}
    assert results[PART - 1]["scope"] == "newsletter" and results[2 * PART + 4]["scope"] == "global"
