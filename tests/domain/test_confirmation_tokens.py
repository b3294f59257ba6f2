"""A confirmation token has one canonical form: any other spelling of it does not verify."""

from __future__ import annotations

import base64
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.domain.tokens import ConfirmationTokens, urlsafe_b64_bytes
from service.domain.errors import BadToken

TOKENS = ConfirmationTokens(["new-key-0123456789abcdef", "old-key-0123456789abcdef"])
URL_SAFE = string.ascii_letters + string.digits + "-_"
OUTSIDE = "+/=.~%! \n\té\x00"
BOUNDED = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def verifies(token: str) -> bool:
    try:
        TOKENS.verify(token)
    except BadToken:
        return False
    return True


def test_a_token_verifies_to_its_consent_and_is_url_safe_base64_without_padding():
    token = TOKENS.issue(4711)
    assert TOKENS.verify(token) == 4711
    assert len(token) == 28 and set(token) <= set(URL_SAFE)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(1, 2**62))
def test_changing_any_one_character_of_a_token_makes_it_fail(consent_id):
    token = TOKENS.issue(consent_id)
    for position, original in enumerate(token):
        for replacement in URL_SAFE + OUTSIDE:
            if replacement != original:
                changed = token[:position] + replacement + token[position + 1:]
                assert not verifies(changed), (position, replacement)


@BOUNDED
@given(st.integers(1, 2**62), st.data())
def test_adding_one_character_anywhere_makes_a_token_fail(consent_id, data):
    token = TOKENS.issue(consent_id)
    position = data.draw(st.integers(0, len(token)))
    added = data.draw(st.sampled_from(URL_SAFE + OUTSIDE))
    assert not verifies(token[:position] + added + token[position:])


def plus_slash(token: str) -> str:
    return token.replace("-", "+").replace("_", "/")


def a_token_with(character: str) -> str:
    for consent_id in range(1, 10_000):
        token = TOKENS.issue(consent_id)
        if character in token:
            return token
    raise AssertionError(f"no token with {character!r}")


@pytest.mark.parametrize("spelling", [
    pytest.param(lambda t: t + "=", id="one trailing ="),
    pytest.param(lambda t: t + "==", id="two trailing ="),
    pytest.param(lambda t: t + "====", id="a whole quantum of ="),
    pytest.param(lambda t: " " + t, id="a leading space"),
    pytest.param(lambda t: t[:10] + "\n" + t[10:], id="a line break inside"),
    pytest.param(lambda t: t[:5] + "." + t[5:], id="a dot inside"),
])
def test_another_spelling_of_a_real_token_does_not_verify(spelling):
    token = TOKENS.issue(4711)
    assert not verifies(spelling(token))


@pytest.mark.parametrize("character", ["-", "_"])
def test_the_standard_base64_letters_for_the_url_safe_ones_do_not_verify(character):
    token = a_token_with(character)
    assert verifies(token) and not verifies(plus_slash(token))


# A confirmation token is 21 bytes, 28 characters, and so has no unused bits. The decoding is
# shared by any length: these values leave 2, 4 and no unused bits in their last character.
@pytest.mark.parametrize("raw", [bytes(range(20)), b"\xff" * 19, bytes(21)], ids=["2 bits", "4 bits", "none"])
def test_a_last_character_with_its_unused_bits_set_does_not_decode(raw):
    canonical = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    assert urlsafe_b64_bytes(canonical) == raw
    alphabet = string.ascii_uppercase + string.ascii_lowercase + string.digits + "-_"
    for flipped in range(1, 2 ** (len(canonical) * 6 % 8)):
        changed = canonical[:-1] + alphabet[alphabet.index(canonical[-1]) ^ flipped]
        assert base64.urlsafe_b64decode(changed + "=" * (-len(changed) % 4)) == raw  # the lenient decoder agrees
        with pytest.raises(ValueError):
            urlsafe_b64_bytes(changed)
