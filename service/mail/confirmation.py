"""The double opt-in confirmation mail: Dutch (formal "u"), English or French, plain text and HTML.

It holds the signed link /c/{token}, whose page asks the person to confirm with one button.
It leaves through the outbox (kind `confirmation`), with the outbox's retries.
"""

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

_TEMPLATES = Path(str(resources.files("service.templates")))
# The mails' templates (templates/mail/), shared by every mail a person receives.
MAIL_TEMPLATES = jinja2.Environment(loader=jinja2.FileSystemLoader(_TEMPLATES),
                                    autoescape=jinja2.select_autoescape(["html"]),
                                    keep_trailing_newline=True)

TEXTS = {
    "nl": {
        "subject": "Bevestig uw inschrijving bij CETIT",
        "greeting": "Goedendag,",
        "asked": "U hebt gevraagd om mails van CETIT te ontvangen: {scope}.",
        "click": "Klik op de link hieronder en bevestig op de pagina die opent:",
        "click_html": "Werkt de knop niet? Open dan deze link:",
        "button": "Inschrijving bevestigen",
        "ignore": "Hebt u dit niet gevraagd? Dan hoeft u niets te doen: zonder bevestiging sturen wij u niets.",
        "signature": "Met vriendelijke groeten,\nCETIT",
    },
    "en": {
        "subject": "Please confirm your subscription to CETIT",
        "greeting": "Hello,",
        "asked": "You asked to receive mail from CETIT: {scope}.",
        "click": "Open the link below and confirm on the page that opens:",
        "click_html": "Does the button not work? Open this link:",
        "button": "Confirm my subscription",
        "ignore": "Did you not ask for this? Then there is nothing to do: without confirmation we send you nothing.",
        "signature": "Kind regards,\nCETIT",
    },
    "fr": {
        "subject": "Confirmez votre inscription auprès de CETIT",
        "greeting": "Bonjour,",
        "asked": "Vous avez demandé à recevoir des e-mails de CETIT : {scope}.",
        "click": "Ouvrez le lien ci-dessous et confirmez sur la page qui s'affiche :",
        "click_html": "Le bouton ne fonctionne pas ? Ouvrez ce lien :",
        "button": "Confirmer mon inscription",
        "ignore": "Vous n'avez rien demandé ? Alors vous n'avez rien à faire : sans confirmation, nous ne vous "
                  "envoyons rien.",
        "signature": "Cordialement,\nCETIT",
    },
}


def confirmation_url(settings: Settings, tokens: ConfirmationTokens, consent_id: int) -> str:
    return f"{settings.public_url.rstrip('/')}/c/{tokens.issue(consent_id)}"


def compose(settings: Settings, tokens: ConfirmationTokens, consent_id: int, address: str, language: str,
            scope_label: str) -> tuple[bytes, str, str]:
    """(the message, its envelope sender, its recipient)."""
    texts = TEXTS.get(language, TEXTS["nl"])
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
