"""Whom an unsubscribe request is for: the sender, the addresses it names, or both.
A request about another address leaves the sender subscribed unless it speaks of the writer too."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .mime import addresses_in

_FORMER = r"(?:old|previous|former|other|work|oude?|vorige?|vroegere?|andere?|ancienne?|vieille|autre|précédente)"
# The writer as the one to unsubscribe: "mij", "me", "us", "moi", "m'" before a French verb.
SELF = re.compile(r"\b(?:mij|me|mezelf|ons|myself|us|moi|nous)\b|\bm['’]\s?(?:d[ée]sabonn|d[ée]sinscri|retir|enlev)",
                  re.I)
# The writer in words that ask nothing for them: "let me know", "laat mij weten", "voor mij", "ons oude adres".
NOT_SELF = re.compile(
    r"\b(?:let|laat|for|voor|pour|tell|inform|informeer|call|bel|contact|contacteer)\s{1,3}(?:mij|me|us|ons|moi|nous)\b|"
    r"\b(?:mij|me|us|ons)\s{1,3}(?:know|weten)\b|\bons\s{1,3}(?:\w{1,20}+\s{1,3})?(?:e-?mail-?)?adres\b",
    re.I,
)
# The request points to an address written beside it: "it", "that address", "mijn oude adres", "het".
POINTS_TO_AN_ADDRESS = re.compile(
    rf"\b(?:that|this|the|dat|dit|die|het|cette|l['’])\s{{0,3}}(?:{_FORMER}\s{{1,3}})?(?:e-?mail(?:-|\s{{1,3}})?)?"
    rf"(?:address|adres|adresse)\b|\b(?:my|mijn|m['’]n|mon|ma)\s{{1,3}}{_FORMER}\s{{1,3}}(?:e-?mail(?:-|\s{{1,3}})?)?"
    r"(?:address|adres|adresse)\b|\b(?:it|that\s{1,3}one)\b|"
    r"\b(?:het|dat|dit|die)\s{1,3}(?:(?:ook|aub|graag|eens|dan|maar)\s{1,3}){0,2}(?:uit|af|verwijder|schrap|wis)\w*+|"
    r"\bla\s{1,3}(?:d[ée]sabonn|d[ée]sinscri|retir|supprim|enlev)",
    re.I,
)


@dataclass(frozen=True, slots=True)
class Addressed:
    """The addresses a request names (the sender's own and CETIT's left out), and whether it
    also asks for the sender."""

    named: tuple[str, ...]
    for_sender: bool


def _speaks_of_the_writer(sentence: str) -> bool:
    return bool(SELF.search(NOT_SELF.sub(" ", sentence)))


def addressed(sentence: str, before: str, after: str, ignore: set[str]) -> Addressed:
    """Whom the request `sentence` is for; `before` and `after` are the sentences beside it."""
    named = tuple(a for a in addresses_in(sentence) if a not in ignore)
    self_too = _speaks_of_the_writer(sentence)
    if not named and not self_too and POINTS_TO_AN_ADDRESS.search(sentence):
        for beside in (before, after):
            named = tuple(a for a in addresses_in(beside) if a not in ignore)
            if named:
                break
    return Addressed(named, self_too or not named)
