"""Out-of-office notices that mail programs send without Auto-Submitted, one table entry a wording.
Words that only say "away" count only in a short notice that asks nothing and says until when."""

from __future__ import annotations

import re

from .mime import raw_header
from .model import Classification, Verdict
from .reading import Reading
from .replies import bare_subject


MAX_SUBJECT = 998  # RFC 5322's line limit
MAX_NOTICE = 5000  # characters of own words a notice is looked for in
MAX_SHORT = 1500  # own words that only say "away" are a notice up to this length
_AUTO_PRECEDENCE = frozenset({"auto_reply", "bulk", "junk"})

# How a mail program starts the subject of an away notice (case ignored), after a gateway's tag.
SUBJECT_STARTS = (
    r"out\s{1,3}of\s{1,3}(?:the\s{1,3})?office",  # Outlook, Exchange, Gmail (en)
    r"automatic\s{1,3}reply",  # Outlook (en)
    r"auto(?:matic)?[- ]?reply|autoreply|auto[- ]?respons\w*+",  # hosting responders
    r"automatisch\s{1,3}antwoord",  # Outlook (nl)
    r"réponse\s{1,3}automatique",  # Outlook (fr)
    r"automatische\s{1,3}antwort",  # Outlook, Exchange (de)
    r"risposta\s{1,3}automatica|respuesta\s{1,3}automática|resposta\s{1,3}automática",  # Outlook (it, es, pt)
)
# Words of absence that responders put before the subject they answer ("Afwezig: <subject>"): a
# person's own subject may start with them too ("Afwezigheid van mijn zoon", "Vacation days"),
# so they count only as such a prefix: followed by a colon.
AWAY_WORDS = (
    r"afwezig\w*+|niet\s{1,3}aanwezig|met\s{1,3}verlof",  # Dutch responders
    r"absent\w*+|congé",  # French responders
    r"abwesen\w*+",  # Exchange (de)
    r"away(?:\s{1,3}until\b[^:\n]{0,20}+)?|on\s{1,3}vacation|vacation",  # responders (en)
)
_TAG = r"(?:\[[^\]\n]{1,40}+\]\s{0,3})?"  # "[EXTERNAL] ", "[SPAM] ": a gateway's mark before the subject
AWAY_SUBJECT = re.compile(rf"^{_TAG}(?:{'|'.join(SUBJECT_STARTS)})\b", re.I)
AWAY_PREFIX = re.compile(rf"^{_TAG}(?:{'|'.join(AWAY_WORDS)})\s?:", re.I)
# Lotus Notes: "AUTO: Jan Peeters is out of the office (returning 12/01/2026)". Upper case only:
# "Auto: onderhoud" is a subject about a car.
LOTUS_SUBJECT = re.compile(rf"^{_TAG}AUTO\s?:")
# "<name> is out of the office" in a subject that is not a reply: Lotus Notes in its languages.
SOMEONE_AWAY = re.compile(
    r"\b(?:is|ist|est)\s{1,3}(?:out\s{1,3}of\s{1,3}(?:the\s{1,3})?office|niet\s{1,3}(?:op\s{1,3}kantoor|aanwezig)|"
    r"afwezig|absente?\s{1,3}du\s{1,3}bureau|au[sß]{1,2}er\s{1,3}haus|nicht\s{1,3}im\s{1,3}büro)\b",
    re.I,
)

# Sentences a mail program writes in a notice and a person does not, each with who writes it.
PROGRAM_SENTENCES = (
    r"out\s{1,3}of\s{1,3}the\s{1,3}office\s{1,3}starting\b.{0,80}\bwill\s{1,3}not\s{1,3}return\s{1,3}until",  # Lotus
    r"this\s{1,3}is\s{1,3}the\s{1,3}only\s{1,3}notification\s{1,3}you\s{1,3}will\s{1,3}receive",  # Lotus
    r"this\s{1,3}is\s{1,3}an\s{1,3}automated\s{1,3}(?:response|reply|message)",  # Lotus, responders (en)
    r"dit\s{1,3}is\s{1,3}een\s{1,3}automatisch(?:e|\s{1,3}gegenereerd)?\s{1,3}(?:antwoord|bericht)",  # (nl)
    r"ceci\s{1,3}est\s{1,3}une?\s{1,3}(?:réponse|message)\s{1,3}automatique",  # (fr)
    r"dies\s{1,3}ist\s{1,3}eine\s{1,3}automatische\s{1,3}(?:antwort|nachricht)",  # (de)
)
PROGRAM_SENTENCE = re.compile("|".join(PROGRAM_SENTENCES), re.I)
AWAY_TEXT = re.compile(
    r"out\s{1,3}of\s{1,3}(?:the\s{1,3})?office|i\s{1,3}am\s{1,3}(?:currently\s{1,3})?away|"
    r"i['’]m\s{1,3}(?:currently\s{1,3})?away|on\s{1,3}(?:annual\s{1,3})?leave|on\s{1,3}vacation|"
    r"ben\s{1,3}(?:momenteel\s{1,3})?afwezig|met\s{1,3}verlof|niet\s{1,3}(?:op\s{1,3}kantoor|aanwezig)|"
    r"je\s{1,3}suis\s{1,3}(?:actuellement\s{1,3})?absente?|absente?\s{1,3}du\s{1,3}bureau|en\s{1,3}congé|"
    r"no\s{1,3}access\s{1,3}to\s{1,3}(?:my\s{1,3})?e-?mail|nicht\s{1,3}im\s{1,3}büro|im\s{1,3}urlaub",
    re.I,
)
AWAY_RETURN = re.compile(r"\buntil\b|\btot\b|\bjusqu|back\s{1,3}on|terug\s{1,3}op|de\s{1,3}retour|weer\s{1,3}aanwezig|"
                         r"return|\bbis\b", re.I)


def _subject_says_away(subject: str) -> bool:
    subject = subject[:MAX_SUBJECT].strip()
    if AWAY_SUBJECT.search(subject) or AWAY_PREFIX.search(subject) or LOTUS_SUBJECT.search(subject):
        return True
    return bare_subject(subject) == subject and bool(SOMEONE_AWAY.search(subject))


def is_away_notice(subject: str, words: str) -> bool:
    """An out-of-office notice by its subject, by a program's own sentence beside words that say
    away, or by short words that say away and until when and ask nothing."""
    if _subject_says_away(subject):
        return True
    words = words[:MAX_NOTICE]
    if not AWAY_TEXT.search(words):
        return False
    if PROGRAM_SENTENCE.search(words):
        return True
    return len(words) < MAX_SHORT and "?" not in words and bool(AWAY_RETURN.search(words))


def is_auto_submitted(msg) -> bool:
    """RFC 3834 Auto-Submitted (anything but "no"), X-Autoreply, X-Autorespond, Precedence."""
    auto = (raw_header(msg, "Auto-Submitted") or "")[:200].strip().lower()
    if auto and not auto.startswith("no"):
        return True
    if raw_header(msg, "X-Autoreply") or raw_header(msg, "X-Autorespond") or raw_header(msg, "X-Autoresponder"):
        return True
    return (raw_header(msg, "Precedence") or "")[:200].strip().lower() in _AUTO_PRECEDENCE


def auto_reply_verdict(reading: Reading) -> Verdict | None:
    """An automatic reply: marked so in its headers, or an out-of-office notice by its words."""
    if is_auto_submitted(reading.msg) or is_away_notice(reading.subject, reading.words):
        return reading.verdict(Classification.AUTO_REPLY, "auto-reply", reading.sender_list)
    return None
