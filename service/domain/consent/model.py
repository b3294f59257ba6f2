"""The ledger's values as the domain hands them to the edges."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Mapping

from .rules import label_of


@dataclass(frozen=True, slots=True)
class Consent:
    id: int
    address: str
    scope: str
    status: str  # pending, given, withdrawn
    source: str
    text: str
    text_version: str | None
    language: str
    created_at: datetime
    given_at: datetime | None
    confirmed_at: datetime | None
    withdrawn_at: datetime | None
    withdrawn_by: str | None
    proof: Mapping[str, Any]  # how it was given and confirmed: IP, user agent, note, actor, times

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> "Consent":
        proof = {
            "recorded_at": row["created_at"], "actor": row["actor"], "ip": row["ip"], "user_agent": row["user_agent"],
            "note": row["note"], "confirmed_ip": row["confirmed_ip"],
            "confirmed_user_agent": row["confirmed_user_agent"],
        }
        return cls(row["id"], row["address"], row["scope"], row["status"], row["source"], row["text"],
                   row["text_version"], row["language"], row["created_at"], row["given_at"], row["confirmed_at"],
                   row["withdrawn_at"], row["withdrawn_by"], proof)


@dataclass(frozen=True, slots=True)
class Scope:
    scope: str
    labels: Mapping[str, str]
    consent: str  # required, soft_opt_in, none
    updated_at: datetime | None = None

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> "Scope":
        return cls(row["scope"], dict(row["labels"] or {}), row["consent"], row["updated_at"])

    def label(self, lang: str) -> str:
        return label_of(self.scope, dict(self.labels), lang)


@dataclass(frozen=True, slots=True)
class Request:
    id: int
    kind: str
    address: str | None
    message_id: Any
    received_at: datetime
    due: date
    status: str
    closed_at: datetime | None
    closed_by: str | None
    note: str | None
    text: str | None = None  # the person's words, for a request made on their own page

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> "Request":
        return cls(row["id"], row["kind"], row["address"], row["message_id"], row["received_at"], row["due"],
                   row["status"], row["closed_at"], row["closed_by"], row["note"], row.get("text"))
