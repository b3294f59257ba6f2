"""Counting a campaign's recipients and reports as they are committed, and pausing or resuming it.
A recipient, and each kind of report about them, counts once per campaign and resume."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Iterator

from ...storage import campaign_queries, queries
from ..errors import Conflict, InvalidInput, NotFound
from ..events.model import Actor, EventType, HistoryType
from ..suppressions.model import CheckResult, CheckResults
from ..suppressions.return_paths import ERASED_ID
from ..suppressions.rules import valid_text
from .model import CAMPAIGN_PAUSED, Campaign, CampaignStatus, PausedBy, ReportKind, Thresholds, campaign_from_row

if TYPE_CHECKING:
    import asyncpg

log = logging.getLogger("optout.campaigns")

MAX_LISTED = 1000
MAX_NOTE = 2000
_LIMIT_NAMES = {PausedBy.COMPLAINT_RATE: ("complaint", "complaints", "OPTOUT_GUARD_COMPLAINT_RATE"),
                PausedBy.HARD_BOUNCE_RATE: ("hard-bounce", "hard bounces", "OPTOUT_GUARD_BOUNCE_RATE")}


async def count_sent(conn: asyncpg.Connection, given: Iterable[tuple[str, int]], thresholds: Thresholds) -> None:
    """Links were issued: each (campaign, recipient id) counts once per campaign and epoch. An
    erased address's links name no one and count for nothing. In the caller's transaction."""
    pairs = {(campaign, recipient_id) for campaign, recipient_id in given
             if campaign is not None and recipient_id != ERASED_ID}
    if not pairs:
        return
    named = await campaign_queries.campaigns_named(conn, [campaign for campaign, _ in pairs])
    ordered = sorted(pairs)
    grown = await campaign_queries.count_recipients(
        conn, [named[c][0] for c, _ in ordered], [r for _, r in ordered], [named[c][1] for c, _ in ordered])
    for row in grown:
        await _pause_if_breached(conn, row, thresholds)


async def count_report(conn: asyncpg.Connection, campaign: str, recipient_id: int, kind: ReportKind,
                       thresholds: Thresholds) -> bool:
    """A report about one recipient of the campaign was acted on; return whether it counted
    (it does once per recipient, kind and epoch). In the caller's transaction."""
    if recipient_id == ERASED_ID:
        return False
    if kind is ReportKind.UNSUBSCRIBE:  # a burst of one-clicks must not queue on the campaign's row
        return await campaign_queries.note_unsubscribe(conn, campaign, recipient_id)
    campaign_id, epoch = (await campaign_queries.campaigns_named(conn, [campaign]))[campaign]
    row = await campaign_queries.count_report(conn, campaign_id, epoch, str(kind), recipient_id)
    if row is None:
        return False
    if kind in (ReportKind.COMPLAINT, ReportKind.HARD_BOUNCE):
        await _pause_if_breached(conn, row, thresholds)
    return True


async def _pause_if_breached(conn: asyncpg.Connection, row, thresholds: Thresholds) -> None:
    if row["status"] != CampaignStatus.ACTIVE:
        return
    breach = thresholds.breach(row["sent"], row["complaints"], row["hard_bounces"])
    if breach is None:
        return
    by, found = breach
    what, counted, setting = _LIMIT_NAMES[by]
    count = row["complaints"] if by is PausedBy.COMPLAINT_RATE else row["hard_bounces"]
    limit = thresholds.complaint_rate if by is PausedBy.COMPLAINT_RATE else thresholds.bounce_rate
    reason = (f"{what} rate {found:.2%} ({count} {counted} of {row['sent']} sent) reached "
              f"{setting}={limit:g} ({limit:.2%})")
    paused = await campaign_queries.pause(conn, row["id"], str(by), found, count, row["sent"], reason)
    if paused is None:
        return
    campaign = campaign_from_row(paused)
    await queries.insert_event(
        conn, None, HistoryType.CAMPAIGN_PAUSED, reason=str(by), source="guardrail", actor=Actor.GUARDRAIL,
        detail={"campaign": campaign.name, "paused_reason": reason, "sent": campaign.sent,
                "complaints": campaign.complaints, "hard_bounces": campaign.hard_bounces,
                "complaint_rate": campaign.complaint_rate, "hard_bounce_rate": campaign.hard_bounce_rate},
        published_as=EventType.CAMPAIGN_PAUSED,
    )
    log.warning("campaign %r paused: %s", campaign.name, reason)


FOLD_BATCH = 10_000


async def fold_unsubscribes(conn: asyncpg.Connection, batch: int = FOLD_BATCH) -> int:
    """Add the unsubscribes kept since the last fold to their campaigns' counts, in batches, each
    committed on its own; return how many. Reads add those not folded yet, so counts are exact
    either way: folding keeps reads cheap."""
    folded = 0
    while True:
        async with conn.transaction():
            done = await campaign_queries.fold_unsubscribes(conn, batch)
        folded += done
        if done < batch:
            return folded


async def paused_among(conn: asyncpg.Connection, names: Iterable[str | None]) -> set[str]:
    wanted = sorted({name for name in names if name})
    return await campaign_queries.paused_among(conn, wanted) if wanted else set()


async def is_paused(conn: asyncpg.Connection, name: str | None) -> bool:
    return bool(name) and name in await paused_among(conn, [name])


async def campaign(conn: asyncpg.Connection, name: str) -> Campaign:
    row = await campaign_queries.campaign_by_name(conn, name)
    if row is None:
        raise NotFound("No campaign has this name: it gets one when links are issued in it.")
    return campaign_from_row(row)


async def campaigns(conn: asyncpg.Connection, limit: int = 100, status: str | None = None) -> list[Campaign]:
    """Newest first."""
    if status is not None and status not in set(CampaignStatus):
        raise InvalidInput("'status' is active or paused.", field="status")
    if not 1 <= limit <= MAX_LISTED:
        raise InvalidInput(f"'limit' is a number from 1 to {MAX_LISTED}.", field="limit")
    return [campaign_from_row(r) for r in await campaign_queries.newest_campaigns(conn, limit, status)]


async def paused_campaigns(conn: asyncpg.Connection, limit: int = MAX_LISTED) -> list[Campaign]:
    """The paused ones, most recently paused first: the console shows them on top."""
    return [campaign_from_row(r) for r in await campaign_queries.paused_campaigns(conn, limit)]


async def resume(conn: asyncpg.Connection, name: str, note: object, by: str, source: str = "api") -> Campaign:
    """Resume a paused campaign on an admin's word: why it is safe (`note`), who (`by`, the
    key's name) and where (`source`: the API or the staff console) are recorded; its rates count
    afresh from now, with the same thresholds."""
    note = valid_text(note, "note", limit=MAX_NOTE)
    if note is None or not note.strip():
        raise InvalidInput("Say in 'note' why it is safe to send this campaign again.", field="note")
    row = await campaign_queries.resume(conn, name, by, note.strip())
    if row is None:
        await campaign(conn, name)  # NotFound when there is no such campaign
        raise Conflict("This campaign is not paused.")
    resumed = campaign_from_row(row)
    await queries.insert_event(conn, None, HistoryType.CAMPAIGN_RESUMED, source=source, actor=by,
                               detail={"campaign": resumed.name, "note": resumed.resume_note})
    log.info("campaign %r resumed by %s", resumed.name, by)
    return resumed


async def figures(conn: asyncpg.Connection, thresholds: Thresholds) -> tuple[int, float]:
    """For /metrics: how many campaigns are paused, and the worst complaint rate among the
    campaigns judged (sent at least the minimum) that were active in the last 7 days."""
    row = await campaign_queries.guard_figures(conn, thresholds.min_sent)
    return row["paused"], row["worst_complaint_rate"] or 0.0


class _EveryoneBlocked(Mapping):
    """Every recipient of a paused campaign is blocked, without a value made for each in advance."""

    def __init__(self, emails: Sequence[object]):
        self.emails = emails

    def __getitem__(self, index: int) -> CheckResult:
        return CheckResult(self.emails[index], False, CAMPAIGN_PAUSED)

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self.emails)))

    def __len__(self) -> int:
        return len(self.emails)


def all_paused(emails: Sequence[object]) -> CheckResults:
    """The check's answer for a paused campaign: `campaign_paused` for every recipient."""
    return CheckResults(emails, _EveryoneBlocked(emails))
