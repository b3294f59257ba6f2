"""What an inbound message is and what it asks for; pure functions, no I/O.
Evidence is weighed in the order STEPS lists; each suppression says what evidence it rests on."""

from __future__ import annotations

import re
from email.errors import InvalidHeaderDefect
from email.message import Message
from typing import Callable, Iterable

from ..addresses import canonical_or_none
from ..errors import BadToken
from ..suppressions.rules import GLOBAL
from ..tokens import MAX_TOKEN_LENGTH
from .authentication import dmarc_failure
from .away import auto_reply_verdict, is_auto_submitted
from .bounces import bounce_verdict, looks_like_bounce
from .complaints import complaint_verdict
from .mime import addresses_in, all_text, first_address, header, parse, raw_header, walk
from .model import LOOP, Basis, BounceKind, Classification, Envelope, Suppress, Verdict
from .privacy import privacy_verdict
from .asked import request_verdict, unless_dmarc_failed
from .reading import Reading

# The values of a verdict live in model.py; they are named here too, where callers look for them.
__all__ = ["FORWARD_MARKER", "LOOP", "STEPS", "Basis", "BounceKind", "Classification", "Envelope", "Reading",
           "Suppress", "Verdict", "classify", "from_address", "is_our_forward_again", "plain_address"]

FORWARD_MARKER = "X-Optout-Forwarded"
MAX_SUBJECT = 998  # characters of the Subject searched for a token (RFC 5322's line limit)
MAX_TOKEN_CANDIDATES = 20
# A token is itsdangerous' payload.timestamp.signature (the payload starts with "." when
# compressed). Each word of the subject is matched whole: the dots delimit the runs, so
# nothing backtracks and the cost is linear in the subject.
# A link token as links carry them now (opaque, URL-safe base64), or as older links carried them
# (itsdangerous: three dotted parts).
_TOKEN = re.compile(r"[A-Za-z0-9_-]{30,400}+|\.?+[A-Za-z0-9_-]{6,}+\.[A-Za-z0-9_-]{4,}+\.[A-Za-z0-9_-]{16,}+")
_NOT_TOKEN_TEXT = re.compile(r"[^A-Za-z0-9_.-]+")
_MARKER_LINE = re.compile(r"^[ \t>]*+" + re.escape(FORWARD_MARKER) + r"[ \t]*+:", re.I | re.M)


def plain_address(value: str) -> str | None:
    """An address written alone (no display name, no comment), canonical when it can be."""
    value = (value or "").strip()
    if not value or len(value) > 254 or first_address(value) != value.lower():
        return None
    return canonical_or_none(value) or value.lower()


def from_address(msg: Message) -> str | None:
    """The address in the angle brackets of the one From header, parsed by headerregistry.

    A From that is missing, repeated, names several mailboxes, or that the parser had to
    guess at (an unquoted display name with an @ is read as the address) gives no sender.
    """
    try:
        if sum(1 for name, _value in msg.raw_items() if name.lower() == "from") != 1:
            return None
        parsed = msg["From"]
        mailboxes = parsed.addresses
        if len(mailboxes) != 1 or any(isinstance(d, InvalidHeaderDefect) for d in parsed.defects):
            return None
        return plain_address(mailboxes[0].addr_spec)
    except Exception:  # a header that cannot be parsed is no sender
        return None


def _sender(msg: Message, envelope: Envelope) -> str | None:
    return from_address(msg) or plain_address((envelope.mail_from or "").strip().strip("<>"))


def _recipients(msg, envelope: Envelope) -> list[str]:
    found = list(envelope.recipients)
    for name in ("Delivered-To", "X-Original-To", "To", "Cc"):
        value = raw_header(msg, name)
        if value:
            found.extend(addresses_in(value) or [value.strip()])
    return found


def _token_claim(candidates: Iterable[str], verify_token: Callable):
    for candidate in candidates:
        try:
            return verify_token(candidate)
        except BadToken:
            continue
    return None


def _tokens_in(subject: str, recipients: list[str]) -> list[str]:
    """Token candidates: whole words of the bounded subject, then +addresses' tags."""
    found = []
    for word in _NOT_TOKEN_TEXT.split((subject or "")[:MAX_SUBJECT]):
        word = word.rstrip(".")
        if len(word) <= MAX_TOKEN_LENGTH and _TOKEN.fullmatch(word):
            found.append(word)
    for recipient in recipients:
        local = recipient.rsplit("@", 1)[0]
        if "+" in local:
            found.append(local.split("+", 1)[1])
    return found[:MAX_TOKEN_CANDIDATES]


def is_our_forward_again(msg: Message, subject: str, sender: str | None, own: frozenset[str]) -> bool:
    """Whether the message is, carries or quotes a forward of ours, so forwarding it would loop.

    Our forwards carry FORWARD_MARKER and attach the original: the marker in any part
    (a bounce or a person attaching the forward, however deep within the walk's bounds),
    the marker line quoted in any text (a bounce without a DSN part that pastes the
    headers back), or a bounce or auto-reply about a subject of ours all come back to us.
    """
    if sender is not None and sender in own:
        return True
    if any(raw_header(part, FORWARD_MARKER) is not None for part in walk(msg)):
        return True
    if _MARKER_LINE.search(all_text(msg)):
        return True
    lowered = subject[:MAX_SUBJECT].lower()
    if any(f"[{address}]" in lowered for address in own):
        return is_auto_submitted(msg) or looks_like_bounce(msg, sender or "", subject)
    return False


def _our_forward_again(reading: Reading) -> Verdict | None:
    if is_our_forward_again(reading.msg, reading.subject, reading.sender, reading.own):
        return reading.verdict(Classification.AUTO_REPLY, LOOP, reading.sender_list)
    return None


def _token_unsubscribe(reading: Reading) -> Verdict | None:
    """A link token CETIT signed, in the subject or a +address: it unsubscribes in its scope."""
    claim = _token_claim(_tokens_in(reading.subject, _recipients(reading.msg, reading.envelope)), reading.verify_token)
    if claim is None:
        return None
    named = (claim.address,) if claim.address else ()
    return reading.verdict(Classification.UNSUBSCRIBE, "token", named,
                           suppress=(Suppress(claim.address or "", claim.scope, "unsubscribe", "reply", Basis.TOKEN,
                                              recipient_id=claim.recipient_id),), carried=claim)


def _apple_unsubscribe(reading: Reading) -> Verdict | None:
    """Apple Mail's unsubscribe (X-Apple-Unsubscribe: true), which it marks as auto-submitted."""
    if (raw_header(reading.msg, "X-Apple-Unsubscribe") or "")[:20].strip().lower() != "true" or not reading.sender:
        return None
    apple = reading.verdict(Classification.UNSUBSCRIBE, "apple-mail", reading.sender_list,
                            suppress=(Suppress(reading.sender, GLOBAL, "unsubscribe", "reply", Basis.SELF),))
    return unless_dmarc_failed(apple, dmarc_failure(reading.msg, reading.sender, reading.trusted_authserv_id))


# How a message is classified: each step in turn, the first verdict wins; a person's message
# (HUMAN, forwarded to staff) when none gives one.
STEPS: tuple[Callable[[Reading], Verdict | None], ...] = (
    _our_forward_again,  # our own forward coming back: a loop, never forwarded again
    complaint_verdict,  # a complaint: ARF, Microsoft's JMRP, Amazon SES
    bounce_verdict,  # a bounce: DSN fields or a known non-standard form
    _token_unsubscribe,  # a signed link token in the subject or a +address
    _apple_unsubscribe,  # Apple Mail's unsubscribe, before auto-replies: it is marked auto-submitted
    auto_reply_verdict,  # an automatic reply: RFC 3834 headers or an out-of-office notice
    privacy_verdict,  # a person exercising a data-protection right, read by staff
    request_verdict,  # a person asking in their own words to be unsubscribed
)


def classify(
    raw: bytes,
    envelope: Envelope,
    verify_token: Callable,
    own: frozenset[str] = frozenset(),
    *,
    trusted_authserv_id: str | None = None,
) -> Verdict:
    """Classify one raw message. `verify_token` returns a LinkClaim or raises BadToken;
    `own` holds CETIT's own addresses, which are never suppressed or treated as senders;
    Authentication-Results count only from `trusted_authserv_id` (None: all are ignored)."""
    msg = parse(raw)
    reading = Reading(msg, header(msg, "Subject"), _sender(msg, envelope), envelope, own, verify_token,
                      trusted_authserv_id)
    for step in STEPS:
        verdict = step(reading)
        if verdict is not None:
            return verdict
    return reading.verdict(Classification.HUMAN, "person", reading.sender_list, forward=True)
