"""Each cursor kind decodes what it encoded, and refuses another kind's cursor or a changed one."""

import base64
import json
import string
import uuid
from datetime import datetime, timezone
from itertools import permutations

import pytest

from service.domain import cursors
from service.domain.errors import InvalidInput

AT = datetime(2026, 3, 4, 5, 6, 7, 890123, tzinfo=timezone.utc)
MESSAGE = uuid.UUID("12345678-1234-5678-1234-567812345678")
URL_SAFE = string.ascii_uppercase + string.ascii_lowercase + string.digits + "-_"
KINDS = {
    "feed": (cursors.encode_feed_cursor, cursors.decode_feed_cursor, (2**64 - 1, 42), "after"),
    "list": (cursors.encode_list_cursor, cursors.decode_list_cursor, (AT, "jé\"@example.be", "news"), "cursor"),
    "inbound": (cursors.encode_inbound_cursor, cursors.decode_inbound_cursor, (AT.replace(microsecond=0), MESSAGE), "cursor"),
}


def refused(decode, cursor: str) -> str:
    with pytest.raises(InvalidInput) as caught:
        decode(cursor)
    return caught.value.detail["field"]


@pytest.mark.parametrize("kind", KINDS)
def test_a_cursor_decodes_to_what_it_was_made_of(kind):
    encode, decode, position, _field = KINDS[kind]
    assert decode(encode(*position)) == position


@pytest.mark.parametrize(("kind", "other"), list(permutations(KINDS, 2)))
def test_a_cursor_of_another_kind_is_refused(kind, other):
    encode, _, position, _ = KINDS[other]
    assert refused(KINDS[kind][1], encode(*position)) == KINDS[kind][3]


@pytest.mark.parametrize("kind", KINDS)
def test_a_changed_or_respelt_cursor_is_refused(kind):
    encode, decode, position, field = KINDS[kind]
    cursor = encode(*position)
    assert len(cursor) % 4, "a last character with unused bits"
    last = URL_SAFE.index(cursor[-1])
    unused_bit_set = cursor[:-1] + URL_SAFE[last ^ 1]  # the same bytes: the last character's unused bits differ
    for changed in (cursor + "=", cursor[:-1], unused_bit_set,
                    cursor.replace("-", "+").replace("_", "/") + "+", "é" + cursor, cursor * 200):
        assert refused(decode, changed) == field, changed


def test_the_list_cursor_takes_only_the_json_it_writes():
    compact = json.dumps([AT.isoformat(), "je@example.be", "news"], separators=(",", ":")).encode()
    assert refused(cursors.decode_list_cursor, base64.urlsafe_b64encode(compact).decode().rstrip("=")) == "cursor"


def test_the_feed_cursor_before_an_event_leads_to_it():
    assert cursors.decode_feed_cursor(cursors.feed_cursor_before(7, 100)) == (7, 99)
