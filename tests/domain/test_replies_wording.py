"""How people at info@cetit.be ask to be unsubscribed in their own wording (Flemish, Dutch,
English, French), and the replies that only look like it: a stop for calls, deliveries or works,
a negation. Each phrasing is read as the classifier reads it: the subject, and the sender's own
words under it; the samples in tests/replies/ go through the whole classifier."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from service.domain.inbound import addressed, away, replies, wording
from service.domain.inbound.classify import Envelope, classify
from service.domain.inbound.replies import own_words, unsubscribe_request
from service.domain.tokens import TokenSigner

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "tests" / "replies"
SIGNER = TokenSigner(("wording-test-key-" + "w" * 16,), timedelta(days=90))
OWN = frozenset({"info@cetit.be"})
IPHONE_NL = "\n\nVerstuurd vanaf mijn iPhone\n\nOp 3 dec. 2025 om 10:02 heeft CETIT <info@cetit.be> het volgende geschreven:\n\n> Beste klant,"
GMAIL_NL = "\n\nOp wo 3 dec 2025 om 10:02 schreef CETIT <info@cetit.be>:\n> CETIT nieuwsbrief - december"


def request(subject: str, text: str):
    return unsubscribe_request(subject, own_words(text), set())


# (subject, the body as sent, where the phrasing comes from)
REQUESTS = [
    ("Re: CETIT nieuwsbrief december", "Haal mij eruit aub", "Flemish, colloquial"),
    ("Re: CETIT nieuwsbrief december", "haal me er uit!" + IPHONE_NL, "Flemish, colloquial, from an iPhone"),
    ("Re: CETIT nieuwsbrief", "Goeiedag,\n\nGraag van de lijst afhalen.\n\nMvg\nLuc", "Flemish, short"),
    ("Re: CETIT nieuwsbrief", "Schrap mijn adres a.u.b.", "Flemish, curt"),
    ("Re: CETIT nieuwsbrief", "Ik wil niks meer ontvangen van jullie.", "Flemish, colloquial"),
    ("Re: Uitnodiging klantendag", "Beste,\n\nGelieve mij uit te schrijven.\n\nMet vriendelijke groeten,\nAnn",
     "Belgian Dutch, formal"),
    ("Re: CETIT nieuwsbrief", "uitschrijven aub", "Flemish, one line"),
    ("Re: CETIT nieuwsbrief", "Mag ik van uw lijst?", "Flemish, as a question"),
    ("Re: CETIT nieuwsbrief", "Zet mij van de verzendlijst aub", "Flemish, colloquial"),
    ("Re: CETIT nieuwsbrief", "Kunnen jullie mij uit jullie bestand halen?", "Flemish, as a question"),
    ("Re: CETIT nieuwsbrief", "Smijt mij eruit", "West Flemish, colloquial"),
    ("Re: CETIT nieuwsbrief", "Ik hoef niets meer.", "Dutch, curt"),
    ("Re: CETIT nieuwsbrief", "Stop met mailen aub", "Flemish, stop with an object"),
    ("Re: CETIT nieuwsbrief", "Kunnen jullie stoppen met mij te mailen?", "Flemish, as a question"),
    ("Re: CETIT nieuwsbrief", "Gelieve de nieuwsbrief stop te zetten.", "Belgian Dutch, stopzetten"),
    ("Re: CETIT nieuwsbrief", "Geen mails meer aub", "Dutch, curt"),
    ("Re: CETIT nieuwsbrief", "Ik ontvang jullie mails al maanden. Ik wil niet meer gemaild worden.",
     "Dutch, says what arrived, then asks"),
    ("Re: CETIT nieuwsbrief", "Ik kan mij niet uitschrijven via de link in jullie mail.",
     "Dutch, a failed attempt is still a request"),
    ("Re: CETIT nieuwsbrief december", "STOP", "one-word reply from a phone"),
    ("Re: CETIT nieuwsbrief december", "Stop" + IPHONE_NL, "one-word reply from an iPhone, Dutch settings"),
    ("Re: CETIT nieuwsbrief", "stop.", "one-word reply with a full stop"),
    ("Re: CETIT nieuwsbrief", "STOP!!!", "one-word reply, shouting"),
    ("Re: CETIT nieuwsbrief", "Hallo,\n\nStop aub\n\nJan Peeters", "one word with a greeting and a name"),
    ("Re: CETIT nieuwsbrief", "Stop, dank u", "one word with thanks, Flemish"),
    ("Re: CETIT nieuwsbrief", "Stop\n\nVerzonden vanaf mijn Samsung Galaxy smartphone.", "one word from an Android phone"),
    ("Re: CETIT nieuwsbrief", "UITSCHRIJVEN" + GMAIL_NL, "one word in capitals, Gmail"),
    ("Stop", "", "one-word subject, empty body"),
    ("UITSCHRIJVEN", "Verstuurd vanaf mijn iPhone", "one-word subject from a phone"),
    ("Re: CETIT newsletter", "Unsubscribe", "one word, English"),
    ("Re: CETIT newsletter", "Please stop", "one word with please, English"),
    ("Re: CETIT newsletter", "Please stop sending me these emails.", "English, stop with an object"),
    ("Re: CETIT newsletter", "No more emails please", "English, curt"),
    ("Re: CETIT newsletter", "Not interested, stop emailing me", "English, a negation that is not about the request"),
    ("Re: CETIT newsletter", "I don’t want any more newsletters", "English, curly apostrophe from a phone"),
    ("Re: CETIT newsletter", "Opt me out", "English, curt"),
    ("Re: Lettre d'information CETIT", "désabonner", "one word, French"),
    ("Désinscription", "", "one-word subject, French"),
    ("Re: Lettre d'information CETIT", "Bonjour,\n\nStop svp.\n\nClaire", "one word with svp, Belgian French"),
    ("Re: Lettre d'information CETIT", "Retirez-moi de votre liste s’il vous plaît.", "Belgian French, polite"),
    ("Re: Lettre d'information CETIT", "Merci de ne plus m'envoyer vos mails.", "Belgian French, polite"),
    ("Re: Lettre d'information CETIT", "Arrêtez de m’envoyer des courriels", "French, curly apostrophe"),
    ("Re: Lettre d'information CETIT", "Je ne veux plus de vos mails", "French, colloquial"),
    ("Re: Lettre d'information CETIT", "Bonjour, plus de pub svp", "French, curt"),
    ("Re: Lettre d'information CETIT", "Je n'arrive pas à me désabonner.", "French, a failed attempt"),
]

NOT_REQUESTS = [
    ("Re: CETIT nieuwsbrief", "stop met bellen, mail mag nog", "Flemish: stop the calls, mail is fine"),
    ("Bestelling 2025-118", "stop de levering van de bestelling", "Flemish: stop a delivery"),
    ("Werken", "kunnen jullie stoppen met de werken om 17u?", "Flemish: stop the works"),
    ("Re: CETIT newsletter", "don't stop sending me the newsletter", "English, negated"),
    ("Re: Lettre d'information CETIT", "je ne veux pas me désabonner", "French, negated"),
    ("Re: Lettre d'information CETIT", "N'arrêtez pas de m'envoyer la newsletter, elle est très utile.",
     "French, negated stop"),
    ("Re: CETIT nieuwsbrief", "Ik wil niet stoppen met de nieuwsbrief, wel een ander adres.", "Dutch, negated stop"),
    ("Re: CETIT newsletter", "Please don't unsubscribe me, I still read it.", "English, negated"),
    ("Re: CETIT newsletter", "I would not like to unsubscribe, just to change my address.", "English, negated wish"),
    ("Re: CETIT nieuwsbrief", "Ik wil zeker niet dat jullie mij uitschrijven.", "Dutch, negated with words between"),
    ("Re: CETIT nieuwsbrief", "Stop de levering aub", "Flemish: stop a delivery, short"),
    ("Levering", "Stop 17u", "a stop with a time: other business"),
    ("Re: CETIT nieuwsbrief", "Stop?", "a one-word question"),
    ("Re: CETIT nieuwsbrief", "Waarom stoppen jullie met de nieuwsbrief?", "Dutch, asks why the newsletter ends"),
    ("Prijslijst", "Kan ik uit de lijst kiezen?", "Dutch: choose from a price list"),
    ("Attest", "Kunnen jullie uit jullie bestand halen welke opleidingen ik volgde?", "Flemish: look something up"),
    ("Deelnemers", "Kunt u mij van de lijst van deelnemers een kopie bezorgen?", "Dutch: a list of participants"),
    ("Nieuwsbrief", "Ik heb de nieuwsbrief niet meer ontvangen sinds maart.", "Dutch: misses the newsletter"),
    ("Nieuwsbrief", "Sinds de update krijg ik geen nieuwsbrief meer", "Dutch: misses the newsletter"),
    ("Factuur", "Hoef ik niks meer te betalen?", "Dutch: a question about a payment"),
    ("Ticket 4411", "I have no more emails from your support team since Monday, is the ticket closed?",
     "English: misses mail from support"),
    ("Invoices", "Please stop sending the invoices to this address.", "English: stop invoices, not mail from us"),
    ("Afhaling", "Wanneer kan ik de bestelling afhalen?", "Flemish: afhalen is picking up"),
    ("Re: Uitnodiging klantendag", "Haal mij af aan het station om 9u", "Flemish: pick me up at the station"),
    ("Stop", "Kunnen jullie de levering van morgen stoppen?", "a one-word subject about a delivery"),
    ("Stop levering", "Stop aub", "a one-word body under a subject about a delivery"),
    ("Stop", "Graag mijn inschrijving voor de opleiding annuleren.", "a one-word subject about cancelling a course"),
    ("Re: CETIT nieuwsbrief", "Stop Levering", "two words, the second is no name"),
    ("Re: CETIT nieuwsbrief", "hallo levering stop", "a word after the greeting that greets no one"),
    ("Project kick-off", "Please remove me from the meeting, An will go instead.", "English: leave a meeting"),
    ("Re: Invitation", "Can you remove me from tomorrow's call?", "English: leave a call"),
]


@pytest.mark.parametrize("subject, text", [pytest.param(s, t, id=f"{where}: {t or s}"[:90]) for s, t, where in REQUESTS])
def test_a_request_in_everyday_wording_unsubscribes(subject, text):
    found = request(subject, text)
    assert found is not None
    assert found.named == ()


@pytest.mark.parametrize("subject, text", [pytest.param(s, t, id=f"{where}: {t}"[:90]) for s, t, where in NOT_REQUESTS])
def test_a_stop_for_something_else_or_a_negation_is_no_request(subject, text):
    assert request(subject, text) is None


def test_there_are_enough_phrasings_of_each_kind():
    assert len(REQUESTS) >= 30 and len(NOT_REQUESTS) >= 15


@pytest.mark.parametrize("text, language", [
    ("Stop svp", "fr"), ("Stop please", "en"), ("Stop aub", "nl"), ("STOP", "nl"), ("Unsubscribe", "en"),
    ("Désinscription", "fr"), ("Haal mij eruit", "nl"), ("Arrêtez l'envoi des newsletters svp", "fr"),
])
def test_a_request_says_its_language(text, language):
    assert request("Re: CETIT", text).language == language


def test_a_one_word_subject_over_a_question_is_forwarded():
    found = request("Stop", "Ik heb me nooit ingeschreven. Hoe komen jullie aan mijn adres?")
    assert found is not None and found.says_more


def test_a_question_that_is_the_request_itself_says_nothing_more():
    assert request("Re: CETIT nieuwsbrief", "Mag ik van uw lijst?").says_more is False


# (sample, classification, forwarded to staff, where it comes from)
SAMPLE_LABELS = [
    ("nl-haal-mij-eruit-iphone.eml", "unsubscribe", False, "Flemish from an iPhone, Apple's Dutch reply header"),
    ("nl-stop-samsung.eml", "unsubscribe", False, "one word from an Android phone above an Outlook-style quote"),
    ("nl-mag-ik-van-uw-lijst-qp.eml", "unsubscribe", False, "Flemish question, iso-8859-1 quoted-printable"),
    ("fr-retirez-moi.eml", "unsubscribe", False, "Belgian French, Gmail reply header"),
    ("nl-stop-met-bellen.eml", "human", True, "stop the calls, mail is fine"),
    ("nl-stop-levering.eml", "human", True, "subject Stop about a delivery"),
    ("en-dont-stop.eml", "human", True, "don't stop the newsletter, a new address"),
]


@pytest.mark.parametrize("name, classification, forward", [pytest.param(n, c, f, id=f"{n} ({why})")
                                                            for n, c, f, why in SAMPLE_LABELS])
def test_each_sample_is_classified_end_to_end(name, classification, forward):
    verdict = classify((SAMPLES / name).read_bytes(), Envelope(None, ("info@cetit.be",)), SIGNER.verify, OWN)
    assert verdict.classification == classification
    assert verdict.forward == forward
    if classification == "unsubscribe":
        assert [(s.address, s.basis) for s in verdict.suppress] == [(verdict.sender, "self")]
    else:
        assert verdict.suppress == ()


def test_every_sample_has_a_label():
    assert sorted(p.name for p in SAMPLES.glob("*.eml")) == sorted(n for n, *_ in SAMPLE_LABELS)


@pytest.mark.parametrize("subject, body, classification", [
    ("STOP", "", "unsubscribe"),
    ("Re: CETIT nieuwsbrief", "Uitschrijven a.u.b.\n\nGroetjes\nAn", "unsubscribe"),
    ("Re: CETIT nieuwsbrief", "stop met bellen, mail mag nog", "human"),
    ("Re: CETIT newsletter", "don't stop sending me the newsletter", "human"),
    ("Re: Lettre d'information CETIT", "je ne veux pas me désabonner", "human"),
])
def test_short_replies_are_classified_end_to_end(subject, body, classification):
    raw = (f"From: Lien Claes <lien.claes@example.be>\r\nTo: info@cetit.be\r\nSubject: {subject}\r\n"
           f"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n").encode()
    verdict = classify(raw, Envelope(None, ("info@cetit.be",)), SIGNER.verify, OWN)
    assert verdict.classification == classification


def wording_patterns() -> dict[str, re.Pattern]:
    """Every compiled pattern of the wording, replies, addressed and away modules (each once), found by walking them."""
    found: dict[str, re.Pattern] = {}
    for module in (wording, replies, addressed, away):
        for name, value in vars(module).items():
            if isinstance(value, re.Pattern):
                found.setdefault(f"{module.__name__}.{name}", value)
            elif isinstance(value, dict) and value and all(isinstance(v, re.Pattern) for v in value.values()):
                found.update({f"{module.__name__}.{name}[{key}]": v for key, v in value.items()})
    unique: dict[str, re.Pattern] = {}
    for name, pattern in found.items():
        if all(pattern is not kept for kept in unique.values()):
            unique[name] = pattern
    return unique


def test_the_walk_finds_the_request_patterns():
    names = wording_patterns()
    for expected in ("REQUEST[nl]", "REQUEST[en]", "REQUEST[fr]", "NO_LONGER[nl]", "NEGATED", "UNABLE", "RECEIPT",
                     "OTHER_STOP", "DEVICE_LINE", "FILLER_PHRASES", "_SENTENCES", "_REPLY_HEADER", "_TOKEN"):
        assert any(name.endswith("." + expected) for name in names), expected


# Runs of the patterns' own words that a backtracking pattern would try again from every position.
FRAGMENTS = [
    "stop ", "stop met het sturen van ", "stoppen met ", "van de lijst ", "uit jullie bestand te ", "haal mij ", "zet me ",
    "ik wil niks meer ", "geen mails ", "niet meer ", "ik heb ", "don't ", "do not send me ", "stop sending ", "no more ",
    "arrêtez l'", "n'", "ne veux plus de ", ", plus ", "gelieve te ", "schrap ", "mijn adres ", "a.u.b. ", "s'il vous ",
    "verstuurd vanaf ", "op heeft ", "stop\n", " ", "\t \n", "a", ".",
    "out of the office starting ", "[", "[x] ", "is out of the ", "dit is een automatisch ", "absent ",
    "remove ", "remove me from the ", "stop sending to ", "mijn oude ", "uitgeschreven te ", "het ook ", "ons ",
    "let me ", "retirez mon ancienne ",
]
WATCHDOG = 300  # seconds for every pattern over every run; a linear set takes well under a minute
CHILD = """
import json, sys, time
from service.domain.inbound.mime import MAX_HEADER, MAX_TEXT
from service.domain.inbound.replies import own_words, unsubscribe_request
from tests.domain.test_replies_wording import FRAGMENTS, wording_patterns
runs = dict(wording_patterns(), unsubscribe_request=None)
slowest = (0.0, "", "")
for fragment in FRAGMENTS:
    text = (fragment * (MAX_TEXT // len(fragment) + 1))[:MAX_TEXT]
    for name, pattern in runs.items():
        start = time.perf_counter()
        if pattern is None:
            unsubscribe_request(text[:MAX_HEADER], own_words(text), set())
        else:
            sum(1 for _ in pattern.finditer(text))
        slowest = max(slowest, (time.perf_counter() - start, name, fragment))
print(json.dumps({"patterns": sorted(runs), "slowest": slowest}))
"""


def test_every_wording_pattern_reads_the_worst_runs_in_linear_time():
    """Each pattern of wording and replies over runs of its own words as long as one part's text.

    A pattern that backtracks spends minutes on such runs; the watchdog stops the child then.
    The test asserts what was read, never how long one run took (machines are shared): the
    slowest run is printed for whoever looks.
    """
    try:
        done = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, cwd=ROOT, timeout=WATCHDOG, check=True)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the wording patterns did not read every run within {WATCHDOG} s: a pattern backtracks")
    outcome = json.loads(done.stdout)
    assert outcome["patterns"] == sorted([*wording_patterns(), "unsubscribe_request"])
    seconds, name, fragment = outcome["slowest"]
    print(f"slowest: {name} took {seconds:.2f} s over a run of {fragment!r}")
