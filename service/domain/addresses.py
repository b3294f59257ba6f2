"""Canonical form of an email address: how two spellings of one mailbox become one key.

Trimmed, the domain IDNA-encoded (A-labels) and lower-cased, the local part lower-cased;
plus tags and dots are kept. Plain ASCII addresses of the common shape take a fast path
(one regular expression); everything else goes through email-validator.
"""

from __future__ import annotations

import re
from typing import Sequence

from email_validator import EmailNotValidError, validate_email
from email_validator import SPECIAL_USE_DOMAIN_NAMES

from .errors import InvalidAddress

_ATEXT = r"[a-z0-9!#$%&'*+/=?^_`{|}~-]"
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_LOCAL = rf"{_ATEXT}+(?:\.{_ATEXT}+)*"
_DOMAIN = rf"(?:{_LABEL}\.)+[a-z](?:[a-z0-9-]{{0,61}}[a-z0-9])?"
_COMMON = re.compile(rf"({_LOCAL})@({_DOMAIN})", re.ASCII)
_SPECIAL = frozenset(SPECIAL_USE_DOMAIN_NAMES)
_SPECIAL_SUFFIXES = tuple("." + name for name in _SPECIAL)
# The same rules for a whole batch, one address a line, in one call into the regex engine;
# no special-use top-level domain. The length limits (local part 64, address 254) hold when
# no line is longer than 64 characters, which is checked after the match.
_LINE = rf"{_LOCAL}@{_DOMAIN}" + "".join(rf"(?<!\.{re.escape(name)})" for name in sorted(_SPECIAL))
_LINES = re.compile(rf"(?:{_LINE}\n)*+{_LINE}", re.ASCII)
SHORT_ENOUGH = 64
BATCH = 1000


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


def canonical_batch(items: Sequence[object]) -> list[str | None]:
    """canonical_or_none of each item, in order, for the bulk check's hot path.

    A chunk of plain addresses of the common shape is checked by one regular expression
    over the chunk; a chunk with anything else (non-ASCII, punycode, an invalid address)
    goes address by address.
    """
    out: list[str | None] = []
    for start in range(0, len(items), BATCH):
        chunk = items[start:start + BATCH]
        fast = _fast_chunk(chunk)
        out.extend(fast if fast is not None else [canonical_or_none(item) for item in chunk])
    return out


def _fast_chunk(chunk: Sequence[object]) -> list[str] | None:
    try:
        text = "\n".join([item.strip() for item in chunk])  # type: ignore[union-attr]
    except (AttributeError, TypeError):
        return None
    if not text.isascii() or "--" in text:
        return None
    lowered = text.lower()
    if _LINES.fullmatch(lowered) is None:
        return None
    lines = lowered.split("\n")
    if len(lines) != len(chunk) or max(map(len, lines)) > SHORT_ENOUGH:
        return None  # an item held a line break, or is long enough to need the length checks
    return lines


def masked_address(address: str) -> str:
    """`j…@example.be`: enough for a person to recognise an address, not enough to harvest it."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}…@{domain}"
