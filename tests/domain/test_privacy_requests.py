"""Privacy requests in people's own words (Dutch and Flemish, English, French), and mail that
must not be taken for one. The samples are written for this project, in the phrasings CETIT's
customers use on the phone and in mail; none is copied from elsewhere.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from service.domain.inbound.classify import Envelope, classify
from service.domain.inbound.privacy import privacy_request
from service.domain.suppressions.tokens import TokenSigner

SIGNER = TokenSigner(("privacy-test-key-" + "k" * 16,), timedelta(days=90))
OWN = frozenset({"info@cetit.be"})


def mail(subject: str, body: str, sender: str = "els.janssens@example.be") -> bytes:
    return (f"From: Els Janssens <{sender}>\r\nTo: info@cetit.be\r\nSubject: {subject}\r\n"
            f"Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n").encode()


def verdict_of(raw: bytes):
    return classify(raw, Envelope(None, ("info@cetit.be",)), SIGNER.verify, OWN)


REQUESTS = [
    # (subject, body, kinds)
    ("Inzage", "Beste, graag had ik inzage gekregen in de persoonsgegevens die CETIT over mij bijhoudt.", ("access",)),
    ("Vraag", "Welke gegevens hebben jullie allemaal van mij? Ik wil daar een kopie van.", ("access",)),
    ("AVG", "Op grond van de AVG vraag ik een overzicht van mijn gegevens.", ("access",)),
    ("GDPR request", "Under the GDPR I would like a copy of all the personal data you hold about me.", ("access",)),
    ("Question", "What personal data do you hold about me?", ("access",)),
    ("Demande", "Je souhaite obtenir une copie de mes données personnelles (droit d'accès).", ("access",)),
    ("Mijn gegevens", "Mijn gegevens kloppen niet meer, kunnen jullie mijn gegevens aanpassen? Mijn nieuwe "
                      "achternaam is Peeters.", ("correction",)),
    ("Correction", "Please correct my details: my name is spelled Jansens, not Janssens.", ("correction",)),
    ("Rectification", "Merci de rectifier mes données, mon nom est mal orthographié.", ("correction",)),
    ("Wissen", "Ik wil dat jullie al mijn gegevens wissen, ik wil vergeten worden.", ("erasure",)),
    ("Recht op vergetelheid", "Ik beroep mij op mijn recht op vergetelheid.", ("erasure",)),
    ("Delete", "Please delete all my personal data from your systems.", ("erasure",)),
    ("Suppression", "Je vous demande de supprimer toutes mes données, droit à l'oubli.", ("erasure",)),
    ("Bezwaar", "Ik maak bezwaar tegen het gebruik van mijn gegevens voor direct marketing.", ("objection",)),
    ("Objection", "I object to the processing of my data for direct marketing.", ("objection",)),
    ("Opposition", "Je m'oppose au traitement de mes données à des fins de prospection.", ("objection",)),
    ("Twee vragen", "Graag een kopie van mijn gegevens. Daarna mag u al mijn gegevens wissen.", ("access", "erasure")),
]

NOT_REQUESTS = [
    # (subject, body, classification)
    ("Factuur", "Kunnen jullie het facturatieadres op mijn factuur corrigeren? Het moet Kerkstraat 5 zijn.", "human"),
    ("Invoice", "Can you correct the invoice address? It should say Kerkstraat 5.", "human"),
    ("Commande", "Pouvez-vous corriger l'adresse de livraison de ma commande ?", "human"),
    ("Uitschrijven", "Verwijder mij van jullie lijst aub.", "unsubscribe"),
    ("Remove", "Please remove me from your mailing list.", "unsubscribe"),
    ("Vraag", "Hoe lang duurt de levering van mijn bestelling?", "human"),
    ("Nieuwsbrief", "Bedankt voor de nieuwsbrief, de gegevens over de cursus waren nuttig.", "human"),
]


@pytest.mark.parametrize("subject, body, kinds", REQUESTS, ids=[r[1][:40] for r in REQUESTS])
def test_a_privacy_request_is_read_with_its_kind(subject, body, kinds):
    verdict = verdict_of(mail(subject, body))
    assert verdict.classification == "privacy_request"
    assert verdict.privacy == kinds and verdict.forward
    assert verdict.addresses == ("els.janssens@example.be",)
    if "objection" in kinds:
        assert [(s.address, s.scope, s.reason, s.source) for s in verdict.suppress] == [
            ("els.janssens@example.be", "global", "unsubscribe", "reply")]
    else:
        assert verdict.suppress == ()


@pytest.mark.parametrize("subject, body, classification", NOT_REQUESTS, ids=[r[1][:40] for r in NOT_REQUESTS])
def test_mail_that_is_not_a_privacy_request_is_not_taken_for_one(subject, body, classification):
    verdict = verdict_of(mail(subject, body))
    assert verdict.classification == classification and verdict.privacy == ()


def test_an_erasure_request_that_also_says_stop_suppresses_the_sender():
    verdict = verdict_of(mail("Stop", "Stop met mailen en verwijder al mijn gegevens."))
    assert verdict.classification == "privacy_request" and verdict.privacy == ("erasure",)
    assert [s.address for s in verdict.suppress] == ["els.janssens@example.be"]


def test_a_quoted_newsletter_footer_about_data_is_not_a_request():
    body = ("Leuke activiteit, ik kom graag!\r\n\r\nOp 1 dec. 2026 schreef CETIT <info@cetit.be>:\r\n"
            "> U kunt inzage vragen in uw persoonsgegevens of ze laten wissen via info@cetit.be.\r\n")
    assert verdict_of(mail("Re: Uitnodiging", body)).classification == "human"


def test_reading_hostile_text_is_linear_before_the_watchdog():
    """Long runs that almost match every pattern, read in a child that the watchdog stops if a
    pattern backtracks (the test asserts what was read, never how long it took)."""
    child = (
        "from service.domain.inbound.privacy import privacy_request\n"
        "hostile = ('mijn gegevens ' * 3000 + 'inzage ' * 3000 + 'x' * 50000 + ' al mijn ' * 5000)\n"
        "print(privacy_request('a' * 5000, hostile))\n"
    )
    done = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, timeout=120, check=True,
                          cwd=Path(__file__).resolve().parents[2])
    assert done.stdout.startswith("PrivacyAsk(") or done.stdout.strip() == "None"


def test_nothing_is_asked_by_an_empty_mail():
    assert privacy_request("", "") is None
