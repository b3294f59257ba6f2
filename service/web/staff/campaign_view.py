"""A campaign as the console shows it: its counts and rates in the reader's number format, beside
the providers' limits and the thresholds it is judged by, and why it was paused in their words."""

from __future__ import annotations

from datetime import datetime

from ...domain.campaigns.model import Campaign, PausedBy, Thresholds
from ...texts.staff import MONTHS, Translator
from ..pages import BRUSSELS

# Gmail's and Yahoo's sender guidelines: keep the spam rate under 0.1%, never reach 0.3%.
PROVIDERS_KEEP_UNDER = 0.001
PROVIDERS_NEVER_REACH = 0.003


def whole(number: int, lang: str) -> str:
    """1.000 in Belgian Dutch, 1,000 in English."""
    written = f"{number:,}"
    return written.replace(",", ".") if lang == "nl" else written


def percent(fraction: float, lang: str, places: int = 2) -> str:
    """0.003 as 0,30% in Belgian Dutch, 0.30% in English."""
    written = f"{fraction * 100:,.{places}f}"
    if lang == "nl":
        written = written.replace(",", " ").replace(".", ",").replace(" ", ".")
    return written + "%"


def moment(value: datetime, lang: str) -> str:
    """A time on Brussels' clock, its month in words: "6 december 2026 om 14:03"."""
    local = value.astimezone(BRUSSELS)
    day = f"{local.day} {MONTHS[lang][local.month - 1]} {local.year}"
    return f"{day} {'om' if lang == 'nl' else 'at'} {local:%H:%M}"


def pause_reason(campaign: Campaign, thresholds: Thresholds, t: Translator) -> str:
    """Why it was paused: the rate that reached its threshold, with the counts when the pause came."""
    if campaign.paused_by is None or campaign.paused_at is None:
        return campaign.paused_reason or ""
    complaints = campaign.paused_by is PausedBy.COMPLAINT_RATE
    limit = thresholds.complaint_rate if complaints else thresholds.bounce_rate
    values = {"when": moment(campaign.paused_at, t.lang), "rate": percent(campaign.paused_rate or 0.0, t.lang),
              "limit": percent(limit, t.lang), "what": t("complaint rate" if complaints else "hard-bounce rate")}
    counts = campaign.paused_counts
    if counts is None:
        return t("Paused on {when}: {what} {rate} reached the limit of {limit}", **values)
    count, sent = counts
    if complaints:
        counted = t("{count} complaint" if count == 1 else "{count} complaints", count=whole(count, t.lang))
    else:
        counted = t("{count} hard bounce" if count == 1 else "{count} hard bounces", count=whole(count, t.lang))
    return t("Paused on {when}: {what} {rate} ({counted} of {sent} sent) reached the limit of {limit}",
             counted=counted, sent=whole(sent, t.lang), **values)


def campaign_view(campaign: Campaign, thresholds: Thresholds, t: Translator) -> dict:
    """What the page shows of one campaign, its figures written out in the reader's language."""
    lang = t.lang
    complaint_rate, bounce_rate = campaign.complaint_rate, campaign.hard_bounce_rate
    return {
        "campaign": campaign, "name": campaign.name, "paused": campaign.paused,
        "reason": pause_reason(campaign, thresholds, t) if campaign.paused else None,
        "counts": [(t(label), whole(value, lang)) for label, value in (
            ("Sent", campaign.sent), ("Complaints", campaign.complaints), ("Hard bounces", campaign.hard_bounces),
            ("Soft bounces", campaign.soft_bounces), ("Unsubscribes", campaign.unsubscribes))],
        "complaint_rate": percent(complaint_rate, lang),
        "complaint_level": _level(complaint_rate, PROVIDERS_KEEP_UNDER, thresholds.complaint_rate),
        "hard_bounce_rate": percent(bounce_rate, lang),
        "hard_bounce_level": _level(bounce_rate, thresholds.bounce_rate / 2, thresholds.bounce_rate),
        "counted_since": moment(campaign.counted_since, lang),
        "resumed": campaign.resumed_at is not None,
    }


def limits_view(thresholds: Thresholds, t: Translator) -> dict:
    """The limits every campaign's rates are read against, written out once for the page."""
    return {"keep_under": percent(PROVIDERS_KEEP_UNDER, t.lang, 1),
            "never_reach": percent(PROVIDERS_NEVER_REACH, t.lang, 1),
            "complaint_rate": percent(thresholds.complaint_rate, t.lang),
            "bounce_rate": percent(thresholds.bounce_rate, t.lang),
            "min_sent": whole(thresholds.min_sent, t.lang)}


def _level(rate: float, warn_from: float, limit: float) -> str:
    """A rate's class on the page: over (at its threshold), near (past the warning line), or fine."""
    return "over" if rate >= limit else "near" if rate >= warn_from else ""
