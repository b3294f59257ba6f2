"""Amazon SES: a bounce notification (JSON, delivered by SNS as a string inside JSON, often
wrapped by the mailbox until it no longer parses); its `bouncedRecipients` are the failures."""

from __future__ import annotations

import json

from ..bounce_formats import ses_items, ses_kind, ses_text
from ..bounce_wording import is_hard
from ..mime import first_address
from .values import Detector, Failure, Report


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
