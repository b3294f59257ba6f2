"""Canonical form of an email address: how two spellings of one mailbox become one key.

Trimmed, the domain IDNA-encoded (A-labels) and lower-cased, the local part lower-cased;
plus tags and dots are kept. Plain ASCII addresses of the common shape take a fast path
(one regular expression); everything else goes through email-validator.
"""

from __future__ import annotations

import re

from email_validator import EmailNotValidError, validate_email
from email_validator import SPECIAL_USE_DOMAIN_NAMES

from .errors import InvalidAddress

_ATEXT = r"[a-z0-9!#$%&'*+/=?^_`{|}~-]"
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_COMMON = re.compile(
    rf"({_ATEXT}+(?:\.{_ATEXT}+)*)@((?:{_LABEL}\.)+[a-z](?:[a-z0-9-]{{0,61}}[a-z0-9])?)",
    re.ASCII,
)
_SPECIAL = frozenset(SPECIAL_USE_DOMAIN_NAMES)
_SPECIAL_SUFFIXES = tuple("." + name for name in _SPECIAL)


def _fast_canonical(lowered: str) -> str | None:
    match = _COMMON.fullmatch(lowered)
    if match is None or len(lowered) > 254 or len(match.group(1)) > 64:
        return None
    domain = match.group(2)
    if "--" in domain or domain in _SPECIAL or domain.endswith(_SPECIAL_SUFFIXES):
        return None  # punycode and special-use names: let the full check decide
    return lowered


def _full_canonical(text: str) -> str:
    try:
        info = validate_email(text, check_deliverability=False, allow_smtputf8=True, strict=True)
    except EmailNotValidError as exc:
        raise InvalidAddress(str(exc)) from None
    local = info.local_part.lower()
    if info.ascii_domain is None:
        raise InvalidAddress("The domain name cannot be encoded for DNS.")
    return f"{local}@{info.ascii_domain.lower()}"


def canonical_address(text: object) -> str:
    """Return the canonical form of an address, or raise InvalidAddress saying why."""
    if not isinstance(text, str):
        raise InvalidAddress("An address must be a string.")
    stripped = text.strip()
    if stripped.isascii():
        fast = _fast_canonical(stripped.lower())
        if fast is not None:
            return fast
    if not stripped:
        raise InvalidAddress("The address is empty.")
    return _full_canonical(stripped)


def canonical_or_none(text: object) -> str | None:
    """Canonical form, or None for an invalid address: the bulk check's hot path."""
    if type(text) is str:
        stripped = text.strip()
        if stripped.isascii():
            fast = _fast_canonical(stripped.lower())
            if fast is not None:
                return fast
    try:
        return canonical_address(text)
    except InvalidAddress:
        return None


def masked_address(address: str) -> str:
    """`j…@example.be`: enough for a person to recognise an address, not enough to harvest it."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}…@{domain}"
