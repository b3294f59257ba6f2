"""Out-of-office notices as mail programs write them, most without Auto-Submitted: Lotus Notes'
"AUTO:" notice, Outlook's and Exchange's subjects in the languages CETIT's readers use, and a
notice whose quoted subject holds a question mark. Each is an auto_reply (no action, never
answered); a person who mentions being away in a question, or a subject about a car ("Auto:"),
still reaches staff. The messages are written for this project.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from service.domain.inbound.away import is_away_notice
from service.domain.inbound.classify import Envelope, classify
from service.domain.tokens import TokenSigner

SIGNER = TokenSigner(("away-test-key-" + "a" * 18,), timedelta(days=90))
OWN = frozenset({"info@cetit.be"})


def mail(subject: str, body: str, sender: str = "jan.peeters@example.be", headers: str = "") -> bytes:
    return (f"From: Jan Peeters <{sender}>\r\nTo: info@cetit.be\r\nSubject: {subject}\r\n{headers}"
            f"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n").encode()


def verdict_of(raw: bytes):
    return classify(raw, Envelope(None, ("info@cetit.be",)), SIGNER.verify, OWN)


# Lotus Notes (Domino) writes this body under "AUTO: <name> is out of the office (returning <date>)",
# quoting the subject of the mail it answers, question mark and all.
LOTUS_EN = ("I will be out of the office starting  19/12/2025 and will not return until 12/01/2026.\n\n"
            "For urgent matters please contact my colleague An Claes (an.claes@example.be).\n\n"
            "Note: This is an automated response to your message  \"CETIT nieuwsbrief: klaar voor 2026?\" "
            "sent on 19/12/2025 10:02:11.\n\nThis is the only notification you will receive while this person is away.")
LOTUS_NL = ("Ik ben vanaf 19-12-2025 niet op kantoor en ben op 12-01-2026 weer terug.\n\n"
            "Dringende vragen? Bel 09 123 45 67.\n\n"
            "Opmerking: dit is een automatisch antwoord op uw bericht \"Klaar voor 2026?\" verzonden op 19-12-2025.")
LOTUS_FR = ("Je serai absent du bureau à partir du 19/12/2025 et ne serai pas de retour avant le 12/01/2026.\n\n"
            "Une question urgente ? Contactez an.claes@example.be.\n\n"
            "Remarque : ceci est une réponse automatique à votre message \"Prêts pour 2026 ?\".")

NOTICES = [
    # (subject, body, who writes it)
    ("AUTO: Jan Peeters is out of the office (returning 12/01/2026)", LOTUS_EN, "Lotus Notes, English"),
    ("AUTO: Jan Peeters is niet op kantoor (terug op 12-01-2026)", LOTUS_NL, "Lotus Notes, Dutch"),
    ("AUTO: Jan Peeters est absent du bureau (retour le 12/01/2026)", LOTUS_FR, "Lotus Notes, French"),
    ("Re: CETIT nieuwsbrief: klaar voor 2026?", LOTUS_EN, "Lotus Notes' body under the subject it answers"),
    ("Automatic reply: CETIT nieuwsbrief", "On leave. Questions? Call 09 123 45 67.", "Outlook, English"),
    ("Automatisch antwoord: CETIT nieuwsbrief", "Met verlof. Vragen? Bel 09 123 45 67.", "Outlook, Dutch"),
    ("Réponse automatique : Lettre CETIT", "En congé. Une question ? Appelez le 09 123 45 67.", "Outlook, French"),
    ("Réponse automatique\u00a0: Lettre CETIT", "En congé. Une question ?", "Outlook, French, no-break space"),
    ("Automatische Antwort: CETIT Newsletter", "Ich bin im Urlaub. Fragen? 09 123 45 67", "Outlook, German"),
    ("Abwesenheitsnotiz: CETIT Newsletter", "Ich bin im Urlaub. Fragen? 09 123 45 67", "Outlook, German, older"),
    ("Afwezig: CETIT nieuwsbrief", "Tot maandag! Vragen? Bel 09 123 45 67.", "a Dutch mail program"),
    ("Out of Office: CETIT newsletter", "Back Monday. Questions? Call 09 123 45 67.", "Exchange, English"),
    ("[EXTERNAL] Automatic reply: CETIT nieuwsbrief", "On leave. Questions? Call 09 123 45 67.",
     "Outlook, behind a gateway's tag"),
    ("Autoreply: CETIT nieuwsbrief", "On leave. Questions? Call 09 123 45 67.", "a hosting provider's responder"),
]

NOT_NOTICES = [
    ("Auto: onderhoud en nieuwe banden", "Wanneer kan de auto binnen voor onderhoud?", "a subject about a car"),
    ("Re: CETIT nieuwsbrief", "I was out of the office last week. Could you resend the invoice?",
     "a person back from leave with a question"),
    ("Re: Jan is out of the office", "Who can I call about the course while Jan is away?",
     "a person replying about a colleague's absence"),
    ("Afwezigheid van mijn zoon op de opleiding", "Mijn zoon is dinsdag ziek. Kan hij de les later inhalen?",
     "a parent's question whose subject starts with a word of absence"),
    ("Absent lors de la formation du 12 mars", "Je n'ai pas pu venir. Puis-je suivre la session suivante ?",
     "a French question about a missed session"),
    ("Vacation days and the spring course", "Does the course run during the Easter holidays?",
     "an English question whose subject starts with vacation"),
    ("Congé de maternité et formation", "Puis-je reporter mon inscription ?", "a question about leave"),
]


@pytest.mark.parametrize("subject, body", [pytest.param(s, b, id=why) for s, b, why in NOTICES])
def test_an_away_notice_without_auto_submitted_is_an_auto_reply(subject, body):
    verdict = verdict_of(mail(subject, body))
    assert verdict.classification == "auto_reply"
    assert verdict.addresses == ("jan.peeters@example.be",)
    assert verdict.suppress == () and not verdict.forward


@pytest.mark.parametrize("subject, body", [pytest.param(s, b, id=why) for s, b, why in NOT_NOTICES])
def test_a_person_who_mentions_an_absence_still_reaches_staff(subject, body):
    verdict = verdict_of(mail(subject, body))
    assert verdict.classification == "human" and verdict.forward


def test_a_lotus_notice_answering_a_request_about_unsubscribing_is_still_an_auto_reply():
    body = LOTUS_EN.replace("CETIT nieuwsbrief: klaar voor 2026?", "Uitschrijven?")
    verdict = verdict_of(mail("AUTO: Jan Peeters is out of the office (returning 12/01/2026)", body))
    assert verdict.classification == "auto_reply" and verdict.suppress == ()


def test_the_subject_alone_tells_a_notice():
    assert is_away_notice("AUTO: An Claes is out of the office (returning 05/01/2026)", "")
    assert not is_away_notice("Auto: te koop", "")
