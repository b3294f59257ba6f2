"""The double opt-in pages: GET /c/{token} asks, POST /c/{token} confirms (CONTRACT: Consent).

A GET never changes anything (mail scanners and link previews fetch every link); only the
page's button confirms, and the answer comes after the consent is committed, with the time,
IP and user agent of the confirmation. A link older than OPTOUT_CONFIRM_MAX_AGE_DAYS confirms
nothing, and its page says what to do instead. Dutch (formal "u") first, English and French.
"""

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
from .consents import confirmation_tokens
from .keys import DB, READS, SETTINGS
from .pages import render
from .payload import form_fields
from .texts import LANGUAGES, ME_TEXTS, choose_language

log = logging.getLogger("optout.consent")

LANGUAGE = web.RequestKey("confirm_language", str)

TEXTS = {
    "nl": {
        "title": "Bevestig uw inschrijving",
        "intro": "Bevestig dat u mails van CETIT wilt ontvangen op {address}: {scope}.",
        "button": "Ja, ik schrijf mij in",
        "after": "U kunt zich op elk moment weer uitschrijven met de link onderaan elke mail.",
        "done_title": "Uw inschrijving is bevestigd",
        "done": "Dank u. {address} ontvangt voortaan: {scope}.",
        "bad_link_title": "Deze link werkt niet",
        "bad_link": "De link is beschadigd of onvolledig. Kopieer de volledige link uit de mail, of schrijf u "
                    "opnieuw in.",
        "gone_title": "Deze bevestiging geldt niet meer",
        "gone": "Deze inschrijving werd intussen ingetrokken of gewist. Schrijf u opnieuw in als u toch mails "
                "wilt ontvangen.",
        "expired_title": "Deze link is verlopen",
        "expired": "Een bevestigingslink is maar een beperkte tijd geldig, en deze is verlopen: er is niets "
                   "bevestigd. Wilt u toch mails van CETIT ontvangen? Schrijf u opnieuw in waar u zich had "
                   "ingeschreven; u krijgt dan een nieuwe link.",
        "problem": "Er is niets veranderd. Probeer het over enkele minuten opnieuw.",
        "not_done": "Gebruik de knop hieronder om te bevestigen.",
        "language": "Taal",
    },
    "en": {
        "title": "Confirm your subscription",
        "intro": "Please confirm that you want to receive mail from CETIT at {address}: {scope}.",
        "button": "Yes, subscribe me",
        "after": "You can unsubscribe at any time with the link at the bottom of every mail.",
        "done_title": "Your subscription is confirmed",
        "done": "Thank you. {address} will now receive: {scope}.",
        "bad_link_title": "This link does not work",
        "bad_link": "The link is damaged or incomplete. Copy the whole link from the mail, or subscribe again.",
        "gone_title": "This confirmation no longer counts",
        "gone": "This subscription was withdrawn or erased since. Subscribe again if you still want mail.",
        "expired_title": "This link has expired",
        "expired": "A confirmation link is valid for a limited time only, and this one has expired: nothing has "
                   "been confirmed. If you still want mail from CETIT, sign up again where you signed up; you will "
                   "get a new link.",
        "problem": "Nothing has changed. Please try again in a few minutes.",
        "not_done": "Use the button below to confirm.",
        "language": "Language",
    },
    "fr": {
        "title": "Confirmez votre inscription",
        "intro": "Confirmez que vous souhaitez recevoir des e-mails de CETIT à l'adresse {address} : {scope}.",
        "button": "Oui, je m'inscris",
        "after": "Vous pouvez vous désinscrire à tout moment avec le lien en bas de chaque e-mail.",
        "done_title": "Votre inscription est confirmée",
        "done": "Merci. {address} recevra désormais : {scope}.",
        "bad_link_title": "Ce lien ne fonctionne pas",
        "bad_link": "Le lien est endommagé ou incomplet. Copiez le lien complet depuis l'e-mail, ou inscrivez-vous "
                    "à nouveau.",
        "gone_title": "Cette confirmation n'est plus valable",
        "gone": "Cette inscription a été retirée ou effacée entre-temps. Inscrivez-vous à nouveau si vous souhaitez "
                "toujours recevoir des e-mails.",
        "expired_title": "Ce lien a expiré",
        "expired": "Un lien de confirmation n'est valable que pendant une durée limitée, et celui-ci a expiré : "
                   "rien n'a été confirmé. Si vous souhaitez toujours recevoir des e-mails de CETIT, "
                   "inscrivez-vous à nouveau là où vous vous étiez inscrit ; vous recevrez un nouveau lien.",
        "problem": "Rien n'a changé. Veuillez réessayer dans quelques minutes.",
        "not_done": "Utilisez le bouton ci-dessous pour confirmer.",
        "language": "Langue",
    },
}


def _language(request: web.Request, form: dict | None = None) -> str:
    chosen = (form or {}).get("lang") or request.query.get("lang")
    request[LANGUAGE] = lang = choose_language(chosen, request.headers.get("Accept-Language"))
    return lang


def _page(request: web.Request, lang: str, status: int, title: str, intro: str, show_form: bool = False,
          ) -> web.Response:
    return render(request, "confirm.html", {
        "t": TEXTS[lang], "lang": lang, "title": title, "intro": intro, "show_form": show_form,
        "me_link": ME_TEXTS[lang]["see_me"],
        "languages": LANGUAGES if request.method == "GET" else ()}, status)


def error_page(request: web.Request, answer: Answer, error: BaseException) -> web.Response:
    lang = request.get(LANGUAGE) or _language(request)
    t = TEXTS[lang]
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
    lang = _language(request)
    consent_id = _consent_id(request)

    async def read(conn):
        consent = await ledger.pending(conn, consent_id, max_age=_max_age(request))
        return consent, await _describe(conn, consent, lang)

    consent, described = await request.config_dict[READS].read(read)
    t = TEXTS[lang]
    if consent.status == "given":
        return _page(request, lang, 200, t["done_title"], t["done"].format(**described))
    if consent.status == "withdrawn":
        raise Conflict("This consent was withdrawn since.")
    return _page(request, lang, 200, t["title"], t["intro"].format(**described), show_form=True)


async def confirm(request: web.Request) -> web.Response:
    _language(request)
    consent_id = _consent_id(request)
    form = await form_fields(request)
    lang = _language(request, form)
    t = TEXTS[lang]
    if form.get("confirm") != "yes":  # no button pressed: offer it again, unless the link has expired
        await request.config_dict[READS].read(lambda conn: ledger.pending(conn, consent_id, max_age=_max_age(request)))
        return _page(request, lang, 400, t["title"], t["not_done"], show_form=True)
    async with transaction(request.config_dict[DB]) as conn:
        consent = await ledger.confirm(conn, consent_id, request.remote, request.headers.get("User-Agent"),
                                       max_age=_max_age(request))
        described = await _describe(conn, consent, lang)
    log.info("consent %d confirmed in scope %s", consent.id, consent.scope)
    return _page(request, lang, 200, t["done_title"], t["done"].format(**described))
