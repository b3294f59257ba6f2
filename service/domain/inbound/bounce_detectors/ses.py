"""Amazon SES: a bounce notification (JSON, delivered by SNS as a string inside JSON, often
wrapped by the mailbox until it no longer parses); its `bouncedRecipients` are the failures.
Its complaint notifications are read with the same helpers, by complaints.py."""

from __future__ import annotations

import json
import re

from ..bounce_wording import is_hard
from ..mime import first_address
from .values import Detector, Failure, Report

_SES_ESCAPED = re.compile(r'\\"notificationType\\"\s{0,8}:\s{0,8}\\"(Bounce|Complaint)')


def ses_text(text: str) -> str:
    """An Amazon SES notification as SNS delivers it (a JSON string inside JSON), unescaped once."""
    if _SES_ESCAPED.search(text[:8000]) is None:
        return text
    try:
        outer = json.loads(text.strip())
        inner = outer.get("Message") if isinstance(outer, dict) else None
        if isinstance(inner, str):
            return inner
    except ValueError:
        pass
    return text.replace('\\"', '"')


def ses_kind(text: str) -> str:
    """"Bounce", "Complaint" or "" for an Amazon SES notification, escaped or not."""
    head = text[:8000]
    found = _SES_ESCAPED.search(head)
    if found is not None:
        return found.group(1)
    for kind in ("Bounce", "Complaint"):
        if re.search(r'"notificationType"\s{0,8}:\s{0,8}"' + kind, head):
            return kind
    return ""


def ses_items(text: str, key: str) -> list[str]:
    """The `{...}` items of the first `"key": [...]` list that is closed, each read once.

    A bracket or brace left open is closed by nothing after it either, so the search stops there.
    """
    opening = re.search('"' + re.escape(key) + r'"\s*+:\s*+\[', text)
    closing = text.find("]", opening.end()) if opening else -1
    if closing < 0:
        return []
    listed, items, done = text[opening.end():closing], [], 0
    while (start := listed.find("{", done)) >= 0:
        end = listed.find("}", start + 1)
        if end < 0:
            break
        items.append(listed[start:end + 1])
        done = end + 1
    return items


def ses_addresses(text: str, key: str) -> list[str]:
    """The `emailAddress` of each item of an SES notification's list `key`, as written."""
    found = []
    for item in ses_items(text, key):
        try:
            fields = json.loads(item)
        except ValueError:
            continue
        if isinstance(fields, dict):
            found.append(str(fields.get("emailAddress", "")).strip().lower())
    return found


def failures(report: Report) -> list[Failure]:
    text = ses_text(report.explanation)
    if '"notificationType"' not in text or '"bouncedRecipients"' not in text:
        return []
    permanent = '"bounceType":"Permanent"' in text.replace(" ", "")
    found = []
    for item in ses_items(text, "bouncedRecipients"):
        try:
            fields = json.loads(item)
        except ValueError:
            continue
        address = str(fields.get("emailAddress", "")).lower()
        if first_address(address) != address:
            continue
        status = str(fields.get("status") or ("5.0.0" if permanent else "4.0.0"))
        action = str(fields.get("action") or "failed")
        diagnostic = str(fields.get("diagnosticCode", ""))
        hard = is_hard(address, status, action, diagnostic, "", "", known={address})
        found.append(Failure(address, status, action, diagnostic[:500], hard))
    return found


DETECTOR = Detector("amazon-ses", lambda _msg, text: ses_kind(text) == "Bounce", failures)
