"""What an inbound message is and what it asks for; pure functions, no I/O.

Evidence is weighed in this order: a complaint (ARF), a bounce (DSN or a known
non-standard form), an unsubscribe that a machine sent on the person's behalf (a signed
token in the subject or the +address, Apple Mail's X-Apple-Unsubscribe), an automatic
reply (RFC 3834 and the usual out-of-office forms), a person asking to be unsubscribed in
their own words, and otherwise a person whose message staff must read.

The machine unsubscribe comes before the auto-reply test because mail programs mark
the unsubscribe mails they send as auto-submitted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable, Iterable

from .bounces import looks_like_bounce, read_bounce
from .complaints import read_complaint
from .errors import BadToken
from .mime import addresses_in, body_text, first_address, header, parse, raw_header
from .replies import is_away_notice, own_words, unsubscribe_request
from .suppression import GLOBAL

FORWARD_MARKER = "X-Optout-Forwarded"
CLASSES = ("unsubscribe", "bounce", "complaint", "auto_reply", "human")
_TOKEN = re.compile(r"\.?[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{16,}")
_AUTO_PRECEDENCE = re.compile(r"^\s*(?:auto_reply|bulk|junk)\s*$", re.I)


@dataclass(frozen=True, slots=True)
class Envelope:
    mail_from: str | None = None
    recipients: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Suppress:
    """A suppression the message calls for."""

    address: str
    scope: str
    reason: str
    source: str


@dataclass(frozen=True)
class Verdict:
    classification: str
    evidence: str
    addresses: tuple[str, ...] = ()
    kind: str | None = None  # "hard" or "soft" for a bounce
    suppress: tuple[Suppress, ...] = ()
    soft_bounces: tuple[str, ...] = ()
    forward: bool = False
    mentioned: tuple[str, ...] = field(default=())
    sender: str | None = None
    subject: str = ""


def _sender(msg, envelope: Envelope) -> str | None:
    return (first_address(raw_header(msg, "From") or "") or first_address(envelope.mail_from or "")
            or first_address(raw_header(msg, "Reply-To") or ""))


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
    found = _TOKEN.findall(subject or "")
    for recipient in recipients:
        local = recipient.rsplit("@", 1)[0]
        if "+" in local:
            found.append(local.split("+", 1)[1])
    return found


def is_auto_submitted(msg) -> bool:
    """RFC 3834 Auto-Submitted (anything but "no"), X-Autoreply, X-Autorespond, Precedence."""
    auto = (raw_header(msg, "Auto-Submitted") or "").strip().lower()
    if auto and not auto.startswith("no"):
        return True
    if raw_header(msg, "X-Autoreply") or raw_header(msg, "X-Autorespond") or raw_header(msg, "X-Autoresponder"):
        return True
    return bool(_AUTO_PRECEDENCE.match(raw_header(msg, "Precedence") or ""))


def classify(
    raw: bytes,
    envelope: Envelope,
    verify_token: Callable,
    own: frozenset[str] = frozenset(),
) -> Verdict:
    """Classify one raw message. `verify_token` returns a LinkClaim or raises BadToken;
    `own` holds CETIT's own addresses, which are never suppressed or treated as senders."""
    msg = parse(raw)
    subject = header(msg, "Subject")
    sender = _sender(msg, envelope)
    sender_list = (sender,) if sender else ()
    base = dict(sender=sender, subject=subject)

    if raw_header(msg, FORWARD_MARKER) or (sender is not None and sender in own):
        return Verdict("auto_reply", "loop", sender_list, **base)

    complaint = read_complaint(msg, set(own))
    if complaint is not None:
        actions = tuple(Suppress(a, GLOBAL, "complaint", "arf") for a in complaint.addresses)
        return Verdict("complaint", f"arf:{complaint.feedback_type}", complaint.addresses, suppress=actions, **base)

    text = body_text(msg)
    if looks_like_bounce(msg, sender or "", subject, text):
        bounce = read_bounce(msg, sender or "", set(own))
        if bounce is not None:
            hard = tuple(f.address for f in bounce.failures if f.hard)
            soft = tuple(f.address for f in bounce.failures if not f.hard)
            return Verdict(
                "bounce", "dsn", tuple(f.address for f in bounce.failures), "hard" if hard else "soft",
                suppress=tuple(Suppress(a, GLOBAL, "bounce", "dsn") for a in hard),
                soft_bounces=soft, mentioned=bounce.mentioned, **base,
            )

    claim = _token_claim(_tokens_in(subject, _recipients(msg, envelope)), verify_token)
    if claim is not None:
        return Verdict("unsubscribe", "token", (claim.address,),
                       suppress=(Suppress(claim.address, claim.scope, "unsubscribe", "reply"),), **base)
    if (raw_header(msg, "X-Apple-Unsubscribe") or "").strip().lower() == "true" and sender:
        return Verdict("unsubscribe", "apple-mail", sender_list,
                       suppress=(Suppress(sender, GLOBAL, "unsubscribe", "reply"),), **base)

    words = own_words(text)
    if is_auto_submitted(msg) or is_away_notice(subject, words):
        return Verdict("auto_reply", "auto-reply", sender_list, **base)

    request = unsubscribe_request(subject, words, set(own) | set(sender_list)) if sender else None
    if request is not None:
        addresses = (sender, *request.named)
        return Verdict(
            "unsubscribe", f"request:{request.language}", addresses,
            suppress=tuple(Suppress(a, GLOBAL, "unsubscribe", "reply") for a in addresses),
            forward=request.says_more, **base,
        )
    return Verdict("human", "person", sender_list, forward=True, **base)
