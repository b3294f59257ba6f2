"""What happens to a message after it is classified and acted on: processed, held for
staff, or forwarded to the staff mailbox (through the outbox)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Sequence

from .classify import Verdict
from .model import InboundStatus
from .inbox import Action, held_by_limit


@dataclass(frozen=True)
class Forwarding:
    """Where mail a person must read goes: OPTOUT_FORWARD_TO through OPTOUT_RELAY_URL."""

    relay_configured: bool
    forward_to: str | None

    @property
    def possible(self) -> bool:
        """Whether a message can be forwarded to staff at all (the worker, and staff releasing one)."""
        return bool(self.relay_configured and self.forward_to)


@dataclass(frozen=True)
class Decision:
    status: InboundStatus
    forward: bool
    notes: tuple[dict, ...] = ()  # actions recorded beside what act_on did


@dataclass(frozen=True)
class Classified:
    """One message's outcome as recorded on its row."""

    id: uuid.UUID
    status: InboundStatus
    classification: str
    kind: str | None
    addresses: tuple[str, ...]
    actions: tuple[dict, ...]
    sender: str | None
    subject: str | None
    forward_pending: bool


def after_classification(verdict: Verdict, actions: Sequence[dict], forwarding: Forwarding) -> Decision:
    """Held when acting was over the limit (staff decide); processed when nobody needs to read
    it; else forwarded, or held for staff when there is no relay or staff mailbox, or when
    the staff mailbox itself wrote it (a loop)."""
    if held_by_limit(actions):
        return Decision(InboundStatus.HELD, False)
    if not verdict.forward:
        return Decision(InboundStatus.PROCESSED, False)
    if not forwarding.possible:
        reason = "no OPTOUT_RELAY_URL" if not forwarding.relay_configured else "no OPTOUT_FORWARD_TO"
        return Decision(InboundStatus.HELD, False, ({"type": Action.HELD, "reason": f"{reason}: kept for staff"},))
    if verdict.sender and verdict.sender == forwarding.forward_to.lower():
        return Decision(InboundStatus.HELD, False,
                        ({"type": Action.HELD, "reason": "the sender is the staff mailbox (loop)"},))
    return Decision(InboundStatus.QUEUED, True, ({"type": "forward", "to": forwarding.forward_to},))
