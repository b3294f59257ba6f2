"""The gateway's DKIM signer, checked by dkimpy's verifier (an implementation independent of ours)."""

from __future__ import annotations

from pathlib import Path

import dkim
import pytest

from service.mail.dkim import DkimKeyError, DkimSigner

HERE = Path(__file__).resolve().parent
PUBLIC = (HERE / "dkim-test-key.pub").read_text().strip()
SIGNER = DkimSigner((HERE / "dkim-test-key.pem").read_bytes(), "optout", "cetit.be")


def txt(name, timeout=5):
    assert name == b"optout._domainkey.cetit.be."
    return f"v=DKIM1; k=rsa; p={PUBLIC}".encode()


def verifies(raw: bytes) -> bool:
    return dkim.verify(raw, dnsfunc=txt)


COPY = (b"From: CETIT <news@cetit.be>\r\nTo: reader@example.be\r\nSubject:  Nieuwsbrief   december\r\n"
        b"  (gevouwen)\r\nList-Unsubscribe: <https://optout.cetit.be/u/abc>\r\n"
        b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n\r\nBeste lezer,  \r\n\r\ntot ziens\r\n\r\n\r\n")


@pytest.mark.parametrize("raw", [
    COPY,
    b"From: news@cetit.be\nTo: reader@example.be\nSubject: LF line ends\n\nbody\n",
    b"From: news@cetit.be\r\nSubject: no body\r\n\r\n",
    b"From: news@cetit.be\r\nTo: one@example.be\r\nTo: two@example.be\r\nSubject: x\r\n\r\nno final line end",
    b"From: news@cetit.be\r\nSubject: =?utf-8?q?caf=C3=A9?=\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\xc3\xa9t\xc3\xa9\r\n",
], ids=["copy", "lf", "empty-body", "two-to", "8bit"])
def test_every_signature_verifies_and_any_change_breaks_it(raw):
    signed = SIGNER.sign(raw)
    assert signed.startswith(b"DKIM-Signature: v=1;") and signed.endswith(raw)
    assert verifies(signed)
    assert not verifies(signed.replace(b"news@cetit.be", b"evil@cetit.be", 1))


def test_the_list_unsubscribe_headers_are_covered_and_none_can_be_added():
    signed = SIGNER.sign(COPY)
    assert not verifies(signed.replace(b"/u/abc", b"/u/abd"))
    assert not verifies(b"List-Unsubscribe: <https://evil.example/u/x>\r\n" + signed)
    assert not verifies(signed.replace(b"\r\n\r\nBeste", b"\r\nList-Unsubscribe-Post: x\r\n\r\nBeste"))
    # Relaxed canonicalization: a relay that refolds headers or trims line-end spaces keeps it valid.
    assert verifies(signed.replace(b"Beste lezer,  \r\n", b"Beste lezer,\r\n").replace(b"Subject:  ", b"Subject: "))


@pytest.mark.parametrize("pem", [b"", b"-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n"])
def test_a_key_that_cannot_be_read_is_refused_with_what_to_do(pem):
    with pytest.raises(DkimKeyError, match="OPTOUT_DKIM_KEY"):
        DkimSigner(pem, "optout", "cetit.be")


def test_the_signer_never_shows_its_key():
    assert repr(SIGNER) == "DkimSigner(d=cetit.be, s=optout)"
