"""The catalogue of texts: every text in every language it offers, with the same placeholders, and
Dutch for a language it does not offer."""

import string

import pytest

from service.texts import DEFAULT_LANGUAGE, LANGUAGES, in_language, offered, recipients, staff

RECIPIENT_TABLES = {name: getattr(recipients, name) for name in (
    "SCOPE_NAMES", "UNSUBSCRIBE_PAGE", "CONFIRMATION_PAGE", "SELF_SERVICE_PAGE", "CONFIRMATION_MAIL",
    "SELF_SERVICE_MAIL")}


def _flat(texts: dict, prefix: str = "") -> dict:
    """Every text of a table in one language, those grouped under one key (reasons, kinds) included."""
    flat = {}
    for key, value in texts.items():
        flat.update(_flat(value, f"{prefix}{key}.") if isinstance(value, dict) else {prefix + key: value})
    return flat


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def test_every_table_of_the_module_is_checked():
    tables = {name for name, value in vars(recipients).items() if name.isupper() and isinstance(value, dict)}
    assert tables == set(RECIPIENT_TABLES)


@pytest.mark.parametrize("name", sorted(RECIPIENT_TABLES))
def test_every_key_is_in_every_language(name):
    table = RECIPIENT_TABLES[name]
    assert tuple(table) == LANGUAGES
    dutch = set(_flat(table[DEFAULT_LANGUAGE]))
    for lang in LANGUAGES:
        keys = set(_flat(table[lang]))
        assert keys == dutch, f"{name} {lang}: missing {sorted(dutch - keys)}, extra {sorted(keys - dutch)}"


@pytest.mark.parametrize("name", sorted(RECIPIENT_TABLES))
def test_every_language_fills_in_the_same_values(name):
    dutch = _flat(RECIPIENT_TABLES[name][DEFAULT_LANGUAGE])
    for lang in LANGUAGES:
        texts = _flat(RECIPIENT_TABLES[name][lang])
        differ = {key for key, text in texts.items() if _placeholders(text) != _placeholders(dutch[key])}
        assert not differ, f"{name} {lang}: {sorted(differ)}"


@pytest.mark.parametrize("lang", [None, "", "de", "NL", "en-GB"])
def test_a_language_not_offered_reads_dutch(lang):
    assert offered(lang) == DEFAULT_LANGUAGE
    assert in_language(recipients.CONFIRMATION_MAIL, lang) is recipients.CONFIRMATION_MAIL["nl"]


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_language_offered_reads_its_own(lang):
    assert in_language(recipients.UNSUBSCRIBE_PAGE, lang) is recipients.UNSUBSCRIBE_PAGE[lang]


def test_the_console_offers_its_languages_everywhere():
    assert set(staff.LANGUAGES) <= set(LANGUAGES)
    assert set(staff.MONTHS) == set(staff.LANGUAGES) and all(len(m) == 12 for m in staff.MONTHS.values())
    assert set(staff.WORDS) == set(staff.LANGUAGES)


def test_the_consoles_dutch_fills_in_what_its_english_key_does():
    differ = {english for english, dutch in staff.DUTCH.items() if _placeholders(english) != _placeholders(dutch)}
    assert not differ
