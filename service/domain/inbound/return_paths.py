"""Mail that reached a return path (bounces+TOKEN@): whose copy it is about, and what it is.
A bounce there is for exactly the recipient the token names, whatever else it quotes."""

from __future__ import annotations

from dataclasses import replace

from .bounces import is_mail_system
from .model import BounceKind, Classification, Envelope, Verdict


def at_return_path(verdict: Verdict, envelope: Envelope, recipient_id: int | None) -> Verdict:
    """The verdict for a message that reached a return path; `recipient_id` is what its token
    names (None: it did not verify)."""
    from_machine = is_mail_system(envelope.mail_from) or is_mail_system(verdict.sender)
    if verdict.classification is Classification.BOUNCE:
        kind = BounceKind.HARD if verdict.suppress else BounceKind.SOFT
    elif verdict.classification is Classification.HUMAN and from_machine:
        kind = BounceKind.SOFT  # not readable as a report: no sign that the address cannot receive
    else:
        return verdict
    evidence = "verp" if recipient_id is not None else "verp:token-not-verified"
    return replace(verdict, classification=Classification.BOUNCE, evidence=evidence, kind=kind, suppress=(),
                   soft_bounces=(), withheld=(), forward=False, addresses=(),
                   mentioned=tuple(dict.fromkeys((*verdict.addresses, *verdict.mentioned))),
                   at_return_path=True, return_path_recipient=recipient_id)
