"""Every text a person reads, in one catalogue: recipients.py (pages and mails) and staff.py (the
console). `in_language` gives a table's texts in a language, in Dutch when that one is not offered."""

from __future__ import annotations

LANGUAGES = ("nl", "en", "fr")
DEFAULT_LANGUAGE = "nl"


def offered(lang: str | None) -> str:
    """`lang` when the catalogue offers it, else Dutch."""
    return lang if lang in LANGUAGES else DEFAULT_LANGUAGE


def in_language(table: dict[str, dict], lang: str | None) -> dict:
    """One table's texts (recipients.py: language -> key -> text) in `lang`, else in Dutch."""
    return table[offered(lang)]


def choose_language(query_lang: str | None, accept_language: str | None) -> str:
    """?lang= first, then the best of Accept-Language by q-value, else Dutch."""
    if query_lang in LANGUAGES:
        return query_lang
    best, best_q = DEFAULT_LANGUAGE, 0.0
    for position, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        primary = tag.strip().lower().split("-")[0]
        if primary not in LANGUAGES:
            continue
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        q -= position * 1e-6  # earlier wins among equals
        if q > best_q:
            best, best_q = primary, q
    return best
