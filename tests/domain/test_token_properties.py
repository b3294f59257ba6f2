"""Properties of the signed link tokens, for any input a stranger can put in a URL or a subject."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.domain.addresses import canonical_or_none
from service.domain.errors import BadToken
from service.domain.tokens import MAX_TOKEN_LENGTH, LinkClaim, TokenSigner

SIGNER = TokenSigner(["new-key-0123456789abcdef", "old-key-0123456789abcdef"], timedelta(days=30))
STRANGER = TokenSigner(["someone-elses-key-0123456789"], timedelta(days=30))
SCOPES = st.sampled_from(["global", "newsletter", "events", "a-b_c"])
BOUNDED = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TOKEN_TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=MAX_TOKEN_LENGTH + 50)


def verdict(token: str) -> LinkClaim | None:
    try:
        return SIGNER.verify(token)
    except BadToken:
        return None


@BOUNDED
@given(TOKEN_TEXT)
def test_any_text_is_a_claim_or_a_bad_token_never_an_error(text):
    claim = verdict(text)
    assert claim is None or isinstance(claim, LinkClaim)


@BOUNDED
@given(st.binary(max_size=2000))
def test_any_bytes_decoded_leniently_are_refused_cleanly(raw):
    assert verdict(raw.decode("utf-8", "surrogateescape")) is None  # lone surrogates included
    assert verdict(raw.decode("latin-1")) is None


@BOUNDED
@given(st.emails(), SCOPES)
def test_a_signed_address_verifies_to_itself(address, scope):
    canonical = canonical_or_none(address)
    if canonical is None:
        return
    claim = SIGNER.verify(SIGNER.sign(canonical, scope))
    assert (claim.address, claim.scope, claim.expired) == (canonical, scope, False)


@BOUNDED
@given(st.emails(), SCOPES, st.data())
def test_changing_any_character_never_yields_another_claim(address, scope, data):
    canonical = canonical_or_none(address)
    if canonical is None:
        return
    token = SIGNER.sign(canonical, scope)
    position = data.draw(st.integers(0, len(token) - 1))
    replacement = data.draw(st.sampled_from("ABCXYZabcxyz0189-_.~%"))
    changed = token[:position] + replacement + token[position + 1:]
    claim = verdict(changed)
    # A change may land in base64's unused padding bits and decode to the same bytes: the same
    # claim, then. It never names another address or scope.
    assert claim is None or (claim.address, claim.scope) == (canonical, scope)


@BOUNDED
@given(st.emails(), SCOPES)
def test_a_token_signed_with_another_key_is_refused(address, scope):
    canonical = canonical_or_none(address)
    if canonical is None:
        return
    assert verdict(STRANGER.sign(canonical, scope)) is None


def test_an_old_key_still_verifies_and_the_newest_signs():
    old = TokenSigner(["old-key-0123456789abcdef"], timedelta(days=30))
    token = old.sign("jan@example.be", "newsletter")
    assert SIGNER.verify(token).address == "jan@example.be"
    newest = SIGNER.sign("jan@example.be")  # signed by the first key only
    assert verdict(newest) is not None
    try:
        old.verify(newest)
    except BadToken:
        pass
    else:
        raise AssertionError("a token of the newest key verified with the old key alone")
