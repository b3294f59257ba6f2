"""What an inbound message is and what it asks for; pure functions, no I/O.

Evidence is weighed in this order: our own forward coming back (never forwarded again), a
complaint (ARF), a bounce (DSN or a known non-standard form), an unsubscribe that a machine
sent on the person's behalf (a signed token in the subject or the +address, Apple Mail's
X-Apple-Unsubscribe), an automatic reply (RFC 3834 and the usual out-of-office forms), a
person asking to be unsubscribed in their own words, and otherwise a person whose message
staff must read.

The machine unsubscribe comes before the auto-reply test because mail programs mark
the unsubscribe mails they send as auto-submitted.

Mail is spoofed every day, so each proposed suppression says on what evidence it rests
(`Basis`): a verified token and the sender's own request stand alone (one address, as the
`mailto:` link in every mail allows), while an address taken from a report or named in
someone's words is acted on only when CETIT knows it, which `inbound.act_on` checks. The
sender is the address in From's angle brackets, never one read from a display name; when
the trusted MX's Authentication-Results says DMARC failed for its domain, the sender's
words are not acted on and the message goes to staff.
"""

from __future__ import annotations

import re
from dataclasses import replace
from email.errors import InvalidHeaderDefect
from email.message import Message
from typing import Callable, Iterable

from ..addresses import canonical_or_none
from ..errors import BadToken
from ..suppressions.rules import GLOBAL
from ..suppressions.tokens import MAX_TOKEN_LENGTH
from .bounces import looks_like_bounce, read_bounce
from .carried import carried_claim
from .complaints import read_complaint
from .mime import addresses_in, all_text, body_text, first_address, header, parse, raw_header, walk
from .model import LOOP, Basis, BounceKind, Classification, Envelope, Suppress, Verdict
from .privacy import privacy_request
from .authentication import dmarc_failure
from .away import is_away_notice
from .replies import own_words, unsubscribe_request

# The values of a verdict live in model.py; they are named here too, where callers look for them.
__all__ = ["FORWARD_MARKER", "LOOP", "Basis", "BounceKind", "Classification", "Envelope", "Suppress", "Verdict",
           "classify", "from_address", "is_auto_submitted", "is_our_forward_again", "plain_address"]

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
_AUTO_PRECEDENCE = frozenset({"auto_reply", "bulk", "junk"})
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


def is_auto_submitted(msg) -> bool:
    """RFC 3834 Auto-Submitted (anything but "no"), X-Autoreply, X-Autorespond, Precedence."""
    auto = (raw_header(msg, "Auto-Submitted") or "")[:200].strip().lower()
    if auto and not auto.startswith("no"):
        return True
    if raw_header(msg, "X-Autoreply") or raw_header(msg, "X-Autorespond") or raw_header(msg, "X-Autoresponder"):
        return True
    return (raw_header(msg, "Precedence") or "")[:200].strip().lower() in _AUTO_PRECEDENCE


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


def _unless_dmarc_failed(verdict: Verdict, failure: str) -> Verdict:
    """The sender's words stand only when DMARC did not fail; otherwise staff decide."""
    if not failure:
        return verdict
    return replace(verdict, evidence=f"{verdict.evidence};dmarc=fail", suppress=(), withheld=verdict.suppress,
                   withheld_reason=failure, forward=True)


def _asked_for(sender: str, request, self_too: bool = False) -> tuple[Suppress, ...]:
    """What a person's request asks to stop: the sender when it is for them (a request about an
    old address only is not), and every address it names, which counts only when known."""
    named = request.named if request is not None else ()
    mine = self_too or (request is not None and request.for_sender)
    return (*((Suppress(sender, GLOBAL, "unsubscribe", "reply", Basis.SELF),) if mine else ()),
            *(Suppress(a, GLOBAL, "unsubscribe", "reply", Basis.NAMED) for a in named))


def _report_verdict(msg: Message, sender: str | None, subject: str, text: str, own: frozenset[str],
                    base: dict, verify_token: Callable) -> Verdict | None:
    """A complaint or a bounce: addresses taken from a report, so acted on only when known. The
    link the report carries of the original copy says whose copy it was: a complaint suppresses
    that recipient too (the token is CETIT's own evidence, as a one-click would be), even when the
    report hides the address, as feedback loops often do."""
    complaint = read_complaint(msg, set(own))
    if complaint is not None:
        carried = carried_claim(msg, verify_token)
        actions = tuple(Suppress(a, GLOBAL, "complaint", "arf", Basis.REPORT) for a in complaint.addresses)
        if carried is not None:
            actions += (Suppress(carried.address or "", GLOBAL, "complaint", "arf", Basis.TOKEN,
                                 recipient_id=carried.recipient_id),)
        return Verdict(Classification.COMPLAINT, f"arf:{complaint.feedback_type}", complaint.addresses,
                       suppress=actions, carried=carried, **base)
    if not looks_like_bounce(msg, sender or "", subject, text):
        return None
    bounce = read_bounce(msg, sender or "", set(own))
    if bounce is None:
        return None
    failures = [f for f in bounce.failures if f.address not in own]
    if not failures:  # our own mail to our own mailbox came back: a loop, not a recipient
        return Verdict(Classification.AUTO_REPLY, LOOP, **base)
    hard = tuple(f.address for f in failures if f.hard)
    soft = tuple(f.address for f in failures if not f.hard)
    return Verdict(
        Classification.BOUNCE, "dsn", tuple(f.address for f in failures), BounceKind.HARD if hard else BounceKind.SOFT,
        suppress=tuple(Suppress(a, GLOBAL, "bounce", "dsn", Basis.REPORT) for a in hard),
        soft_bounces=soft, mentioned=bounce.mentioned, carried=carried_claim(msg, verify_token), **base,
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
    subject = header(msg, "Subject")
    sender = _sender(msg, envelope)
    sender_list = (sender,) if sender else ()
    base = dict(sender=sender, subject=subject)

    if is_our_forward_again(msg, subject, sender, own):
        return Verdict(Classification.AUTO_REPLY, LOOP, sender_list, **base)

    text = body_text(msg)
    report = _report_verdict(msg, sender, subject, text, own, base, verify_token)
    if report is not None:
        return report

    claim = _token_claim(_tokens_in(subject, _recipients(msg, envelope)), verify_token)
    if claim is not None:
        named = (claim.address,) if claim.address else ()
        return Verdict(Classification.UNSUBSCRIBE, "token", named,
                       suppress=(Suppress(claim.address or "", claim.scope, "unsubscribe", "reply", Basis.TOKEN,
                                          recipient_id=claim.recipient_id),), carried=claim, **base)
    if (raw_header(msg, "X-Apple-Unsubscribe") or "")[:20].strip().lower() == "true" and sender:
        apple = Verdict(Classification.UNSUBSCRIBE, "apple-mail", sender_list,
                        suppress=(Suppress(sender, GLOBAL, "unsubscribe", "reply", Basis.SELF),), **base)
        return _unless_dmarc_failed(apple, dmarc_failure(msg, sender, trusted_authserv_id))

    words = own_words(text)
    if is_auto_submitted(msg) or is_away_notice(subject, words):
        return Verdict(Classification.AUTO_REPLY, "auto-reply", sender_list, **base)

    request = unsubscribe_request(subject, words, set(own) | set(sender_list)) if sender else None
    ask = privacy_request(subject, words) if sender else None
    if ask is not None:
        # Recorded with its due date and read by staff; an objection to direct marketing, or a
        # request to stop written beside it, also suppresses the sender (CONTRACT: Inbound mail).
        wanted = _asked_for(sender, request, self_too="objection" in ask.kinds)
        asked = Verdict(Classification.PRIVACY_REQUEST, f"privacy:{'+'.join(ask.kinds)}:{ask.language}",
                        (sender, *(request.named if request else ())), suppress=wanted, forward=True,
                        privacy=ask.kinds, **base)
        return _unless_dmarc_failed(asked, dmarc_failure(msg, sender, trusted_authserv_id)) if wanted else asked
    if request is not None:
        asked = Verdict(Classification.UNSUBSCRIBE, f"request:{request.language}", (sender, *request.named),
                        suppress=_asked_for(sender, request), forward=request.says_more or bool(request.named), **base)
        return _unless_dmarc_failed(asked, dmarc_failure(msg, sender, trusted_authserv_id))
    return Verdict(Classification.HUMAN, "person", sender_list, forward=True, **base)
