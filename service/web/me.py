"""The person's own page, its first step: GET /me asks for an address, POST /me mails a link.
The answer is the same for every address; only the limits answer otherwise, with a 429 page."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from aiohttp import web

from ..answers import Answer
from ..domain.errors import BadToken, Conflict, Expired, InvalidAddress, InvalidInput, TooManyRequests
from ..domain.self_service import access
from ..domain.tokens import SelfServiceTokens
from ..storage.db import transaction
from .clients import client_address
from .keys import DB, SERVICES, SETTINGS
from .pages import PAGE_LANGUAGE, brussels_time, page_language, render
from .payload import form_fields
from ..texts import LANGUAGES
from ..texts.recipients import SELF_SERVICE_PAGE as ME_TEXTS

log = logging.getLogger("optout.self_service")

def tokens(request: web.Request) -> SelfServiceTokens:
    settings = request.config_dict[SETTINGS]
    return request.config_dict[SERVICES].self_service or SelfServiceTokens(
        settings.secret_keys, timedelta(minutes=settings.self_service_minutes))


def now(request: web.Request) -> datetime:
    return request.config_dict[SERVICES].clock.now()


def page(request: web.Request, template: str, lang: str, status: int = 200, **context) -> web.Response:
    return render(request, template, {
        "t": ME_TEXTS[lang], "lang": lang, "mailto": request.config_dict[SETTINGS].mailto,
        "languages": LANGUAGES if request.method == "GET" else (), **context}, status)


def message(request: web.Request, lang: str, status: int, key: str, *, ask: bool = False, back: str | None = None,
            title_key: str | None = None, **words) -> web.Response:
    """A page of one message (its title and text from ME_TEXTS), with the form asking for a link, or a way back."""
    t = ME_TEXTS[lang]
    return page(request, "me_message.html", lang, status, title=t[title_key or f"{key}_title"],
                text=t[key].format(mailto=request.config_dict[SETTINGS].mailto, **words), ask=ask, back=back)


def error_page(request: web.Request, answer: Answer, error: BaseException) -> web.Response:
    lang = request.get(PAGE_LANGUAGE) or page_language(request)
    t = ME_TEXTS[lang]
    if isinstance(error, (BadToken, Expired)):  # old, tampered or naming no one: 400, and a new link offered
        return message(request, lang, 400, "bad_link", ask=True)
    if isinstance(error, TooManyRequests):
        retry_at = datetime.fromisoformat(error.detail["retry_at"])
        response = message(request, lang, 429, "too_many", at=brussels_time(retry_at))
        response.headers["Retry-After"] = str(error.detail["retry_after"])
        return response
    if isinstance(error, InvalidAddress):
        return page(request, "me_ask.html", lang, 400, title=t["ask_title"], error=t["invalid"])
    if isinstance(error, Conflict):
        return message(request, lang, 409, "cannot")
    if isinstance(error, InvalidInput):
        return message(request, lang, 400, "not_done")
    return page(request, "me_message.html", lang, answer.status, title=answer.title(lang), text=t["problem"],
                ask=False, back=None)


async def ask_form(request: web.Request) -> web.Response:
    lang = page_language(request)
    return page(request, "me_ask.html", lang, title=ME_TEXTS[lang]["ask_title"])


async def ask(request: web.Request) -> web.Response:
    """The same page, and the same work, for every address: the outbox decides, when it sends, whether a mail leaves."""
    page_language(request)
    form = await form_fields(request)
    lang = page_language(request, form)
    keyed_hash, at = request.config_dict[SERVICES].keyed_hash, now(request)
    async with transaction(request.config_dict[DB]) as conn:  # counted even when the mailbox's limit refuses
        await access.count_client(conn, client_address(request), keyed_hash, at)
    async with transaction(request.config_dict[DB]) as conn:
        await access.ask_for_link(conn, form.get("email"), lang, keyed_hash=keyed_hash, now=at)
    request.config_dict[SERVICES].outbox.wake()
    return message(request, lang, 200, "sent", minutes=request.config_dict[SETTINGS].self_service_minutes)
