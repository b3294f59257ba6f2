"""The console's word table says every value the service keeps, in each of its languages."""

import pytest

from service.domain.campaigns.model import CampaignStatus, PausedBy
from service.domain.consent.rules import ConsentSource, REQUEST_KINDS, STATUSES
from service.domain.events.model import HistoryType
from service.domain.inbound.model import BounceKind, Classification, InboundStatus
from service.domain.outbox import OutboxKind
from service.domain.suppressions.model import Source
from service.domain.suppressions.rules import NO_CONSENT, REASONS
from service.texts.staff import LANGUAGES, WORDS, Translator

# Sources an event may carry besides those of a suppression or a consent: who resumed a campaign.
EVENT_ONLY_SOURCES = {"guardrail", "staff"}

KEPT = {
    "reason": {*REASONS, NO_CONSENT, *PausedBy},
    "source": {*Source, *ConsentSource, *EVENT_ONLY_SOURCES},
    "event": set(HistoryType),
    "classification": set(Classification),
    "status": {*InboundStatus, *STATUSES, "open", "closed", *CampaignStatus},
    "kind": {*REQUEST_KINDS, *OutboxKind, *BounceKind},
}


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("kind", sorted(KEPT))
def test_every_kept_value_has_a_word(lang, kind):
    missing = {str(value) for value in KEPT[kind]} - set(WORDS[lang][kind])
    assert not missing, f"{lang} {kind}: no word for {sorted(missing)}"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_word_table_names_nothing_the_service_does_not_keep(lang):
    extra = {kind: set(WORDS[lang][kind]) - {str(v) for v in KEPT[kind]} for kind in KEPT}
    assert not any(extra.values()), extra


def test_a_word_is_said_in_the_reader_s_language():
    assert Translator("nl").word("source", "self_service") == "eigen pagina van de persoon"
    assert Translator("en").word("event", "campaign_paused") == "campaign paused"
