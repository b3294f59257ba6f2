"""Inbound mail's values, as the domain hands them to the edges."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Mapping


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
