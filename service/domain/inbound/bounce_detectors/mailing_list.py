"""fml, a mailing-list server, answers a post it refuses with a notice of its own (no DSN): the
list's address, in `<...>` on the notice's first line, is the recipient that refused. Nothing
says the list is gone, so the failure is soft."""

from __future__ import annotations

from email.message import Message

from ..mime import addresses_in, raw_header
from .values import Detector, Failure, Report

_REFUSALS = ("are not member", "not a member", "loop alert", "rejected", "error")
MAX_FIRST_LINE = 500


def list_server_refusal(msg: Message, text: str) -> tuple[str, str] | None:
    """(the list's address, the notice's first line) when fml refused a post, else None."""
    server = (raw_header(msg, "X-MLServer") or "")[:200].strip().lower()
    subject = (raw_header(msg, "Subject") or "")[:500].lower()
    if not server.startswith("fml") or not any(word in subject for word in _REFUSALS):
        return None
    first = next((line.strip() for line in text[:MAX_FIRST_LINE * 4].splitlines() if line.strip()), "")[:MAX_FIRST_LINE]
    inside = first.rpartition("<")[2].partition(">")[0] if "<" in first else ""
    found = addresses_in(inside)
    return (found[0], first) if found else None


def failures(report: Report) -> list[Failure]:
    refusal = list_server_refusal(report.msg, report.explanation)
    return [Failure(refusal[0], "5.0.0", "failed", refusal[1], False)] if refusal else []


DETECTOR = Detector("fml", lambda msg, text: list_server_refusal(msg, text) is not None, failures)
