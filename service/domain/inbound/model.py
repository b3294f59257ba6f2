"""Inbound mail's values, as the domain hands them to the edges: what a message is found to be
(a Verdict and the suppressions it calls for), and what is known of a stored message."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Mapping

from ..tokens import LinkClaim

LOOP = "loop"  # a verdict's evidence when the message is our own mail coming back


class Classification(StrEnum):
    """What a message is (GET /v1/inbound/{id} `classification`)."""

    UNSUBSCRIBE = "unsubscribe"
    BOUNCE = "bounce"
    COMPLAINT = "complaint"
    AUTO_REPLY = "auto_reply"
    HUMAN = "human"
    PRIVACY_REQUEST = "privacy_request"


class BounceKind(StrEnum):
    """Whether a bounce says the address itself cannot receive (GET /v1/inbound/{id} `kind`)."""

    HARD = "hard"  # the address is gone: suppressed
    SOFT = "soft"  # a full mailbox, a delay: only counted


class Basis(StrEnum):
    """What a proposed suppression rests on, and so whether the address must be known."""

    SELF = "self"  # the sender's own request: one address, as the mailto: unsubscribe allows
    TOKEN = "token"  # a signed token that CETIT issued and that verified
    NAMED = "named"  # named in a person's words: acted on only for an address CETIT knows
    REPORT = "report"  # taken from a DSN or ARF report: acted on only for an address CETIT knows

    @property
    def needs_known(self) -> bool:
        return self in (Basis.NAMED, Basis.REPORT)


@dataclass(frozen=True, slots=True)
class Envelope:
    mail_from: str | None = None
    recipients: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Suppress:
    """A suppression the message calls for, and the evidence for it (the strictest by default)."""

    address: str
    scope: str
    reason: str
    source: str
    basis: Basis = Basis.REPORT
    recipient_id: int | None = None  # a link token names its recipient so; the address is found when acted on


@dataclass(frozen=True)
class Verdict:
    classification: Classification
    evidence: str
    addresses: tuple[str, ...] = ()
    kind: BounceKind | None = None  # for a bounce
    suppress: tuple[Suppress, ...] = ()
    soft_bounces: tuple[str, ...] = ()  # taken from a report: counted only for addresses CETIT knows
    forward: bool = False
    mentioned: tuple[str, ...] = field(default=())
    sender: str | None = None
    subject: str = ""
    withheld: tuple[Suppress, ...] = ()  # what the sender's words asked for and is not done
    withheld_reason: str = ""  # why: e.g. a trusted Authentication-Results says DMARC failed
    # A bounce that reached a return path: it is about the recipient its token names and no one
    # else (None: the token did not verify, and it is about no one).
    at_return_path: bool = False
    return_path_recipient: int | None = None
    privacy: tuple[str, ...] = ()  # a privacy request's kinds: access, correction, erasure, objection
    # The link of the copy a report is about (carried in its returned message or headers), or the
    # link whose token unsubscribed: it names the recipient and the campaign the report counts for.
    carried: LinkClaim | None = None


class InboundStatus(StrEnum):
    QUEUED = "queued"  # to classify, or classified with its forward still in the outbox
    PROCESSED = "processed"
    FORWARDED = "forwarded"
    HELD = "held"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """What is known of one stored message (GET /v1/inbound/{id})."""

    id: uuid.UUID
    status: InboundStatus
    classification: str | None
    kind: str | None
    addresses: tuple[str, ...]
    actions: tuple[Mapping[str, Any], ...]
    received_at: datetime
    processed_at: datetime | None
    error: str | None


@dataclass(frozen=True, slots=True)
class ListedMessage:
    id: uuid.UUID
    received_at: datetime
    sender: str | None
    subject: str | None
    status: InboundStatus
    classification: str | None


@dataclass(frozen=True, slots=True)
class MessagePage:
    messages: tuple[ListedMessage, ...]
    next_cursor: str | None
