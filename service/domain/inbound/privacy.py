"""A person asking, in their own words, to see, correct or erase what CETIT holds about them, or
objecting to direct marketing (GDPR Art. 15, 16, 17, 21; Dutch and Flemish, English, French).

A request must be about the person's data ("mijn gegevens", "my personal data", "mes données")
or name the law ("AVG", "GDPR", "RGPD", "recht op inzage"): "can you correct the invoice address?"
is a question about an invoice, and "verwijder mij van de lijst" an unsubscribe. Each pattern
is searched in one sentence and reads a bounded stretch (`.{0,n}` between words), so a
sentence is read in time linear in its length.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# The person's own data, or the law that gives the right.
_DATA_NL = (r"(?:mijn|onze|m'n|al\s{1,3}mijn|alle|welke)\s{1,3}(?:\w+\s{1,3})?(?:persoons)?gegevens|persoonsgegevens|"
            r"(?:mijn|m'n)\s{1,3}(?:data|dossier|profiel)\b")
_DATA_EN = (r"(?:my|our|all\s{1,3}my|all\s{1,3}(?:the\s{1,3})?|what|which)\s{1,3}(?:\w+\s{1,3})?(?:personal\s{1,3})?"
            r"(?:data|information|details|records)\b|personal\s{1,3}(?:data|information)")
_DATA_FR = (r"(?:mes|nos|toutes\s{1,3}mes|quelles)\s{1,3}(?:\w+\s{1,3})?(?:données|donnees|informations|coordonnées)|"
            r"données\s{1,3}personnelles|donnees\s{1,3}personnelles|données\s{1,3}(?:à|a)\s{1,3}caractère\s{1,3}personnel")
_LAW = (r"\b(?:avg|gdpr|rgpd|gdp?r|privacywet|privacy\s{0,3}wet|data\s{1,3}protection\s{1,3}act|"
        r"art(?:\.|ikel|icle)?\s{0,3}(?:15|16|17|21)\b)")

_KINDS: dict[str, dict[str, str]] = {
    "access": {
        "nl": rf"(?:inzage|inzien|inkijken|kopie|afschrift|overzicht|opvragen|welke\s{{1,3}}(?:\w+\s{{1,3}})?gegevens)"
              rf".{{0,80}}(?:{_DATA_NL}|{_LAW})|(?:{_DATA_NL}).{{0,80}}(?:inzage|inzien|inkijken|kopie|afschrift|"
              rf"overzicht|opvragen|bewaren|bijhouden|hebben|heeft)|recht\s{{1,3}}op\s{{1,3}}inzage",
        "en": rf"(?:access|copy|see|view|obtain|request|send\s{{1,3}}me).{{0,60}}(?:{_DATA_EN})|"
              rf"(?:what|which)\s{{1,3}}(?:\w+\s{{1,3}})?(?:personal\s{{1,3}})?(?:data|information)\s{{1,3}}"
              rf"(?:do|does)\s{{1,3}}(?:you|cetit)\s{{1,3}}(?:hold|have|keep|store|process)|"
              rf"right\s{{1,3}}of\s{{1,3}}access|subject\s{{1,3}}access\s{{1,3}}request|\bdsar\b",
        "fr": rf"(?:accès|acces|accéder|acceder|copie|consulter|communiquer|obtenir).{{0,60}}(?:{_DATA_FR})|"
              rf"droit\s{{1,3}}d['’]\s?(?:accès|acces)",
    },
    "correction": {
        "nl": rf"(?:verbeter|corrigeer|corrigeren|rechtzet|recht\s{{1,3}}te\s{{1,3}}zetten|aanpassen|aan\s{{1,3}}te\s{{1,3}}passen|"
              rf"wijzig|bijwerken|bij\s{{1,3}}te\s{{1,3}}werken|klopt|kloppen|fout|onjuist)\w*+.{{0,60}}(?:{_DATA_NL})|"
              rf"(?:{_DATA_NL}).{{0,60}}(?:verbeter|corrigeer|corrigeren|recht\s{{1,3}}(?:te\s{{1,3}})?zetten|"
              rf"aanpassen|aan\s{{1,3}}te\s{{1,3}}passen|wijzigen|bijwerken|kloppen\s{{1,3}}niet|klopt\s{{1,3}}niet|"
              rf"zijn\s{{1,3}}(?:fout|onjuist|verouderd))|recht\s{{1,3}}op\s{{1,3}}(?:verbetering|rectificatie)",
        "en": rf"(?:correct|rectify|update|fix|amend)\w*+.{{0,40}}(?:{_DATA_EN})|(?:{_DATA_EN}).{{0,40}}"
              rf"(?:(?:is|are)\s{{1,3}}(?:wrong|incorrect|inaccurate|out\s{{1,3}}of\s{{1,3}}date)|be\s{{1,3}}corrected)|"
              rf"right\s{{1,3}}to\s{{1,3}}rectification",
        "fr": rf"(?:corriger|rectifier|modifier|mettre\s{{1,3}}à\s{{1,3}}jour|mettre\s{{1,3}}a\s{{1,3}}jour)"
              rf".{{0,40}}(?:{_DATA_FR})|droit\s{{1,3}}de\s{{1,3}}rectification",
    },
    "erasure": {
        "nl": r"(?:wis|wissen|verwijder|schrap|vernietig)\w*+.{0,40}(?:al\s{1,3}mijn|alle)\s{1,3}"
              r"(?:\w+\s{1,3})?(?:persoons)?gegevens|(?:al\s{1,3}mijn|alle|mijn)\s{1,3}(?:persoons)?gegevens"
              r".{0,60}(?:wissen|gewist|verwijderen|verwijderd|vernietigen|vernietigd|schrappen)|"
              r"recht\s{1,3}op\s{1,3}(?:vergetelheid|vergeten\s{1,3}te\s{1,3}worden|gegevenswissing|wissing)",
        "en": r"(?:delete|erase|remove|destroy|wipe)\w*+.{0,30}(?:all\s{1,3}(?:of\s{1,3})?(?:my|the)\s{1,3}"
              r"(?:personal\s{1,3})?(?:data|information|details)|my\s{1,3}personal\s{1,3}(?:data|information))|"
              r"right\s{1,3}to\s{1,3}(?:be\s{1,3}forgotten|erasure)|forget\s{1,3}(?:about\s{1,3})?me\b",
        "fr": r"(?:effacer|supprimer|détruire|detruire|effacement|suppression).{0,30}(?:toutes\s{1,3}mes|"
              r"mes)\s{1,3}(?:données|donnees|informations)|droit\s{1,3}(?:à|a)\s{1,3}(?:l['’]\s?oubli|"
              r"l['’]\s?effacement)",
    },
    "objection": {
        "nl": r"(?:ik\s{1,3}maak|maak\s{1,3}ik|teken\s{1,3}ik|ik\s{1,3}teken|ik\s{1,3}tek)\s{1,3}"
              r"(?:hierbij\s{1,3})?bezwaar|bezwaar\s{1,3}tegen\s{1,3}(?:het\s{1,3}|de\s{1,3})?"
              r"(?:gebruik|verwerking|direct\s{0,3}marketing|marketing)|verzet\s{1,3}mij\s{1,3}tegen|"
              r"recht\s{1,3}(?:op|van)\s{1,3}(?:bezwaar|verzet)",
        "en": r"\bi\s{1,3}(?:hereby\s{1,3})?object\s{1,3}to|objection\s{1,3}to\s{1,3}(?:the\s{1,3})?"
              r"(?:processing|use|direct\s{1,3}marketing|marketing)|right\s{1,3}to\s{1,3}object",
        "fr": r"je\s{1,3}m['’]\s?oppose|opposition\s{1,3}(?:au|à|a)\s{1,3}(?:traitement|la\s{1,3}prospection|"
              r"l['’]\s?utilisation)|droit\s{1,3}d['’]\s?opposition",
    },
}
_PATTERNS = {kind: {lang: re.compile(p, re.I) for lang, p in by_lang.items()} for kind, by_lang in _KINDS.items()}
# What a sentence about an invoice, an order or a delivery is about: not the person's data held for marketing.
_BUSINESS = re.compile(r"\b(?:factuur|facturatie|facturen|invoice|invoicing|billing|facture|facturation|bestelling|"
                       r"order|commande|levering|delivery|livraison|offerte|quote|devis|leveringsadres|"
                       r"shipping\s{1,3}address)\b", re.I)
_SENTENCES = re.compile(r"[^.!?\n]++[.!?]*+|[.!?]++")
MAX_WORDS = 20_000  # characters of own words read for a request


@dataclass(frozen=True, slots=True)
class PrivacyAsk:
    kinds: tuple[str, ...]  # access, correction, erasure, objection: each asked for
    language: str


def privacy_request(subject: str, words: str) -> PrivacyAsk | None:
    """The privacy requests a subject and the sender's own words make, if any."""
    found: dict[str, str] = {}
    for sentence in _SENTENCES.findall(f"{subject[:998]}\n{words[:MAX_WORDS]}"):
        if len(sentence) < 8 or _BUSINESS.search(sentence):
            continue
        for kind, by_lang in _PATTERNS.items():
            if kind in found:
                continue
            for lang, pattern in by_lang.items():
                if pattern.search(sentence):
                    found[kind] = lang
                    break
    if not found:
        return None
    ordered = tuple(k for k in _KINDS if k in found)
    return PrivacyAsk(ordered, found[ordered[0]])
