"""The Services: what every part needs besides the database, built once per process.
Signer, keyed hash, relay, wake-ups and clock are made from the settings in this one place."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta

from .domain.campaigns.model import Thresholds
from .domain.outbox import Clock, SystemClock
from .domain.suppressions.erased_hashes import ErasedHashes
from .domain.suppressions.keyed_hash import KeyedHash
from .domain.suppressions.return_paths import ReturnPaths
from .domain.tokens import ConfirmationTokens, SelfServiceTokens, TokenSigner
from .mail.dkim import DkimSigner
from .mail.relay import Relay
from .settings import Settings


class WakeUp:
    """Wakes this process's consumers of one queue as soon as something is queued in it, so
    that they do not wait for their next idle poll (consumers in other processes do)."""

    def __init__(self) -> None:
        self._waiters: set[asyncio.Event] = set()

    def subscribe(self) -> asyncio.Event:
        event = asyncio.Event()
        self._waiters.add(event)
        return event

    def unsubscribe(self, event: asyncio.Event) -> None:
        self._waiters.discard(event)

    def wake(self) -> None:
        for event in self._waiters:
            event.set()


@dataclass(frozen=True)
class Services:
    settings: Settings
    signer: TokenSigner
    return_paths: ReturnPaths
    keyed_hash: KeyedHash
    relay: Relay | None
    dkim: DkimSigner | None = None  # signs the gateway's copies; None: the relay must sign
    confirmations: ConfirmationTokens | None = None  # the double opt-in links (/c/{token})
    self_service: SelfServiceTokens | None = None  # the links to a person's own page (/me/{token})
    clock: Clock = field(default_factory=SystemClock)
    outbox: WakeUp = field(default_factory=WakeUp)  # rows queued in the outbox
    inbound: WakeUp = field(default_factory=WakeUp)  # messages stored in the inbound queue
    erased: ErasedHashes = field(default_factory=ErasedHashes)  # the erased HMACs the checks test

    @classmethod
    def build(cls, settings: Settings, clock: Clock | None = None) -> "Services":
        return cls(
            settings=settings,
            signer=TokenSigner(settings.secret_keys, timedelta(days=settings.link_max_age_days)),
            return_paths=ReturnPaths(settings.secret_keys, settings.bounce_address),
            keyed_hash=KeyedHash(settings.hash_key),
            relay=Relay.from_url(settings.relay_url) if settings.relay_url else None,
            dkim=(DkimSigner(settings.dkim_key, settings.dkim_selector, settings.dkim_domain)
                  if settings.dkim_key else None),
            confirmations=ConfirmationTokens(settings.secret_keys),
            self_service=SelfServiceTokens(settings.secret_keys, timedelta(minutes=settings.self_service_minutes)),
            clock=clock or SystemClock(),
        )

    @property
    def guard(self) -> Thresholds:
        """The campaign guardrails' thresholds (OPTOUT_GUARD_*)."""
        s = self.settings
        return Thresholds(s.guard_complaint_rate, s.guard_bounce_rate, s.guard_min_sent)
