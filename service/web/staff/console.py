"""What every console page shares: the logged-in check and CSRF, the reader's language (kept in a
cookie), rendering and the error page."""

from __future__ import annotations

import functools

from aiohttp import web

from ...answers import Answer
from ...domain.errors import Forbidden
from ...storage.db import UNAVAILABLE
from ...texts import choose_language
from ...texts.staff import LANGUAGES, Translator
from ..pages import render
from ..payload import form_fields
from . import sessions

LANGUAGE_COOKIE = "optout_staff_lang"
SESSION = web.RequestKey("staff_session", sessions.StaffSession)  # for the error page's header


def staff_render(request: web.Request, template: str, context: dict, status: int = 200) -> web.Response:
    """A console page in the reader's language (Dutch unless they chose English), with its switch."""
    lang = language_of(request)
    t = Translator(lang)
    switch = {code: str(request.rel_url.update_query(lang=code)) for code in LANGUAGES}
    context = {**context, "t": t, "word": t.word, "lang": lang, "languages": LANGUAGES, "switch": switch,
               "title": t(context.get("title", "")), "notice": t(context["notice"]) if context.get("notice") else None}
    response = render(request, template, context, status)
    remember_language(request, response)
    return response


def language_of(request: web.Request) -> str:
    """?lang= (kept in a cookie by `remember_language`), then the cookie, then Accept-Language, else Dutch."""
    chosen = request.query.get("lang")
    if chosen not in LANGUAGES:
        chosen = request.cookies.get(LANGUAGE_COOKIE)
    if chosen in LANGUAGES:
        return chosen
    lang = choose_language(None, request.headers.get("Accept-Language"))
    return lang if lang in LANGUAGES else "nl"


def remember_language(request: web.Request, response: web.StreamResponse) -> None:
    chosen = request.query.get("lang")
    if chosen in LANGUAGES:
        response.set_cookie(LANGUAGE_COOKIE, chosen, path="/staff", httponly=True, samesite="Strict",
                            secure=request.secure, max_age=365 * 86400)


def translator(request: web.Request) -> Translator:
    return Translator(language_of(request))


def staff_page(handler):
    """Needs a logged-in session (else to the login page); POSTs need the session's CSRF token.
    What fails from here on is answered by error_page."""

    @functools.wraps(handler)
    async def wrapper(request: web.Request) -> web.StreamResponse:
        session = await sessions.current(request)
        if session is None:
            raise web.HTTPSeeOther("/staff/login")
        request[SESSION] = session
        form = {}
        if request.method == "POST":
            form = await form_fields(request)
            if not sessions.csrf_matches(session, form.get("csrf")):
                raise Forbidden("The form expired: reload the page and try again.")
        return await handler(request, session, form)

    return wrapper


DATABASE_DOWN = ("Database unavailable", "The database cannot be reached; nothing was changed. Try again in a minute.")


def error_page(request: web.Request, answer: Answer, error: BaseException) -> web.Response:
    """A failure as a page of the console, with the table's status, its English title (the
    console's language) and what the error says."""
    t = translator(request)
    title, text = DATABASE_DOWN if isinstance(error, UNAVAILABLE) else (answer.title(t.lang), t(answer.message))
    context = {"title": title, "message": t(text), "session": request.get(SESSION)}
    return staff_render(request, "staff/message.html", context, answer.status)
