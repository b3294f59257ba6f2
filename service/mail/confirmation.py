"""The double opt-in confirmation mail, plain text and HTML, holding the signed link /c/{token} whose
page asks the person to confirm with one button. It leaves through the outbox (kind `confirmation`)."""

from __future__ import annotations

from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP, SMTPUTF8
from email.utils import format_datetime, make_msgid
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path

import jinja2

from ..domain.tokens import ConfirmationTokens
from ..settings import Settings
from ..texts import in_language
from ..texts.recipients import CONFIRMATION_MAIL

_TEMPLATES = Path(str(resources.files("service.templates")))
# The mails' templates (templates/mail/), shared by every mail a person receives.
MAIL_TEMPLATES = jinja2.Environment(loader=jinja2.FileSystemLoader(_TEMPLATES),
                                    autoescape=jinja2.select_autoescape(["html"]),
                                    keep_trailing_newline=True)


def confirmation_url(settings: Settings, tokens: ConfirmationTokens, consent_id: int) -> str:
    return f"{settings.public_url.rstrip('/')}/c/{tokens.issue(consent_id)}"


def compose(settings: Settings, tokens: ConfirmationTokens, consent_id: int, address: str, language: str,
            scope_label: str) -> tuple[bytes, str, str]:
    """(the message, its envelope sender, its recipient)."""
    texts = in_language(CONFIRMATION_MAIL, language)
    context = {"t": texts, "lang": language, "scope": scope_label,
               "url": confirmation_url(settings, tokens, consent_id)}
    message = EmailMessage(policy=SMTP if address.isascii() else SMTPUTF8)
    local, _, domain = settings.mailto.rpartition("@")
    message["From"] = Address("CETIT", local, domain)
    message["To"] = address
    message["Subject"] = texts["subject"]
    message["Date"] = format_datetime(datetime.now(timezone.utc))
    message["Message-ID"] = make_msgid(domain=domain)
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-reply should answer it
    message["Content-Language"] = language
    message.set_content(MAIL_TEMPLATES.get_template("mail/confirmation.txt").render(context))
    message.add_alternative(MAIL_TEMPLATES.get_template("mail/confirmation.html").render(context), subtype="html")
    return message.as_bytes(), settings.bounce_address, address
