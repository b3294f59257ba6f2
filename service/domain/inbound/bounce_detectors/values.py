"""What a bounce detector is given and what it gives back."""

from __future__ import annotations

from dataclasses import dataclass
from email.message import Message
from typing import Callable


@dataclass(frozen=True, slots=True)
class Failure:
    """One recipient a report says failed; `hard` when the address itself cannot receive."""

    address: str
    status: str
    action: str
    diagnostic: str
    hard: bool


@dataclass(frozen=True, slots=True)
class Report:
    """A failure report without DSN fields of its own, as the detectors read it."""

    msg: Message
    explanation: str  # the reporting system's own words: its first text part, HTML as text


@dataclass(frozen=True, slots=True)
class Detector:
    """One family of reports: whether a message presents itself as one (its text bounded by
    the caller), and the failures it names (empty when it names none this family can read)."""

    name: str
    recognises: Callable[[Message, str], bool]
    failures: Callable[[Report], list[Failure]]
