"""The staff console: login by API key, CSRF on every form, phone opt-outs and lifting."""

import re

from tests.conftest import make_key
from tests.web.conftest import csrf_of, login


async def test_pages_need_a_login(client):
    response = await client.get("/staff/", allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == "/staff/login"


async def test_login_sets_a_strict_httponly_cookie_and_refuses_weak_keys(client, pool):
    check_only = await make_key(pool, "check")
    refused = await login(client, check_only)
    assert refused.status == 401 and "heeft het recht write niet" in await refused.text()
    writer = await make_key(pool, "write")
    response = await login(client, writer)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/staff" in cookie
    assert writer not in cookie


async def test_login_without_its_csrf_token_is_refused(client, pool):
    writer = await make_key(pool, "write")
    response = await client.post("/staff/login", data={"csrf": "guess", "key": writer})
    assert response.status == 403


async def test_staff_records_a_phone_opt_out_and_sees_it(staff, auth):
    page = await (await staff.get("/staff/address", params={"email": "Jan@Example.be"})).text()
    assert "Not suppressed" in page
    response = await staff.post("/staff/suppress", data={
        "csrf": csrf_of(page), "email": "jan@example.be", "scope": "global", "note": "called 25/11 10:02"})
    assert response.status == 200 and "Recorded." in await response.text()
    shown = await (await staff.get("/v1/suppressions/jan@example.be", headers=auth)).json()
    assert shown["suppressions"][0]["source"] == "phone" and shown["suppressions"][0]["note"] == "called 25/11 10:02"
    events = await (await staff.get("/v1/events", params={"email": "jan@example.be"}, headers=auth)).json()
    assert events["events"][0]["detail"]["by"] == "Ann at the desk"


async def test_a_form_without_the_csrf_token_changes_nothing(staff, auth):
    response = await staff.post("/staff/suppress", data={"csrf": "forged", "email": "jan@example.be", "scope": "global"})
    assert response.status == 403
    assert (await staff.get("/v1/suppressions/jan@example.be", headers=auth)).status == 404


async def test_lifting_needs_evidence_and_force_for_a_complaint(staff, auth):
    await staff.put("/v1/suppressions/c@example.be", json={"scope": "global", "reason": "complaint", "source": "arf"}, headers=auth)
    page = await (await staff.get("/staff/address", params={"email": "c@example.be"})).text()
    csrf = csrf_of(page)
    refused = await staff.post("/staff/lift", data={"csrf": csrf, "email": "c@example.be", "scope": "global", "evidence": "asked"})
    assert refused.status == 409
    no_evidence = await staff.post("/staff/lift", data={"csrf": csrf, "email": "c@example.be", "scope": "global", "force": "yes"})
    assert no_evidence.status == 400
    lifted = await staff.post("/staff/lift", data={
        "csrf": csrf, "email": "c@example.be", "scope": "global", "evidence": "wrote to info@ on 20/11", "force": "yes"})
    assert lifted.status == 200 and "Lifted." in await lifted.text()


async def test_dashboard_counts_the_last_days(staff, auth):
    await staff.put("/v1/suppressions/a@example.be", json={"reason": "unsubscribe", "source": "one_click"}, headers=auth)
    await staff.put("/v1/suppressions/b@example.be", json={"reason": "bounce", "source": "dsn"}, headers=auth)
    page = await (await staff.get("/staff/")).text()
    assert "<strong>1</strong> button in the mailbox" in page
    # A chart per kind, drawn on the server: its total, and one bar (with its count) for today.
    assert ('<figcaption>Unsubscribes <strong>1</strong> <span class="legend"><span class="s0">button in the mailbox 1'
            '</span></span></figcaption>') in page
    assert re.search(r'<svg [^>]*aria-label="Unsubscribes: 1 \(', page)
    assert "<title>button in the mailbox: 1</title></rect>" in page
    assert "<figcaption>Hard bounces <strong>1</strong></figcaption>" in page
    assert "<figcaption>Complaints <strong>0</strong></figcaption>" in page
    assert page.count("<title>1</title></rect>") == 1 and "<script" not in page


async def test_revoking_the_key_ends_the_session(staff, pool, settings):
    from service.storage import queries

    async with pool.acquire() as conn:
        for row in await queries.list_api_keys(conn):
            if row["name"] == "Ann at the desk":
                await queries.revoke_api_key(conn, row["id"])
    staff.app[__import__("service.web.keys", fromlist=["API_KEYS"]).API_KEYS]._cache.clear()
    response = await staff.get("/staff/", allow_redirects=False)
    assert response.status == 303


HELD = (b"From: Pieter <pieter@example.be>\r\nTo: info@cetit.be\r\nSubject: Vraag over de factuur\r\n"
        b"Message-ID: <held-1@example.be>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        b"Goeiedag, klopt factuur 42? <script>alert(1)</script>\r\n")


async def held_message(pool) -> str:
    from service.domain.inbound import inbox

    async with pool.acquire() as conn:
        stored = await inbox.store(conn, "smtp", HELD, "pieter@example.be", ["info@cetit.be"])
        await conn.execute("UPDATE inbound_messages SET status = 'held', classification = 'human', "
                           "sender = 'pieter@example.be', subject = 'Vraag over de factuur' WHERE id = $1", stored.id)
    return str(stored.id)


async def test_staff_read_a_held_message_as_text_and_mark_it_handled(staff, pool):
    message_id = await held_message(pool)
    listing = await (await staff.get("/staff/messages")).text()
    assert "Vraag over de factuur" in listing and f"/staff/messages/{message_id}" in listing
    page = await (await staff.get(f"/staff/messages/{message_id}")).text()
    assert "klopt factuur 42?" in page and "<script>" not in page and "&lt;script&gt;" in page
    assert "Send to" not in page  # no relay configured: it can only be marked as handled
    forged = await staff.post(f"/staff/messages/{message_id}/release", data={"csrf": "x", "forward": "no"})
    assert forged.status == 403
    done = await staff.post(f"/staff/messages/{message_id}/release", data={"csrf": csrf_of(page), "forward": "no"})
    assert done.status == 200 and "Marked as handled." in await done.text()
    row = await pool.fetchrow("SELECT status, actions FROM inbound_messages WHERE id = $1::uuid", message_id)
    assert row["status"] == "processed" and row["actions"][-1]["by"] == "Ann at the desk"
    again = await staff.post(f"/staff/messages/{message_id}/release", data={"csrf": csrf_of(page), "forward": "no"})
    assert again.status == 409
    assert "Nothing is waiting." in await (await staff.get("/staff/messages")).text()


async def test_with_a_relay_a_held_message_can_be_sent_to_the_staff_mailbox(aiohttp_client, settings, pool):
    from service.app import create_app

    client = await aiohttp_client(create_app(
        settings.with_overrides(relay_url="smtp://127.0.0.1:2525", forward_to="staff@cetit.be"), pool))
    key = await make_key(pool, "admin", name="Ann at the desk")
    await login(client, key)
    message_id = await held_message(pool)
    page = await (await client.get(f"/staff/messages/{message_id}")).text()
    assert "Doorsturen naar staff@cetit.be" in page
    await client.post(f"/staff/messages/{message_id}/release", data={"csrf": csrf_of(page), "forward": "yes"})
    row = await pool.fetchrow("SELECT status, forward_pending FROM inbound_messages WHERE id = $1::uuid", message_id)
    assert (row["status"], row["forward_pending"]) == ("queued", True)


async def test_an_unknown_message_id_is_404(staff):
    assert (await staff.get("/staff/messages/not-a-uuid")).status == 404
    assert (await staff.get("/staff/messages/00000000-0000-0000-0000-000000000000")).status == 404


async def test_a_phone_opt_out_in_a_scope_that_is_not_registered_is_recorded_with_a_warning(staff, auth):
    await staff.put("/v1/scopes/newsletter", headers=auth, json={"labels": {"nl": "Nieuwsbrief"}, "consent": "none"})
    page = await (await staff.get("/staff/address", params={"email": "jan@example.be"})).text()
    response = await staff.post("/staff/suppress", data={
        "csrf": csrf_of(page), "email": "jan@example.be", "scope": "nieuwsbrief", "note": "called"})
    text = await response.text()
    assert response.status == 200 and "Recorded." in text
    assert "scope &#39;nieuwsbrief&#39; is not registered (registered: newsletter). Did you mean newsletter?" in text


async def test_logging_out_ends_the_session_on_the_server_and_the_old_cookie_is_refused(client, pool):
    key = await make_key(pool, "write", name="Ann")
    assert (await login(client, key)).status == 303
    cookie = client.session.cookie_jar.filter_cookies(client.make_url("/staff/"))["optout_staff"].value
    page = await (await client.get("/staff/")).text()
    assert (await client.post("/staff/logout", data={"csrf": csrf_of(page)}, allow_redirects=False)).status == 303
    replayed = await client.get("/staff/", cookies={"optout_staff": cookie}, allow_redirects=False)
    assert replayed.status == 303 and replayed.headers["Location"] == "/staff/login"


async def test_a_session_left_idle_ends(staff, pool):
    assert (await staff.get("/staff/", allow_redirects=False)).status == 200
    await pool.execute("UPDATE staff_sessions SET seen_at = now() - interval '31 minutes'")
    assert (await staff.get("/staff/", allow_redirects=False)).status == 303


async def test_failed_logins_are_throttled_per_client_even_for_the_right_key(client, pool):
    key = await make_key(pool, "write", name="Ann")
    for _ in range(5):
        assert (await login(client, "oo_wrong" + "x" * 20)).status == 401
    throttled = await login(client, key)
    assert throttled.status == 429 and "Te veel mislukte aanmeldingen" in await throttled.text()
    await pool.execute("UPDATE staff_login_failures SET at = now() - interval '6 minutes'")
    assert (await login(client, key)).status == 303
