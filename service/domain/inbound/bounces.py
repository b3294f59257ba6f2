"""Bounces: who failed, and whether the address itself is gone (hard) or not (soft).
Evidence is read in the order of trust READERS lists; other addresses named are merely mentioned."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from email.message import Message
from typing import Callable

from ..suppressions.rules import GLOBAL
from .bounce_detectors import Failure, Report, detected_failures, recognised
from .bounce_detectors.exchange import dda_smtp
from .bounce_prose import introduced_as_other, is_path, labeled_as_sender, listed_recipients
from .bounce_wording import is_hard
from .carried import carried_claim
from .flufl_fallback import flufl_failures
from .mime import address_spans, addresses_in, content_param, content_type, first_address, header_values, html_text, part_text, raw_header, report_field_groups, walk
from .model import LOOP, Basis, BounceKind, Classification, Suppress, Verdict
from .reading import Reading


_BOUNCE_SENDER = re.compile(
    r"^(?:mailer[-_]?daemon|postmaster|post_master|mail[-_ ]?delivery[-_ ]?(?:system|subsystem)?|sysadmin)@", re.I
)
_BOUNCE_NAME = re.compile(r"mail delivery|mailer[- ]daemon|postmaster|ndr administrator", re.I)
_BOUNCE_SUBJECT = re.compile(
    r"undeliver|delivery status notification|returned mail|mail delivery failed|failure notice|"
    r"delivery failure|non remis|undelivered mail|delivery notification|could not be delivered|"
    r"не доставлено|bounce notification|mail failure|delayed mail|failure delivery|mail failed|"
    r"returning message to sender|delivery report|notice: mail delivery status",
    re.I,
)
# Where an MTA's explanation ends and the returned message begins: a line of its own. Line
# patterns read only their own line's decoration (`^(?:[^\S\n]|[>|*-])*+`); the blank or
# decorated lines above are added by _line_start, once.
_DECORATION = frozenset(">|*-")
_ORIGINAL_STARTS = re.compile(
    r"^(?:[^\S\n]|[>|*-])*+(?:below this line is a copy|this is a copy of the message|original message\s*+(?:-|follows|headers|:)|"
    r"the header of the original message|included is a copy|unsent message follows|returned message|"
    r"message text follows|below is a copy of the original|original mail as follows|content-description: undelivered message)",
    re.I | re.M,
)
_HEADER_LINE = re.compile(
    r"^(?:[^\S\n]|>)*+(?:to|from|cc|subject|sent|date|return-path|received|message-id|reply-to|sender|"
    r"mail from|errors-to|in-reply-to|references)\s*+:.*$",
    re.I | re.M,
)
_TO_LINE = re.compile(r"^[^\S\n]*+To:\s*+(.*)$", re.I | re.M)
# The run after "mail from" ends at a space, and "mail from" holds one: each run is read
# by one match only.
_MAIL_FROM = re.compile(r"mail from:?\s*+<?[^\s<>]+@[^\s<>]+>?", re.I)
_QUOTED_DSN = re.compile(r"^Final-Recipient:.*(?:\n(?![ \t]*+\n).*){0,8}", re.I | re.M)
# Recipients read from a report's prose: a real one names a few; far more than
# OPTOUT_MAX_ACTIONS_PER_MESSAGE already holds the message for staff, who read it whole.
MAX_PROSE_RECIPIENTS = 1000
_ENHANCED_STATUS = re.compile(r"(?<![\d.])#?([245])\.(\d{1,3})\.(\d{1,3})(?![\d])")
_SMTP_REPLY = re.compile(r"(?<![\d.])([45])\d\d(?:[ -]|$)")
_DELAYED = re.compile(
    r"warning message only|delivery (?:has been|is) delayed|will be retried|still being retried|"
    r"\(delay\)|delayed mail|message will be retried|not yet been delivered", re.I
)


@dataclass(frozen=True, slots=True)
class Bounce:
    failures: tuple[Failure, ...]
    mentioned: tuple[str, ...]  # named by the bounce but not said to have failed


def _line_start(text: str, start: int, floor: int, decoration: frozenset[str]) -> int:
    """Where a line pattern that allowed blank and decoration lines above its line would start.

    `start` is the start of the line that matched; the lines above it that hold only spaces
    and `decoration`, after `floor`, belong to the match, as a multi-line `^[\\s...]*` would
    have taken them, in one pass back instead of one per line.
    """
    first = start
    while first > floor and (text[first - 1].isspace() or text[first - 1] in decoration):
        first -= 1
    if first == 0 or text[first - 1] == "\n":
        return first
    newline = text.find("\n", first, start)
    return newline + 1 if newline >= 0 else start


def _original_starts(explanation: str) -> tuple[int, int] | None:
    """Where the returned message begins in an MTA's explanation: (start, end) of the line that says so."""
    match = _ORIGINAL_STARTS.search(explanation)
    if match is None:
        return None
    return _line_start(explanation, match.start(), 0, _DECORATION), match.end()


def _without_header_lines(text: str) -> str:
    """The text with each header line quoted from the returned message (and the blank lines above it) made a space."""
    kept, done = [], 0
    for match in _HEADER_LINE.finditer(text):
        start = _line_start(text, match.start(), done, frozenset(">"))
        kept.append(text[done:start])
        kept.append(" ")
        done = match.end()
    kept.append(text[done:])
    return "".join(kept)


def _local_address(value: str) -> str:
    """The address of a DSN recipient field (`rfc822; a@b`), or the SMTP address an X.400 one gives."""
    value = value.strip()
    if value[:5].lower() == "x400;":
        return dda_smtp(value) or ""
    if ";" in value:
        value = value.split(";", 1)[1]
    return value.strip().strip("<>").strip().lower()


def _delivery_status_blocks(part: Message) -> list[dict[str, str]]:
    """The field groups of a message/delivery-status part, by lower-case name."""
    return [dict(group) for group in report_field_groups(part)]


def _failure_from_fields(fields: dict[str, str], explanation: str) -> Failure | None:
    recipient = _local_address(fields.get("final-recipient", ""))
    original = _local_address(fields.get("original-recipient", ""))
    address = recipient if first_address(recipient) == recipient else original
    if not address or first_address(address) != address:
        return None
    action = fields.get("action", "").strip().lower()
    status = (fields.get("status", "").split() or [""])[0]
    if action in ("delivered", "relayed", "expanded") or (status.startswith("2") and not action):
        return None
    diagnostic = " ".join(fields.get("diagnostic-code", "").split())
    kind, _, detail = diagnostic.partition(";")
    if not detail:
        kind, detail = "", diagnostic
    known = {address, original, _local_address(fields.get("x-actual-recipient", ""))}
    hard = is_hard(address, status, action, detail.strip(), kind.strip().lower(), explanation,
                   local_program="|" in fields.get("x-actual-recipient", ""), known=known)
    return Failure(address, status, action or "failed", detail.strip()[:500], hard)


def _explanation(msg: Message) -> str:
    """The MTA's own words: the first text part outside the returned message.

    A multipart whose boundary is missing or broken arrives as one text: read it whole.
    """
    for part in walk(msg, into_messages=False):
        if part.is_multipart():
            continue
        kind = content_type(part)
        if kind == "text/html":
            return html_text(part_text(part))
        if kind == "text/plain" or kind.startswith("multipart/"):
            return part_text(part)
    return ""


@dataclass(frozen=True, slots=True)
class BounceReading:
    """One bounce as each step of READERS reads it."""

    msg: Message
    explanation: str  # the MTA's own words (_explanation)
    own: set[str]
    # Never a recipient that failed: CETIT's own addresses, the bounce's sender and From, the
    # returned message's sender; an MTA's list of recipients is trusted against these alone.
    listed_exclude: set[str]
    # The same, with the bounce's To and Return-Path: not read from prose as recipients either.
    exclude: set[str]
    returned: Message | None  # the returned message, when the bounce attaches it


def _from_dsn_parts(reading: BounceReading) -> list[Failure]:
    """The report's own DSN parts; those of a bounce it returns (a message/rfc822 part) only
    when it has none: a returned bounce's recipients are not this report's."""
    for into_messages in (False, True):
        failures = []
        for part in walk(reading.msg, into_messages=into_messages):
            if content_type(part) in ("message/delivery-status", "message/global-delivery-status"):
                for fields in _delivery_status_blocks(part):
                    failure = _failure_from_fields(fields, reading.explanation)
                    if failure is not None:
                        failures.append(failure)
        if failures:
            return failures
    return []


def _from_quoted_dsn(reading: BounceReading) -> list[Failure]:
    """DSN fields pasted into the text of a bounce (Amazon WorkMail, some Postfix notices)."""
    text = reading.explanation
    failures = []
    for match in _QUOTED_DSN.finditer(text):
        fields: dict[str, str] = {}
        for line in match.group(0).splitlines():
            name, _, value = line.partition(":")
            fields.setdefault(name.strip().lower(), value.strip())
        failure = _failure_from_fields(fields, text)
        if failure is not None:
            failures.append(failure)
    return failures


def _status_in(text: str) -> str:
    match = _ENHANCED_STATUS.search(text)
    if match:
        return ".".join(match.groups())
    match = _SMTP_REPLY.search(text)
    return f"{match.group(1)}.0.0" if match else ""


def _prose_section(explanation: str) -> tuple[str, str]:
    """The MTA's explanation before the returned message, and the same with quoted headers
    and `MAIL FROM` commands blanked."""
    cut = _original_starts(explanation)
    section = explanation[: cut[0]] if cut else explanation
    return section, _MAIL_FROM.sub(" MAIL FROM ", _without_header_lines(section))


def _prose_failures(explanation: str, exclude: set[str], failed_hint: list[str], only: bool = False) -> list[Failure]:
    """Recipients named in an MTA's prose, each with the text that follows it as diagnostic.

    With `only`, the recipients are `failed_hint` alone (a header or the MTA's list named
    them); else every address of the prose that nothing introduces as someone else.
    """
    section, scrubbed = _prose_section(explanation)
    plain: dict[str, int] = {}  # where each address is first written as itself
    other: dict[str, int] = {}  # where the words before say it is someone else (a contact, an alias)
    senders: set[str] = set()  # labeled as the sender: a rejection that quotes them is not about them
    for start, address in address_spans(scrubbed):
        address = address.lower()
        if labeled_as_sender(scrubbed, start):
            senders.add(address)
        if address not in plain:
            (other if introduced_as_other(scrubbed, start, start + len(address)) else plain).setdefault(address, start)
    written = {**other, **plain}
    introduced = set(other) - set(plain)
    hinted = set(failed_hint)
    candidates = [] if only else [a for a in written if a not in exclude and a not in introduced and a not in hinted
                                  and a not in senders and not _looks_like_id(a) and not is_path(a)]
    candidates = (failed_hint + candidates)[:MAX_PROSE_RECIPIENTS]
    if not candidates:
        return []
    delayed = bool(_DELAYED.search(section))
    local_program = "pipe to |" in section
    positions = sorted((written.get(a, len(scrubbed)), a) for a in candidates)
    whole = " ".join(scrubbed.split())
    # The whole text is searched once, however many recipients fall back to it.
    in_whole, in_scrubbed = functools.cache(lambda: _status_in(whole)), functools.cache(lambda: _status_in(scrubbed))
    failures = []
    for index, (position, address) in enumerate(positions):
        end = positions[index + 1][0] if index + 1 < len(positions) else len(scrubbed)
        segment = " ".join(scrubbed[position:end].split()) if position < len(scrubbed) else whole
        if len(segment) < 40 or len(positions) == 1:
            segment = whole
        status = (in_whole() if segment is whole else _status_in(segment)) or in_scrubbed()
        action = "delayed" if delayed else "failed"
        hard = is_hard(address, status, action, segment[:600], "", section, known={address} | senders,
                       local_program=local_program)
        failures.append(Failure(address, status, action, segment[:500], hard))
    return failures


def _looks_like_id(address: str) -> bool:
    local = address.split("@", 1)[0]
    return len(local) > 24 and sum(c.isdigit() for c in local) > len(local) // 2


def _returned_message(msg: Message) -> Message | None:
    for part in walk(msg):
        if content_type(part) in ("message/rfc822", "text/rfc822-headers") and part is not msg:
            payload = part.get_payload()
            if isinstance(payload, list) and payload:
                return payload[0]
    return None


def is_mail_system(sender: str | None) -> bool:
    """An empty envelope sender, MAILER-DAEMON, postmaster and the like: a machine, not a person."""
    return not sender or bool(_BOUNCE_SENDER.match(sender))


def looks_like_bounce(msg: Message, sender: str, subject: str, text: str = "") -> bool:
    """Whether the message presents itself as a delivery failure report at all."""
    if content_param(msg, "report-type") == "delivery-status" or raw_header(msg, "X-Failed-Recipients"):
        return True
    if any(content_type(p) == "message/delivery-status" for p in walk(msg)):
        return True
    from_header = raw_header(msg, "From") or ""
    by_sender = bool(_BOUNCE_SENDER.match(sender or "")) or bool(_BOUNCE_NAME.search(from_header))
    if by_sender or _BOUNCE_SUBJECT.search(subject):
        return True
    return recognised(msg, text)


def _from_families(reading: BounceReading) -> list[Failure]:
    """The failures of the first family of `bounce_detectors` that names any (Amazon SES, fml, ...)."""
    return detected_failures(Report(reading.msg, reading.explanation))


def _from_listed_prose(reading: BounceReading) -> list[Failure]:
    """The recipients the prose lists one a line, as MTAs list those that failed; the bounce's
    own To is the original sender, trusted to be listed only when it did fail (mail to oneself)."""
    listed = [a for a in listed_recipients(_prose_section(reading.explanation)[1]) if a not in reading.listed_exclude]
    return _prose_failures(reading.explanation, reading.exclude, listed, only=True) if listed else []


def _from_failed_header(reading: BounceReading) -> list[Failure]:
    """The recipients the `X-Failed-Recipients` header names, each read in the prose."""
    hinted = [a for v in header_values(reading.msg, "X-Failed-Recipients") for a in addresses_in(v)
              if a not in reading.own and not is_path(a)][:MAX_PROSE_RECIPIENTS]
    return _prose_failures(reading.explanation, reading.exclude, hinted, only=True) if hinted else []


def _from_any_prose(reading: BounceReading) -> list[Failure]:
    """Any other address of the prose that nothing introduces as someone else."""
    return _prose_failures(reading.explanation, reading.exclude, [])


def _from_returned_message(reading: BounceReading) -> list[Failure]:
    """Last: the recipient flufl.bounce finds, else the To of the returned message (attached,
    else pasted after the explanation), read in the prose."""
    explanation, exclude = reading.explanation, reading.exclude
    flufl = flufl_failures(reading.msg, exclude)
    if not flufl and reading.returned is not None:
        flufl = [a for a in addresses_in(raw_header(reading.returned, "To") or "") if a not in exclude][:1]
    if not flufl:
        cut = _original_starts(explanation)
        after = explanation[cut[1]:] if cut else ""
        to_line = _TO_LINE.search(after)
        flufl = [a for a in addresses_in(to_line.group(1)) if a not in exclude][:1] if to_line else []
    return _prose_failures(explanation + "\n" + " ".join(flufl), exclude, flufl) if flufl else []


# How a bounce is read, in order of trust: the first step that names a failure gives the reading.
READERS: tuple[Callable[[BounceReading], list[Failure]], ...] = (
    _from_dsn_parts,  # the report's own message/delivery-status fields (RFC 3464)
    _from_quoted_dsn,  # DSN fields pasted into its text
    _from_families,  # the families of bounce_detectors, in their order (Amazon SES, fml, Exchange, ...)
    _from_listed_prose,  # the recipients the prose lists one a line
    _from_failed_header,  # the recipients the X-Failed-Recipients header names
    _from_any_prose,  # any other address of the prose
    _from_returned_message,  # flufl.bounce, then the returned message's To
)


def _bounce_reading(msg: Message, sender: str, own: set[str]) -> BounceReading:
    returned = _returned_message(msg)
    original_sender = {a for name in ("From", "Return-Path", "Sender", "Reply-To") if returned is not None
                       for a in addresses_in(raw_header(returned, name) or "")}
    listed_exclude = own | original_sender | {sender} | set(addresses_in(raw_header(msg, "From") or ""))
    exclude = listed_exclude | set(addresses_in(raw_header(msg, "To") or ""))
    exclude |= set(addresses_in(raw_header(msg, "Return-Path") or ""))
    return BounceReading(msg, _explanation(msg), own, listed_exclude, exclude, returned)


def read_bounce(msg: Message, sender: str, own: set[str]) -> Bounce | None:
    """The failures a bounce reports, read by the steps of READERS in turn, or None when none
    names a recipient that failed."""
    reading = _bounce_reading(msg, sender, own)
    for read in READERS:
        failures = read(reading)
        if failures:
            break
    else:
        return None
    unique = {f.address: f for f in failures}
    failed = set(unique)
    mentioned = [a for a in addresses_in(reading.explanation) if a not in failed and a not in own][:20]
    return Bounce(tuple(unique.values()), tuple(mentioned))


def bounce_verdict(reading: Reading) -> Verdict | None:
    """A bounce: addresses taken from a report, so acted on only when known; hard ones are
    suppressed, soft ones only counted."""
    msg, sender, own = reading.msg, reading.sender or "", reading.own
    if not looks_like_bounce(msg, sender, reading.subject, reading.text):
        return None
    bounce = read_bounce(msg, sender, set(own))
    if bounce is None:
        return None
    failures = [f for f in bounce.failures if f.address not in own]
    if not failures:  # our own mail to our own mailbox came back: a loop, not a recipient
        return reading.verdict(Classification.AUTO_REPLY, LOOP)
    hard = tuple(f.address for f in failures if f.hard)
    soft = tuple(f.address for f in failures if not f.hard)
    return reading.verdict(
        Classification.BOUNCE, "dsn", tuple(f.address for f in failures), BounceKind.HARD if hard else BounceKind.SOFT,
        suppress=tuple(Suppress(a, GLOBAL, "bounce", "dsn", Basis.REPORT) for a in hard),
        soft_bounces=soft, mentioned=bounce.mentioned, carried=carried_claim(msg, reading.verify_token),
    )
