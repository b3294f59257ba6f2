"""The mails of the person's own page: the link to it (Dutch with the formal "u", English or
French, plain text and HTML), and a correction the person asked for, to staff.

Both leave through the outbox (kind `self_service`), with its retries.
"""

from __future__ import annotations

from datetime import datetime, timezone
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP, SMTPUTF8
from email.utils import format_datetime, make_msgid

from ..domain.inbound.classify import FORWARD_MARKER
from ..settings import Settings
from .confirmation import MAIL_TEMPLATES

TEXTS = {
    "nl": {
        "subject": "Uw link naar wat CETIT over u bijhoudt",
        "greeting": "Goedendag,",
        "asked": "U hebt gevraagd om te zien of te wijzigen wat CETIT over dit e-mailadres bijhoudt.",
        "click": "Open de link hieronder; hij is {minutes} minuten geldig:",
        "button": "Mijn gegevens bekijken",
        "ignore": "Hebt u dit niet gevraagd? Dan hoeft u niets te doen: zonder deze link kan niemand uw "
                  "gegevens zien of wijzigen.",
        "signature": "Met vriendelijke groeten,\nCETIT",
    },
    "en": {
        "subject": "Your link to what CETIT holds about you",
        "greeting": "Hello,",
        "asked": "You asked to see or change what CETIT holds about this e-mail address.",
        "click": "Open the link below; it is valid for {minutes} minutes:",
        "button": "See my data",
        "ignore": "Did you not ask for this? Then there is nothing to do: without this link no one can see or "
                  "change your data.",
        "signature": "Kind regards,\nCETIT",
    },
    "fr": {
        "subject": "Votre lien vers ce que CETIT conserve à votre sujet",
        "greeting": "Bonjour,",
        "asked": "Vous avez demandé à voir ou à modifier ce que CETIT conserve sur cette adresse e-mail.",
        "click": "Ouvrez le lien ci-dessous ; il est valable {minutes} minutes :",
        "button": "Voir mes données",
        "ignore": "Vous n'avez rien demandé ? Alors vous n'avez rien à faire : sans ce lien, personne ne peut voir "
                  "ni modifier vos données.",
        "signature": "Cordialement,\nCETIT",
    },
}


def _message(settings: Settings, to: str, subject: str) -> EmailMessage:
    message = EmailMessage(policy=SMTP if to.isascii() else SMTPUTF8)
    local, _, domain = settings.mailto.rpartition("@")
    message["From"] = Address("CETIT", local, domain)
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(datetime.now(timezone.utc))
    message["Message-ID"] = make_msgid(domain=domain)
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-reply should answer it
    return message


def compose_link(settings: Settings, token: str, address: str, language: str) -> tuple[bytes, str, str]:
    """(the mail with the link /me/{token}, its envelope sender, its recipient)."""
    lang = language if language in TEXTS else "nl"
    context = {"t": TEXTS[lang], "lang": lang, "minutes": settings.self_service_minutes,
               "url": f"{settings.public_url.rstrip('/')}/me/{token}"}
    message = _message(settings, address, TEXTS[lang]["subject"])
    message.set_content(MAIL_TEMPLATES.get_template("mail/self_service.txt").render(context))
    message.add_alternative(MAIL_TEMPLATES.get_template("mail/self_service.html").render(context), subtype="html")
    message["Content-Language"] = lang  # after the content: set_content drops every Content-* header
    return message.as_bytes(), settings.bounce_address, address


def compose_correction(settings: Settings, address: str, words: str) -> tuple[bytes, str, str] | None:
    """The correction a person asked for on their own page, for staff; None without OPTOUT_FORWARD_TO
    (the request waits in the console all the same)."""
    if not settings.forward_to:
        return None
    message = _message(settings, settings.forward_to, "Correction asked on the own page (privacy request)")
    message["Reply-To"] = address
    message[FORWARD_MARKER] = "self-service"
    message.set_content(f"{address} asked, on their own page, to correct what CETIT holds about them "
                        f"(a privacy request of kind correction, due in one month):\n\n{words}\n")
    return message.as_bytes(), settings.mailto, settings.forward_to
