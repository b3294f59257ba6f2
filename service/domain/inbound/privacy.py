"""A person asking in their own words to see, correct or erase their data, or objecting (GDPR).
Each sentence is scored: a wish to act counts when it stands near the person's data or the law."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from itertools import accumulate

from . import privacy_words as W
from .authentication import dmarc_failure
from .model import Classification, Verdict
from .reading import Reading
from .asked import asked_for, unless_dmarc_failed


MAX_WORDS = 20_000  # characters of own words read for a request
WINDOW = 8  # words between what is wanted and the data it is done to
AFTER_DATA = 5  # words after the data that still say what it is ("mijn gegevens in de offerte")
BEFORE_DATA = 3
NEGATED_WITHIN = 5  # words before the verb, in its clause, that a negation reaches
KINDS = tuple(W.ACTIONS)

_WORD = re.compile(r"[^\W_]++|[,;:]")
_SENTENCES = re.compile(r"[^.!?\n]++[.!?]*+|[.!?]++")
_ARTICLE_DOT = re.compile(r"\b(art(?:ikel|icle)?)\.(?=[^\S\n]{0,3}\d)", re.I)  # "Art. 17" ends no sentence


def plain_words(text: str) -> list[str]:
    """The words of a text in lower case without accents ("Données" is "donnees"), and its commas,
    semicolons and colons, which end the reach of a negation."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return _WORD.findall("".join(c for c in decomposed if not unicodedata.combining(c)))


class _Table:
    """One table's entries as word tuples, found where they start among a sentence's words."""

    def __init__(self, entries: dict[str, object]) -> None:
        self.by_first: dict[str, list[tuple[tuple[str, ...], object]]] = {}
        self.prefixes: list[tuple[str, object]] = []
        for text, value in entries.items():
            if text.endswith("*"):
                self.prefixes.append((plain_words(text[:-1])[0], value))
                continue
            words = tuple(plain_words(text))
            self.by_first.setdefault(words[0], []).append((words, value))
        for candidates in self.by_first.values():
            candidates.sort(key=lambda entry: -len(entry[0]))
        self.starts = tuple(prefix for prefix, _ in self.prefixes)

    def match(self, words: list[str], at: int) -> tuple[int, object] | None:
        """The longest entry that starts at `at`: where it ends (exclusive) and its value."""
        word = words[at]
        for entry, value in self.by_first.get(word, ()):
            if tuple(words[at:at + len(entry)]) == entry:
                return at + len(entry), value
        if self.starts and word.startswith(self.starts):
            return at + 1, next(value for prefix, value in self.prefixes if word.startswith(prefix))
        return None

    def found(self, words: list[str]) -> list[tuple[int, int, object]]:
        return [(at, hit[0], hit[1]) for at in range(len(words)) if (hit := self.match(words, at)) is not None]


def _by_language(table: dict[str, tuple[str, ...]]) -> dict[str, str]:
    return {text: language for language, texts in table.items() for text in texts}


def _by_kind(table: dict[str, dict[str, tuple[str, ...]]]) -> dict[str, tuple[str, str]]:
    return {text: (kind, language) for kind, by_language in table.items() for language, texts in by_language.items()
            for text in texts}


_ACTIONS = _Table(_by_kind(W.ACTIONS))
_SENDS = _Table({text: ("access", language) for text, language in _by_language(W.SENDS).items()})
_TO_ME = frozenset(W.TO_ME)
_RIGHTS = _Table(_by_kind(W.RIGHTS))
_LAWS = _Table(_by_language(W.LAWS))
_DATA = _Table(_by_language(W.DATA_WORDS))
_PERSONAL = _Table(dict.fromkeys(W.PERSONAL_DATA, True))
_POSSESSIVES = _Table(dict.fromkeys(W.POSSESSIVES, True))
_ABOUT_ME = _Table(dict.fromkeys(W.ABOUT_ME, True))
_HOLDING = _Table(dict.fromkeys(W.HOLDING, True))
_QUESTIONS = _Table(_by_language(W.QUESTION_WORDS))
_MARKETING = _Table(dict.fromkeys(W.MARKETING, True))
_BUSINESS = _Table(dict.fromkeys(W.BUSINESS, True))
_LISTS = _Table(dict.fromkeys(W.LISTS, True))
_NOT_ASKING = _Table(dict.fromkeys(W.NOT_ASKING, True))
_SOURCES = _Table(_by_language(W.SOURCE_QUESTIONS))
_ADDRESSES = _Table(dict.fromkeys(W.ADDRESS_WORDS, True))
_NEED = frozenset(plain_words(" ".join(W.NEED)))
_CLAUSE_ENDS = frozenset(W.CLAUSE_ENDS)
_PRONOUNS = frozenset(W.PRONOUNS)
_EVERYTHING = frozenset(W.EVERYTHING)
_ARTICLE_WORDS = frozenset(W.ARTICLE_WORDS)


@dataclass(frozen=True, slots=True)
class PrivacyAsk:
    kinds: tuple[str, ...]  # access, correction, erasure, objection: each asked for
    language: str


@dataclass(frozen=True, slots=True)
class _Data:
    at: int
    strong: bool  # personal by its own name, or the law: no list makes it an unsubscribe


class _Sentence:
    """One sentence's words and where each table's entries stand among them."""

    def __init__(self, words: list[str], after_data: bool = False) -> None:
        self.words = words
        self.not_asking = {end for _start, end, _ in _NOT_ASKING.found(words)}
        flags = [0] * (len(words) + 1)
        for start, _end, _ in _BUSINESS.found(words):
            flags[start] = 1
        self.business = list(accumulate(flags, initial=0))  # business words before each position
        self.lists = {start for start, _end, _ in _LISTS.found(words)}
        self.mine = {end for _start, end, _ in _POSSESSIVES.found(words)}
        self.data = self._data()
        self.names_data = bool(self.data)  # what a pronoun in the next sentence may stand for
        if after_data:  # "Zo ja, gelieve die te verwijderen": the data of the sentence before
            self.data += [_Data(at, False) for at, word in enumerate(words) if word in _PRONOUNS]
        self.data_at: dict[int, list[_Data]] = {}
        for data in self.data:
            self.data_at.setdefault(data.at, []).append(data)
        self.marketing = {start for start, _end, _ in _MARKETING.found(words)}

    def business_in(self, low: int, high: int) -> bool:
        low, high = max(low, 0), min(high, len(self.words) - 1)
        return low <= high and self.business[high + 1] > self.business[low]

    def _data(self) -> list[_Data]:
        """Where the person's data is named: personal by its name, the law, a data word with
        "mijn"/"my" just before it or "over mij"/"about me" after it, or "over mij" beside a verb
        of keeping ("wat jullie over mij bijhouden") or after "alles"/"wat"."""
        words = self.words
        found = [_Data(start, True) for start, _end, _ in (*_PERSONAL.found(words), *_LAWS.found(words))]
        mine = self.mine
        about = _ABOUT_ME.found(words)
        about_starts = {start for start, _end, _ in about}
        for start, end, _ in _DATA.found(words):
            if any(at in mine for at in range(start - 2, start + 1)) or any(at in about_starts for at in range(end, end + 7)):
                found.append(_Data(start, False))
        holding = {start for start, _end, _ in _HOLDING.found(words)}
        for start, end, _ in about:
            kept = any(at in holding for at in range(start - 3, end + 3))
            asked = any(w in _EVERYTHING or _QUESTIONS.match(words, at) for at, w in self._before(start, 4))
            if kept or asked:
                found.append(_Data(start, False))
        return found

    def _before(self, at: int, count: int):
        return ((i, self.words[i]) for i in range(max(at - count, 0), at))

    def negated(self, at: int) -> bool:
        """A negation or thanks ends in the words before `at`, in its clause."""
        for i, word in reversed(list(self._before(at, NEGATED_WITHIN))):
            if i + 1 in self.not_asking:
                return True
            if word in _CLAUSE_ENDS:
                return False
        return False

    def sent_to_me(self) -> list[tuple[int, int, object]]:
        """The verbs of sending with "mij", "me", "moi" beside them."""
        near = W.TO_ME_WITHIN
        return [(start, end, value) for start, end, value in _SENDS.found(self.words)
                if any(word in _TO_ME for word in self.words[max(start - near, 0):end + near])]

    def asks_the_source(self) -> str | None:
        """The language of "waar hebben jullie mijn gegevens vandaan?", "where did you get my address?"."""
        addresses = {start for start, _end, _ in _ADDRESSES.found(self.words)
                     if any(at in self.mine for at in range(start - 2, start + 1))}
        for start, _end, language in _SOURCES.found(self.words):
            near = range(start - WINDOW, start + WINDOW + 1)
            if any(i in addresses or i in self.data_at for i in near):
                return language
        return None

    def another_verb(self, at: int) -> bool:
        beside = W.OTHER_VERB_BESIDE.get(self.words[at])
        return beside is not None and any(
            0 <= i < len(self.words) and self.words[i] in beside for i in (at - 1, at + 1))

    def done_to_data(self, at: int, kind: str) -> bool:
        """Whether the verb at `at` is done to the person's data (or, for an objection, to their
        being mailed), with no other business between or beside."""
        near = range(at - WINDOW, at + WINDOW + 1)
        targets = [data for i in near for data in self.data_at.get(i, ())]
        if kind == "objection":
            targets += [_Data(i, True) for i in near if i in self.marketing]
        for data in targets:
            if self.business_in(min(at, data.at - BEFORE_DATA), max(at, data.at + AFTER_DATA)):
                continue
            if kind == "erasure" and not data.strong and any(i in self.lists for i in range(data.at, data.at + 6)):
                continue
            return True
        return False


def _kinds_in(words: list[str], after_data: bool = False) -> tuple[dict[str, str], bool]:
    """The kinds one sentence asks for, each with the language it is asked in, and whether it
    names the person's data (a pronoun in the next sentence may stand for it)."""
    found: dict[str, str] = {}
    for _start, _end, (kind, language) in _RIGHTS.found(words):
        found.setdefault(kind, language)
    laws = _LAWS.found(words)
    for at, word in enumerate(words[:-1]):
        if laws and word in _ARTICLE_WORDS and words[at + 1] in W.ARTICLES:
            found.setdefault(W.ARTICLES[words[at + 1]], laws[0][2])
    if _NEED.intersection(words):
        return found, False
    sentence = _Sentence(words, after_data)
    for start, _end, (kind, language) in (*_ACTIONS.found(words), *sentence.sent_to_me()):
        if kind in found or sentence.negated(start) or sentence.another_verb(start):
            continue
        if sentence.done_to_data(start, kind):
            found[kind] = language
    if "access" not in found:
        for start, _end, language in _QUESTIONS.found(words):
            near = (d for i in range(start + 1, start + 5) for d in sentence.data_at.get(i, ()))
            if any(not sentence.business_in(start, d.at + AFTER_DATA) for d in near):
                found["access"] = language
                break
    source = sentence.asks_the_source() if "access" not in found else None
    if source is not None:
        found["access"] = source
    return found, sentence.names_data


def privacy_request(subject: str, words: str) -> PrivacyAsk | None:
    """The privacy requests a subject and the sender's own words make, if any."""
    text = _ARTICLE_DOT.sub(r"\1", f"{subject[:998]}\n{words[:MAX_WORDS]}")
    found: dict[str, str] = {}
    after_data = False
    for sentence in _SENTENCES.findall(text):
        kinds, after_data = _kinds_in(plain_words(sentence), after_data)
        for kind, language in kinds.items():
            found.setdefault(kind, language)
    if not found:
        return None
    ordered = tuple(kind for kind in KINDS if kind in found)
    return PrivacyAsk(ordered, found[ordered[0]])


def privacy_verdict(reading: Reading) -> Verdict | None:
    """A person exercising a data-protection right: recorded with its due date and read by staff.
    An objection to direct marketing, or a request to stop written beside it, also suppresses the
    sender (CONTRACT: Inbound mail)."""
    ask = privacy_request(reading.subject, reading.words) if reading.sender else None
    if ask is None:
        return None
    request = reading.request
    wanted = asked_for(reading.sender, request, self_too="objection" in ask.kinds)
    asked = reading.verdict(Classification.PRIVACY_REQUEST, f"privacy:{'+'.join(ask.kinds)}:{ask.language}",
                            (reading.sender, *(request.named if request else ())), suppress=wanted, forward=True,
                            privacy=ask.kinds)
    if not wanted:
        return asked
    return unless_dmarc_failed(asked, dmarc_failure(reading.msg, reading.sender, reading.trusted_authserv_id))
