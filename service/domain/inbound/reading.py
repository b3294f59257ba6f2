"""One inbound message as each classification step reads it; its body text, own words and request
to be unsubscribed are read once, when a step first needs them."""

from __future__ import annotations

from dataclasses import dataclass
from email.message import Message
from functools import cached_property
from typing import Callable

from .mime import body_text
from .model import BounceKind, Classification, Envelope, Verdict
from .replies import Request, own_words, unsubscribe_request


@dataclass(frozen=True)
class Reading:
    """One message as each step of STEPS reads it. Its body text, own words and request to be
    unsubscribed are read once, when a step first needs them: most mail is decided before."""

    msg: Message
    subject: str
    sender: str | None  # From's address (_sender), else the envelope's; None when neither is plain
    envelope: Envelope
    own: frozenset[str]  # CETIT's own addresses: never suppressed, never senders
    verify_token: Callable  # returns a LinkClaim or raises BadToken
    trusted_authserv_id: str | None = None  # whose Authentication-Results count (None: none do)

    @property
    def sender_list(self) -> tuple[str, ...]:
        return (self.sender,) if self.sender else ()

    @cached_property
    def text(self) -> str:
        return body_text(self.msg)

    @cached_property
    def words(self) -> str:
        """What the sender wrote themselves: the body text without what it quotes."""
        return own_words(self.text)

    @cached_property
    def request(self) -> Request | None:
        """The sender's request, in their own words, to stop receiving mail (None without a sender)."""
        if not self.sender:
            return None
        return unsubscribe_request(self.subject, self.words, set(self.own) | set(self.sender_list))

    def verdict(self, classification: Classification, evidence: str, addresses: tuple[str, ...] = (),
                kind: BounceKind | None = None, **fields) -> Verdict:
        """A verdict about this message: it names its sender and subject."""
        return Verdict(classification, evidence, addresses, kind, sender=self.sender, subject=self.subject, **fields)
