"""The console's own pages: logging in and out, the overview, an address (a phone opt-out, consent
or lift) and a privacy request with its export."""

from __future__ import annotations

import difflib
import json
import logging
from datetime import datetime
from urllib.parse import urlencode

from aiohttp import web

from ...domain import outbox
from ...domain.apikeys import key_digest
from ...domain.campaigns import guard
from ...domain.consent import ledger
from ...domain.consent.ledger import ConsentInput
from ...domain.errors import Conflict, InvalidInput
from ...domain.inbound import for_staff
from ...domain.suppressions import erasure
from ...domain.suppressions import suppression_list
from ...domain.suppressions import reports
from ...storage.db import UNAVAILABLE, transaction
from ...texts.staff import Translator
from .. import charts, views
from ..keys import API_KEYS, DB, SERVICES
from ..pages import BRUSSELS, SECURITY_HEADERS
from ..payload import form_fields
from . import sessions
from .campaign_view import pause_reason
from .console import staff_page, staff_render, translator

log = logging.getLogger("optout.staff")

DAYS = 30


async def login_form(request: web.Request, error: str | None = None, status: int = 200) -> web.Response:
    token = sessions.new_login_token()
    t = translator(request)
    response = staff_render(request, "staff/login.html", {"title": "Staff login", "csrf": token,
                                                          "error": t(error) if error else None}, status)
    sessions.set_login_cookie(request, response, token)
    return response


async def login(request: web.Request) -> web.StreamResponse:
    try:
        form = await form_fields(request)
    except InvalidInput:
        return await login_form(request, "The form could not be read; log in again.", 400)
    if not sessions.login_token_matches(request, form.get("csrf", "")):
        return await login_form(request, "The form expired; log in again.", 403)
    key = form.get("key", "").strip()
    digest = key_digest(key)
    try:
        if await sessions.too_many_failures(request):
            log.warning("staff login refused: too many failures from %s", request.remote)
            return await login_form(request, "Too many failed logins from here; wait a minute and try again.", 429)
        found = await request.config_dict[API_KEYS].lookup_digest(digest)
        if found is None or not sessions.may_use_console(found.scopes):
            log.info("staff login refused")
            await sessions.failed_login(request)
            return await login_form(request, "This key is unknown, revoked, or lacks the write scope.", 401)
        response = web.HTTPSeeOther("/staff/")
        await sessions.start(request, response, digest, found.name)
    except UNAVAILABLE:
        return await login_form(request, "The database cannot be reached; try again in a minute.", 503)
    log.info("staff login: %s", found.name)
    raise response


@staff_page
async def logout(request: web.Request, session, form) -> web.StreamResponse:
    response = web.HTTPSeeOther("/staff/login")
    await sessions.end(request, response)
    raise response


@staff_page
async def dashboard(request: web.Request, session, form) -> web.Response:
    async with request.config_dict[DB].acquire() as conn:
        activity = await reports.recent_activity(conn, DAYS)
        held = await for_staff.held_count(conn)
        failed = await for_staff.failed_count(conn)
        not_sent = await outbox.dead_count(conn)
        scopes = await ledger.scopes(conn)
        open_requests = await ledger.requests(conn, "open", 0, MAX_OPEN_REQUESTS_SHOWN)
        paused = await guard.paused_campaigns(conn, MAX_PAUSED_SHOWN)
    t = translator(request)
    thresholds = request.config_dict[SERVICES].guard
    first, last = activity.days[0].isoformat(), activity.days[-1].isoformat()
    sources = [(t.word("source", source), activity.unsubscribes_per_source[source])
               for source, _ in activity.unsubscribes_by_source]
    if len(sources) > 5:  # the four most used, and the rest together
        rest = tuple(map(sum, zip(*(counts for _, counts in sources[4:]))))
        sources = sources[:4] + [(t("Other sources"), rest)]
    chart = charts.stacked(t("Unsubscribes"), sources or [(t("Unsubscribes"), activity.series["unsubscribe"])],
                           first, last)
    chart += "".join(charts.bars(t(title), activity.series[name], first, last, name) for name, title in (
        ("hard_bounce", "Hard bounces"), ("soft_bounce", "Soft bounces"), ("complaint", "Complaints"),
        ("consent_given", "Consents given"), ("consent_withdrawn", "Consents withdrawn")))
    return staff_render(request, "staff/dashboard.html", {
        "title": "Overview", "session": session, "days": DAYS, "chart": chart, "failed": failed,
        "by_source": activity.unsubscribes_by_source, "held": held, "not_sent": not_sent,
        "notice": request.query.get("notice"), "scopes": _scope_choices(scopes, translator(request)),
        "requests": sorted((_with_days_left(r) for r in open_requests), key=lambda r: r["days_left"]),
        "paused": [(c.name, pause_reason(c, thresholds, t)) for c in paused],
    })


MAX_OPEN_REQUESTS_SHOWN = 200
MAX_PAUSED_SHOWN = 20
URGENT_DAYS = 30


def _scope_namer(scopes, t: Translator):
    """A scope as staff read it: its registered label in their language, else its name."""
    labels = {s.scope: s.label(t.lang) for s in scopes}
    return lambda scope: labels.get(scope) or t.word("scope", scope)


def _scope_choices(scopes, t: Translator) -> list[tuple[str, str]]:
    """All marketing first, then each registered scope by its label in the reader's language."""
    return [("global", t("All marketing (every scope)"))] + [(s.scope, f"{s.label(t.lang)} ({s.scope})")
                                                             for s in scopes]


def _with_days_left(item) -> dict:
    today = datetime.now(BRUSSELS).date()
    days_left = (item.due - today).days
    return {"request": item, "days_left": days_left, "urgent": days_left < URGENT_DAYS}


@staff_page
async def give_consent(request: web.Request, session, form) -> web.StreamResponse:
    """A consent given on the phone: recorded with its proof (source phone, the staff member's
    key name as the actor, the wording read to the person, a note)."""
    email = form.get("email", "")
    scope = form.get("scope") or "global"
    async with transaction(request.config_dict[DB]) as conn:
        registered = await ledger.registered_scope(conn, scope) if scope != "global" else None
        label = registered.label("nl") if registered else "alle marketingmails van CETIT"
        given = ConsentInput.read({
            "email": email, "scope": scope, "source": "phone", "language": form.get("language") or "nl",
            "text": form.get("text") or f"Telefonisch akkoord om mails te ontvangen: {label}.",
            "text_version": "phone", "note": form.get("note") or None})
        await ledger.give(conn, given, actor=session.name, keyed_hash=request.config_dict[SERVICES].keyed_hash)
    log.info("phone consent recorded by %s in scope %s", session.name, scope)
    raise _back_to(email, "Consent recorded.")


def _request_id(request: web.Request) -> int:
    try:
        value = int(request.match_info["id"])
    except ValueError:
        raise InvalidInput("A request id is a whole number.") from None
    if not 0 < value < 2**62:
        raise InvalidInput("A request id is a positive whole number.")
    return value


async def _request_and_record(request: web.Request, request_id: int):
    async with request.config_dict[DB].acquire() as conn:
        item = await ledger.request(conn, request_id)
        record = None
        if item.address is not None:
            record = await erasure.subject_access(conn, request.config_dict[SERVICES].keyed_hash, item.address)
        scopes = await ledger.scopes(conn)
    return item, record, _scope_namer(scopes, translator(request))


@staff_page
async def privacy_request(request: web.Request, session, form) -> web.Response:
    item, record, _ = await _request_and_record(request, _request_id(request))
    return staff_render(request, "staff/request.html", {
        "title": translator(request)("Privacy request {id}", id=item.id), "session": session,
        "item": _with_days_left(item), "record": record,
        "notice": request.query.get("notice"),
    })


@staff_page
async def request_export(request: web.Request, session, form) -> web.StreamResponse:
    """What CETIT holds about the requester (GDPR Art. 15): as JSON, or as a page to print or save as PDF."""
    item, record, scope_name = await _request_and_record(request, _request_id(request))
    if record is None:
        raise Conflict("This request's address was erased: there is nothing left to export.")
    if request.match_info["format"] == "json":
        body = json.dumps(views.subject_record(record), indent=2, ensure_ascii=False, default=str)
        response = web.Response(text=body, content_type="application/json")
        response.headers["Content-Disposition"] = f'attachment; filename="cetit-gegevens-{item.id}.json"'
        response.headers.update(SECURITY_HEADERS)
        return response
    t = translator(request)
    return staff_render(request, "staff/export.html", {"title": t("Data held about {email}", email=record.email),
                                                       "session": session, "record": record, "item": item,
                                                       "scope_name": scope_name})


@staff_page
async def close_request(request: web.Request, session, form) -> web.StreamResponse:
    request_id = _request_id(request)
    async with transaction(request.config_dict[DB]) as conn:
        await ledger.close_request(conn, request_id, form.get("note"), session.name)
    log.info("privacy request %d closed by %s", request_id, session.name)
    notice = translator(request)("Privacy request {id} closed.", id=request_id)
    raise web.HTTPSeeOther("/staff/?" + urlencode({"notice": notice}))


@staff_page
async def address(request: web.Request, session, form) -> web.Response:
    email = request.query.get("email", "") or form.get("email", "")
    async with request.config_dict[DB].acquire() as conn:
        subject = await erasure.subject_access(conn, request.config_dict[SERVICES].keyed_hash, email)
        scopes = await ledger.scopes(conn)
    return staff_render(request, "staff/address.html", {
        "title": subject.email, "session": session, "address": subject.email,
        "suppressions": subject.suppressions, "events": list(reversed(subject.events)),
        "consents": subject.consents, "scopes": _scope_choices(scopes, translator(request)),
        "scope_name": _scope_namer(scopes, translator(request)),
        "erased": subject.erased, "notice": request.query.get("notice"),
    })


def _back_to(email: str, notice: str) -> web.HTTPSeeOther:
    return web.HTTPSeeOther("/staff/address?" + urlencode({"email": email, "notice": notice}))


@staff_page
async def suppress(request: web.Request, session, form) -> web.StreamResponse:
    email = form.get("email", "")
    scope = form.get("scope") or "global"
    async with transaction(request.config_dict[DB]) as conn:
        created, item = await suppression_list.suppress(
            conn, email, scope, "manual", "phone", form.get("note") or None,
            detail={"by": session.name}, keyed_hash=request.config_dict[SERVICES].keyed_hash, actor=session.name,
        )
        registered = [s.scope for s in await ledger.scopes(conn)]
    log.info("phone opt-out recorded by %s in scope %s", session.name, item.scope)
    t = translator(request)
    notice = t("Recorded.") if created else t("It was already suppressed in that scope.")
    if registered and scope != "global" and scope not in registered:
        close = difflib.get_close_matches(scope, registered, n=2, cutoff=0.4)
        notice += " " + t("Note: scope {scope} is not registered (registered: {registered}).", scope=f"'{scope}'",
                          registered=", ".join(registered))
        if close:
            notice += t(" Did you mean {close}?", close=" / ".join(close))
    raise _back_to(email, notice)


@staff_page
async def lift(request: web.Request, session, form) -> web.StreamResponse:
    email = form.get("email", "")
    async with transaction(request.config_dict[DB]) as conn:
        await suppression_list.lift(
            conn, email, form.get("scope", ""), form.get("evidence", ""), form.get("force") == "yes",
            session.name, keyed_hash=request.config_dict[SERVICES].keyed_hash,
        )
    log.info("suppression lifted by %s", session.name)
    raise _back_to(email, "Lifted.")
