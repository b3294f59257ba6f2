"""Canonical form of an email address: how two spellings of one mailbox become one key.
Limits on mail to a person count by the mailbox (no plus tag, no Gmail dots)."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Sequence

import email_validator
from email_validator import EmailNotValidError, validate_email
from email_validator import SPECIAL_USE_DOMAIN_NAMES
from email_validator.syntax import validate_email_domain_name, validate_email_length, validate_email_local_part
from email_validator.types import ValidatedEmail

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
MAX_DOMAIN = 255
BATCH = 1000


# "=?" opens an RFC 2047 encoded word: a mail library decodes one in a local part when the
# address is set as To or Reply-To (=?utf-8?q?victim=40example.com=3e?=@evil.com), so the
# address read back is another one, or holds a line break. Such a local part is refused.
_ENCODED_WORD = "=?"
ENCODED_WORD_REFUSED = ("The part before the @-sign cannot hold '=?': mail programs read it as an encoded word "
                        "(RFC 2047) and would see another address.")


def _fast_canonical(lowered: str) -> str | None:
    match = _COMMON.fullmatch(lowered)
    if match is None or len(lowered) > 254 or len(match.group(1)) > 64 or _ENCODED_WORD in lowered:
        return None
    domain = match.group(2)
    if "--" in domain or domain in _SPECIAL or domain.endswith(_SPECIAL_SUFFIXES):
        return None  # punycode and special-use names: let the full check decide
    return lowered


def _slow_canonical(stripped: str) -> str:
    """The full validator's answer, by the shortcut when the address has the plain shape."""
    shortcut = _international_canonical(stripped)
    canonical = shortcut if shortcut is not None else _full_canonical(stripped)
    if _ENCODED_WORD in canonical.rpartition("@")[0]:
        raise InvalidAddress(ENCODED_WORD_REFUSED)
    return canonical


def _international_canonical(text: str) -> str | None:
    """What _full_canonical answers, for an address of the plain shape (one @, no quotes, no
    angle brackets or brackets, already NFC), or None when the address is not of that shape.

    It takes email-validator's own steps in its order: for such text its splitting (which looks
    for an @ that no combining character changes) finds the one @, and the local part needs no
    normalisation. The domain step, most of the cost (IDNA), is remembered per domain: a
    batch of international addresses mostly shares a few domains.
    """
    if "@" not in text:  # however it is quoted or bracketed, an address has one
        raise InvalidAddress("An email address must have an @-sign.")
    if '"' in text or "<" in text or text.count("@") != 1 or not unicodedata.is_normalized("NFC", text):
        return None
    local, _, domain = text.partition("@")
    if not domain or domain.startswith("[") or len(domain) > MAX_DOMAIN:
        return None  # a literal, or too long for a domain: not worth remembering
    try:
        local_info = validate_email_local_part(local, allow_smtputf8=True, allow_empty_local=False,
                                               quoted_local_part=False, strict=True)
    except EmailNotValidError as exc:
        raise InvalidAddress(str(exc)) from None
    domain_info = _domain_forms(domain)
    if isinstance(domain_info, str):
        raise InvalidAddress(domain_info)
    address = ValidatedEmail()
    address.original = text
    address.local_part = local_info["local_part"]
    address.ascii_local_part = local_info["ascii_local_part"]
    address.domain, address.ascii_domain = domain_info
    address.normalized = address.local_part + "@" + address.domain
    try:
        validate_email_length(address)
    except EmailNotValidError as exc:
        raise InvalidAddress(str(exc)) from None
    return f"{address.local_part.lower()}@{address.ascii_domain.lower()}"


@lru_cache(maxsize=4096)
def _domain_forms(domain: str) -> tuple[str, str] | str:
    """(normalised domain, IDNA ASCII domain) as email-validator finds them, or why it refuses."""
    try:
        info = validate_email_domain_name(domain, test_environment=email_validator.TEST_ENVIRONMENT,
                                          globally_deliverable=email_validator.GLOBALLY_DELIVERABLE)
    except EmailNotValidError as exc:
        return str(exc)
    if info["ascii_domain"] is None:
        return "The domain name cannot be encoded for DNS."
    return info["domain"], info["ascii_domain"]


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
    return _slow_canonical(stripped)


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


def plain_batch(items: Sequence[object]) -> list[str] | None:
    """canonical_batch of items that are all plain addresses of the common shape (a few
    microseconds each, one regular expression a chunk); None when any is not."""
    out: list[str] = []
    for start in range(0, len(items), BATCH):
        fast = _fast_chunk(items[start:start + BATCH])
        if fast is None:
            return None
        out.extend(fast)
    return out


def _fast_chunk(chunk: Sequence[object]) -> list[str] | None:
    try:
        text = "\n".join([item.strip() for item in chunk])  # type: ignore[union-attr]
    except (AttributeError, TypeError):
        return None
    if not text.isascii() or "--" in text or _ENCODED_WORD in text:
        return None
    lowered = text.lower()
    if _LINES.fullmatch(lowered) is None:
        return None
    lines = lowered.split("\n")
    if len(lines) != len(chunk) or max(map(len, lines)) > SHORT_ENOUGH:
        return None  # an item held a line break, or is long enough to need the length checks
    return lines


# Gmail delivers to one mailbox whatever dots its local part has, and googlemail.com is the
# same service under another name: the name the mailbox is counted under.
_DOTS_IGNORED = frozenset({"gmail.com", "googlemail.com"})
_GMAIL = "gmail.com"


def mailbox_of(text: object) -> str:
    """The mailbox an address reaches: its canonical form without the `+tag` of its local part,
    and at Gmail without the dots of it, `googlemail.com` counted as `gmail.com`.

    Mail to `jan+news@` and `jan+1@` lands in the one mailbox of `jan@` wherever subaddressing
    is on (RFC 5233), and Gmail delivers `jan.peeters@`, `j.anpeeters@` and `janpeeters@` (at
    gmail.com or googlemail.com) to one mailbox too. A limit on what is sent to a person counts
    per mailbox (confirmation and self-service mails): else every form is a fresh allowance to
    flood that person. Elsewhere dots stay, as in the canonical form: other providers may tell
    `jan.peeters@` and `janpeeters@` apart. A local part that is only a tag (`+x@`) leaves an
    empty one: all such forms count as one. The result is a key for counting, never shown and
    never written to. Migration 0016 computes the same key in SQL for the consents recorded
    before it. Raises InvalidAddress as canonical_address does.
    """
    local, _, domain = canonical_address(text).rpartition("@")
    local = local.partition("+")[0]
    if domain in _DOTS_IGNORED:
        return f"{local.replace('.', '')}@{_GMAIL}"
    return f"{local}@{domain}"


def masked_address(address: str) -> str:
    """`j…@example.be`: enough for a person to recognise an address, not enough to harvest it."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}…@{domain}"
