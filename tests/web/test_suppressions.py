"""GET/PUT/DELETE /v1/suppressions/{email}, the paged listing and the event history."""


async def test_put_creates_then_reports_already_there(client, auth):
    body = {"scope": "global", "reason": "manual", "source": "phone", "note": "called on 25/11"}
    first = await client.put("/v1/suppressions/Jan@Example.be", json=body, headers=auth)
    assert first.status == 201
    created = await first.json()
    assert created["scope"] == "global" and created["source"] == "phone" and created["note"] == "called on 25/11"
    second = await client.put("/v1/suppressions/jan@example.be", json=body, headers=auth)
    assert second.status == 200
    assert (await second.json())["created"] is False


async def test_get_shows_suppressions_and_404_when_none(client, auth):
    assert (await client.get("/v1/suppressions/a@example.be", headers=auth)).status == 404
    await client.put("/v1/suppressions/a@example.be", json={"scope": "events", "reason": "unsubscribe", "source": "link"}, headers=auth)
    await client.put("/v1/suppressions/a@example.be", json={"scope": "newsletter"}, headers=auth)
    response = await client.get("/v1/suppressions/A@example.be", headers=auth)
    assert response.status == 200
    body = await response.json()
    assert body["email"] == "a@example.be"
    assert [(s["scope"], s["reason"], s["source"]) for s in body["suppressions"]] == [
        ("events", "unsubscribe", "link"), ("newsletter", "manual", "api")]
    assert set(body["suppressions"][0]) == {"scope", "reason", "source", "created_at", "note"}


async def test_delete_lifts_with_evidence_and_is_recorded(client, auth):
    await client.put("/v1/suppressions/a@example.be", json={"scope": "events"}, headers=auth)
    response = await client.delete(
        "/v1/suppressions/a@example.be", params={"scope": "events"},
        json={"evidence": "asked by mail on 2026-11-20 to get event invitations again"}, headers=auth,
    )
    assert response.status == 200
    assert (await client.get("/v1/suppressions/a@example.be", headers=auth)).status == 404
    events = (await (await client.get("/v1/events", params={"email": "a@example.be"}, headers=auth)).json())["events"]
    assert [e["type"] for e in events] == ["suppressed", "lifted"]
    assert "2026-11-20" in events[1]["detail"]["evidence"]


async def test_bounce_and_complaint_are_lifted_only_with_force(client, auth):
    for reason in ("bounce", "complaint"):
        email = f"{reason}@example.be"
        await client.put(f"/v1/suppressions/{email}", json={"scope": "global", "reason": reason, "source": "api"}, headers=auth)
        refused = await client.delete(f"/v1/suppressions/{email}", params={"scope": "global"}, json={"evidence": "x"}, headers=auth)
        assert refused.status == 409
        assert (await refused.json())["error"]["code"] == "conflict"
        forced = await client.delete(
            f"/v1/suppressions/{email}", params={"scope": "global"}, json={"evidence": "mailbox fixed", "force": True}, headers=auth
        )
        assert forced.status == 200


async def test_bounce_in_a_scope_other_than_global_is_refused(client, auth):
    response = await client.put("/v1/suppressions/a@example.be", json={"scope": "events", "reason": "bounce"}, headers=auth)
    assert response.status == 400


async def test_delete_without_evidence_or_scope_is_a_clear_400(client, auth):
    await client.put("/v1/suppressions/a@example.be", json={}, headers=auth)
    no_scope = await client.delete("/v1/suppressions/a@example.be", json={"evidence": "x"}, headers=auth)
    assert no_scope.status == 400 and "scope" in (await no_scope.json())["error"]["message"]
    no_evidence = await client.delete("/v1/suppressions/a@example.be", params={"scope": "global"}, json={}, headers=auth)
    assert no_evidence.status == 400 and "evidence" in (await no_evidence.json())["error"]["message"]
    missing = await client.delete("/v1/suppressions/other@example.be", params={"scope": "global"}, json={"evidence": "x"}, headers=auth)
    assert missing.status == 404


async def test_listing_pages_with_a_cursor_and_filters(client, auth):
    for i in range(7):
        reason = "unsubscribe" if i % 2 else "manual"
        await client.put(f"/v1/suppressions/p{i}@example.be", json={"scope": "global", "reason": reason}, headers=auth)
    seen, cursor = [], ""
    while True:
        response = await client.get("/v1/suppressions", params={"limit": "3", "cursor": cursor}, headers=auth)
        assert response.status == 200
        page = await response.json()
        seen += [s["email"] for s in page["suppressions"]]
        if not page["next_cursor"]:
            break
        cursor = page["next_cursor"]
    assert seen == [f"p{i}@example.be" for i in range(7)]
    filtered = await (await client.get("/v1/suppressions", params={"reason": "unsubscribe"}, headers=auth)).json()
    assert [s["email"] for s in filtered["suppressions"]] == ["p1@example.be", "p3@example.be", "p5@example.be"]
    assert filtered["next_cursor"] is None
    future = await (await client.get("/v1/suppressions", params={"since": "2999-01-01T00:00:00+00:00"}, headers=auth)).json()
    assert future["suppressions"] == []


async def test_listing_rejects_a_forged_cursor_and_bad_limits(client, auth):
    for params in ({"cursor": "garbage!"}, {"limit": "0"}, {"limit": "abc"}, {"since": "yesterday"}, {"reason": "spite"}):
        response = await client.get("/v1/suppressions", params=params, headers=auth)
        assert response.status == 400, params
        assert "error" in await response.json()


async def test_events_are_oldest_first_and_name_the_source(client, auth):
    await client.put("/v1/suppressions/h@example.be", json={"scope": "events", "reason": "unsubscribe", "source": "link"}, headers=auth)
    await client.put("/v1/suppressions/h@example.be", json={"scope": "global", "source": "phone"}, headers=auth)
    events = (await (await client.get("/v1/events", params={"email": "H@example.be"}, headers=auth)).json())["events"]
    assert [(e["type"], e["scope"], e["source"]) for e in events] == [
        ("suppressed", "events", "link"), ("suppressed", "global", "phone")]
    assert set(events[0]) == {"at", "type", "scope", "reason", "source", "detail", "actor"}
