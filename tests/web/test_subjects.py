"""GDPR access and erasure: an erased address is gone in clear and still never mailed."""

from datetime import timedelta

from service.domain.suppressions.keyed_hash import KeyedHash
from service.domain.tokens import TokenSigner
from tests.conftest import make_key


async def test_access_shows_suppressions_and_history(client, auth):
    await client.put("/v1/suppressions/jan@example.be", json={"scope": "events", "source": "phone", "note": "called"}, headers=auth)
    body = await (await client.get("/v1/subjects/Jan@Example.be", headers=auth)).json()
    assert body["email"] == "jan@example.be" and body["erased"] is None
    assert body["suppressions"][0]["note"] == "called" and body["events"][0]["type"] == "suppressed"


async def test_erasure_removes_the_address_in_clear_and_keeps_it_blocked_everywhere(client, auth, pool, settings):
    await client.put("/v1/suppressions/jan@example.be", json={"scope": "global", "reason": "complaint", "source": "arf"}, headers=auth)
    response = await client.post("/v1/erasure", json={"email": "JAN@example.be"}, headers=auth)
    assert response.status == 200 and (await response.json())["removed"]["suppressions"] == 1

    rows = []
    for table in ("suppressions", "events", "erased_addresses"):
        rows += await pool.fetch(f"SELECT * FROM {table}")
    dump = "\n".join(str(tuple(r)) for r in rows)
    assert "jan@example.be" not in dump
    erased_events = await pool.fetch("SELECT address, type, reason FROM events")
    assert [tuple(r) for r in erased_events] == [(None, "erased", "complaint")]

    for scope in ("global", "newsletter", "events"):
        result = await (await client.get("/v1/check", params={"email": " Jan@EXAMPLE.be", "scope": scope}, headers=auth)).json()
        assert result["allowed"] is False and result["reason"] == "complaint" and result["scope"] == "global"
    bulk = await (await client.post("/v1/check", json={"recipients": ["other@example.be", "jan@example.be"]}, headers=auth)).json()
    assert [r["allowed"] for r in bulk["results"]] == [True, False]
    access = await (await client.get("/v1/subjects/jan@example.be", headers=auth)).json()
    assert access["erased"]["reason"] == "complaint" and access["suppressions"] == [] and access["events"] == []


async def test_a_later_one_click_or_import_of_an_erased_address_is_still_blocked(client, auth):
    await client.post("/v1/erasure", json={"email": "jan@example.be"}, headers=auth)
    token = TokenSigner(["new-key-" + "n" * 24], timedelta(days=90)).sign("jan@example.be", "newsletter")
    response = await client.post(f"/u/{token}", data="List-Unsubscribe=One-Click",
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status == 200
    await client.post("/v1/suppressions/import", data=b"jan@example.be\n", headers={**auth, "Content-Type": "text/csv"})
    result = await (await client.get("/v1/check", params={"email": "jan@example.be", "scope": "events"}, headers=auth)).json()
    assert result["allowed"] is False


def test_the_database_form_of_the_hmac_is_hmac_sha256():
    import hashlib

    key, address = b"k" * 100, "zoë@example.be"
    keyed_hash = KeyedHash(key)
    ipad, opad = keyed_hash.pads
    inner = hashlib.sha256(ipad + address.encode()).digest()
    assert hashlib.sha256(opad + inner).digest() == keyed_hash.of(address)


async def test_gdpr_endpoints_need_an_admin_key(client, pool):
    writer = await make_key(pool, "write", "check")
    headers = {"Authorization": f"Bearer {writer}"}
    assert (await client.post("/v1/erasure", json={"email": "a@example.be"}, headers=headers)).status == 403
    assert (await client.get("/v1/subjects/a@example.be", headers=headers)).status == 403
    assert (await client.post("/v1/erasure", json={}, headers={"Authorization": "Bearer x"})).status == 401


async def test_an_erased_address_shows_as_suppressed_not_404(client, auth):
    await client.put("/v1/suppressions/jan@example.be", json={"reason": "unsubscribe", "source": "link"}, headers=auth)
    await client.post("/v1/erasure", json={"email": "jan@example.be"}, headers=auth)
    response = await client.get("/v1/suppressions/jan@example.be", headers=auth)
    assert response.status == 200
    [entry] = (await response.json())["suppressions"]
    assert entry["scope"] == "global" and entry["reason"] == "unsubscribe" and "erased" in entry["note"]
