"""What a person wrote, and whether they ask to be unsubscribed (Dutch, English, French).
Only the sender's own words count: quoted text and the signature are cut away first."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .addressed import addressed
from .wording import (ADDRESSEES, ALONE, AMBIGUOUS, DEVICE_LINE, FILLER_PHRASES, FILLERS, GREETINGS, NEGATED, NO_LONGER,
                      OTHER_STOP, RECEIPT, REQUEST, UNABLE, WISH)


# Each pattern that starts a line reads only that line's leading spaces (`^[^\S\n]*+`), never a
# run of blank lines from every line start in it; a quantifier that meets a character it
# cannot give back to what follows is possessive (`*+`, `++`). Cutting at a quoted
# reply's own line rather than at the blank lines above it loses nothing: own_words strips
# what it keeps.
_REPLY_HEADER = re.compile(
    r"^[^\S\n]*+(?:on\b.{0,200}\bwrote\s*+:|op\b.{0,200}\bschreef\b[^\n:]{0,200}+:|le\b.{0,200}\ba écrit\s*+:|"
    r"op\b.{0,200}\bhet volgende geschreven\s*+:|"
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
    r"sent from my \w++|verzonden vanaf mijn \w++|verstuurd vanaf mijn \w++|envoyé de mon \w++)(?:[^\S\n]|[,.!])*+$",
    re.I | re.M,
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

MAX_ALONE = 300  # characters of a subject or of own words that can still be a one-word request
# Words, runs of digits, line ends and single marks: what a one-word request is weighed in.
_TOKEN = re.compile(r"[^\W\d_]++|\d++|\n|[^\w\s]")
_WEIGHED = frozenset(ALONE) | frozenset(FILLERS)  # the words a one-word request may be made of
MAX_NAME_WORDS = 3
MAX_ADDRESSEE_WORDS = 4


@dataclass(frozen=True, slots=True)
class Request:
    """An unsubscribe request found in the sender's words."""

    language: str
    named: tuple[str, ...]  # other addresses the request names or points to
    says_more: bool  # a question or other business that staff must read
    for_sender: bool = True  # False: the request is about the named addresses only


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


def _undotted(text: str) -> str:
    return _ABBREVIATION.sub(lambda m: m.group(0).replace(".", ""), text)


def _asks(sentence: str) -> str | None:
    """The language a sentence asks to be unsubscribed in, or None when it does not ask."""
    if NEGATED.search(sentence) and not UNABLE.search(sentence):
        return None
    for language, pattern in REQUEST.items():
        if pattern.search(sentence):
            return language
    if RECEIPT.search(sentence) and not WISH.search(sentence):
        return None
    return next((language for language, pattern in NO_LONGER.items() if pattern.search(sentence)), None)


def _request_sentence(text: str, before: str = "") -> tuple[str, str, str, str] | None:
    """The language and sentence of the first request in `text`, with the sentences beside it
    (`before` stands before the first)."""
    sentences = _SENTENCES.findall(_undotted(text))
    for at, sentence in enumerate(sentences):
        language = _asks(sentence)
        if language is not None:
            after = sentences[at + 1] if at + 1 < len(sentences) else ""
            return language, sentence, sentences[at - 1] if at else before, after
    return None


def _is_mark(token: str) -> bool:
    return not token[0].isalnum()


def _after_greeting(tokens: list[str]) -> int | None:
    """Where the words after a greeting and its addressee ("Hallo,", "Beste Jan,") start; None
    when a lower-case word that greets no one follows the greeting ("hallo levering stop")."""
    at = next((i for i, token in enumerate(tokens) if not _is_mark(token)), len(tokens))
    if at == len(tokens) or tokens[at].casefold() not in GREETINGS:
        return at
    at += 1
    end = min(at + MAX_ADDRESSEE_WORDS, len(tokens))
    while at < end and not _is_mark(tokens[at]) and tokens[at].casefold() not in _WEIGHED:
        if tokens[at].casefold() not in ADDRESSEES and not tokens[at][0].isupper():
            return None
        at += 1
    return at


def _alone(text: str) -> tuple[str, bool] | None:
    """The language of a text that is one request word and nothing else, and whether that word
    names no object ("STOP"). A greeting ("Hallo Jan,"), politeness and thanks ("aub", "please",
    "merci"), marks, a name after a mark or a line end, and a phone's "Verstuurd vanaf mijn
    iPhone" line may stand with it; a digit, a question, an address or any other word may not."""
    text = text.strip()
    if not text or len(text) > MAX_ALONE or "@" in text or "?" in text:
        return None
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    if len(lines) > 1 and DEVICE_LINE.fullmatch(lines[-1]):
        lines.pop()
    tokens = _TOKEN.findall(FILLER_PHRASES.sub(" , ", _undotted("\n".join(lines))))
    at = _after_greeting(tokens)
    if at is None:
        return None
    words, languages, after_mark = [], [], False
    while at < len(tokens) and (_is_mark(tokens[at]) or tokens[at].casefold() in _WEIGHED):
        word = tokens[at].casefold()
        after_mark = _is_mark(word)
        if word in ALONE:
            words.append(word)
        languages.append(ALONE.get(word) or FILLERS.get(word))
        at += 1
    names = [token for token in tokens[at:] if not _is_mark(token)]
    if not words or len(names) > MAX_NAME_WORDS or (names and not after_mark):
        return None
    if any(not name[0].isupper() or name.casefold() in _WEIGHED for name in names):
        return None
    language = next((ALONE[w] for w in words if ALONE[w]), None) or next((x for x in languages if x), "nl")
    return language, all(word in AMBIGUOUS for word in words)


def _alone_in(text: str, other: str) -> str | None:
    """The language of a one-word request in `text`; a word that names no object ("Stop") does
    not count when `other` (the subject, or the words under it) stops or cancels something else."""
    alone = _alone(text)
    if alone is None:
        return None
    language, ambiguous = alone
    if ambiguous and OTHER_STOP.search(other) and _request_sentence(other) is None and _alone(other) is None:
        return None
    return language


def unsubscribe_request(subject: str, words: str, ignore: set[str]) -> Request | None:
    """The request to be unsubscribed in a subject or the sender's own words, if any, and whom
    it is for (`addressed`; `ignore`: the sender's and CETIT's own addresses).

    A subject that is a reply to our mail ("Re: CETIT nieuwsbrief") carries no request of
    its own; a subject written by the sender ("Uitschrijven", "stop emailing me") does. One
    word ("STOP", "Uitschrijven aub") asks only when it is the whole subject or all the
    sender wrote.
    """
    subject = bare_subject(subject)
    found = _request_sentence(words, before=subject)
    if found is not None:
        language, sentence, before, after = found
        whom = addressed(sentence, before, after, ignore)
        rest = _undotted(words).replace(sentence, " ")
        return Request(language, whom.named, bool(_QUESTION.search(rest)) or bool(whom.named), whom.for_sender)
    language = _alone_in(words, subject)
    if language is not None:
        return Request(language, (), False)
    found = _request_sentence(subject)
    if found is None:
        language = _alone_in(subject, words)
        return None if language is None else Request(language, (), bool(_QUESTION.search(_undotted(words))))
    language, sentence, _before, _after = found
    whom = addressed(sentence, "", words[:MAX_ALONE], ignore)
    return Request(language, whom.named, bool(_QUESTION.search(_undotted(words))) or bool(whom.named), whom.for_sender)
