"""Events as other systems see them: the one map from history types to public event types."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Mapping


class EventType(StrEnum):
    SUPPRESSION_CREATED = "suppression.created"
    SUPPRESSION_LIFTED = "suppression.lifted"
    SUPPRESSION_IMPORTED = "suppression.imported"
    CONSENT_GIVEN = "consent.given"
    CONSENT_WITHDRAWN = "consent.withdrawn"
    BOUNCE_SOFT = "bounce.soft"
    REQUEST_RECEIVED = "request.received"
    SUBJECT_ERASED = "subject.erased"
    CAMPAIGN_PAUSED = "campaign.paused"


class Actor(StrEnum):
    """Who caused an event when it was not an API or staff key (whose name is the actor)."""

    RECIPIENT = "recipient"  # a link, a one-click POST, a reply
    MAIL = "mail"  # a bounce or a complaint report
    CLI = "cli"  # a command run on a server by its operator
    GUARDRAIL = "guardrail"  # a campaign's rates reached a threshold (OPTOUT_GUARD_*)


class HistoryType(StrEnum):
    """The history's own type names (events.type); PUBLIC_TYPE says which of them other systems see."""

    SUPPRESSED = "suppressed"
    LIFTED = "lifted"
    RESUBSCRIBED = "resubscribed"  # a link's "subscribe again" undid its own unsubscribe
    IMPORTED = "imported"  # one event for a whole import
    SOFT_BOUNCE = "soft_bounce"
    ERASED = "erased"
    CONSENT_REQUESTED = "consent_requested"
    CONSENT_GIVEN = "consent_given"
    CONSENT_WITHDRAWN = "consent_withdrawn"
    REQUEST = "request"  # a privacy request received
    CAMPAIGN_PAUSED = "campaign_paused"
    CAMPAIGN_RESUMED = "campaign_resumed"


# The history's type -> the public type. A history type missing here is not published.
PUBLIC_TYPE: Mapping[str, EventType] = {
    HistoryType.SUPPRESSED: EventType.SUPPRESSION_CREATED,
    HistoryType.LIFTED: EventType.SUPPRESSION_LIFTED,
    HistoryType.RESUBSCRIBED: EventType.SUPPRESSION_LIFTED,
    HistoryType.IMPORTED: EventType.SUPPRESSION_IMPORTED,
    HistoryType.SOFT_BOUNCE: EventType.BOUNCE_SOFT,
    HistoryType.ERASED: EventType.SUBJECT_ERASED,
    HistoryType.CONSENT_GIVEN: EventType.CONSENT_GIVEN,
    HistoryType.CONSENT_WITHDRAWN: EventType.CONSENT_WITHDRAWN,
    HistoryType.REQUEST: EventType.REQUEST_RECEIVED,
    HistoryType.CAMPAIGN_PAUSED: EventType.CAMPAIGN_PAUSED,
}


def public_type(history_type: str) -> EventType | None:
    return PUBLIC_TYPE.get(history_type)


@dataclass(frozen=True)
class Event:
    """One event of the history, under its public type."""

    id: int
    type: EventType
    at: datetime
    address: str | None
    scope: str | None
    reason: str | None
    source: str | None
    actor: str | None
    detail: Mapping[str, Any] = field(default_factory=dict)

    @property
    def public_id(self) -> str:
        """The same for every delivery of this event, to every subscription (receivers deduplicate)."""
        return f"evt_{self.id}"

    def as_published(self, address: str | None = None) -> dict:
        """The JSON object of a delivery and of the feed: `{"id", "type", "at", "data"}`.

        `address` names the person when the history row does not (an erasure, which a webhook
        must carry so that other systems erase too; the feed never passes it).
        """
        data: dict[str, Any] = {"email": self.address or address}
        for name in ("scope", "reason", "source"):
            value = getattr(self, name)
            if value is not None:
                data[name] = value
        data["actor"] = self.actor
        data.update({k: v for k, v in self.detail.items() if k not in data})
        if data["email"] is None:
            del data["email"]
        return {"id": self.public_id, "type": str(self.type), "at": self.at.isoformat(), "data": data}


def event_from_row(row: Mapping[str, Any]) -> Event | None:
    """An Event from a history row (id, at, address, type, scope, reason, source, actor,
    detail); None for a type that is not published."""
    kind = public_type(row["type"])
    if kind is None:
        return None
    return Event(id=row["id"], type=kind, at=row["at"], address=row["address"], scope=row["scope"],
                 reason=row["reason"], source=row["source"], actor=row["actor"], detail=row["detail"] or {})
