"""The person's own page: GET /me/{token} shows in plain words everything held about the address,
GET /me/{token}/export.json gives it as GET /v1/subjects/{email} does, and each POST with the
page's CSRF field and an `action` changes one thing (CONTRACT: Self-service). A GET changes nothing.
"""

from __future__ import annotations

import functools
import logging

from aiohttp import web

from ..domain.consent import ledger
from ..domain.inbound import mentions
from ..domain.self_service import access, actions, own_page
from ..domain.suppressions import erasure
from ..domain.suppressions.rules import GLOBAL, valid_scope
from ..mail.self_service import compose_correction
from ..storage.db import transaction
from . import views
from .keys import DB, SERVICES, SETTINGS
from .me import message, now, page, tokens
from .pages import SECURITY_HEADERS, belgian_date, brussels_time, page_language
from .payload import form_fields
from ..texts.recipients import SELF_SERVICE_PAGE as ME_TEXTS, scope_name

log = logging.getLogger("optout.self_service")


def _recipient(request: web.Request) -> int:
    """Whom the link names; BadToken (a 400 page) when old or tampered."""
    return tokens(request).verify(request.match_info["token"], now(request))


def _words(record, scopes, lang: str) -> dict:
    """What the page says, in plain words: labels for kinds of mail, reasons, kinds of request."""
    t = ME_TEXTS[lang]
    labels = {s.scope: s.label(lang) for s in scopes} | {GLOBAL: scope_name(lang, GLOBAL)}

    def label(scope: str | None) -> str:
        return labels.get(scope or GLOBAL) or scope_name(lang, scope)
    return {
        "suppressions": [t["suppression"].format(scope=label(s.scope), reason=t["reasons"].get(s.reason, s.reason),
                                                 since=brussels_time(s.created_at)) for s in record.suppressions],
        "consents": [t["consent"].format(scope=label(c.scope), text=c.text, status=t.get(c.status, c.status),
                                         when=brussels_time(c.given_at or c.created_at),
                                         how=t["sources"].get(c.source, c.source))
                     for c in record.consents],
        "history": [(brussels_time(e.at), t["events"].get(e.type, e.type.replace("_", " ")),
                     label(e.scope) if e.scope else "") for e in record.events],
        "requests": [t["request"].format(kind=t["kinds"].get(r.kind, r.kind), received=brussels_time(r.received_at),
                                         due=belgian_date(r.due)) for r in record.requests if r.status == "open"],
        "choices": [(GLOBAL, labels[GLOBAL])] + [(s.scope, s.label(lang)) for s in scopes if s.scope != GLOBAL],
    }


async def show(request: web.Request) -> web.Response:
    """The light record in one short read-only transaction: no stored message is read for it."""
    lang = page_language(request)
    recipient_id = _recipient(request)
    async with request.config_dict[DB].acquire() as conn:
        async with conn.transaction(readonly=True):
            address = await access.address_of(conn, recipient_id)
            record = await own_page.page_record(conn, address)
            scopes = await ledger.scopes(conn)
    token = request.match_info["token"]
    return page(request, "me.html", lang, title=ME_TEXTS[lang]["page_title"], address=address, token=token,
                csrf=tokens(request).csrf(token), **_words(record, scopes, lang))


async def export(request: web.Request) -> web.Response:
    """GDPR Art. 15 and 20: the same as GET /v1/subjects/{email}, as a download; it reads the stored
    messages too, so a few an hour per person."""
    page_language(request)
    recipient_id = _recipient(request)
    pool, keyed_hash = request.config_dict[DB], request.config_dict[SERVICES].keyed_hash
    async with transaction(pool) as conn:
        address = await access.address_of(conn, recipient_id)
        await own_page.count_use(conn, "export", own_page.person_key(recipient_id), keyed_hash, now(request))
    about = await mentions.messages_mentioning_from(pool, keyed_hash, address)  # no connection held while parsing
    async with pool.acquire() as conn:
        record = await erasure.subject_access(conn, keyed_hash, address, about)
    response = web.json_response(views.subject_record(record), headers=SECURITY_HEADERS)
    response.headers["Content-Disposition"] = 'attachment; filename="cetit-data.json"'
    return response


async def act(request: web.Request) -> web.Response:
    """One action of the page; without the page's CSRF field nothing changes. At most 30 an hour per
    person (counted even when the action is then refused), so a link cannot be replayed without end."""
    page_language(request)
    recipient_id = _recipient(request)
    async with request.config_dict[DB].acquire() as conn:  # a link naming no one is a 400 whatever the form
        address = await access.address_of(conn, recipient_id)
    form = await form_fields(request)
    lang = page_language(request, form)
    token = request.match_info["token"]
    back = f"/me/{token}?lang={lang}"
    if not tokens(request).csrf_matches(token, form.get("csrf")):
        return message(request, lang, 403, "not_done", back=back)
    async with transaction(request.config_dict[DB]) as conn:
        await own_page.count_use(conn, "action", own_page.person_key(recipient_id),
                                 request.config_dict[SERVICES].keyed_hash, now(request))
    action = form.get("action")
    if action == "erase":
        return await _erase(request, lang, address, form, back)
    done = ACTIONS.get(action)
    if done is None:
        return message(request, lang, 400, "not_done", back=back)
    async with transaction(request.config_dict[DB]) as conn:
        key, words = await done(request, conn, address, form, lang)
    log.info("self-service %s", action)
    return message(request, lang, 200, key, back=back, address=address, **words)


async def _scope_label(conn, scope: str, lang: str) -> str:
    """The scope's label; a malformed scope (a NUL, say) is a 400 page before it reaches a query."""
    registered = await ledger.registered_scope(conn, valid_scope(scope))
    return registered.label(lang) if registered else scope_name(lang, scope)


async def _unsubscribe(request, conn, address: str, form: dict, lang: str) -> tuple[str, dict]:
    await actions.unsubscribe(conn, address, form.get("scope"), request.config_dict[SERVICES].keyed_hash)
    return "unsubscribed", {"scope": await _scope_label(conn, form["scope"], lang)}


async def _subscribe(request, conn, address: str, form: dict, lang: str) -> tuple[str, dict]:
    scope = form.get("scope")
    label = await _scope_label(conn, scope, lang) if isinstance(scope, str) else ""
    await actions.subscribe(conn, address, scope, ME_TEXTS[lang]["join_text"].format(scope=label), lang,
                            request.config_dict[SERVICES].keyed_hash, request.remote, request.headers.get("User-Agent"))
    return "subscribed", {"scope": label}


async def _correct(request, conn, address: str, form: dict, lang: str) -> tuple[str, dict]:
    """Each correction is a mail to staff and an open request: at most 3 a day per address."""
    await own_page.count_use(conn, "correction", own_page.address_key(address),
                             request.config_dict[SERVICES].keyed_hash, now(request))
    due = await actions.correct(conn, address, form.get("text"), now(request),
                                functools.partial(compose_correction, request.config_dict[SETTINGS]))
    request.config_dict[SERVICES].outbox.wake()
    return "corrected", {"due": belgian_date(due)}


ACTIONS = {"unsubscribe": _unsubscribe, "subscribe": _subscribe, "correct": _correct}


async def _erase(request: web.Request, lang: str, address: str, form: dict, back: str) -> web.Response:
    """At once, after the box was ticked; the answer names no address and leads nowhere back."""
    if form.get("confirm") != "yes":
        return message(request, lang, 400, "erase_not_confirmed", title_key="not_done_title", back=back)
    keyed_hash = request.config_dict[SERVICES].keyed_hash
    await mentions.index_messages_from(request.config_dict[DB], keyed_hash)  # before the transaction, holding none
    async with transaction(request.config_dict[DB]) as conn:
        await actions.erase(conn, keyed_hash, address, now(request))
    request.config_dict[SERVICES].outbox.wake()
    log.info("self-service erasure")
    return message(request, lang, 200, "erased")
