"""Every Dutch word a recipient reads addresses them as "u", as CETIT's privacy statement does."""

import re

import pytest

from service.texts.recipients import (CONFIRMATION_MAIL, CONFIRMATION_PAGE, SELF_SERVICE_MAIL, SELF_SERVICE_PAGE,
                                      UNSUBSCRIBE_PAGE)
from service.texts.staff import DUTCH as STAFF_CONSOLE

INFORMAL = re.compile(r"\b(?:je|jij|jou|jouw|jezelf|jullie zelf)\b", re.I)


def _flat(texts: dict, prefix: str = "") -> dict:
    """Every text of a page, those grouped under one key (reasons, kinds) included."""
    flat = {}
    for key, value in texts.items():
        flat.update(_flat(value, f"{prefix}{key}.") if isinstance(value, dict) else {prefix + key: value})
    return flat


@pytest.mark.parametrize("texts", [UNSUBSCRIBE_PAGE["nl"], CONFIRMATION_PAGE["nl"], CONFIRMATION_MAIL["nl"],
                                   SELF_SERVICE_PAGE["nl"], SELF_SERVICE_MAIL["nl"], STAFF_CONSOLE],
                         ids=["unsubscribe pages", "confirmation page", "confirmation mail", "self-service pages",
                              "self-service mail", "staff console"])
def test_the_dutch_texts_say_u(texts):
    informal = {key: text for key, text in _flat(texts).items() if INFORMAL.search(text)}
    assert informal == {}
