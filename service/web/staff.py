"""The staff console (/staff/): find an address, record a phone opt-out, lift one, see activity."""

from __future__ import annotations

import difflib

import functools
import logging
from urllib.parse import urlencode

from aiohttp import web

from ..answers import Answer
from ..domain.apikeys import key_digest
from ..domain.consent import ledger
from ..domain.errors import Forbidden, InvalidInput
from ..domain.suppressions import erasure
from ..domain.suppressions import operations as suppression_list
from ..domain.suppressions import reports
from ..storage import inbound_queries, outbox_queries
from ..storage.db import UNAVAILABLE, transaction
from . import staff_session
from .keys import API_KEYS, DB, HASH_PADS, SETTINGS
from .pages import render
from .payload import form_fields

log = logging.getLogger("optout.staff")

DAYS = 7

SESSION = web.RequestKey("staff_session", staff_session.StaffSession)  # for the error page's header


def staff_page(handler):
    """Needs a logged-in session (else to the login page); POSTs need the session's CSRF token.
    What fails from here on is answered by error_page."""

    @functools.wraps(handler)
    async def wrapper(request: web.Request) -> web.StreamResponse:
        session = await staff_session.current(request)
        if session is None:
            raise web.HTTPSeeOther("/staff/login")
        request[SESSION] = session
        form = {}
        if request.method == "POST":
            form = await form_fields(request)
            if not staff_session.csrf_matches(session, form.get("csrf")):
                raise Forbidden("The form expired: reload the page and try again.")
        return await handler(request, session, form)

    return wrapper


DATABASE_DOWN = ("Database unavailable", "The database cannot be reached; nothing was changed. Try again in a minute.")


def error_page(request: web.Request, answer: Answer, error: BaseException) -> web.Response:
    """A failure as a page of the console, with the table's status, its English title (the
    console's language) and what the error says."""
    title, text = DATABASE_DOWN if isinstance(error, UNAVAILABLE) else (answer.title("en"), answer.message)
    context = {"title": title, "message": text, "session": request.get(SESSION)}
    return render(request, "staff/message.html", context, answer.status)


async def login_form(request: web.Request, error: str | None = None, status: int = 200) -> web.Response:
    token = staff_session.new_login_token()
    response = render(request, "staff/login.html", {"title": "Log in", "csrf": token, "error": error}, status)
    staff_session.set_login_cookie(request, response, token)
    return response


async def login(request: web.Request) -> web.StreamResponse:
    try:
        form = await form_fields(request)
    except InvalidInput:
        return await login_form(request, "The form could not be read; log in again.", 400)
    if not staff_session.login_token_matches(request, form.get("csrf", "")):
        return await login_form(request, "The form expired; log in again.", 403)
    key = form.get("key", "").strip()
    digest = key_digest(key)
    try:
        found = await request.config_dict[API_KEYS].lookup_digest(digest)
    except UNAVAILABLE:
        return await login_form(request, "The database cannot be reached; try again in a minute.", 503)
    if found is None or not staff_session.may_use_console(found.scopes):
        log.info("staff login refused")
        return await login_form(request, "This key is unknown, revoked, or lacks the write scope.", 401)
    response = web.HTTPSeeOther("/staff/")
    staff_session.start(request, response, digest, found.name)
    log.info("staff login: %s", found.name)
    raise response


@staff_page
async def logout(request: web.Request, session, form) -> web.StreamResponse:
    response = web.HTTPSeeOther("/staff/login")
    staff_session.end(response)
    raise response


@staff_page
async def dashboard(request: web.Request, session, form) -> web.Response:
    async with request.config_dict[DB].acquire() as conn:
        activity = await reports.recent_activity(conn, DAYS)
        held = await inbound_queries.held_count(conn)
        not_sent = await outbox_queries.dead_count(conn)
    days = [{"day": day.day, **day.counts} for day in activity.days]
    return render(request, "staff/dashboard.html", {
        "title": "Overview", "session": session, "days": DAYS, "per_day": days,
        "by_source": activity.unsubscribes_by_source, "held": held, "not_sent": not_sent,
        "notice": request.query.get("notice"),
    })


@staff_page
async def address(request: web.Request, session, form) -> web.Response:
    email = request.query.get("email", "") or form.get("email", "")
    async with request.config_dict[DB].acquire() as conn:
        subject = await erasure.subject_access(conn, request.config_dict[SETTINGS].hash_key, email)
    return render(request, "staff/address.html", {
        "title": subject.email, "session": session, "address": subject.email,
        "suppressions": subject.suppressions, "events": list(reversed(subject.events)),
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
            detail={"by": session.name}, pads=request.config_dict[HASH_PADS], actor=session.name,
        )
        registered = [s.scope for s in await ledger.scopes(conn)]
    log.info("phone opt-out recorded by %s in scope %s", session.name, item.scope)
    notice = "Recorded." if created else "It was already suppressed in that scope."
    if registered and scope != "global" and scope not in registered:
        close = difflib.get_close_matches(scope, registered, n=2, cutoff=0.4)
        notice += (f" Note: scope '{scope}' is not registered (registered: {', '.join(registered)})"
                   + (f"; did you mean {' or '.join(close)}?" if close else "."))
    raise _back_to(email, notice)


@staff_page
async def lift(request: web.Request, session, form) -> web.StreamResponse:
    email = form.get("email", "")
    async with transaction(request.config_dict[DB]) as conn:
        await suppression_list.lift(
            conn, email, form.get("scope", ""), form.get("evidence", ""), form.get("force") == "yes",
            session.name, pads=request.config_dict[HASH_PADS],
        )
    log.info("suppression lifted by %s", session.name)
    raise _back_to(email, "Lifted.")
