"""The domain's values as the API's JSON: the one place where their shape on the wire is made."""

from __future__ import annotations

import dataclasses

from ..domain.inbound.model import InboundMessage, MessagePage
from ..domain.suppressions.model import (AddressSuppressions, CheckResult, CheckResults, History, Link, LinkRefused, HistoryEvent, Lifted,
                                         Removed, SubjectRecord, Suppression, SuppressionPage)


def check_result(result: CheckResult) -> dict:
    if result.allowed:
        return {"email": result.email, "allowed": True}
    body = {"email": result.email, "allowed": False, "reason": result.reason}
    if result.scope is not None:
        body["scope"] = result.scope
    if result.since is not None:
        body["since"] = result.since.isoformat()
    return body


def check_results(results: CheckResults) -> list[dict]:
    """Most of 100,000 results are allowed: all are made so, in one pass without a call or a
    lookup each, and then the blocked ones are put in their places."""
    out = [{"email": email, "allowed": True} for email in results.emails]
    for i, result in results.blocked.items():
        out[i] = check_result(result)
    return out


def suppression(item: Suppression) -> dict:
    body = {"scope": item.scope, "reason": item.reason, "source": item.source,
            "created_at": item.created_at.isoformat(), "note": item.note}
    if item.email is not None:
        body = {"email": item.email, **body}
    return body


def address_suppressions(found: AddressSuppressions) -> dict:
    return {"email": found.email, "suppressions": [suppression(s) for s in found.suppressions]}


def suppression_page(page: SuppressionPage) -> dict:
    return {"suppressions": [suppression(s) for s in page.suppressions], "next_cursor": page.next_cursor}


def lifted(result: Lifted) -> dict:
    return {"email": result.email, "scope": result.scope, "lifted": True}


def history_event(event: HistoryEvent) -> dict:
    return {"at": event.at.isoformat(), "type": event.type, "scope": event.scope, "reason": event.reason,
            "source": event.source, "detail": event.detail, "actor": event.actor}


def history(found: History) -> dict:
    return {"email": found.email, "events": [history_event(e) for e in found.events]}


def subject_record(record: SubjectRecord) -> dict:
    """GET /v1/subjects/{email}."""
    return {
        "email": record.email,
        "suppressions": [suppression(s) for s in record.suppressions],
        "events": [history_event(e) for e in record.events],
        "erased": {"since": record.erased.since.isoformat(), "reason": record.erased.reason} if record.erased else None,
        "messages": [dict(m) for m in record.messages],
        "consents": [consent(c) for c in record.consents],
        "requests": [privacy_request(r) for r in record.requests],
    }


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def consent(item) -> dict:
    """One consent with its proof (GET /v1/consents/{email}, subject access)."""
    return {
        "id": item.id, "scope": item.scope, "status": item.status, "source": item.source, "text": item.text,
        "text_version": item.text_version, "language": item.language, "given_at": _iso(item.given_at),
        "confirmed_at": _iso(item.confirmed_at), "withdrawn_at": _iso(item.withdrawn_at),
        "withdrawn_by": item.withdrawn_by,
        "proof": {k: _iso(v) if hasattr(v, "isoformat") else v for k, v in item.proof.items()},
    }


def consents(email: str, items) -> dict:
    return {"email": email, "consents": [consent(c) for c in items]}


def privacy_request(item) -> dict:
    return {"id": item.id, "kind": item.kind, "email": item.address, "received_at": _iso(item.received_at),
            "due": item.due.isoformat(), "status": item.status,
            "message_id": str(item.message_id) if item.message_id is not None else None,
            "closed_at": _iso(item.closed_at), "note": item.note,
            **({"text": item.text} if item.text is not None else {})}  # words given on the own page


def scope_entry(item) -> dict:
    return {"scope": item.scope, "labels": dict(item.labels), "consent": item.consent}


def erasure(removed: Removed) -> dict:
    """POST /v1/erasure."""
    return {"erased": True, "suppressed": True, "removed": dataclasses.asdict(removed)}


def inbound_message(message: InboundMessage) -> dict:
    """GET /v1/inbound/{id}."""
    body = {
        "id": str(message.id),
        "status": str(message.status),
        "classification": message.classification,
        "addresses": list(message.addresses),
        "actions": list(message.actions),
        "received_at": message.received_at.isoformat(),
        "processed_at": message.processed_at.isoformat() if message.processed_at else None,
    }
    if message.kind:
        body["kind"] = message.kind
    if message.error:
        body["error"] = message.error
    return body


def link(made: Link | LinkRefused) -> dict:
    """One item of POST /v1/links: the link, or the error in its place."""
    if isinstance(made, LinkRefused):
        return {"email": made.email, "error": {"code": made.code, "message": made.message}}
    return {"email": made.email, "url": made.url, "headers": dict(made.headers), "return_path": made.return_path}


def message_page(page: MessagePage) -> dict:
    """GET /v1/inbound."""
    return {
        "messages": [{"id": str(m.id), "received_at": m.received_at.isoformat(), "sender": m.sender,
                      "subject": m.subject, "status": str(m.status), "classification": m.classification}
                     for m in page.messages],
        "next_cursor": page.next_cursor,
    }
