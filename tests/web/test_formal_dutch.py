"""Every Dutch word a recipient reads addresses them as "u", as CETIT's privacy statement does."""

import re

import pytest

from service.mail.confirmation import TEXTS as CONFIRMATION_MAIL
from service.web.confirm import TEXTS as CONFIRMATION_PAGE
from service.web.texts import TEXTS as UNSUBSCRIBE_PAGES

INFORMAL = re.compile(r"\b(?:je|jij|jou|jouw|jezelf|jullie zelf)\b", re.I)


@pytest.mark.parametrize("texts", [UNSUBSCRIBE_PAGES["nl"], CONFIRMATION_PAGE["nl"], CONFIRMATION_MAIL["nl"]],
                         ids=["unsubscribe pages", "confirmation page", "confirmation mail"])
def test_the_dutch_texts_say_u(texts):
    informal = {key: text for key, text in texts.items() if INFORMAL.search(text)}
    assert informal == {}
