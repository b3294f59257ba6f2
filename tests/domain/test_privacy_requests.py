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
from service.domain.tokens import TokenSigner

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


# Requests in plain words, without a legal word or with one only beside them.
PLAIN_REQUESTS = [
    ("Vraagje", "mag ik eens zien wat jullie allemaal over mij bijhouden?", ("access",)),
    ("Gegevens", "Graag wil ik dat u al mijn gegevens wist", ("erasure",)),
    ("Re: CETIT nieuwsbrief", "Welke info hebben jullie over mij?", ("access",)),
    ("Mijn gegevens", "Kunnen jullie mij een kopie sturen van alle gegevens die jullie van mij hebben?", ("access",)),
    ("Inzage", "Ik wil inzage in mijn dossier.", ("access",)),
    ("Naam", "Mijn naam is fout geschreven, kunnen jullie mijn gegevens verbeteren?", ("correction",)),
    ("Fout", "De info die jullie over mij hebben klopt niet.", ("correction",)),
    ("Verwijderen", "Verwijder al mijn persoonsgegevens uit jullie systemen.", ("erasure",)),
    ("Privacy", "Ik wil dat jullie alles over mij verwijderen.", ("erasure",)),
    ("Privacy", "Hoe kan ik mijn gegevens laten wissen?", ("erasure",)),
    ("AVG art. 17", "", ("erasure",)),
    ("Re: CETIT nieuwsbrief", "wis m'n gegevens aub", ("erasure",)),
    ("Data", "I want you to delete all personal data you hold about me. This is an erasure request under GDPR.",
     ("erasure",)),
    ("Request", "Please send me a copy of the information you have on me.", ("access",)),
    ("My data", "What do you know about me?", ("access",)),
    ("Right to be forgotten", "Please act on it.", ("erasure",)),
    ("GDPR Art. 15", "Please send me everything.", ("access",)),
    ("Wrong details", "The details you hold about me are wrong, please rectify them.", ("correction",)),
    ("Erase", "Erase my personal information from your database, please.", ("erasure",)),
    ("Remove", "Please remove all the data you have about me.", ("erasure",)),
    ("Mes données", "Je voudrais savoir quelles données vous avez sur moi.", ("access",)),
    ("Suppression", "Merci d'effacer toutes les informations me concernant.", ("erasure",)),
    ("Rectification", "Mes coordonnées sont erronées, merci de les corriger.", ("correction",)),
    ("RGPD", "Conformément au RGPD, je demande l'accès à mes données.", ("access",)),
    ("Oubli", "J'exerce mon droit à l'oubli.", ("erasure",)),
    ("Effacement", "Supprimez toutes mes données personnelles svp", ("erasure",)),
    ("Vraag", "Hebben jullie nog gegevens van mij? Zo ja, gelieve die te verwijderen.", ("erasure",)),
    ("Re: CETIT nieuwsbrief", "Haal al mijn gegevens uit jullie systeem.", ("erasure",)),
    ("Adres", "Mijn adresgegevens kloppen niet.", ("correction",)),
    ("Mijn gegevens", "Mijn gegevens kloppen niet. Kunnen jullie ze aanpassen?", ("correction",)),
    ("Vraag", "Waar hebben jullie mijn gegevens vandaan?", ("access",)),
    ("Spam?", "Where did you get my email address?", ("access",)),
    ("Mise à jour", "Mes informations ne sont plus à jour.", ("correction",)),
    ("Données", "Merci de me communiquer mes données.", ("access",)),
    ("Data", "Send me my data.", ("access",)),
    ("Marketing", "I object to you using my data for marketing.", ("objection",)),
]

# Ordinary business mail that uses the same verbs, and other mail about "data" or "gegevens".
BUSINESS_MAIL = [
    ("Invoice", "can you correct the invoice address?"),
    ("Order", "please delete my previous order"),
    ("Meeting", "remove me from the meeting"),
    ("Invoice", "send me a copy of the invoice"),
    ("Bestelling", "ik wil mijn bestelling annuleren"),
    ("Factuur", "kunt u mijn adres op de factuur aanpassen"),
    ("Nieuwsbrief", "Wanneer verschijnt de volgende nieuwsbrief? Ik vond de info over de opleiding nuttig."),
    ("Inschrijving", "Welke gegevens hebben jullie van mij nodig voor de inschrijving?"),
    ("Re: Offerte", "Kunnen jullie mijn gegevens in de offerte aanpassen? Het aantal klopt niet."),
    ("Account", "I forgot my password, can you update my login details?"),
    ("Slides", "Could I get a copy of the slides of yesterday's session?"),
    ("Datasheet", "Where can I see the data sheet of the new router?"),
    ("Vraag", "Ik wist niet dat jullie ook opleidingen geven. Mijn gegevens hebben jullie al."),
    ("Re: Uitnodiging", "Mijn gegevens voor de inschrijving: Jan Peeters, Kerkstraat 5, Gent."),
    ("Newsletter", "Please do not delete my data, I still want the newsletter."),
    ("Commande", "Pouvez-vous supprimer ma commande d'hier ?"),
    ("Facture", "Pouvez-vous m'envoyer une copie de la facture ?"),
    ("Re: CETIT newsletter", "Thanks, the information about the course was very useful."),
    ("Update", "Can you update me on the status of my order?"),
    ("Factuur", "Is het adres op mijn factuur correct?"),
    ("Attachment", "Please remove the attachment I sent by mistake."),
    ("Opleiding", "Kan ik de gegevens van de opleiding eens zien?"),
    ("Klopt", "Klopt het dat de opleiding in Gent doorgaat?"),
    ("Factuur", "Mijn factuur klopt niet, het bedrag is te hoog."),
    ("Portal", "I can't access my account on your portal."),
    ("Nieuw adres", "Stuur de nieuwsbrief voortaan naar mijn nieuw adres: jan@nieuw.example"),
    ("Levering", "Kunnen jullie mijn leveringsgegevens aanpassen? Ik ben verhuisd."),
    ("Newsletter", "What do you think about my idea for the next newsletter?"),
    ("Données", "Où puis-je voir les données techniques du produit ?"),
    ("Data", "I don't want you to delete my data."),
    ("Gegevens", "Ik wil niet dat u mijn gegevens wist."),
    ("Bedankt", "Dank u om mijn gegevens aan te passen."),
    ("Inschrijving", "Kunnen jullie me laten weten of mijn gegevens goed zijn aangekomen?"),
    ("Event", "Can I change my details for the event registration?"),
    ("Offerte", "Ik stuur u hierbij mijn gegevens."),
    ("Registration", "I will send my details tomorrow."),
    ("Login", "Ik ben mijn gegevens voor de login kwijt."),
    ("Voorstel", "What do you think of my proposal?"),
    ("Cursus", "Welke info heeft u over de nieuwe cursus?"),
    ("Certificaat", "Merci de corriger le nom sur le certificat."),
]


@pytest.mark.parametrize("subject, body, kinds", PLAIN_REQUESTS, ids=[(r[1] or r[0])[:50] for r in PLAIN_REQUESTS])
def test_a_privacy_request_in_plain_words_is_read_with_its_kind(subject, body, kinds):
    verdict = verdict_of(mail(subject, body))
    assert verdict.classification == "privacy_request"
    assert verdict.privacy == kinds and verdict.forward


@pytest.mark.parametrize("subject, body", BUSINESS_MAIL, ids=[r[1][:50] for r in BUSINESS_MAIL])
def test_business_mail_with_the_same_verbs_is_not_a_privacy_request(subject, body):
    verdict = verdict_of(mail(subject, body))
    assert verdict.classification != "privacy_request" and verdict.privacy == ()
    assert privacy_request(subject, body) is None


def test_there_are_enough_requests_and_business_mails():
    assert len(PLAIN_REQUESTS) >= 25 and len(BUSINESS_MAIL) >= 25


@pytest.mark.parametrize("subject, body, language", [
    ("Gegevens", "Graag wil ik dat u al mijn gegevens wist", "nl"),
    ("Data", "Please delete all my personal data.", "en"),
    ("Données", "Supprimez toutes mes données personnelles svp", "fr"),
])
def test_a_privacy_request_says_its_language(subject, body, language):
    assert privacy_request(subject, body).language == language


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


def test_a_question_of_where_the_address_came_from_beside_stop_is_an_access_request_that_stops_mail():
    verdict = verdict_of(mail("Stop", "Ik heb me nooit ingeschreven. Hoe komen jullie aan mijn adres?"))
    assert verdict.classification == "privacy_request" and verdict.privacy == ("access",)
    assert [s.address for s in verdict.suppress] == ["els.janssens@example.be"]


def test_reading_hostile_text_is_linear_before_the_watchdog():
    """Long runs that almost match every pattern, read in a child that the watchdog stops if a
    pattern backtracks (the test asserts what was read, never how long it took)."""
    child = (
        "from service.domain.inbound.privacy import privacy_request\n"
        "hostile = ('wis mijn gegevens over mij welke stuur mij factuur niet , ' * 5000 + 'mijn gegevens ' * 3000"
        " + 'inzage ' * 3000 + 'x' * 50000 + ' al mijn ' * 5000)\n"
        "print(privacy_request('a' * 5000, hostile))\n"
    )
    done = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, timeout=120, check=True,
                          cwd=Path(__file__).resolve().parents[2])
    assert done.stdout.startswith("PrivacyAsk(") or done.stdout.strip() == "None"


def test_nothing_is_asked_by_an_empty_mail():
    assert privacy_request("", "") is None
