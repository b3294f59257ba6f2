"""Mail written to make the classifier's patterns backtrack, and any input at all: each is
classified (or reported unreadable) and never breaks classification.

No figure is asserted here: the bench `mail_bomb` measures how long each bomb takes beside an
ordinary mail. The tests bound only what a backtracking pattern cannot do: the worst message
of every family, at the size one part's text is read to, is classified by a process of its
own before a watchdog many times longer than all of them take together (a quadratic pattern
on such a message runs for minutes, as the 120 KB mails that froze the service did).
"""

from __future__ import annotations

import json
import pickle
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.mail_bomb import BOMBS
from service.domain.inbound.classify import Classification, Envelope, Verdict, classify
from service.domain.inbound.mime import MAX_HEADER, MAX_TEXT, UnreadableMessage, addresses_in, html_text, parse, raw_header
from service.domain.inbound.replies import own_words, unsubscribe_request
from service.domain.tokens import TokenSigner

ROOT = Path(__file__).resolve().parents[2]
SIGNER = TokenSigner(("hostile-test-key-" + "h" * 16,), timedelta(days=90))
WATCHDOG = 120  # seconds for every bomb together; they take a few seconds, a quadratic one minutes

# In the child: each bomb classified once; what came of it, as JSON on stdout.
CHILD = """
import json, pickle, sys
from datetime import timedelta
from service.domain.inbound.classify import Envelope, classify
from service.domain.inbound.mime import UnreadableMessage
from service.domain.tokens import TokenSigner

signer = TokenSigner(("hostile-test-key-" + "h" * 16,), timedelta(days=90))
outcome = {}
for name, raw in pickle.load(sys.stdin.buffer).items():
    try:
        outcome[name] = classify(raw, Envelope(None, ()), signer.verify, frozenset()).classification
    except UnreadableMessage:
        outcome[name] = "unreadable"
print(json.dumps(outcome))
"""


def test_the_worst_mail_of_every_family_is_classified_before_the_watchdog():
    bombs = {name: build(MAX_TEXT) for name, build in BOMBS.items()}
    try:
        done = subprocess.run([sys.executable, "-c", CHILD], input=pickle.dumps(bombs), capture_output=True,
                              cwd=ROOT, timeout=WATCHDOG, check=True)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the bombs were not all classified within {WATCHDOG} s: a pattern backtracks")
    outcome = json.loads(done.stdout)
    assert set(outcome) == set(BOMBS)
    assert all(verdict in (*Classification, "unreadable")
               for verdict in outcome.values()), outcome


def test_header_values_are_read_to_a_bounded_length():
    msg = parse(b"From: a@example.be\r\nTo: " + b"b" * (4 * MAX_HEADER) + b"\r\nSubject: " + b"s" * (4 * MAX_HEADER)
                + b"\r\n\r\nhi\r\n")
    assert len(raw_header(msg, "To")) == MAX_HEADER
    assert len(str(msg["Subject"])) <= MAX_HEADER


def test_a_request_naming_addresses_with_dots_finds_them():
    raw = (b"From: Jan Smet <jan.smet@example.be>\r\nTo: info@cetit.be\r\nSubject: afmelden\r\n\r\n"
           b"Gelieve uit te schrijven: reader.1@example.be en first.last.2@sub.example.com a.u.b.\r\n")
    verdict = classify(raw, Envelope(None, ()), SIGNER.verify, frozenset())
    assert verdict.classification == "unsubscribe"
    assert verdict.addresses == ("jan.smet@example.be", "reader.1@example.be", "first.last.2@sub.example.com")


def test_addresses_are_found_where_a_scan_from_every_position_finds_them():
    text = ("mail a@example.com.b@c.de, <x.y@z.example.org>; ...dots.@example.be 1@2.3 "
            "u@bad-.example.com v@-bad.example.com w@sub.example.museum_ q@a.bc@d.ef")
    assert addresses_in(text) == _reference_addresses(text)


# The pattern addresses_in replaced, as the reference for its results: it is quadratic in a
# run without an @, so it is only run on the small texts below.
_REFERENCE_ADDRESS = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}")
_REFERENCE_REPLY_HEADER = re.compile(
    r"^\s*(?:on\b.{0,200}\bwrote\s*:|op\b.{0,200}\bschreef\b.{0,200}:|le\b.{0,200}\ba écrit\s*:|"
    r"am\b.{0,200}\bschrieb\b.{0,120}:|-{2,}\s*(?:original message|oorspronkelijk bericht|message d.origine|"
    r"forwarded message|doorgestuurd bericht|message transféré)|-{5,}\s*$|_{5,}\s*$|"
    r"(?:from|van|de|von)\s*:\s.*\n\s*(?:sent|verzonden|envoyé|date|datum|gesendet|to|aan|à)\s*:)",
    re.I | re.M,
)
_REFERENCE_SIGNATURE = re.compile(r"^--\s*$", re.M)
_REFERENCE_CLOSING = re.compile(
    r"^\s*(?:met vriendelijke groet(?:en)?|vriendelijke groet(?:en)?|groet(?:en|jes)?|mvg|m\.v\.g\.|"
    r"kind regards|best regards|regards|best|cheers|thanks|thank you|many thanks|sincerely|"
    r"cordialement|bien (?:à vous|cordialement)|salutations|merci(?: d'avance)?|"
    r"sent from my \w+|verzonden vanaf mijn \w+|envoyé de mon \w+)[\s,.!]*$",
    re.I | re.M,
)


def _reference_addresses(text: str) -> list[str]:
    return list(dict.fromkeys(m.group(0).strip(".").lower() for m in _REFERENCE_ADDRESS.finditer(text)))


def _reference_own_words(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    cut = _REFERENCE_REPLY_HEADER.search(text)
    if cut:
        text = text[: cut.start()]
    signature = _REFERENCE_SIGNATURE.search(text)
    if signature:
        text = text[: signature.start()]
    text = "\n".join(line for line in text.split("\n") if not line.lstrip().startswith(">"))
    closing = _REFERENCE_CLOSING.search(text)
    if closing:
        text = text[: closing.start()]
    return text.strip()


QUICK = settings(max_examples=150, deadline=timedelta(seconds=10), suppress_health_check=[HealthCheck.too_slow])
ADDRESS_TEXT = st.text(alphabet="ab1.-_@ <>\n", max_size=60)
REPLY_TEXT = st.lists(st.sampled_from([
    "", " ", "\t", "\n", "\n\n", "  \n", "Op 3 jan. 2025 om 10:15 schreef Jan <jan@example.be>:", "On Monday, Ann wrote:",
    "-----", "_____", "--", "-- ", "-----Original Message-----", "From: x", "Van: y", "Sent: z", "Verzonden: w",
    "> quoted", "Groeten", "Met vriendelijke groeten,", "best", "Sent from my iPhone", "uitschrijven aub", "x", ".",
    "!", ",", "thanks!", "Le 3 janv. 2025, Luc a écrit :", "Am 3. Jan. schrieb Uwe:",
]), max_size=12).map("".join)


@QUICK
@given(ADDRESS_TEXT)
def test_addresses_in_finds_what_the_former_pattern_found(text):
    assert addresses_in(text) == _reference_addresses(text)


@QUICK
@given(REPLY_TEXT)
def test_own_words_keeps_what_the_former_patterns_kept(text):
    assert own_words(text) == _reference_own_words(text)


@QUICK
@given(st.text(alphabet="ab.@ ?!\nuitschrijven", max_size=80), st.text(alphabet="Re: [2]fwdabc", max_size=30))
def test_a_request_is_read_from_any_words_and_subject(words, subject):
    request = unsubscribe_request(subject, words, set())
    assert request is None or request.language in ("nl", "en", "fr")


@QUICK
@given(st.binary(max_size=3000))
def test_any_bytes_are_classified_or_reported_unreadable(raw):
    try:
        verdict = classify(raw, Envelope(None, ()), SIGNER.verify, frozenset())
    except UnreadableMessage:
        return
    assert isinstance(verdict, Verdict)


HEADER_NAMES = st.sampled_from(["From", "To", "Cc", "Subject", "Content-Type", "Return-Path", "X-Failed-Recipients",
                                "Auto-Submitted", "Content-Transfer-Encoding", "Message-ID"])
HEADER_VALUES = st.text(alphabet='ab@.<>"()\\;:=,/ \t\r\n-multipartextplainreportboundary', max_size=80)
BODY_LINES = st.lists(st.sampled_from([
    "", "--b", "--b--", "Content-Type: message/delivery-status", "Content-Type: text/plain", "Final-Recipient: rfc822; a@b.cd",
    "Action: failed", "Status: 5.1.1", "Diagnostic-Code: smtp; 550 user unknown", "> quoted", "a.a.a.", "uitschrijven",
    '"notificationType":"Bounce","bouncedRecipients":[{', "<<<", ",a,a", "Op 1 jan. schreef x:", "x@y.example.com",
]), max_size=30).map("\n".join)


@QUICK
@given(st.lists(st.tuples(HEADER_NAMES, HEADER_VALUES), max_size=8), BODY_LINES)
def test_any_headers_and_parts_are_classified_or_reported_unreadable(headers, body):
    raw = "".join(f"{name}: {value}\r\n" for name, value in headers).encode("utf-8", "replace") + b"\r\n" + body.encode()
    try:
        verdict = classify(raw, Envelope(None, ()), SIGNER.verify, frozenset())
    except UnreadableMessage:
        return
    assert isinstance(verdict, Verdict)


@pytest.mark.parametrize("html, text", [
    ('<head><title>İndirim</title><style>p{}</style></head><body><p>Lütfen beni listeden çıkarın</p>',
     "Lütfen beni listeden çıkarın"),  # 'İ'.lower() is two characters: no index may come from a lowered copy
    ('<p>İstanbul</p><style>.a{}</style><p>please unsubscribe me</p>', "İstanbul\n\nplease unsubscribe me"),
    ('<script src="x.js"/>hello there', "hello there"),
    ('<a title="a > b" href="mailto:x@example.be">Click</a>', "Click"),
    ("<![CDATA[x>y]]>after", "after"),
    ("<P>Hallo &amp; welkom</P><BLOCKQUOTE>oud<BR>tekst</BLOCKQUOTE>", "Hallo & welkom\n\n> oud\n> tekst"),
    ("<style>p{a<b}</style>a < b<script>if(a<b)x()</script> eind<!-- c --> ok", "a < b eind ok"),
])
def test_html_is_read_as_its_text(html, text):
    assert html_text(html).strip() == text
