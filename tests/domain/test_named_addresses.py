"""A person writing from a new address about their old one: the request is about the address it
names (in its sentence, in the subject, or in the sentence beside it that "it" or "that address"
points to), and the sender is unsubscribed only when they ask for themselves too. The messages
are written for this project; the addresses are made up.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from service.domain.inbound.classify import Basis, Envelope, classify
from service.domain.tokens import TokenSigner

SIGNER = TokenSigner(("named-test-key-" + "n" * 18,), timedelta(days=90))
OWN = frozenset({"info@cetit.be"})
NEW = "jan.nieuw@example.com"


def verdict_of(subject: str, body: str, sender: str = NEW):
    raw = (f"From: Jan Peeters <{sender}>\r\nTo: info@cetit.be\r\nSubject: {subject}\r\n"
           f"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n").encode()
    return classify(raw, Envelope(None, ("info@cetit.be",)), SIGNER.verify, OWN)


def wanted(verdict) -> list[tuple[str, Basis]]:
    return [(s.address, s.basis) for s in verdict.suppress]


# (subject, body, the old address asked about)
ABOUT_AN_OLD_ADDRESS = [
    ("Oud adres", "Graag mijn oude adres jan@oudbedrijf.be uitschrijven, ik werk daar niet meer", "jan@oudbedrijf.be"),
    ("Old address", "Please unsubscribe my old address jan@old.example, I no longer use it", "jan@old.example"),
    ("Oud adres", "Ik werk niet meer bij Oudbedrijf. Mijn oude adres jan@oudbedrijf.be mag uitgeschreven worden.",
     "jan@oudbedrijf.be"),
    ("Oud adres", "Gelieve mijn oude e-mailadres jan@oudbedrijf.be te schrappen.", "jan@oudbedrijf.be"),
    ("Oud adres", "Mijn vorig adres was jan@oudbedrijf.be. Gelieve dat adres uit te schrijven.", "jan@oudbedrijf.be"),
    ("Oud adres", "jan@oudbedrijf.be bestaat niet meer. Kunnen jullie het uitschrijven?", "jan@oudbedrijf.be"),
    ("Old address", "Please remove my old address jan@old.example from your list.", "jan@old.example"),
    ("Old address", "Please remove jan@old.example from your mailing list, I no longer work there.", "jan@old.example"),
    ("Old address", "Please stop sending to jan@old.example, I left that company.", "jan@old.example"),
    ("Old address", "I no longer use jan@old.example. Please unsubscribe it.", "jan@old.example"),
    ("Old address", "My old address is jan@old.example.\nCould you unsubscribe that address?", "jan@old.example"),
    ("Ancienne adresse", "Merci de désabonner mon ancienne adresse jan@ancien.example, je n'y travaille plus.",
     "jan@ancien.example"),
    ("Ancienne adresse", "Veuillez retirer mon ancienne adresse jan@ancien.example de votre liste.", "jan@ancien.example"),
    ("Uitschrijven jan@oudbedrijf.be", "Ik werk daar niet meer.", "jan@oudbedrijf.be"),
    ("Unsubscribe jan@old.example", "", "jan@old.example"),
]


@pytest.mark.parametrize("subject, body, old", [pytest.param(s, b, o, id=b[:60] or s) for s, b, o in ABOUT_AN_OLD_ADDRESS])
def test_a_request_about_an_old_address_asks_for_that_address_and_not_the_sender(subject, body, old):
    verdict = verdict_of(subject, body)
    assert verdict.classification == "unsubscribe"
    assert wanted(verdict) == [(old, Basis.NAMED)]
    assert set(verdict.addresses) == {NEW, old}
    assert verdict.forward  # staff see who asked for whom


@pytest.mark.parametrize("body, old", [
    ("Graag mij en ook partner@example.be uitschrijven.", "partner@example.be"),
    ("Please unsubscribe me and my old address jan@old.example.", "jan@old.example"),
    ("Schrijf mij uit, en mijn oude adres jan@oudbedrijf.be ook.", "jan@oudbedrijf.be"),
    ("Désabonnez-moi ainsi que mon ancienne adresse jan@ancien.example.", "jan@ancien.example"),
])
def test_a_sender_who_asks_for_themselves_and_another_address_is_unsubscribed_too(body, old):
    verdict = verdict_of("Uitschrijven", body)
    assert wanted(verdict) == [(NEW, Basis.SELF), (old, Basis.NAMED)]


@pytest.mark.parametrize("body", [
    "Schrijf mij uit. Voor dringende zaken: jan@firma.example",
    "Graag uitschrijven.\n\nJan Peeters\njan.peeters@firma.example\n+32 9 123 45 67",
    "Please unsubscribe me. My colleague an@firma.example still wants the newsletter.",
])
def test_an_address_in_a_sentence_the_request_does_not_point_to_is_not_asked_for(body):
    assert wanted(verdict_of("Re: CETIT nieuwsbrief", body)) == [(NEW, Basis.SELF)]


def test_let_me_know_is_not_a_request_for_oneself():
    verdict = verdict_of("Old address", "Please unsubscribe jan@old.example and let me know when it is done.")
    assert wanted(verdict) == [("jan@old.example", Basis.NAMED)]


def test_the_sender_s_own_address_named_in_the_request_is_the_sender_s_request():
    verdict = verdict_of("Uitschrijven", f"Gelieve {NEW} uit te schrijven.")
    assert wanted(verdict) == [(NEW, Basis.SELF)]
