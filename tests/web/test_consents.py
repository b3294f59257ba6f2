"""Scopes, consents and confirmation links over HTTP: what is taken, and bad input that changes nothing."""

from __future__ import annotations

import io

import pytest

from service.domain.tokens import ConfirmationTokens
from tests.conftest import make_key

WHO = "piet.claes@example.be"
CONSENT = {"email": WHO, "scope": "news", "source": "web_form", "language": "nl",
           "text": "Ja, stuur mij de nieuwsbrief.", "text_version": "v3", "ip": "2001:db8::7", "user_agent": "Firefox"}


async def register(client, auth, scope="news", consent="required"):
    response = await client.put(f"/v1/scopes/{scope}", headers=auth, json={
        "labels": {"nl": "Nieuwsbrief", "en": "Newsletter", "fr": "Lettre d'information"}, "consent": consent})
    assert response.status in (200, 201), await response.text()


async def counts(pool) -> tuple[int, int, int]:
    return (await pool.fetchval("SELECT count(*) FROM consents"), await pool.fetchval("SELECT count(*) FROM events"),
            await pool.fetchval("SELECT count(*) FROM outbox"))


async def test_a_scope_is_registered_listed_and_changed(client, auth):
    response = await client.put("/v1/scopes/news", headers=auth, json={
        "labels": {"nl": " Nieuwsbrief ", "en": "Newsletter"}, "consent": "required"})
    assert response.status == 201
    assert await response.json() == {"scope": "news", "labels": {"nl": "Nieuwsbrief", "en": "Newsletter"},
                                     "consent": "required"}
    response = await client.put("/v1/scopes/news", headers=auth, json={"labels": {"nl": "Nieuws"}, "consent": "none"})
    assert response.status == 200
    listed = await (await client.get("/v1/scopes", headers=auth)).json()
    assert listed == {"scopes": [{"scope": "news", "labels": {"nl": "Nieuws"}, "consent": "none"}]}


@pytest.mark.parametrize("path, body, code", [
    ("/v1/scopes/Nieuws%20brief", {"labels": {"nl": "x"}, "consent": "none"}, "invalid_scope"),
    ("/v1/scopes/news", {"labels": {"nl": "x"}, "consent": "maybe"}, "invalid_input"),
    ("/v1/scopes/news", {"labels": {"en": "News"}, "consent": "none"}, "invalid_input"),
    ("/v1/scopes/news", {"labels": {"nl": "x", "de": "Zeitung"}, "consent": "none"}, "invalid_input"),
    ("/v1/scopes/news", {"labels": {"nl": "   "}, "consent": "none"}, "invalid_input"),
    ("/v1/scopes/news", {"labels": {"nl": "x\u0000"}, "consent": "none"}, "invalid_input"),
    ("/v1/scopes/news", {"labels": ["nl"], "consent": "none"}, "invalid_input"),
])
async def test_a_scope_that_breaks_the_rules_is_refused(client, auth, pool, path, body, code):
    response = await client.put(path, headers=auth, json=body)
    assert response.status == 400 and (await response.json())["error"]["code"] == code
    assert await pool.fetchval("SELECT count(*) FROM scopes") == 0


async def test_registering_a_scope_needs_an_admin_key(client, pool):
    writer = await make_key(pool, "write", name="crm")
    response = await client.put("/v1/scopes/news", headers={"Authorization": f"Bearer {writer}"},
                                json={"labels": {"nl": "x"}, "consent": "required"})
    assert response.status == 403


async def test_a_consent_given_is_shown_with_its_proof_and_the_check_allows(client, auth):
    await register(client, auth)
    blocked = await (await client.get("/v1/check", headers=auth, params={"email": WHO, "scope": "news"})).json()
    assert blocked == {"email": WHO, "allowed": False, "reason": "no_consent", "scope": "news"}
    response = await client.post("/v1/consents", headers=auth, json={**CONSENT, "note": "via het formulier"})
    assert response.status == 201 and (await response.json())["status"] == "given"
    shown = await (await client.get(f"/v1/consents/{WHO.upper()}", headers=auth)).json()
    [given] = shown["consents"]
    assert shown["email"] == WHO
    assert (given["scope"], given["status"], given["text"], given["language"]) == (
        "news", "given", "Ja, stuur mij de nieuwsbrief.", "nl")
    assert given["proof"]["ip"] == "2001:db8::7" and given["proof"]["actor"] == "admin"
    assert given["proof"]["note"] == "via het formulier" and given["given_at"] and given["confirmed_at"] is None
    allowed = await (await client.get("/v1/check", headers=auth, params={"email": WHO, "scope": "news"})).json()
    assert allowed == {"email": WHO, "allowed": True}


async def test_an_address_with_no_consent_shows_an_empty_ledger(client, auth):
    assert await (await client.get("/v1/consents/nobody@example.be", headers=auth)).json() == {
        "email": "nobody@example.be", "consents": []}


@pytest.mark.parametrize("change", [
    {"text": None}, {"text": "   "}, {"text": "x" * 10_001}, {"language": "de"}, {"language": None},
    {"source": "fax"}, {"source": "self_service"}, {"scope": "Nieuwsbrief"}, {"email": "not an address"}, {"email": None},
    {"ip": "999.1.1.1"}, {"ip": 17}, {"confirm": "yes"}, {"note": "a\u0000b"}, {"user_agent": "x" * 1001},
    {"text_version": ["v1"]},
])
async def test_a_consent_with_bad_input_is_refused_and_nothing_changes(client, auth, pool, change):
    await register(client, auth)
    before = await counts(pool)
    body = {k: v for k, v in {**CONSENT, **change}.items() if v is not None}
    response = await client.post("/v1/consents", headers=auth, json=body)
    assert response.status == 400, await response.text()
    assert await counts(pool) == before


@pytest.mark.parametrize("raw", [b"{", b"\xff\xfe", b"[]", b'{"email": "a@b.be", "text": "\\ud800 ja",'
                                 b' "source": "api", "language": "nl"}', b""])
async def test_a_consent_body_that_is_not_a_clean_json_object_is_a_400(client, auth, pool, raw):
    response = await client.post("/v1/consents", headers={**auth, "Content-Type": "application/json"}, data=raw)
    assert response.status == 400
    assert await pool.fetchval("SELECT count(*) FROM consents") == 0


async def test_double_opt_in_is_pending_and_the_fourth_mail_in_a_day_is_refused(client, auth, pool):
    await register(client, auth)
    for _ in range(3):
        response = await client.post("/v1/consents", headers=auth, json={**CONSENT, "confirm": True})
        assert response.status == 202 and (await response.json())["status"] == "pending"
    response = await client.post("/v1/consents", headers=auth, json={**CONSENT, "confirm": True})
    assert response.status == 429 and response.headers["Retry-After"] == "86400"
    assert (await response.json())["error"]["code"] == "too_many_requests"
    assert await pool.fetchval("SELECT count(*) FROM outbox WHERE kind = 'confirmation'") == 3
    checked = await (await client.get("/v1/check", headers=auth, params={"email": WHO, "scope": "news"})).json()
    assert checked["reason"] == "no_consent"


async def test_after_an_unsubscribe_only_a_confirmed_consent_is_taken(client, auth, pool):
    await register(client, auth)
    await client.put(f"/v1/suppressions/{WHO}", headers=auth, json={"scope": "global", "reason": "unsubscribe",
                                                                   "source": "api"})
    response = await client.post("/v1/consents", headers=auth, json=CONSENT)
    assert response.status == 409 and "confirm" in (await response.json())["error"]["message"]
    response = await client.post("/v1/consents", headers=auth, json={**CONSENT, "confirm": True})
    assert response.status == 202


async def test_after_a_one_click_unsubscribe_in_one_scope_an_unconfirmed_consent_is_refused_in_every_scope(
        client, auth, pool):
    links = await (await client.post("/v1/links", headers=auth, json={
        "recipients": [{"email": WHO, "scope": "newsletter"}]})).json()
    url = links["links"][0]["url"]
    one_click = await client.post(url[url.index("/u/"):], data={"List-Unsubscribe": "One-Click"})
    assert one_click.status == 200
    for scope in ("global", "events", "newsletter"):
        response = await client.post("/v1/consents", headers=auth, json={**CONSENT, "scope": scope})
        assert response.status == 409, (scope, await response.text())
        error = (await response.json())["error"]
        assert error["code"] == "conflict"
        assert "unsubscribed" in error["message"] and '"confirm": true' in error["message"]
    assert await pool.fetchval("SELECT count(*) FROM consents") == 0
    for scope in ("global", "events", "newsletter"):
        response = await client.post("/v1/consents", headers=auth, json={**CONSENT, "scope": scope, "confirm": True})
        assert response.status == 202, (scope, await response.text())
    assert await pool.fetchval("SELECT count(*) FROM consents WHERE status = 'given'") == 0



async def opt_out_by_phone(client, auth) -> None:
    """As the staff console records an opt-out given on the phone: reason manual, source phone."""
    response = await client.put(f"/v1/suppressions/{WHO}", headers=auth, json={
        "scope": "events", "reason": "manual", "source": "phone", "note": "belde op"})
    assert response.status in (200, 201), await response.text()


async def opt_out_from_an_old_list(client, auth) -> None:
    """An old opt-out list imported as CSV: reason manual and source import by default."""
    response = await client.post("/v1/suppressions/import", data=io.BytesIO(f"email,scope\n{WHO},events\n".encode()),
                                 headers={**auth, "Content-Type": "text/csv"})
    assert response.status == 200 and (await response.json())["imported"] == 1


@pytest.mark.parametrize("opt_out", [opt_out_by_phone, opt_out_from_an_old_list])
async def test_after_an_opt_out_by_phone_or_from_an_old_list_only_a_confirmed_consent_is_taken(
        client, auth, pool, opt_out):
    await opt_out(client, auth)
    assert await pool.fetchval("SELECT reason FROM suppressions") == "manual"
    for scope in ("newsletter", "global", "events"):
        response = await client.post("/v1/consents", headers=auth, json={**CONSENT, "scope": scope})
        assert response.status == 409, (scope, await response.text())
    assert await pool.fetchval("SELECT count(*) FROM consents") == 0
    for scope in ("newsletter", "global"):
        response = await client.post("/v1/consents", headers=auth, json={**CONSENT, "scope": scope, "confirm": True})
        assert response.status == 202, (scope, await response.text())
    # in its own scope a manual suppression is lifted by no consent, confirmed or not
    response = await client.post("/v1/consents", headers=auth, json={**CONSENT, "scope": "events", "confirm": True})
    assert response.status == 409


async def test_a_manual_suppression_from_elsewhere_leaves_other_scopes_open_to_a_consent(client, auth):
    response = await client.put(f"/v1/suppressions/{WHO}", headers=auth, json={
        "scope": "events", "reason": "manual", "source": "api"})
    assert response.status in (200, 201), await response.text()
    response = await client.post("/v1/consents", headers=auth, json={**CONSENT, "scope": "newsletter"})
    assert response.status == 201, await response.text()

async def test_a_bounced_address_takes_no_consent(client, auth, pool):
    await client.put(f"/v1/suppressions/{WHO}", headers=auth, json={"scope": "global", "reason": "bounce",
                                                                   "source": "dsn"})
    response = await client.post("/v1/consents", headers=auth, json={**CONSENT, "confirm": True})
    assert response.status == 409
    assert await pool.fetchval("SELECT count(*) FROM consents") == 0


@pytest.mark.parametrize("token", ["AAAA", "x" * 26, "not-a-token", "A" * 70])
async def test_a_tampered_confirmation_token_is_a_400_page_and_changes_nothing(client, auth, pool, token):
    await register(client, auth)
    await client.post("/v1/consents", headers=auth, json={**CONSENT, "confirm": True})
    for method in ("GET", "POST"):
        response = await client.request(method, f"/c/{token}", data={"confirm": "yes"})
        assert response.status == 400 and response.content_type == "text/html"
        assert "Deze link werkt niet" in await response.text()
    assert await pool.fetchval("SELECT count(*) FROM consents WHERE status = 'given'") == 0


async def test_a_confirmation_replayed_after_a_withdrawal_is_a_409_page(client, auth, pool, settings):
    await register(client, auth)
    pending = await (await client.post("/v1/consents", headers=auth, json={**CONSENT, "confirm": True})).json()
    token = ConfirmationTokens(settings.secret_keys).issue(pending["id"])
    await client.put(f"/v1/suppressions/{WHO}", headers=auth, json={"scope": "news", "reason": "unsubscribe",
                                                                   "source": "api"})
    page = await client.get(f"/c/{token}")
    assert page.status == 409 and "Deze bevestiging geldt niet meer" in await page.text()
    response = await client.post(f"/c/{token}", data={"confirm": "yes"})
    assert response.status == 409
    assert await pool.fetchval("SELECT status FROM consents") == "withdrawn"


async def test_the_confirmation_page_speaks_english_and_french(client, auth, settings):
    await register(client, auth)
    pending = await (await client.post("/v1/consents", headers=auth, json={**CONSENT, "confirm": True})).json()
    token = ConfirmationTokens(settings.secret_keys).issue(pending["id"])
    english = await (await client.get(f"/c/{token}", headers={"Accept-Language": "en-GB"})).text()
    assert "Confirm your subscription" in english and "Newsletter" in english
    french = await (await client.get(f"/c/{token}?lang=fr")).text()
    assert "Confirmez votre inscription" in french and "Lettre d&#39;information" in french
    not_pressed = await client.post(f"/c/{token}", data={"lang": "en"})
    assert not_pressed.status == 400


async def test_privacy_requests_are_listed_and_closing_needs_a_note(client, auth):
    assert await (await client.get("/v1/requests?status=open", headers=auth)).json() == {
        "requests": [], "next_cursor": None}
    assert (await client.get("/v1/requests?status=maybe", headers=auth)).status == 400
    assert (await client.post("/v1/requests/7/close", headers=auth, json={"note": "done"})).status == 404
    assert (await client.post("/v1/requests/7/close", headers=auth, json={"note": " "})).status == 400
    assert (await client.post("/v1/requests/x/close", headers=auth, json={"note": "done"})).status == 400


async def test_confirmation_requests_at_the_same_moment_still_send_at_most_three(client, auth, pool):
    import asyncio

    await register(client, auth)
    answers = await asyncio.gather(*(client.post("/v1/consents", headers=auth, json={**CONSENT, "confirm": True})
                                     for _ in range(8)))
    assert sorted(r.status for r in answers) == [202] * 3 + [429] * 5
    assert await pool.fetchval("SELECT count(*) FROM outbox WHERE kind = 'confirmation'") == 3


async def ask_confirmation(client, auth, email: str) -> int:
    response = await client.post("/v1/consents", headers=auth, json={**CONSENT, "email": email, "confirm": True})
    return response.status


async def test_ten_plus_tags_of_one_mailbox_get_three_confirmation_mails(client, auth, pool):
    await register(client, auth)
    answers = [await ask_confirmation(client, auth, f"victim+{n}@example.be") for n in range(10)]
    assert answers == [202] * 3 + [429] * 7
    assert await pool.fetchval("SELECT count(*) FROM outbox WHERE kind = 'confirmation'") == 3


async def test_every_form_of_a_mailbox_counts_toward_its_three_confirmation_mails(client, auth, pool):
    await register(client, auth)
    for first in ("victim+1@exämple.be", "VICTIM@XN--EXMPLE-CUA.BE", "victim+news@xn--exmple-cua.be"):
        assert await ask_confirmation(client, auth, first) == 202, first
    for form in ("victim@exämple.be", "Victim+2@EXÄMPLE.BE", "VICTIM+3@xn--exmple-cua.be", "victim+@exämple.be"):
        response = await client.post("/v1/consents", headers=auth,
                                     json={**CONSENT, "email": form, "confirm": True})
        assert response.status == 429 and response.headers["Retry-After"] == "86400", form
        assert (await response.json())["error"]["code"] == "too_many_requests"
    # another mailbox at the same domain, and a dotted local part (dots are kept), are their own
    assert await ask_confirmation(client, auth, "other+1@exämple.be") == 202
    assert await ask_confirmation(client, auth, "vic.tim@exämple.be") == 202
    assert await pool.fetchval("SELECT count(*) FROM outbox WHERE kind = 'confirmation'") == 5


async def test_confirmation_requests_for_one_mailbox_at_the_same_moment_still_send_at_most_three(client, auth, pool):
    import asyncio

    await register(client, auth)
    answers = await asyncio.gather(*(ask_confirmation(client, auth, f"Victim+{n}@Example.be") for n in range(8)))
    assert sorted(answers) == [202] * 3 + [429] * 5
    assert await pool.fetchval("SELECT count(*) FROM outbox WHERE kind = 'confirmation'") == 3


async def test_the_gmail_forms_of_one_mailbox_get_three_confirmation_mails_not_fifteen(client, auth, pool):
    await register(client, auth)
    forms = ["jan.peeters@gmail.com", "janpeeters@gmail.com", "j.anpeeters@gmail.com", "jan.peeters@googlemail.com",
             "J.A.N.Peeters+news@GoogleMail.com"]
    answers = [await ask_confirmation(client, auth, form) for form in forms for _ in range(3)]
    assert answers == [202] * 3 + [429] * 12
    assert await pool.fetchval("SELECT count(*) FROM outbox WHERE kind = 'confirmation'") == 3
    assert await pool.fetchval("SELECT count(DISTINCT mailbox) FROM consents") == 1
    # dots elsewhere may tell two mailboxes apart
    assert await ask_confirmation(client, auth, "jan.peeters@example.be") == 202
    assert await ask_confirmation(client, auth, "janpeeters@example.be") == 202
