"""The mails of the person's own page: the link to it (plain text and HTML, in their language), and
a correction the person asked for, to staff. Both leave through the outbox (kind `self_service`)."""

from __future__ import annotations

from datetime import datetime, timezone
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP, SMTPUTF8
from email.utils import format_datetime, make_msgid

from ..domain.inbound.classify import FORWARD_MARKER
from ..settings import Settings
from ..texts import in_language, offered
from ..texts.recipients import SELF_SERVICE_MAIL
from .confirmation import MAIL_TEMPLATES


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
    lang = offered(language)
    texts = in_language(SELF_SERVICE_MAIL, lang)
    context = {"t": texts, "lang": lang, "minutes": settings.self_service_minutes,
               "url": f"{settings.public_url.rstrip('/')}/me/{token}"}
    message = _message(settings, address, texts["subject"])
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
