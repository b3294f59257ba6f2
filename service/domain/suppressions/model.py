"""The suppression list's values, as the domain hands them to the edges (which make JSON,
SMTP replies or pages of them)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Mapping


class Reason(StrEnum):
    UNSUBSCRIBE = "unsubscribe"
    COMPLAINT = "complaint"
    BOUNCE = "bounce"
    MANUAL = "manual"
    NO_CONSENT = "no_consent"  # the check's own: a scope that needs consent, and none was given
    INVALID_ADDRESS = "invalid_address"  # the check's own: not an address


class Source(StrEnum):
    """How a suppression reached the list."""

    ONE_CLICK = "one_click"  # the mailbox's unsubscribe button (RFC 8058)
    LINK = "link"  # the link at the bottom of a mail
    REPLY = "reply"  # a reply or a mail to the inbound address
    DSN = "dsn"  # a delivery status notification read from inbound mail
    VERP = "verp"  # a bounce to a per-recipient return path
    ARF = "arf"  # a complaint report (feedback loop)
    API = "api"
    PHONE = "phone"  # staff, on the phone
    IMPORT = "import"
    GATEWAY = "gateway"
    SELF_SERVICE = "self_service"  # the person's own page


@dataclass(frozen=True, slots=True)
class CheckResult:
    """May this address be mailed in the scope asked about? `email` is the input as given."""

    email: Any
    allowed: bool
    reason: str | None = None
    scope: str | None = None
    since: datetime | None = None


@dataclass(frozen=True, slots=True)
class CheckResults(Sequence):
    """The results of one check, in input order. Most of 100,000 recipients are allowed: only
    the others are held as values (by their position), and an allowed one is made when it is
    asked for, so that a big check costs no object per allowed recipient."""

    emails: Sequence[Any]
    blocked: Mapping[int, CheckResult]

    def __len__(self) -> int:
        return len(self.emails)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        index = range(len(self))[index]
        return self.blocked.get(index) or CheckResult(self.emails[index], True)


@dataclass(frozen=True, slots=True)
class Link:
    """One recipient's unsubscribe URL and RFC 8058 headers; `email` as given."""

    email: Any
    url: str
    headers: Mapping[str, str]
    return_path: str | None = None  # the envelope sender to send this recipient's copy with (VERP)


@dataclass(frozen=True, slots=True)
class LinkRefused:
    """A recipient no link can be made for (not an address), reported in its place."""

    email: Any
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class Suppression:
    scope: str
    reason: str
    source: str | None
    created_at: datetime
    note: str | None
    email: str | None = None  # set where a listing names the address of each row
    erased: bool = False  # the erasure of an erased address, which stands for its suppressions


@dataclass(frozen=True, slots=True)
class AddressSuppressions:
    email: str
    suppressions: tuple[Suppression, ...]


@dataclass(frozen=True, slots=True)
class Lifted:
    email: str
    scope: str


@dataclass(frozen=True, slots=True)
class SuppressionPage:
    suppressions: tuple[Suppression, ...]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class HistoryEvent:
    """One event of an address's history, under the history's own type names."""

    at: datetime
    type: str
    scope: str | None
    reason: str | None
    source: str | None
    detail: Mapping[str, Any]
    actor: str | None


@dataclass(frozen=True, slots=True)
class History:
    email: str
    events: tuple[HistoryEvent, ...]


@dataclass(frozen=True, slots=True)
class ErasedSince:
    since: datetime
    reason: str


@dataclass(frozen=True, slots=True)
class SubjectRecord:
    """Everything held about an address (GDPR access)."""

    email: str
    suppressions: tuple[Suppression, ...]
    events: tuple[HistoryEvent, ...]
    erased: ErasedSince | None
    messages: tuple[Mapping[str, Any], ...]  # id, received_at, status, classification, subject
    consents: tuple[Any, ...] = ()  # consent.model.Consent, with its proof
    requests: tuple[Any, ...] = ()  # consent.model.Request: the privacy requests made by mail


@dataclass(frozen=True, slots=True)
class Removed:
    suppressions: int
    events: int
    messages: int
    outgoing: int
    consents: int = 0
