"""Complaints: ARF feedback reports (RFC 5965), Hotmail's JMRP reports and Amazon SES notices.
A report that names nobody is still a complaint, with no address to act on."""

from __future__ import annotations

from dataclasses import dataclass
from email.message import Message

from ..suppressions.rules import GLOBAL
from .bounce_detectors.ses import ses_addresses, ses_kind, ses_text
from .carried import carried_claim
from .mime import addresses_in, content_type, first_address, part_text, raw_header, report_field_groups, walk
from .model import Basis, Classification, Suppress, Verdict
from .reading import Reading


JMRP_HEADER = "X-HmXmrOriginalRecipient"


@dataclass(frozen=True, slots=True)
class Complaint:
    feedback_type: str
    addresses: tuple[str, ...]


def _report_fields(part: Message) -> list[tuple[str, str]]:
    """Every field of a message/feedback-report part, repeated names kept."""
    return [field for group in report_field_groups(part) for field in group]


def _attached(msg: Message) -> Message | None:
    for part in walk(msg):
        if part is msg:
            continue
        kind = content_type(part)
        if kind == "message/rfc822":
            payload = part.get_payload()
            if isinstance(payload, list) and payload:
                return payload[0]
        if kind in ("text/rfc822-headers", "text/rfc822-header"):
            from .mime import parse

            return parse(part_text(part).encode("utf-8", "replace"))
    return None


def _ses_complaint(msg: Message, own: set[str]) -> Complaint | None:
    """An Amazon SES complaint notification in the first text part, or None."""
    part = next((p for p in walk(msg, into_messages=False) if content_type(p) == "text/plain"), None)
    text = part_text(part) if part is not None else ""
    if text.lstrip()[:1] != "{" or ses_kind(text) != "Complaint":  # the notification is the whole text
        return None
    found = [a for a in ses_addresses(ses_text(text), "complainedRecipients") if first_address(a) == a]
    return Complaint("abuse", tuple(dict.fromkeys(a for a in found if a not in own)))


def read_complaint(msg: Message, own: set[str]) -> Complaint | None:
    """The complaint this message reports, or None when it is not a feedback report."""
    report = next((p for p in walk(msg) if content_type(p) == "message/feedback-report"), None)
    attached = _attached(msg)
    if report is None:
        jmrp = (raw_header(attached, JMRP_HEADER) or "") if attached is not None else ""
        if not jmrp:
            return _ses_complaint(msg, own)
        return Complaint("abuse", tuple(a for a in addresses_in(jmrp) if a not in own))
    fields = _report_fields(report)
    feedback_type = next((v.strip().lower() for k, v in fields if k == "feedback-type"), "abuse")
    found = [a for k, v in fields if k == "original-rcpt-to" for a in addresses_in(v)]
    if not found:
        found = [a for k, v in fields if k == "removal-recipient" for a in addresses_in(v)]
    if not found and attached is not None:
        found = addresses_in(raw_header(attached, "To") or "")
    unique = list(dict.fromkeys(a for a in found if a not in own))
    return Complaint(feedback_type, tuple(unique))


def complaint_verdict(reading: Reading) -> Verdict | None:
    """A complaint: addresses taken from a report, so acted on only when known. The link the
    report carries of the original copy says whose copy it was: that recipient is suppressed too
    (the token is CETIT's own evidence, as a one-click would be), even when the report hides the
    address, as feedback loops often do."""
    complaint = read_complaint(reading.msg, set(reading.own))
    if complaint is None:
        return None
    carried = carried_claim(reading.msg, reading.verify_token)
    actions = tuple(Suppress(a, GLOBAL, "complaint", "arf", Basis.REPORT) for a in complaint.addresses)
    if carried is not None:
        actions += (Suppress(carried.address or "", GLOBAL, "complaint", "arf", Basis.TOKEN,
                             recipient_id=carried.recipient_id),)
    return reading.verdict(Classification.COMPLAINT, f"arf:{complaint.feedback_type}", complaint.addresses,
                           suppress=actions, carried=carried)
