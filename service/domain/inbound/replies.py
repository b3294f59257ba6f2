"""What a person wrote, and whether they ask to be unsubscribed (Dutch, English, French).

Only the sender's own words count: the quoted message below a reply header ("Op ...
schreef", "On ... wrote", "Le ... a écrit", an Outlook "Van:/From:" block), lines quoted
with ">", and the signature are cut away first. That keeps a question written above a
quoted newsletter footer that says "uitschrijven" a question.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .mime import addresses_in

# Each pattern that starts a line reads only that line's leading spaces (`^[^\S\n]*+`), never a
# run of blank lines from every line start in it; a quantifier that meets a character it
# cannot give back to what follows is possessive (`*+`, `++`). Cutting at a quoted
# reply's own line rather than at the blank lines above it loses nothing: own_words strips
# what it keeps.
_REPLY_HEADER = re.compile(
    r"^[^\S\n]*+(?:on\b.{0,200}\bwrote\s*+:|op\b.{0,200}\bschreef\b[^\n:]{0,200}+:|le\b.{0,200}\ba écrit\s*+:|"
    r"am\b.{0,200}\bschrieb\b[^\n:]{0,120}+:|-{2,}+\s*+(?:original message|oorspronkelijk bericht|message d.origine|"
    r"forwarded message|doorgestuurd bericht|message transféré)|-{5,}+[^\S\n]*+$|_{5,}+[^\S\n]*+$|"
    r"(?:from|van|de|von)\s*+:\s.*\n\s*+(?:sent|verzonden|envoyé|date|datum|gesendet|to|aan|à)\s*+:)",
    re.I | re.M,
)
_SIGNATURE = re.compile(r"^--[^\S\n]*+$", re.M)
_CLOSING = re.compile(
    r"^[^\S\n]*+(?:met vriendelijke groet(?:en)?|vriendelijke groet(?:en)?|groet(?:en|jes)?|mvg|m\.v\.g\.|"
    r"kind regards|best regards|regards|best|cheers|thanks|thank you|many thanks|sincerely|"
    r"cordialement|bien (?:à vous|cordialement)|salutations|merci(?: d'avance)?|"
    r"sent from my \w++|verzonden vanaf mijn \w++|envoyé de mon \w++)(?:[^\S\n]|[,.!])*+$",
    re.I | re.M,
)

REQUEST = {
    "nl": re.compile(
        r"uitschrijv|uit te schrijven|schrijf\s+(?:mij|me|ons)\b.{0,30}?\buit\b|afmeld|af\s+te\s+melden|"
        r"\b(?:mij|me|ons)\s+(?:graag\s+)?af\b|verwijder\w*\b.{0,60}\b(?:lijst|verzendlijst|mailinglijst|"
        r"adressenbestand|bestand|database)|(?:mijn|ons)\s+(?:e-?mail)?adres\b.{0,40}\bverwijder|"
        r"geen\s+(?:e-?mails?|mails?|nieuwsbrie\w*|berichten|uitnodigingen)\s+meer|"
        r"niet\s+(?:meer|langer)\s+(?:ontvangen|mailen|contacteren)",
        re.I,
    ),
    "en": re.compile(
        r"un-?subscri|take me off|remove me\b|remove my\s+(?:e-?mail\s+)?(?:address|name|details)|"
        r"stop\s+(?:e-?mailing|sending|mailing|contacting)|opt(?:ed)?[- ]out|"
        r"no longer\s+(?:wish|want)\s+to\s+receive|do(?: not|n't)\s+(?:contact|e-?mail|mail|send)\s+me|"
        r"off (?:your|the) (?:mailing )?list",
        re.I,
    ),
    "fr": re.compile(
        r"d[ée]sabonn|d[ée]sinscri|ne\s+(?:plus|pas)\s+(?:me\s+)?(?:recevoir|envoyer)|"
        r"ne\s+souhaite\s+plus\s+recevoir|ne\s+(?:veux|désire|desire)\s+plus\s+recevoir|"
        r"(?:retirer|supprimer|effacer)\s+(?:mon|mes|notre)\s+(?:adresse|e-?mail|coordonnées)|"
        r"me\s+retirer\s+de",
        re.I,
    ),
}
_NEGATED = re.compile(
    r"\b(?:niet|not|don't|do not|pas)\s++(?:\w++\s++){0,2}(?:uitschrijven|unsubscribe|me désabonner|désabonner)", re.I
)
_SUBJECT_PREFIX = re.compile(r"^\s*+(?:(?:re|fw|fwd|tr|antw|aw|wg|sv|vs)\s*+(?:\[\d++\]\s*+)?:\s*+)+", re.I)
_QUESTION = re.compile(r"\?|\b(?:vraag|question|kunnen jullie|could you|can you|pouvez-vous|pourriez-vous)\b", re.I)
# A dot inside an address or a.u.b. ends nothing. A sentence always ends where its run
# stops (at a line end, or at marks followed by a space), so the run never gives back.
_SENTENCES = re.compile(r"(?:[^.!?\n]++|[.!?](?=[^\s.!?]))++(?:[.!?]++|$)", re.M)
# a.u.b., s.v.p., e.g.: not sentence ends. A run of letter-dot pairs is read once, from
# its first pair: a later pair whose letter follows a word boundary would end where the
# first did, so it is not tried again.
_ABBREVIATION = re.compile(r"(?<!\b[A-Za-z]\.)\b(?:[A-Za-z]\.){2,}+(?![A-Za-z0-9@])")

AWAY_SUBJECT = re.compile(
    r"^(?:out of (?:the )?office|automatic reply|auto(?:matic)?[- ]?reply|autoreply|auto[- ]?respons\w*|"
    r"automatisch antwoord|afwezig\w*|niet aanwezig|réponse automatique|absent\w*|abwesen\w*|"
    r"away(?: until)?|on vacation|vacation|congé|met verlof)\b",
    re.I,
)
AWAY_TEXT = re.compile(
    r"out of (?:the )?office|i am (?:currently )?away|i'm (?:currently )?away|on (?:annual )?leave|"
    r"on vacation|ben (?:momenteel )?afwezig|met verlof|niet (?:op kantoor|aanwezig)|"
    r"je suis (?:actuellement )?absente?|absente? du bureau|en congé|no access to (?:my )?e-?mail",
    re.I,
)
AWAY_RETURN = re.compile(r"\buntil\b|\btot\b|\bjusqu|back on|terug op|de retour|weer aanwezig|return", re.I)


@dataclass(frozen=True, slots=True)
class Request:
    """An unsubscribe request found in the sender's words."""

    language: str
    named: tuple[str, ...]  # other addresses named in the request sentence
    says_more: bool  # a question or other business that staff must read


def own_words(text: str) -> str:
    """The text the sender wrote themselves: no quoted reply, no '>' lines, no signature."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    cut = _REPLY_HEADER.search(text)
    if cut:
        text = text[: cut.start()]
    signature = _SIGNATURE.search(text)
    if signature:
        text = text[: signature.start()]
    lines = [line for line in text.split("\n") if not line.lstrip().startswith(">")]
    text = "\n".join(lines)
    closing = _CLOSING.search(text)
    if closing:
        text = text[: closing.start()]
    return text.strip()


def bare_subject(subject: str) -> str:
    return _SUBJECT_PREFIX.sub("", subject or "").strip()


def _request_sentence(text: str) -> tuple[str, str] | None:
    text = _ABBREVIATION.sub(lambda m: m.group(0).replace(".", ""), text)
    for sentence in _SENTENCES.findall(text):
        for language, pattern in REQUEST.items():
            if pattern.search(sentence) and not _NEGATED.search(sentence):
                return language, sentence
    return None


def unsubscribe_request(subject: str, words: str, ignore: set[str]) -> Request | None:
    """The request to be unsubscribed in a subject or the sender's own words, if any.

    A subject that is a reply to our mail ("Re: CETIT nieuwsbrief") carries no request of
    its own; a subject written by the sender ("Uitschrijven", "stop emailing me") does.
    """
    found = _request_sentence(words)
    if found is None:
        found = _request_sentence(bare_subject(subject))
        if found is None:
            return None
        sentence = ""
        language = found[0]
    else:
        language, sentence = found
    named = tuple(a for a in addresses_in(sentence) if a not in ignore)
    words = _ABBREVIATION.sub(lambda m: m.group(0).replace(".", ""), words)
    rest = words.replace(sentence, " ") if sentence else words
    says_more = bool(_QUESTION.search(rest)) or bool(named)
    return Request(language, named, says_more)


def is_away_notice(subject: str, words: str) -> bool:
    """An out-of-office notice by its subject, or by short words that say away and until when.

    A person who mentions a holiday in a question must still reach staff, so the words
    alone count only without a question and with a date of return.
    """
    if AWAY_SUBJECT.search(subject.strip()):
        return True
    return (len(words) < 1500 and "?" not in words and bool(AWAY_TEXT.search(words))
            and bool(AWAY_RETURN.search(words)))
