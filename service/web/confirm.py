"""The double opt-in pages (CONTRACT: Consent): GET /c/{token} asks and changes nothing (scanners fetch
every link); POST, the page's button, commits the consent with time, IP and user agent, then answers.
A link older than OPTOUT_CONFIRM_MAX_AGE_DAYS confirms nothing, and its page says what to do instead."""

from __future__ import annotations

import logging
from datetime import timedelta

from aiohttp import web

from ..answers import Answer
from ..domain.addresses import masked_address
from ..domain.consent import ledger
from ..domain.consent.rules import label_of
from ..domain.errors import BadToken, Conflict, Expired, NotFound
from ..storage.db import transaction
from ..texts import LANGUAGES, in_language
from ..texts.recipients import CONFIRMATION_PAGE, SELF_SERVICE_PAGE
from .consents import confirmation_tokens
from .keys import DB, READS, SETTINGS
from .pages import PAGE_LANGUAGE, page_language, render
from .payload import form_fields

log = logging.getLogger("optout.consent")

def _page(request: web.Request, lang: str, status: int, title: str, intro: str, show_form: bool = False,
          ) -> web.Response:
    return render(request, "confirm.html", {
        "t": in_language(CONFIRMATION_PAGE, lang), "lang": lang, "title": title, "intro": intro,
        "show_form": show_form, "me_link": in_language(SELF_SERVICE_PAGE, lang)["see_me"],
        "languages": LANGUAGES if request.method == "GET" else ()}, status)


def error_page(request: web.Request, answer: Answer, error: BaseException) -> web.Response:
    lang = request.get(PAGE_LANGUAGE) or page_language(request)
    t = in_language(CONFIRMATION_PAGE, lang)
    if isinstance(error, BadToken):
        return _page(request, lang, answer.status, t["bad_link_title"], t["bad_link"])
    if isinstance(error, Expired):
        return _page(request, lang, answer.status, t["expired_title"], t["expired"])
    if isinstance(error, (Conflict, NotFound)):
        return _page(request, lang, answer.status, t["gone_title"], t["gone"])
    return _page(request, lang, answer.status, answer.title(lang), t["problem"])


def _consent_id(request: web.Request) -> int:
    return confirmation_tokens(request.config_dict).verify(request.match_info["token"])


def _max_age(request: web.Request) -> timedelta:
    return timedelta(days=request.config_dict[SETTINGS].confirm_max_age_days)


async def _describe(conn, consent, lang: str) -> dict:
    registered = await ledger.registered_scope(conn, consent.scope)
    return {"address": masked_address(consent.address),
            "scope": label_of(consent.scope, registered.labels if registered else None, lang)}


async def show(request: web.Request) -> web.Response:
    lang = page_language(request)
    consent_id = _consent_id(request)

    async def read(conn):
        consent = await ledger.pending(conn, consent_id, max_age=_max_age(request))
        return consent, await _describe(conn, consent, lang)

    consent, described = await request.config_dict[READS].read(read)
    t = in_language(CONFIRMATION_PAGE, lang)
    if consent.status == "given":
        return _page(request, lang, 200, t["done_title"], t["done"].format(**described))
    if consent.status == "withdrawn":
        raise Conflict("This consent was withdrawn since.")
    return _page(request, lang, 200, t["title"], t["intro"].format(**described), show_form=True)


async def confirm(request: web.Request) -> web.Response:
    page_language(request)
    consent_id = _consent_id(request)
    form = await form_fields(request)
    lang = page_language(request, form)
    t = in_language(CONFIRMATION_PAGE, lang)
    if form.get("confirm") != "yes":  # no button pressed: offer it again, unless the link has expired
        await request.config_dict[READS].read(lambda conn: ledger.pending(conn, consent_id, max_age=_max_age(request)))
        return _page(request, lang, 400, t["title"], t["not_done"], show_form=True)
    async with transaction(request.config_dict[DB]) as conn:
        consent = await ledger.confirm(conn, consent_id, request.remote, request.headers.get("User-Agent"),
                                       max_age=_max_age(request))
        described = await _describe(conn, consent, lang)
    log.info("consent %d confirmed in scope %s", consent.id, consent.scope)
    return _page(request, lang, 200, t["done_title"], t["done"].format(**described))
