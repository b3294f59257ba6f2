"""What a consent, a registered scope and a privacy request may hold, and how the check decides.
A suppression always blocks and is reported before `no_consent`; the person's newest act wins."""

from __future__ import annotations

import calendar
import ipaddress
from datetime import date, datetime
from enum import StrEnum

from ..errors import InvalidInput
from ..suppressions.rules import valid_text

CONSENT_RULES = ("required", "soft_opt_in", "none")
LANGUAGES = ("nl", "en", "fr")


class ConsentSource(StrEnum):
    """How a consent was given."""

    WEB_FORM = "web_form"
    PHONE = "phone"
    EVENT = "event"  # at an event, on paper or in person
    IMPORT = "import"
    API = "api"
    SELF_SERVICE = "self_service"  # the person's own page


# What a caller may name: the own page's source is given by the own page alone.
SOURCES = tuple(s for s in ConsentSource if s is not ConsentSource.SELF_SERVICE)
STATUSES = ("pending", "given", "withdrawn")
REQUEST_KINDS = ("access", "correction", "erasure", "objection")
NO_CONSENT = "no_consent"
MAX_CONFIRMATIONS_A_DAY = 3
MAX_LABEL = 200
MAX_CONSENT_TEXT = 10_000


def valid_rule(value: object) -> str:
    if value not in CONSENT_RULES:
        raise InvalidInput(f"'consent' must be one of {', '.join(CONSENT_RULES)}; got {value!r}.", field="consent")
    return value  # type: ignore[return-value]


def valid_language(value: object, field: str = "language") -> str:
    if value not in LANGUAGES:
        raise InvalidInput(f"'{field}' must be one of {', '.join(LANGUAGES)}; got {value!r}.", field=field)
    return value  # type: ignore[return-value]


def valid_source(value: object) -> str:
    if value not in SOURCES:
        raise InvalidInput(f"'source' must be one of {', '.join(SOURCES)}; got {value!r}.", field="source")
    return value  # type: ignore[return-value]


def valid_labels(value: object) -> dict[str, str]:
    """Labels by language: nl, en, fr, each a short text; at least Dutch, the default language."""
    if value is None:
        value = {}
    if not isinstance(value, dict):
        raise InvalidInput("'labels' must be an object like {\"nl\": \"Nieuwsbrief\", \"en\": \"Newsletter\"}.",
                           field="labels")
    labels = {}
    for lang, label in value.items():
        valid_language(lang, "labels")
        text = valid_text(label, f"labels.{lang}", MAX_LABEL)
        if not text or not text.strip():
            raise InvalidInput(f"'labels.{lang}' must be a non-empty text.", field="labels")
        labels[lang] = " ".join(text.split())
    if "nl" not in labels:
        raise InvalidInput("'labels' needs at least the Dutch label ('nl'): the pages are Dutch first.",
                           field="labels")
    return labels


def label_of(scope: str, labels: dict | None, lang: str) -> str:
    """A scope's label in `lang`, else Dutch, else English, else its name."""
    labels = labels or {}
    return labels.get(lang) or labels.get("nl") or labels.get("en") or scope


def valid_consent_text(value: object) -> str:
    text = valid_text(value, "text", MAX_CONSENT_TEXT)
    if text is None or not text.strip():
        raise InvalidInput("'text' is required: the exact wording the person agreed to.", field="text")
    return text


def valid_ip(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput("'ip' must be an IPv4 or IPv6 address as text.", field="ip")
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        raise InvalidInput(f"'ip' is not an IP address: {value[:60]!r}.", field="ip") from None


def due_date(received_at: datetime) -> date:
    """One month after arrival (GDPR Art. 12(3)): the same day next month, or its last day."""
    day = received_at.date()
    year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))
