"""Old Exchange (5.5 to 2003) and X.400 non-delivery reports: no DSN part, the failed recipients
listed under "could not be reached" as `NAME on DATE`, each with its reason on the lines below,
and an X.400 recipient's SMTP address given only in its `dda:SMTP=` attribute.

The messages are written for this project in the layouts those servers use; the addresses are
made up.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from service.domain.inbound.bounce_detectors import Report, exchange
from service.domain.inbound.classify import Envelope, classify
from service.domain.inbound.mime import body_text, parse
from service.domain.tokens import TokenSigner
from tests.conftest import CORPUS, SHARED_CORPUS

SIGNER = TokenSigner(("exchange-report-key-" + "x" * 16,), timedelta(days=90))
OWN = frozenset({"info@cetit.be"})


def verdict_of(raw: bytes):
    return classify(raw, Envelope(None, ("info@cetit.be",)), SIGNER.verify, OWN)


def report(body: str, subject: str = "Undeliverable: Nieuwsbrief januari",
           sender: str = "System Administrator <postmaster@klant.example.be>", returned: str = "",
           more_headers: str = "") -> bytes:
    head = (f"From: {sender}\nTo: CETIT <info@cetit.be>\nSubject: {subject}\n{more_headers}"
            "Date: Mon, 12 Jan 2026 10:00:05 +0100\nMIME-Version: 1.0\n")
    if not returned:
        return (head + "Content-Type: text/plain; charset=us-ascii\n\n" + body).encode()
    return (head + 'Content-Type: multipart/mixed; boundary="ndr"\n\n--ndr\n'
            "Content-Type: text/plain; charset=us-ascii\n\n" + body + "\n--ndr\nContent-Type: message/rfc822\n\n"
            + returned + "\n--ndr--\n").encode()


NEWSLETTER = """\
From: CETIT <info@cetit.be>
To: {to}
Subject: Nieuwsbrief januari
Date: Mon, 12 Jan 2026 09:59:58 +0100

Beste lezer,
"""

ACCOUNT_DOES_NOT_EXIST = """\
Your message did not reach some or all of the intended recipients.

      Subject:\tNieuwsbrief januari
      Sent:\t12/01/2026 10:00

The following recipient(s) could not be reached:

      'jan.peeters@klant.example.be' on 12/01/2026 10:00
            The e-mail account does not exist at the organization this message was sent to.  Check the \
e-mail address, or contact the recipient directly to find out the correct address.
            <mail01.klant.example.be #5.1.1>
"""

X400_NOT_RECOGNIZED = """\
Your message

  To:      Janssens, An
  Subject: Nieuwsbrief januari
  Sent:    Mon, 12 Jan 2026 10:00:00 +0100

did not reach the following recipient(s):

c=BE;a= ;p=Klant;o=Brussel;dda:SMTP=an.janssens@klant.example.be; on Mon, 12 Jan 2026 10:00:03 +0100
    The recipient name is not recognized
\tThe MTS-ID of the original message is: c=BE;a= ;p=Klant;l=MAIL01-260112090003Z-42
    MSEXCH:IMS:Klant:Brussel:MAIL01 0 (000C05A6) Unknown Recipient
"""

X500_WITH_DDA = """\
Your message did not reach some or all of the intended recipients.

      Subject:\tNieuwsbrief januari
      Sent:\t12/01/2026 10:00

The following recipient(s) could not be reached:

      /O=KLANT/OU=BRUSSEL/CN=RECIPIENTS/CN=PVERMEULEN on 12/01/2026 10:00
            The e-mail account does not exist at the organization this message was sent to.
            X400:c=BE;a= ;p=Klant;o=Brussel;dda:SMTP=pieter.vermeulen@klant.example.be;
            MSEXCH:IMS:KLANT:BRUSSEL:MAIL01 #550 5.1.1 RESOLVER.ADR.RecipNotFound; not found ##

      IMCEAEX-_O=KLANT_OU=BRUSSEL_CN=RECIPIENTS_CN=SDEWIT@klant.example.be on 12/01/2026 10:00
            The recipient name is not recognized
            dda:SMTP=sofie.dewit@klant.example.be
            #550 5.1.1 RESOLVER.ADR.RecipNotFound; not found ##
"""

AUTHENTICATION_REQUIRED = """\
Your message did not reach some or all of the intended recipients.

      Subject:\tNieuwsbrief januari
      Sent:\t12/01/2026 10:00

The following recipient(s) could not be reached:

      directie@klant.example.be on 12/01/2026 10:00
            You do not have permission to send to this recipient.  For assistance, contact your system \
administrator.
            <mail01.klant.example.be #5.7.1 smtp;550 5.7.1 RESOLVER.RST.AuthRequired; authentication required>
            #550 5.7.1 RESOLVER.RST.AuthRequired; authentication required ##
"""

NOT_AUTHORIZED = """\
Your message did not reach some or all of the intended recipients.

      Subject:\tNieuwsbrief januari
      Sent:\t12/01/2026 10:00

The following recipient(s) could not be reached:

      c=BE;a= ;p=Klant;o=Brussel;dda:SMTP=raad@klant.example.be; on 12/01/2026 10:00
            info@cetit.be is not authorized to send to this recipient.
            MSEXCH:IMS:KLANT:BRUSSEL:MAIL01 #550 5.7.1 RESOLVER.RST.NotAuthorized; not authorized ##
"""

TWO_RECIPIENTS_ONE_DELAYED = """\
Your message did not reach some or all of the intended recipients.

      Subject:\tNieuwsbrief januari
      Sent:\t12/01/2026 10:00

The following recipient(s) could not be reached:

      lies.maes@klant.example.be on 12/01/2026 10:00
            The recipient name is not recognized
            <mail01.klant.example.be #5.1.1>

      boekhouding@klant.example.be on 12/01/2026 10:00
            Could not deliver the message in the time limit specified.  Please retry or contact your administrator.
            <mail01.klant.example.be #4.4.7>
"""

DISPLAY_NAME_ONLY = """\
Your message did not reach some or all of the intended recipients.

      Subject:\tNieuwsbrief januari
      Sent:\t12/01/2026 10:00

The following recipient(s) could not be reached:

      Tom Claes on 12/01/2026 10:00
            The e-mail account does not exist at the organization this message was sent to.
            <mail01.klant.example.be #5.1.1>
"""


def test_an_account_that_does_not_exist_is_a_hard_bounce_of_the_listed_recipient():
    verdict = verdict_of(report(ACCOUNT_DOES_NOT_EXIST, returned=NEWSLETTER.format(to="jan.peeters@klant.example.be")))
    assert verdict.classification == "bounce" and verdict.kind == "hard"
    assert [s.address for s in verdict.suppress] == ["jan.peeters@klant.example.be"]
    assert verdict.soft_bounces == ()


def test_an_x400_recipient_is_read_from_its_dda_smtp_attribute():
    verdict = verdict_of(report(X400_NOT_RECOGNIZED, subject="Niet afgeleverd: Nieuwsbrief januari"))
    assert verdict.classification == "bounce" and verdict.kind == "hard"
    assert [s.address for s in verdict.suppress] == ["an.janssens@klant.example.be"]


def test_x500_and_imceaex_names_are_not_addresses_their_dda_smtp_is():
    verdict = verdict_of(report(X500_WITH_DDA))
    assert verdict.classification == "bounce" and verdict.kind == "hard"
    assert [s.address for s in verdict.suppress] == ["pieter.vermeulen@klant.example.be", "sofie.dewit@klant.example.be"]
    assert verdict.soft_bounces == () and verdict.addresses == tuple(s.address for s in verdict.suppress)


def test_a_recipient_that_requires_authentication_is_a_soft_bounce_not_an_auto_reply():
    # A localized subject, Exchange's own sender name and the Auto-Submitted it marks reports with:
    # only the report's words say it is one.
    raw = report(AUTHENTICATION_REQUIRED, subject="Onbestelbaar: Nieuwsbrief januari",
                 sender="Microsoft Exchange <MicrosoftExchange329e71ec88ae4615bbc36ab6ce41109e@klant.example.be>",
                 more_headers="Auto-Submitted: auto-replied\n", returned=NEWSLETTER.format(to="directie@klant.example.be"))
    verdict = verdict_of(raw)
    assert verdict.classification == "bounce" and verdict.kind == "soft"
    assert verdict.soft_bounces == ("directie@klant.example.be",) and verdict.suppress == ()


def test_a_sender_not_authorized_for_the_recipient_is_a_soft_bounce_of_the_recipient():
    verdict = verdict_of(report(NOT_AUTHORIZED))
    assert verdict.classification == "bounce" and verdict.kind == "soft"
    assert verdict.soft_bounces == ("raad@klant.example.be",) and verdict.suppress == ()


def test_each_listed_recipient_is_judged_on_its_own_lines():
    verdict = verdict_of(report(TWO_RECIPIENTS_ONE_DELAYED))
    assert [s.address for s in verdict.suppress] == ["lies.maes@klant.example.be"]
    assert verdict.soft_bounces == ("boekhouding@klant.example.be",)


def test_a_recipient_written_as_a_name_is_the_returned_message_recipient():
    verdict = verdict_of(report(DISPLAY_NAME_ONLY, returned=NEWSLETTER.format(to="Tom Claes <tom.claes@klant.example.be>")))
    assert verdict.classification == "bounce" and verdict.kind == "hard"
    assert [s.address for s in verdict.suppress] == ["tom.claes@klant.example.be"]


POLICY_WITHOUT_A_PRECISE_STATUS = """\
Your message did not reach some or all of the intended recipients.

The following recipient(s) could not be reached:

      secretariaat@klant.example.be on 12/01/2026 10:00
            You are not authorized to send to this recipient.
            <mail01.klant.example.be #5.0.0 X.400; Reason 1 (Unable-To-Transfer); Diagnostic 46>
"""


def test_a_policy_refusal_with_a_generic_status_is_soft():
    verdict = verdict_of(report(POLICY_WITHOUT_A_PRECISE_STATUS))
    assert verdict.classification == "bounce" and verdict.kind == "soft"
    assert verdict.soft_bounces == ("secretariaat@klant.example.be",)


def x400_dsn(final_recipient: str, status: str) -> bytes:
    return f"""\
From: System Administrator <postmaster@klant.example.be>
To: info@cetit.be
Subject: Undeliverable: Nieuwsbrief januari
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="b"

--b
Content-Type: text/plain

Your message did not reach some or all of the intended recipients.

--b
Content-Type: message/delivery-status

Reporting-MTA: x400; MAIL01

Final-Recipient: {final_recipient}
Action: failed
Status: {status}

--b--
""".encode()


def test_a_dsn_recipient_in_x400_form_is_its_dda_smtp_address():
    verdict = verdict_of(x400_dsn("X400; c=BE;a= ;p=Klant;o=Brussel;dda:SMTP=els.wouters@klant.example.be;", "5.1.1"))
    assert verdict.classification == "bounce" and verdict.kind == "hard"
    assert [s.address for s in verdict.suppress] == ["els.wouters@klant.example.be"]


@pytest.mark.parametrize("path, failed", [
    (CORPUS / "bounces/lhost-exchange2003-02.eml", ["kijitora@example.co.jp", "mikeneko@example.co.jp"]),
    (CORPUS / "bounces/lhost-exchange2003-04.eml", ["kijitora@example.com"]),
    (SHARED_CORPUS / "sisimai/lhost-exchange2003-03.eml", ["kijitora@example.jp"]),
], ids=lambda value: value.name if hasattr(value, "name") else None)
def test_the_detector_reads_the_corpus_exchange_reports_itself(path, failed):
    if not path.is_file():
        pytest.skip(f"{path} is not beside this checkout")
    msg = parse(path.read_bytes())
    found = exchange.failures(Report(msg, body_text(msg)))
    assert [f.address for f in found] == failed and all(f.hard for f in found)


def test_words_that_only_look_like_a_list_are_no_exchange_report():
    text = ("Hallo,\n\nThe following recipients could not be reached:\nwe tried Jan and An twice.\n\n"
            "Jan on 12/01/2026 10:00\n")
    assert not exchange.recognises(parse(b"Subject: x\n\n"), text)
