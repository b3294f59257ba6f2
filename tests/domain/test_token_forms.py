"""Every token has one canonical form: a link token (opaque, and the signed JSON of older
links) or a return path that differs from the one issued in any character, the unused bits of
its last character included, does not verify (a return path's case aside: mail systems may
change it)."""

from __future__ import annotations

import base64
import string
from datetime import timedelta

import pytest
from hypothesis import assume, given, settings, strategies as st

from service.domain.errors import BadToken
from service.domain.suppressions.return_paths import ReturnPaths
from service.domain.tokens import TokenSigner

KEYS = ("new-key-" + "n" * 24, "old-key-" + "o" * 24)
SIGNER = TokenSigner(KEYS, timedelta(days=90))
RETURN_PATHS = ReturnPaths(KEYS, "bounces@cetit.be")
LINKS = {
    "opaque": SIGNER.issue(12345, "newsletter", "lente-2026"),
    "older signed json": SIGNER.sign("jan@example.be", "newsletter", "lente-2026"),
    "older, signed with the old key": TokenSigner(KEYS[1:], timedelta(days=90)).sign("jan@example.be"),
}
RETURN_PATH = RETURN_PATHS.token(12345)
# The URL-safe and the standard base64 alphabets, base32's, padding, and a few that decoders skip.
CHARACTERS = string.ascii_letters + string.digits + "-_+/=.!~ %\n\x00é"


def changed(token: str, how: str, position: int, character: str) -> str:
    at = position % (len(token) + (how == "insert"))
    if how == "replace":
        return token[:at] + character + token[at + 1:]
    if how == "insert":
        return token[:at] + character + token[at:]
    return token[:at] + token[at + 1:]


edits = dict(how=st.sampled_from(["replace", "insert", "delete"]), position=st.integers(0, 2000),
             character=st.sampled_from(CHARACTERS))


@pytest.mark.parametrize("kind", sorted(LINKS))
@settings(max_examples=400, deadline=None)
@given(**edits)
def test_a_link_token_changed_in_any_character_does_not_verify(kind, how, position, character):
    token = LINKS[kind]
    assert SIGNER.verify(token)
    other = changed(token, how, position, character)
    assume(other != token)
    with pytest.raises(BadToken):
        SIGNER.verify(other)


@settings(max_examples=400, deadline=None)
@given(**edits)
def test_a_return_path_changed_in_any_character_but_case_does_not_verify(how, position, character):
    assert RETURN_PATHS.recipient_of(RETURN_PATH) == 12345
    assert RETURN_PATHS.recipient_of(RETURN_PATH.upper()) == 12345
    other = changed(RETURN_PATH, how, position, character)
    assume(other.lower() != RETURN_PATH.lower())
    assert RETURN_PATHS.recipient_of(other) is None


def same_bytes_other_last_character(token: str, decode, fold_case: bool = False) -> list[str]:
    """The tokens that decode to the same bytes as `token` with another last character: what a
    lenient decoder would take for it (the unused bits of the last character set otherwise)."""
    alphabet = string.ascii_letters + string.digits + "-_"
    fold = str.lower if fold_case else str
    return [token[:-1] + c for c in alphabet
            if fold(c) != fold(token[-1]) and _decodes(decode, token[:-1] + c) == decode(token)]


def _decodes(decode, text):
    try:
        return decode(text)
    except ValueError:
        return None


def test_the_unused_bits_of_a_return_path_s_last_character_are_checked():
    def decode(text):
        return base64.b32decode(text.upper() + "======")
    others = same_bytes_other_last_character(RETURN_PATH, decode, fold_case=True)
    assert others  # 26 characters carry 130 bits for 128: there are such twins
    assert all(RETURN_PATHS.recipient_of(other) is None for other in others)


@pytest.mark.parametrize("kind", sorted(LINKS))
def test_the_unused_bits_of_a_link_token_s_last_character_are_checked(kind):
    token = LINKS[kind]

    def decode(text):
        last = text.rpartition(".")[2]
        return text.rpartition(".")[0], base64.urlsafe_b64decode(last + "=" * (-len(last) % 4))
    others = same_bytes_other_last_character(token, decode)
    assert others
    for other in others:
        with pytest.raises(BadToken):
            SIGNER.verify(other)


@pytest.mark.parametrize("kind", sorted(LINKS))
def test_a_link_token_with_padding_or_skipped_characters_does_not_verify(kind):
    token = LINKS[kind]
    for other in (token + "=", token + "==", token[:10] + "!" + token[10:], token[:10] + "\n" + token[10:]):
        with pytest.raises(BadToken):
            SIGNER.verify(other)
