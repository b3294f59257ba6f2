"""The console's part of consent and privacy requests: one form per phone call, the open requests with
their days left, a request's page with the subject-access export, closing it with a note."""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime, timedelta

from service.web.pages import BRUSSELS
from tests.web.conftest import csrf_of


async def dashboard(staff):
    return await (await staff.get("/staff/")).text()


async def test_a_phone_opt_out_from_the_dashboard_in_one_form_with_the_registered_scopes(staff, auth):
    await staff.put("/v1/scopes/newsletter", headers=auth, json={"labels": {"nl": "Nieuwsbrief"}, "consent": "none"})
    page = await dashboard(staff)
    assert '<option value="newsletter">Nieuwsbrief (newsletter)</option>' in page
    assert '<option value="global">All marketing (every scope)</option>' in page
    done = await staff.post("/staff/suppress", data={"csrf": csrf_of(page), "email": "jan@example.be",
                                                      "scope": "newsletter", "note": "belde om 11:11"})
    assert done.status == 200 and "Recorded." in await done.text()
    shown = await (await staff.get("/v1/suppressions/jan@example.be", headers=auth)).json()
    assert [(s["scope"], s["reason"], s["source"]) for s in shown["suppressions"]] == [("newsletter", "manual", "phone")]


async def test_a_phone_consent_is_recorded_with_the_staff_member_as_the_actor(staff, auth):
    await staff.put("/v1/scopes/news", headers=auth, json={"labels": {"nl": "Nieuws"}, "consent": "required"})
    page = await dashboard(staff)
    done = await staff.post("/staff/consent", data={"csrf": csrf_of(page), "email": "an@example.be", "scope": "news",
                                                     "text": "", "note": "belde zelf"})
    assert done.status == 200 and "Consent recorded." in await done.text()
    [given] = (await (await staff.get("/v1/consents/an@example.be", headers=auth)).json())["consents"]
    assert (given["source"], given["status"], given["proof"]["actor"], given["proof"]["note"]) == (
        "phone", "given", "Ann at the desk", "belde zelf")
    assert given["text"] == "Telefonisch akkoord om mails te ontvangen: Nieuws."
    checked = await (await staff.get("/v1/check", headers=auth, params={"email": "an@example.be", "scope": "news"})).json()
    assert checked["allowed"] is True


async def open_request(pool, kind: str, due: date, address: str = "els@example.be") -> int:
    message = uuid.uuid4()
    await pool.execute("""INSERT INTO inbound_messages (id, via, raw, size, dedup_key, status, classification)
                          VALUES ($1, 'http', 'From: els@example.be\r\n\r\nhi', 10, $2, 'forwarded', 'privacy_request')""",
                       message, str(message))
    return await pool.fetchval("""INSERT INTO privacy_requests (kind, address, message_id, received_at, due)
                                  VALUES ($1, $2, $3, now(), $4) RETURNING id""", kind, address, message, due)


async def test_open_requests_show_their_days_left_and_the_urgent_ones_stand_out(staff, pool):
    today = datetime.now(BRUSSELS).date()  # the console counts days in Brussels, whose date turns before UTC's
    soon = await open_request(pool, "access", today + timedelta(days=3))
    later = await open_request(pool, "correction", today + timedelta(days=25))
    page = await dashboard(staff)
    assert f'<a href="/staff/requests/{soon}">' in page and f'<a href="/staff/requests/{later}">' in page
    assert page.index(f"/staff/requests/{soon}") < page.index(f"/staff/requests/{later}")
    soon_row = page[page.rindex("<li", 0, page.index(f"/staff/requests/{soon}")):]
    soon_row = soon_row[:soon_row.index("</li>")]
    assert 'class="urgent"' in soon_row and "3 days left" in soon_row


async def test_a_request_page_offers_the_export_and_closes_with_a_note(staff, auth, pool):
    await staff.put("/v1/suppressions/els@example.be", headers=auth, json={"scope": "global", "reason": "manual",
                                                                          "source": "phone"})
    request_id = await open_request(pool, "access", date.today() + timedelta(days=30))
    page = await (await staff.get(f"/staff/requests/{request_id}")).text()
    assert "Read the mail" in page and "1 suppression(s)" in page
    exported = await staff.get(f"/staff/requests/{request_id}/export.json")
    assert exported.status == 200 and "attachment" in exported.headers["Content-Disposition"]
    record = json.loads(await exported.text())
    assert record["email"] == "els@example.be" and record["suppressions"][0]["source"] == "phone"
    readable = await (await staff.get(f"/staff/requests/{request_id}/export.html")).text()
    assert "Data held about els@example.be" in readable and "GDPR Art. 15" in readable
    closed = await staff.post(f"/staff/requests/{request_id}/close",
                              data={"csrf": csrf_of(page), "note": "Export per mail bezorgd."})
    assert closed.status == 200 and f"Privacy request {request_id} closed." in await closed.text()
    listed = await (await staff.get("/v1/requests?status=closed", headers=auth)).json()
    assert [(r["id"], r["note"]) for r in listed["requests"]] == [(request_id, "Export per mail bezorgd.")]


async def test_a_request_page_for_an_unknown_id_or_without_login_changes_nothing(staff, client):
    assert (await staff.get("/staff/requests/999")).status == 404
    assert (await staff.get("/staff/requests/abc")).status == 400
    page = await dashboard(staff)
    forged = await staff.post("/staff/requests/1/close", data={"csrf": "forged", "note": "x"})
    assert forged.status == 403 and "form expired" in (await forged.text()).lower()
    assert csrf_of(page)


async def test_staff_import_a_belgian_excel_list_and_download_the_whole_list(staff, auth):
    import aiohttp

    page = await (await staff.get("/staff/lists")).text()
    form = aiohttp.FormData()
    form.add_field("csrf", csrf_of(page))
    form.add_field("file", "\ufeffE-mail;Opmerking\r\nJan@Example.be;belde\r\nnot an address;\r\n".encode(),
                   filename="uitschrijvingen.csv", content_type="text/csv")
    result = await staff.post("/staff/lists/import", data=form)
    text = await result.text()
    assert result.status == 200 and "<strong>1</strong> imported" in text and "Line 3" in text
    shown = await (await staff.get("/v1/suppressions/jan@example.be", headers=auth)).json()
    assert shown["suppressions"][0]["note"] == "belde"
    exported = await staff.get("/staff/lists/export.csv")
    assert exported.status == 200 and "jan@example.be" in await exported.text()


async def test_an_import_without_its_csrf_token_or_a_file_changes_nothing(staff, pool):
    import aiohttp

    forged = aiohttp.FormData()
    forged.add_field("csrf", "forged")
    forged.add_field("file", b"a@example.be\n", filename="x.csv", content_type="text/csv")
    assert (await staff.post("/staff/lists/import", data=forged)).status == 403
    page = await (await staff.get("/staff/lists")).text()
    empty = aiohttp.FormData()
    empty.add_field("csrf", csrf_of(page))
    assert (await staff.post("/staff/lists/import", data=empty)).status == 400
    nothing = aiohttp.FormData()
    nothing.add_field("csrf", csrf_of(page))
    nothing.add_field("file", b"Naam;Telefoon\nJan;0470\n", filename="lijst.csv", content_type="text/csv")
    answered = await (await staff.post("/staff/lists/import", data=nothing)).text()
    assert "Nothing could be imported" in answered
    assert await pool.fetchval("SELECT count(*) FROM suppressions") == 0
