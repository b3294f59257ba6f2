"""The link token a report carries of the original message, which attributes it to a campaign.
Read in one pass over bounded text; only the first token that verifies counts."""

from __future__ import annotations

import re
from email.message import Message
from typing import Callable

from ..errors import BadToken
from ..tokens import LinkClaim
from .mime import MAX_HEADER, all_text, raw_header, walk

MAX_CANDIDATES = 20
# "/u/TOKEN" (the link) or "unsubscribe%20TOKEN" (the mailto link's subject), the token read
# possessively up to its last character.
_CARRIED = re.compile(r"/u/([A-Za-z0-9_.-]{16,1024}+)|[Uu]nsubscribe(?:%20|\+| )([A-Za-z0-9_.-]{16,1024}+)")


def carried_tokens(msg: Message) -> list[str]:
    """Token candidates, in the order found: the List-Unsubscribe headers of the messages inside
    the report (never the report's own), then its text, returned messages and headers included."""
    texts = [value[:MAX_HEADER] for part in walk(msg) if part is not msg
             for value in (raw_header(part, "List-Unsubscribe"),) if value]
    texts.append(all_text(msg))
    found: dict[str, None] = {}
    for text in texts:
        for match in _CARRIED.finditer(text):
            found[(match.group(1) or match.group(2)).rstrip(".")] = None
            if len(found) >= MAX_CANDIDATES:
                return list(found)
    return list(found)


def carried_claim(msg: Message, verify_token: Callable[[str], LinkClaim]) -> LinkClaim | None:
    """What the first carried token that verifies says (recipient, scope, campaign), or None."""
    for token in carried_tokens(msg):
        try:
            return verify_token(token)
        except BadToken:
            continue
    return None
