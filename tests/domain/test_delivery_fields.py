"""Where a message posted without its envelope was delivered (POST /v1/inbound): the delivery
fields read from the raw header block name what the email package's header parser names, on
every message of the corpus and on generated header blocks, in time linear in the block."""

from __future__ import annotations

import email.parser
import subprocess
import sys
from email.policy import compat32

import pytest

from hypothesis import given, settings
from hypothesis import strategies as st

from service.domain.inbound.mime import (DELIVERY_FIELDS, MAX_HEADER, MAX_POSTED_RECIPIENTS, addresses_in,
                                         delivered_to, header_block)
from tests.conftest import CORPUS, ROOT


def parsed_delivered_to(raw: bytes) -> list[str]:
    """The same question put to the email package's header parser: the reference."""
    fields = email.parser.BytesHeaderParser(policy=compat32).parsebytes(header_block(raw))
    for name in DELIVERY_FIELDS:
        values = fields.get_all(name)
        if values:
            return addresses_in(str(values[0])[:MAX_HEADER])[:MAX_POSTED_RECIPIENTS]
    return []


def test_every_corpus_message_names_the_recipients_the_header_parser_names():
    messages = sorted(CORPUS.rglob("*.eml"))
    assert len(messages) > 100
    named = 0
    for path in messages:
        raw = path.read_bytes()
        assert delivered_to(raw) == parsed_delivered_to(raw), path.name
        named += bool(delivered_to(raw))
    assert named > len(messages) // 2  # the comparison is about recipients, not about empty lists


def test_the_topmost_delivered_to_wins_over_the_other_fields_and_a_folded_to_is_unfolded():
    raw = (b"Return-Path: <>\r\nTo: Someone <someone@example.be>\r\nDelivered-To: bounces+x@cetit.be\r\n"
           b"Delivered-To: info@cetit.be\r\nSubject: s\r\n\r\nDelivered-To: body@example.be\r\n")
    assert delivered_to(raw) == ["bounces+x@cetit.be"]
    folded = b"Subject: s\r\nTo: Jan <jan@example.be>,\r\n\tAn <an@example.be>\r\n\r\nbody\r\n"
    assert delivered_to(folded) == ["jan@example.be", "an@example.be"]
    assert delivered_to(b"Subject: no recipient\r\n\r\nTo: body@example.be\r\n") == []
    assert delivered_to(b"X-To: x@example.be\r\nResent-To: r@example.be\r\n\r\n") == []


_NAMES = st.sampled_from(["To", "to", "TO", "Delivered-To", "delivered-to", "X-Original-To", "Envelope-To",
                          "Cc", "From", "Subject", "X-To", "Resent-To"])
_VALUES = st.lists(st.sampled_from(["jan@example.be", "<an@example.be>", "Piet <piet@example.org>", ",", " ",
                                    "\"quoted, name\"", "=?utf-8?q?x?=", "\xe9", "é@example.be"]),
                   max_size=6).map("".join)
_FIELDS = st.lists(st.tuples(_NAMES, _VALUES, st.booleans()), max_size=12)


@settings(max_examples=300, deadline=None)
@given(_FIELDS, st.sampled_from([b"\r\n", b"\n"]))
def test_generated_header_blocks_name_what_the_header_parser_names(fields, newline):
    lines = []
    for name, value, folded in fields:
        line = f"{name}: {value}".encode("utf-8")
        if folded:
            line += newline + b"\t" + b"more@example.net"
        lines.append(line)
    raw = newline.join(lines) + newline + newline + b"body" + newline
    assert delivered_to(raw) == parsed_delivered_to(raw)


WATCHDOG = 60  # seconds; the reading takes milliseconds, a backtracking one minutes

CHILD = """
import sys
from service.domain.inbound.mime import delivered_to
print(delivered_to(sys.stdin.buffer.read()))
"""


def test_a_huge_hostile_header_block_is_read_before_the_watchdog():
    """Lone CRs, folds without end and near-miss field names in 256 KiB of header: no backtracking."""
    hostile = (b"To: a@example.be" + b"\r" * 60_000 + b"\r\n" + b"\r\n\t\r" * 20_000
               + b"\r\nDelivered-To" + b" \t" * 30_000 + b"\r\n" + b"to:" * 20_000 + b"\r\n\r\n")
    try:
        done = subprocess.run([sys.executable, "-c", CHILD], input=hostile, capture_output=True, cwd=ROOT,
                              timeout=WATCHDOG, check=True)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the delivery fields were not read within {WATCHDOG} s: a pattern backtracks")
    assert done.stdout.strip() == repr(parsed_delivered_to(hostile)).encode()
