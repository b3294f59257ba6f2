"""Bounce formats without DSN fields, one detector a file, tried in order before the MTAs' prose.
A new format is a new file and a test; each detector reads bounded slices in linear time."""

from __future__ import annotations

from email.message import Message

from . import exchange, kddi, mailing_list, ses
from .values import Detector, Failure, Report

DETECTORS: tuple[Detector, ...] = (
    ses.DETECTOR,  # Amazon SES bounce notifications (JSON)
    mailing_list.DETECTOR,  # fml refusing a post to its list
    exchange.DETECTOR,  # old Exchange and X.400 non-delivery reports
    kddi.DETECTOR,  # au one net (KDDI)'s notice: recognised here, its recipients read from the prose
)

__all__ = ["DETECTORS", "Detector", "Failure", "Report", "detected_failures", "recognised"]


def recognised(msg: Message, text: str) -> bool:
    """Whether a family's own marks say the message is a failure report."""
    return any(detector.recognises(msg, text) for detector in DETECTORS)


def detected_failures(report: Report) -> list[Failure]:
    """The failures of the first family that names any."""
    for detector in DETECTORS:
        found = detector.failures(report)
        if found:
            return found
    return []
