"""A campaign as the domain hands it to the edges: its counts and rates since it was last
resumed, whether it is paused and why, and the thresholds it is judged by."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from ..errors import InvalidCampaign

MAX_NAME = 100  # characters
MAX_NAME_BYTES = 200  # in UTF-8: a link token carries the name (it keeps at most 255 bytes of it)


class CampaignStatus(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"


class ReportKind(StrEnum):
    """What counts for a campaign, once per recipient (and per resume)."""

    COMPLAINT = "complaint"
    HARD_BOUNCE = "hard_bounce"
    SOFT_BOUNCE = "soft_bounce"
    UNSUBSCRIBE = "unsubscribe"


class PausedBy(StrEnum):
    COMPLAINT_RATE = "complaint_rate"
    HARD_BOUNCE_RATE = "hard_bounce_rate"


CAMPAIGN_PAUSED = "campaign_paused"  # the check's reason for every recipient of a paused campaign


def valid_campaign(value: object, field: str = "campaign") -> str | None:
    """A campaign name as given (None or "" is no campaign): text of at most MAX_NAME characters
    that a link token can carry whole, without control characters (it is shown in pages and
    written in SMTP replies and logs)."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidCampaign(f"'{field}' must be text.", field=field)
    if len(value) > MAX_NAME:
        raise InvalidCampaign(f"'{field}' is longer than {MAX_NAME} characters.", field=field)
    if any(ord(c) < 32 or 127 <= ord(c) < 160 for c in value):
        raise InvalidCampaign(f"'{field}' contains a control character.", field=field)
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:
        raise InvalidCampaign(f"'{field}' contains a lone surrogate, which is not a character.", field=field) from None
    if size > MAX_NAME_BYTES:
        raise InvalidCampaign(f"'{field}' is longer than {MAX_NAME_BYTES} bytes in UTF-8.", field=field)
    if value != value.strip():
        raise InvalidCampaign(f"'{field}' starts or ends with a space.", field=field)
    return value


@dataclass(frozen=True, slots=True)
class Thresholds:
    """OPTOUT_GUARD_COMPLAINT_RATE, OPTOUT_GUARD_BOUNCE_RATE and OPTOUT_GUARD_MIN_SENT."""

    complaint_rate: float = 0.003
    bounce_rate: float = 0.05
    min_sent: int = 1000

    def breach(self, sent: int, complaints: int, hard_bounces: int) -> tuple[PausedBy, float] | None:
        """What pauses a campaign with these counts, if anything: a rate that reached its
        threshold once `sent` reached the minimum. Rates are divided, not multiplied out, so that
        3 of 1000 is exactly 0.003."""
        if sent < max(self.min_sent, 1):
            return None
        if complaints / sent >= self.complaint_rate:
            return PausedBy.COMPLAINT_RATE, complaints / sent
        if hard_bounces / sent >= self.bounce_rate:
            return PausedBy.HARD_BOUNCE_RATE, hard_bounces / sent
        return None


def rate(count: int, sent: int) -> float:
    return count / sent if sent else 0.0


@dataclass(frozen=True, slots=True)
class Campaign:
    name: str
    created_at: datetime
    counted_since: datetime  # its creation, or its last resume
    sent: int
    hard_bounces: int
    soft_bounces: int
    complaints: int
    unsubscribes: int
    status: CampaignStatus
    paused_at: datetime | None = None
    paused_reason: str | None = None
    paused_by: PausedBy | None = None
    paused_rate: float | None = None
    paused_count: int | None = None
    paused_sent: int | None = None
    resumed_at: datetime | None = None
    resumed_by: str | None = None
    resume_note: str | None = None

    @property
    def complaint_rate(self) -> float:
        return rate(self.complaints, self.sent)

    @property
    def hard_bounce_rate(self) -> float:
        return rate(self.hard_bounces, self.sent)

    @property
    def paused(self) -> bool:
        return self.status is CampaignStatus.PAUSED

    @property
    def paused_counts(self) -> tuple[int, int] | None:
        """(complaints or hard bounces, sent) when the pause came: the counts go on growing while
        a campaign is paused, so today's are not the ones that paused it."""
        if self.paused_count is None or self.paused_sent is None:
            return None
        return self.paused_count, self.paused_sent


def campaign_from_row(row) -> Campaign:
    return Campaign(
        name=row["name"], created_at=row["created_at"], counted_since=row["counted_since"], sent=row["sent"],
        hard_bounces=row["hard_bounces"], soft_bounces=row["soft_bounces"], complaints=row["complaints"],
        unsubscribes=row["unsubscribes"], status=CampaignStatus(row["status"]), paused_at=row["paused_at"],
        paused_reason=row["paused_reason"], paused_by=PausedBy(row["paused_by"]) if row["paused_by"] else None,
        paused_rate=row["paused_rate"], paused_count=row["paused_count"], paused_sent=row["paused_sent"],
        resumed_at=row["resumed_at"], resumed_by=row["resumed_by"],
        resume_note=row["resume_note"],
    )
