"""The recipient's pages: GET /u/{token} shows, POST unsubscribes (RFC 8058), undo resubscribes.

A GET or HEAD never changes anything: mail scanners and link previews fetch every link.
Only a POST carrying the one-click body or the page's confirm field unsubscribes, and the
answer is sent after the suppression is committed.
"""

from __future__ import annotations

import logging

from aiohttp import web

from ..domain.suppressions import links
from ..domain.addresses import masked_address
from ..domain.errors import BadToken, Conflict, Forbidden, InvalidInput
from ..domain.suppressions.rules import GLOBAL
from ..domain.suppressions.tokens import LinkClaim
from ..domain.suppressions.links import Erased
from ..storage.db import UNAVAILABLE, transaction
from .keys import DB, HASH_PADS, METRICS, READS, SETTINGS, SIGNER
from .pages import render
from .payload import form_fields
from .texts import LANGUAGES, TEXTS, choose_language, scope_name

log = logging.getLogger("optout.unsubscribe")

def page(request: web.Request, template: str, lang: str, status: int = 200, **context) -> web.Response:
    t = TEXTS[lang]
    title_key = context.pop("title_key", "title")
    context.setdefault("mailto", request.app[SETTINGS].mailto)
    if "message" in context:
        context["message"] = t[context["message"]].format(**context)
    return render(
        request, template, {"t": t, "lang": lang, "title": t[title_key],
                            # a language switch re-fetches the page: offered only where a GET shows the same
                            "languages": LANGUAGES if request.method == "GET" else (), **context},
        status,
    )


def _message(request: web.Request, lang: str, status: int, key: str, show_form: bool = False) -> web.Response:
    return page(request, "message.html", lang, status, title_key=f"{key}_title", message=key, show_form=show_form)


def _claim(request: web.Request) -> LinkClaim:
    return request.app[SIGNER].verify(request.match_info["token"])


def _page_context(claim: LinkClaim, lang: str, scope: str, erased: bool, opens_sentence: bool = True) -> dict:
    """What a page says of the link's address: masked, and not at all once it was erased."""
    if erased:
        address = TEXTS[lang]["this_address"]
        address = address if opens_sentence else address[:1].lower() + address[1:]
    else:
        address = masked_address(claim.address)
    return {"address": address, "scope": scope, "scope_name": scope_name(lang, scope)}


async def _erased(request: web.Request, claim: LinkClaim) -> bool:
    """Whether the link's address was erased; when that cannot be read, the page names no
    address all the same."""
    pads = request.app[HASH_PADS]
    try:
        return await request.app[READS].read(lambda conn: links.is_erased(conn, claim.address, pads))
    except UNAVAILABLE:
        return True


async def show(request: web.Request) -> web.Response:
    lang = choose_language(request.query.get("lang"), request.headers.get("Accept-Language"))
    try:
        claim = _claim(request)
    except BadToken:
        return _message(request, lang, 400, "bad_link")
    erased = await _erased(request, claim)
    return page(request, "unsubscribe.html", lang, **_page_context(claim, lang, claim.scope, erased, False))


async def _posted(request: web.Request) -> tuple[str, LinkClaim | None, dict]:
    """Language, claim and form of a POST; the claim is None for a bad token or unreadable form."""
    lang = choose_language(request.query.get("lang"), request.headers.get("Accept-Language"))
    try:
        claim = _claim(request)
        form = await form_fields(request)
    except (BadToken, InvalidInput, web.HTTPException):
        return lang, None, {}
    lang = choose_language(form.get("lang") or request.query.get("lang"), request.headers.get("Accept-Language"))
    return lang, claim, form


async def confirm(request: web.Request) -> web.Response:
    """The page's button and the RFC 8058 one-click POST (urlencoded or multipart, no cookie)."""
    lang, claim, form = await _posted(request)
    if claim is None:
        return _message(request, lang, 400, "bad_link")
    one_click = form.get("List-Unsubscribe") == "One-Click"
    if not one_click and form.get("confirm") != "yes":
        return _message(request, lang, 400, "not_done", show_form=True)
    scope = GLOBAL if (not one_click and form.get("choice") == "all") else claim.scope
    source = "one_click" if one_click else "link"
    try:
        async with request.app[DB].acquire() as conn:  # one statement, committed on its own
            created = await links.unsubscribe(conn, claim, scope, source, request.app[HASH_PADS])
    except UNAVAILABLE as exc:
        log.warning("unsubscribe not saved, database unavailable (%s)", exc.__class__.__name__)
        return _message(request, lang, 503, "unavailable")
    if created:
        request.app[METRICS].suppressions.labels("unsubscribe", source).inc()
        log.info("unsubscribed by %s in scope %s%s", source, scope, " (old link)" if claim.expired else "")
    erased = await _erased(request, claim)
    return page(request, "done.html", lang, title_key="done_title", token=request.match_info["token"],
                can_undo=not claim.expired and not erased, **_page_context(claim, lang, scope, erased))


async def resubscribe(request: web.Request) -> web.Response:
    lang, claim, form = await _posted(request)
    if claim is None:
        return _message(request, lang, 400, "bad_link")
    scope = form.get("scope") or claim.scope
    try:
        async with transaction(request.app[DB]) as conn:
            undone = await links.resubscribe(conn, claim, scope, request.app[HASH_PADS])
    except Erased:
        return _message(request, lang, 403, "erased")
    except Forbidden:
        return _message(request, lang, 403, "too_old")
    except (Conflict, InvalidInput):
        return _message(request, lang, 409, "cannot_undo")
    except UNAVAILABLE:
        return _message(request, lang, 503, "unavailable")
    if undone:
        log.info("resubscribed by link in scope %s", scope)
    return page(request, "message.html", lang, title_key="resubscribed_title", message="resubscribed",
                **_page_context(claim, lang, scope, erased=False))
