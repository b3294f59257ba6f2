"""Mail that reached a return path (bounces+TOKEN@): whose copy it is about, and what it is.

It is classified first, like any other message. A bounce, or a message from a mail system
that cannot be read as anything else, is then a bounce for exactly the recipient its token
names, hard when the report says the address cannot receive and soft otherwise, whatever
addresses it names or quotes (a list address, CETIT's own, a Reply-To, the original
message's headers). A token that does not verify makes it a bounce about no one. An
auto-reply stays an auto-reply, and a person's words are read as at info@.
"""

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
