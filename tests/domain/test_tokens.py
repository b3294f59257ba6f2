"""Tokens: signed, rotated, tamper-evident; an old signature still names its address."""

import time
from datetime import timedelta

import pytest

from service.domain.errors import BadToken
from service.domain.tokens import TokenSigner

NEW, OLD = "new-key-" + "n" * 24, "old-key-" + "o" * 24
AGE = timedelta(days=90)


def test_a_token_round_trips_its_claim():
    signer = TokenSigner([NEW], AGE)
    claim = signer.verify(signer.sign("jan@example.be", "newsletter", "black-friday"))
    assert (claim.address, claim.scope, claim.campaign, claim.expired) == ("jan@example.be", "newsletter", "black-friday", False)


def test_the_newest_key_signs_and_an_old_key_still_verifies():
    old_link = TokenSigner([OLD], AGE).sign("jan@example.be", "events")
    rotated = TokenSigner([NEW, OLD], AGE)
    assert rotated.verify(old_link).address == "jan@example.be"
    assert TokenSigner([NEW], AGE).verify(rotated.sign("a@example.be")).address == "a@example.be"


def test_a_token_of_a_removed_key_is_refused():
    old_link = TokenSigner([OLD], AGE).sign("jan@example.be")
    with pytest.raises(BadToken):
        TokenSigner([NEW], AGE).verify(old_link)


@pytest.mark.parametrize("damage", [
    lambda t: t[:-1], lambda t: t[:20], lambda t: t + "x", lambda t: "x" + t[1:],
    lambda t: t.replace(".", "", 1), lambda t: "", lambda t: "a" * 5000, lambda t: "..",
])
def test_tampered_or_truncated_tokens_are_refused(damage):
    signer = TokenSigner([NEW], AGE)
    with pytest.raises(BadToken):
        signer.verify(damage(signer.sign("jan@example.be", "newsletter")))


def test_an_expired_signature_still_gives_its_claim_marked_expired():
    token = TokenSigner([NEW], AGE).sign("jan@example.be", "newsletter")
    time.sleep(1.1)
    claim = TokenSigner([NEW], timedelta(seconds=0)).verify(token)
    assert claim.address == "jan@example.be" and claim.expired is True


def test_tokens_are_short_enough_for_a_mail_header():
    signer = TokenSigner([NEW], AGE)
    token = signer.sign("firstname.lastname+newsletter@subdomain.example.be", "newsletter", "2026-11-campaign")
    assert len(token) < 200


def test_with_a_max_age_of_zero_every_link_unsubscribes_and_none_resubscribes():
    signer = TokenSigner([NEW], timedelta(0))
    claim = signer.verify(signer.sign("jan@example.be", "events"))
    assert claim.address == "jan@example.be" and claim.expired


def test_a_link_is_named_by_what_it_says_and_when_it_was_signed():
    import itsdangerous.timed as timed

    signer = TokenSigner(["k" * 32], timedelta(days=90))
    original = timed.TimestampSigner.get_timestamp
    try:
        timed.TimestampSigner.get_timestamp = lambda self: 1_700_000_000
        first = signer.sign("jan@example.be", "newsletter", "spring")
        other_campaign = signer.sign("jan@example.be", "newsletter", "autumn")
        other_scope = signer.sign("jan@example.be", "events", "spring")
        timed.TimestampSigner.get_timestamp = lambda self: 1_700_000_001
        later = signer.sign("jan@example.be", "newsletter", "spring")
    finally:
        timed.TimestampSigner.get_timestamp = original
    names = [signer.verify(token).link_id for token in (first, other_campaign, other_scope, later)]
    assert len(set(names)) == 4
    assert signer.verify(first).link_id == names[0] and len(names[0]) == 32
