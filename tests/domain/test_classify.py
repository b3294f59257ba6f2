"""Classification of real labeled mail (the shared corpus and our own samples) and of hostile input."""

from __future__ import annotations

import csv
from datetime import timedelta
from pathlib import Path

import pytest

from service.domain.inbound.classify import Envelope, classify
from service.domain.inbound.mime import UnreadableMessage
from service.domain.tokens import TokenSigner
from tests.conftest import CORPUS, known_disagreements

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
SIGNER = TokenSigner(("classify-test-key-" + "k" * 16,), timedelta(days=90))
OWN = frozenset({"info@cetit.be"})
# Where this reading is kept against a label, and why: tests/corpus/disagreements.tsv.
KNOWN_DISAGREEMENTS = known_disagreements()


def labeled(folder: Path) -> list:
    with (folder / "labels.tsv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    return [pytest.param(folder, row, id=row["file"]) for row in rows]


def raw_of(folder: Path, row: dict) -> bytes:
    raw = (folder / row["file"]).read_bytes()
    if b"{TOKEN}" in raw:
        raw = raw.replace(b"{TOKEN}", SIGNER.sign(row["addresses"]).encode())
    return raw


def verdict_of(raw: bytes, recipients=("info@cetit.be",)):
    return classify(raw, Envelope(None, tuple(recipients)), SIGNER.verify, OWN)


@pytest.mark.parametrize("folder, row", labeled(CORPUS) + labeled(SAMPLES))
def test_every_labeled_message_gets_its_label_kind_and_addresses(folder, row):
    verdict = verdict_of(raw_of(folder, row))
    assert verdict.classification == row["classification"]
    assert sorted(verdict.addresses) == sorted(a for a in row["addresses"].split(",") if a)
    if (row["file"], "kind") not in KNOWN_DISAGREEMENTS:
        assert (verdict.kind or "-") == row["kind"]
    must_forward = row["classification"] == "human" or "also-forward" in row["note"]
    assert verdict.forward == must_forward


def test_hard_bounces_suppress_and_soft_ones_are_only_counted():
    postfix = verdict_of((CORPUS / "bounces/lhost-postfix-04.eml").read_bytes())
    assert [(s.address, s.reason, s.source, s.scope) for s in postfix.suppress] == [
        ("kijitora@example.co.jp", "bounce", "dsn", "global")]
    full = verdict_of((CORPUS / "bounces/lhost-gmx-01.eml").read_bytes())
    assert full.suppress == () and full.soft_bounces == ("shironeko@example.jp",)


def test_a_token_in_the_plus_address_unsubscribes_in_its_scope():
    token = SIGNER.sign("reader@example.be", "events")
    raw = b"From: someone.else@example.be\r\nTo: info@cetit.be\r\nSubject: hi\r\n\r\nbye\r\n"
    verdict = verdict_of(raw, recipients=(f"info+{token}@cetit.be",))
    assert verdict.classification == "unsubscribe"
    assert [(s.address, s.scope, s.source) for s in verdict.suppress] == [("reader@example.be", "events", "reply")]


def test_an_expired_token_still_unsubscribes():
    expiring = TokenSigner(("classify-test-key-" + "k" * 16,), timedelta(seconds=-1))
    token = expiring.sign("late@example.be")
    raw = f"From: late@example.be\r\nTo: info@cetit.be\r\nSubject: unsubscribe {token}\r\n\r\n".encode()
    assert expiring.verify(token).expired
    verdict = classify(raw, Envelope(), expiring.verify, OWN)
    assert verdict.classification == "unsubscribe" and verdict.addresses == ("late@example.be",)


def test_a_forged_token_is_not_an_unsubscribe_by_token():
    raw = b"From: x@example.be\r\nTo: info@cetit.be\r\nSubject: unsubscribe abc.def.ghijklmnopqrstuvwxyz\r\n\r\nhello\r\n"
    verdict = verdict_of(raw)
    assert verdict.evidence != "token"


def test_a_forged_bounce_suppresses_only_the_address_that_it_says_failed():
    raw = (
        "From: MAILER-DAEMON@mx.example.net\r\nTo: info@cetit.be\r\nSubject: Undelivered Mail\r\n"
        "MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n"
        "--b\r\nContent-Type: text/plain\r\n\r\nPlease also remove ceo@victim.example.com and cfo@victim.example.com.\r\n"
        "--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.net\r\n\r\n"
        "Final-Recipient: rfc822; gone@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 user unknown\r\n\r\n"
        "Final-Recipient: rfc822; fine@example.org\r\nAction: delivered\r\nStatus: 2.0.0\r\n--b--\r\n"
    ).encode()
    verdict = verdict_of(raw)
    assert verdict.classification == "bounce" and verdict.kind == "hard"
    assert [s.address for s in verdict.suppress] == ["gone@example.org"]
    assert "ceo@victim.example.com" in verdict.mentioned and "fine@example.org" not in verdict.addresses


def test_a_complaint_without_a_recipient_is_a_complaint_with_nothing_to_suppress():
    verdict = verdict_of((CORPUS / "bounces/arf-11.eml").read_bytes())
    assert verdict.classification == "complaint" and verdict.addresses == () and verdict.suppress == ()


def nested(depth: int) -> bytes:
    head = b"From: a@example.be\r\nTo: info@cetit.be\r\nSubject: deep\r\nMIME-Version: 1.0\r\n"
    opening = b"".join(b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (i, i) for i in range(depth))
    closing = b"".join(b"--b%d--\r\n" % i for i in reversed(range(depth)))
    return head + opening + b"Content-Type: text/plain\r\n\r\nhi\r\n" + closing


def test_two_thousand_nested_parts_are_reported_unreadable_not_a_crash():
    with pytest.raises(UnreadableMessage):
        verdict_of(nested(2000))
    assert verdict_of(nested(60)).classification == "human"


def test_headers_with_invalid_bytes_and_unknown_charsets_are_read():
    raw = (b"From: =?x-unknown?q?G=FCnter?= <g\xfcnter@example.de>\r\nTo: info@cetit.be\r\n"
           b"Subject: \xff\xfe uitschrijven \x80\r\nContent-Type: text/plain; charset=x-nonsense\r\n\r\n"
           b"Bitte \xe4ndern \x00 uitschrijven aub\r\n")
    verdict = verdict_of(raw)
    assert verdict.classification in ("unsubscribe", "human")


def test_html_only_mail_is_read_by_its_text():
    raw = (b"From: p@example.be\r\nTo: info@cetit.be\r\nSubject: vraag\r\nMIME-Version: 1.0\r\n"
           b"Content-Type: text/html; charset=utf-8\r\n\r\n<html><body><div>Graag <b>uitschrijven</b>.</div>"
           b"<style>p { uitschrijven: none }</style></body></html>\r\n")
    assert verdict_of(raw).classification == "unsubscribe"


def test_our_own_forwards_coming_back_are_never_forwarded_again():
    raw = (b"From: staff@cetit.be\r\nTo: info@cetit.be\r\nSubject: [info@cetit.be] hi\r\n"
           b"X-Optout-Forwarded: 1234\r\nAuto-Submitted: auto-forwarded\r\n\r\nhello\r\n")
    verdict = verdict_of(raw)
    assert verdict.classification == "auto_reply" and not verdict.forward
