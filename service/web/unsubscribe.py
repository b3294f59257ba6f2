"""The recipient's pages: GET /u/{token} shows, POST unsubscribes (RFC 8058), undo resubscribes.
A GET or HEAD never changes anything: mail scanners and link previews fetch every link."""

from __future__ import annotations

import logging
from dataclasses import replace
from html import escape

from aiohttp import web

from ..answers import Answer
from ..logs import Burst
from ..domain.addresses import masked_address
from ..domain.consent import ledger
from ..domain.consent.model import Scope
from ..domain.errors import BadToken, Conflict, Forbidden, InvalidInput, Unavailable
from ..domain.suppressions import links
from ..domain.suppressions.links import Erased
from ..domain.suppressions.rules import GLOBAL
from ..domain.tokens import LinkClaim
from ..storage.db import UNAVAILABLE, transaction
from .keys import DB, METRICS, READS, SERVICES, SETTINGS, SIGNER, UNSUBSCRIBES_LOGGED
from .pages import SECURITY_HEADERS, render
from .payload import form_fields
from ..texts import LANGUAGES, choose_language
from ..texts.recipients import SELF_SERVICE_PAGE as ME_TEXTS, UNSUBSCRIBE_PAGE as TEXTS, scope_name

log = logging.getLogger("optout.unsubscribe")


def unsubscribes_logged() -> Burst:
    """A newsletter's one-clicks come by the thousand a minute: each is in the history and the
    metrics; the log tells the first of each minute one by one, then how many more."""
    return Burst(log, "unsubscribed")

LANGUAGE = web.RequestKey("language", str)  # the reader's, once known: the error page speaks it too

# Failures whose page says more than the table's title: the text (and its title) in the texts catalogue (service/texts).
# The first that matches counts: an erased address is also Forbidden.
ERROR_TEXTS = (
    (Erased, "erased"),
    (Forbidden, "too_old"),
    (BadToken, "bad_link"),
    (Conflict, "cannot_undo"),
    ((Unavailable, *UNAVAILABLE), "unavailable"),
)


def page(request: web.Request, template: str, lang: str, status: int = 200, *, title: str | None = None,
         title_key: str = "title", **context) -> web.Response:
    t = TEXTS[lang]
    context.setdefault("mailto", request.config_dict[SETTINGS].mailto)
    context.setdefault("me_link", ME_TEXTS[lang]["see_me"])
    if "message" in context:
        context["message"] = t[context["message"]].format(**context)
    return render(
        request, template, {"t": t, "lang": lang, "title": title or t[title_key],
                            # a language switch re-fetches the page: offered only where a GET shows the same
                            "languages": LANGUAGES if request.method == "GET" else (), **context},
        status,
    )


def _message(request: web.Request, lang: str, status: int, key: str, show_form: bool = False) -> web.Response:
    return page(request, "message.html", lang, status, title_key=f"{key}_title", message=key, show_form=show_form)


def error_page(request: web.Request, answer: Answer, error: BaseException) -> web.Response:
    """A failure as a page in the reader's language, with the table's status: its own text where
    the texts catalogue has one (a bad link, an erased address), else the table's title and a general text."""
    lang = request.get(LANGUAGE) or _language(request)
    key = next((key for kinds, key in ERROR_TEXTS if isinstance(error, kinds)), None)
    if key is None:
        return page(request, "message.html", lang, answer.status, title=answer.title(lang), message="problem")
    return _message(request, lang, answer.status, key)


def _language(request: web.Request, form: dict | None = None) -> str:
    """The form's lang field, else ?lang=, else Accept-Language; kept for the error page."""
    chosen = (form or {}).get("lang") or request.query.get("lang")
    request[LANGUAGE] = lang = choose_language(chosen, request.headers.get("Accept-Language"))
    return lang


def _claim(request: web.Request) -> LinkClaim:
    return request.config_dict[SIGNER].verify(request.match_info["token"])


def _page_context(claim: LinkClaim, lang: str, scope: str, erased: bool, opens_sentence: bool = True,
                  registered: tuple[Scope, ...] = ()) -> dict:
    """What a page says of the link's address (masked, and not at all once it was erased), and
    the kinds of mail it offers to leave: the link's own, the other registered ones, by label."""
    if erased:
        address = TEXTS[lang]["this_address"]
        address = address if opens_sentence else address[:1].lower() + address[1:]
    else:
        address = masked_address(claim.address)
    labels = {s.scope: s.label(lang) for s in registered}
    others = [(s.scope, labels[s.scope]) for s in registered if s.scope not in (claim.scope, scope, GLOBAL)]
    return {"address": address, "scope": scope, "scope_name": labels.get(scope) or scope_name(lang, scope),
            "other_scopes": others}


async def _registered(request: web.Request) -> tuple[Scope, ...]:
    """The registered scopes, for the page to offer; none when they cannot be read (the page
    still offers the link's own kind of mail and all of it)."""
    try:
        return tuple(await request.config_dict[READS].read(ledger.scopes))
    except UNAVAILABLE:
        return ()


async def _erased(request: web.Request, claim: LinkClaim) -> bool:
    """Whether the link's address was erased; when that cannot be read, the page names no
    address all the same."""
    if claim.address is None:  # its recipient id names no one any more
        return True
    keyed_hash = request.config_dict[SERVICES].keyed_hash
    try:
        return await request.config_dict[READS].read(lambda conn: links.is_erased(conn, claim.address, keyed_hash))
    except UNAVAILABLE:
        return True


async def _resolved_for_reading(request: web.Request, claim: LinkClaim) -> LinkClaim:
    """The claim with its address, for a page that only shows it (when the database cannot be
    read, the page names no address)."""
    try:
        return await request.config_dict[READS].read(lambda conn: links.resolve(conn, claim))
    except UNAVAILABLE:
        return claim


async def show(request: web.Request) -> web.Response:
    lang = _language(request)
    claim = await _resolved_for_reading(request, _claim(request))
    erased = await _erased(request, claim)
    return page(request, "unsubscribe.html", lang,
                **_page_context(claim, lang, claim.scope, erased, False, await _registered(request)))


async def _posted(request: web.Request) -> tuple[str, LinkClaim, dict]:
    """Language, claim and form of a POST. A bad token is refused before the body is read."""
    _language(request)
    claim = _claim(request)
    form = await form_fields(request)
    return _language(request, form), claim, form


async def confirm(request: web.Request) -> web.Response:
    """The page's button and the RFC 8058 one-click POST (urlencoded or multipart, no cookie).
    The answer comes after the suppression is committed; when it cannot be, the 503 page."""
    lang, claim, form = await _posted(request)
    one_click = form.get("List-Unsubscribe") == "One-Click"
    if not one_click and form.get("confirm") != "yes":
        return _message(request, lang, 400, "not_done", show_form=True)
    choice = "" if one_click else form.get("choice", "")
    scope = GLOBAL if choice == "all" else choice.removeprefix("scope:") if choice.startswith("scope:") else claim.scope
    source = "one_click" if one_click else "link"
    keyed_hash = request.config_dict[SERVICES].keyed_hash
    async with request.config_dict[DB].acquire() as conn:  # one statement each, committed on its own
        registered = frozenset([scope]) if scope != claim.scope and await ledger.registered_scope(
            conn, scope) is not None else frozenset()
        done = await links.unsubscribe(conn, claim, scope, source, keyed_hash, registered,
                                       request.config_dict[SERVICES].guard)
    claim = replace(claim, address=done.address)  # the address the statement found, or none when erased
    if done.created:
        request.config_dict[METRICS].suppressions.labels("unsubscribe", source).inc()
        request.config_dict[UNSUBSCRIBES_LOGGED].note("unsubscribed by %s in scope %s%s", source, scope, " (old link)" if claim.expired else "")
    if one_click:
        return _one_click_answer(lang, _page_context(claim, lang, scope, done.erased))
    return page(request, "done.html", lang, title_key="done_title", token=request.match_info["token"],
                can_undo=not claim.expired and not done.erased,
                **_page_context(claim, lang, scope, done.erased, registered=await _registered(request)))


def _one_click_answer(lang: str, said: dict) -> web.Response:
    """The answer to an RFC 8058 one-click POST. It comes from the mail program, which shows it
    to no one: a page of two lines, without the template, the undo button or the registered
    scopes that the page offers a person (reading those cost a third of the answer's time)."""
    t = TEXTS[lang]
    done = t["done"].format(address=said["address"], scope=said["scope_name"])
    return web.Response(
        text=f'<!doctype html>\n<html lang="{lang}"><meta charset="utf-8"><title>{escape(t["done_title"])}</title>'
             f'\n<h1>{escape(t["done_title"])}</h1>\n<p role="status">{escape(done)}</p>\n',
        content_type="text/html", headers=SECURITY_HEADERS)


async def resubscribe(request: web.Request) -> web.Response:
    lang, claim, form = await _posted(request)
    scope = form.get("scope") or claim.scope
    try:
        async with transaction(request.config_dict[DB]) as conn:
            claim = await links.resolve(conn, claim)
            undone = await links.resubscribe(conn, claim, scope, request.config_dict[SERVICES].keyed_hash)
    except InvalidInput as exc:  # a scope this link did not unsubscribe from: nothing of its own to undo
        raise Conflict(exc.message) from exc
    if undone:
        log.info("resubscribed by link in scope %s", scope)
    return page(request, "message.html", lang, title_key="resubscribed_title", message="resubscribed",
                **_page_context(claim, lang, scope, erased=False, registered=await _registered(request)))
