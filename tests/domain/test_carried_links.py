"""The link a report carries of the copy it is about: found in a returned message's
List-Unsubscribe, in returned headers, or as a /u/ URL or a mailto subject in returned text;
never in the report's own headers; only a token that verifies counts."""

from __future__ import annotations

from datetime import timedelta

from service.domain.inbound.carried import MAX_CANDIDATES, carried_claim, carried_tokens
from service.domain.inbound.mime import parse
from service.domain.tokens import TokenSigner

SIGNER = TokenSigner(("carried-key-" + "k" * 20,), timedelta(days=90))
OTHER = TokenSigner(("someone-else-" + "x" * 20,), timedelta(days=90))


def report(returned: str, own_headers: str = "") -> bytes:
    return (f"From: MAILER-DAEMON@mx.example.net\r\nTo: info@cetit.be\r\n{own_headers}Subject: failed\r\n"
            'MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
            "--b\r\nContent-Type: text/plain\r\n\r\nCould not deliver.\r\n\r\n"
            f"--b\r\n{returned}\r\n--b--\r\n").encode()


def test_the_returned_message_s_list_unsubscribe_names_recipient_and_campaign():
    token = SIGNER.issue(41, "newsletter", "winter-2026")
    raw = report("Content-Type: message/rfc822\r\n\r\nFrom: nieuws@cetit.be\r\nTo: x@example.net\r\n"
                 f"List-Unsubscribe: <https://optout.cetit.be/u/{token}>, <mailto:info@cetit.be?subject="
                 f"unsubscribe%20{token}>\r\n\r\nHallo\r\n")
    claim = carried_claim(parse(raw), SIGNER.verify)
    assert (claim.recipient_id, claim.scope, claim.campaign) == (41, "newsletter", "winter-2026")


def test_returned_headers_and_a_mailto_subject_alone_are_read():
    token = SIGNER.issue(7, "newsletter", "lente")
    raw = report("Content-Type: text/rfc822-headers\r\n\r\nFrom: nieuws@cetit.be\r\n"
                 f"List-Unsubscribe: <mailto:info@cetit.be?subject=unsubscribe%20{token}>\r\n")
    assert carried_claim(parse(raw), SIGNER.verify).campaign == "lente"


def test_the_report_s_own_list_unsubscribe_and_foreign_tokens_count_for_nothing():
    mine = SIGNER.issue(3, "newsletter", "winter")
    foreign = OTHER.issue(3, "newsletter", "winter")
    raw = report(f"Content-Type: text/plain\r\n\r\nSee https://optout.cetit.be/u/{foreign}\r\n",
                 own_headers=f"List-Unsubscribe: <https://optout.cetit.be/u/{mine}>\r\n")
    assert carried_claim(parse(raw), SIGNER.verify) is None


def test_a_report_full_of_token_shaped_text_is_read_in_bounded_time_and_candidates():
    junk = "".join(f"/u/{'A' * 30}{n:06d} unsubscribe%20{'b' * 40} " for n in range(5000))
    raw = report(f"Content-Type: text/plain\r\n\r\n{junk}/u/{'c' * 5000}\r\n")
    found = carried_tokens(parse(raw))
    assert len(found) == MAX_CANDIDATES
    assert carried_claim(parse(raw), SIGNER.verify) is None
