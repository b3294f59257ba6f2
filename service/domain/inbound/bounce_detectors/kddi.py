"""au one net (KDDI) answers with a notice of its own, no DSN: "Your mail sent on: ... Could not
be delivered to: <...>". Its words say it is a failure report; the recipient it lists on a line
of its own is read with the prose, as any MTA's, so this family names no failures itself."""

from __future__ import annotations

from .values import Detector

MAX_HEAD = 4000  # characters searched for the notice's two lines


def is_kddi_notice(text: str) -> bool:
    """au one net (KDDI)'s notice: "Your mail sent on: ... Could not be delivered to: <...>"."""
    head = text[:MAX_HEAD].lower()
    return "your mail sent on:" in head and "could not be delivered to:" in head


DETECTOR = Detector("kddi", lambda _msg, text: is_kddi_notice(text), lambda _report: [])
