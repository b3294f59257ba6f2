"""GET /openapi.json: the OpenAPI 3 description of the HTTP interface."""

from __future__ import annotations

from aiohttp import web

from .. import __version__
from ..domain.events.model import EventType
from ..domain.campaigns.model import CAMPAIGN_PAUSED, CampaignStatus
from ..domain.inbound.model import BounceKind, Classification, InboundStatus
from ..domain.suppressions.model import Reason
from ..domain.consent.rules import CONSENT_RULES, LANGUAGES, REQUEST_KINDS, STATUSES, SOURCES as CONSENT_SOURCES
from ..domain.suppressions.rules import REASONS, SOURCES


def _error(description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def _json(schema: dict | str, description: str = "OK") -> dict:
    if isinstance(schema, str):
        schema = {"$ref": f"#/components/schemas/{schema}"}
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _query(name: str, description: str, required: bool = False, schema: dict | None = None) -> dict:
    return {"name": name, "in": "query", "required": required, "description": description,
            "schema": schema or {"type": "string"}}


# What the API accepts, said as precisely as JSON Schema can: a value outside is refused with a 4xx.
SCOPE = {"type": "string", "pattern": "^[a-z0-9_-]{1,64}$"}
REASON = {"type": "string", "enum": list(REASONS)}
SOURCE = {"type": "string", "enum": list(SOURCES)}
TEXT = {"type": "string", "maxLength": 10000}
EMPTY = {"type": "string", "maxLength": 0}
EVENT_TYPES = [t.value for t in EventType]
NO_CONTROL = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$"
CAMPAIGN_RULES = ("At most 100 characters and 200 bytes in UTF-8, no control character, no space at either end; "
                  "a name outside these is refused with 400 invalid_campaign.")
CAMPAIGN = {"type": ["string", "null"], "maxLength": 100, "pattern": NO_CONTROL,
            "description": "The campaign (CONTRACT: Campaign guardrails); null or empty: none. " + CAMPAIGN_RULES}
CAMPAIGN_PATH = {"name": "campaign", "in": "path", "required": True,
                 "description": "The campaign's name, URL-encoded. " + CAMPAIGN_RULES,
                 "schema": {"type": "string", "minLength": 1, "maxLength": 100, "pattern": NO_CONTROL}}
WEBHOOK_ID_PATH = {"name": "id", "in": "path", "required": True, "schema": {"type": "string", "format": "uuid"}}
EMAIL_PATH = {"name": "email", "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}
TOKEN_PATH = {"name": "token", "in": "path", "required": True,
              "schema": {"type": "string", "pattern": "^[A-Za-z0-9_.-]{1,1024}$"}}
HTML_BODY = {"content": {"text/html": {"schema": {"type": "string"}}}}
HTML = {"description": "A page", **HTML_BODY}
FORM = {"type": "object", "properties": {
    "List-Unsubscribe": {"type": "string", "enum": ["One-Click"]}, "confirm": {"type": "string", "enum": ["yes"]},
    "choice": {"type": "string", "pattern": "^(all|scope:[a-z0-9_-]{1,64})?$",
               "description": "empty: the link's own scope; all: every kind of mail; scope:NAME: that scope"},
    "lang": {"type": "string"}}}
ERRORS = {"400": _error("Bad input"), "401": _error("Missing or unknown API key"),
          "403": _error("The key lacks the scope"), "503": _error("Database unavailable")}


def _op(summary: str, scope: str | None, responses: dict, **extra) -> dict:
    op = {"summary": summary, "responses": {**responses, **(ERRORS if scope else {})}, **extra}
    if scope:
        op["security"] = [{"bearer": []}]
        op["description"] = f"Needs an API key with scope `{scope}` (or `admin`). " + extra.get("description", "")
    return op


def _body(schema: dict | str, content_type: str = "application/json") -> dict:
    if isinstance(schema, str):
        schema = {"$ref": f"#/components/schemas/{schema}"}
    return {"required": True, "content": {content_type: {"schema": schema}}}


LABELS = {"type": "object", "required": ["nl"], "additionalProperties": False, "properties": {
    lang: {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "\\S"} for lang in ("nl", "en", "fr")}}
CONSENT_ANSWER = {"type": "object", "properties": {
    "status": {"type": "string", "enum": ["given", "pending"]}, "id": {"type": "integer"}, "email": {"type": "string"},
    "scope": {"type": "string"}}}

SCHEMAS = {
    "Error": {"type": "object", "required": ["error"], "properties": {"error": {
        "type": "object", "required": ["code", "message"],
        "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}}},
    "CheckResult": {"type": "object", "required": ["email", "allowed"], "properties": {
        "email": {"description": "The recipient as it was given"}, "allowed": {"type": "boolean"},
        "reason": {"type": "string",
                   "enum": [*(reason.value for reason in Reason), CAMPAIGN_PAUSED],
                   "description": "campaign_paused: the check named a campaign that its guardrail paused; "
                                  "every recipient gets it"},
        "scope": {"type": "string"}, "since": {"type": "string", "format": "date-time"}}},
    "Suppression": {"type": "object", "properties": {
        "email": {"type": "string"}, "scope": {"type": "string"}, "reason": {"type": "string"},
        "source": {"type": "string"}, "created_at": {"type": "string", "format": "date-time"},
        "note": {"type": ["string", "null"]}}},
    "Link": {"type": "object", "properties": {
        "email": {"description": "The recipient's email as it was given"}, "url": {"type": "string"},
        "headers": {"type": "object", "properties": {
            "List-Unsubscribe": {"type": "string"}, "List-Unsubscribe-Post": {"type": "string"}}},
        "return_path": {"type": "string", "description": "The envelope sender (MAIL FROM) of this recipient's copy"},
        "error": {"type": "object"}}},
    "Event": {"type": "object", "properties": {
        "at": {"type": "string", "format": "date-time"}, "type": {"type": "string"},
        "scope": {"type": ["string", "null"]}, "reason": {"type": ["string", "null"]},
        "source": {"type": ["string", "null"]}, "detail": {"type": "object"},
        "actor": {"type": ["string", "null"], "description": "Who caused it: a key's name, recipient, mail or cli"}}},
    "PublishedEvent": {"type": "object", "required": ["id", "type", "at", "data"], "properties": {
        "id": {"type": "string", "description": "evt_N: the same on every delivery of this event"},
        "type": {"type": "string", "enum": EVENT_TYPES}, "at": {"type": "string", "format": "date-time"},
        "data": {"type": "object", "description": "email (absent when erased), scope, reason, source, actor, "
                                                  "and what the type adds; campaign.paused names no address: "
                                                  "campaign, reason (complaint_rate or hard_bounce_rate), "
                                                  "paused_reason, sent, complaints, hard_bounces, complaint_rate, "
                                                  "hard_bounce_rate"}}},
    "Scope": {"type": "object", "required": ["scope", "labels", "consent"], "properties": {
        "scope": {"type": "string"}, "labels": {"type": "object"},
        "consent": {"type": "string", "enum": list(CONSENT_RULES)}}},
    "Consent": {"type": "object", "properties": {
        "id": {"type": "integer"}, "scope": {"type": "string"},
        "status": {"type": "string", "enum": list(STATUSES)}, "source": {"type": "string"},
        "text": {"type": "string"}, "text_version": {"type": ["string", "null"]}, "language": {"type": "string"},
        "given_at": {"type": ["string", "null"]}, "confirmed_at": {"type": ["string", "null"]},
        "withdrawn_at": {"type": ["string", "null"]}, "withdrawn_by": {"type": ["string", "null"]},
        "proof": {"type": "object", "description": "recorded_at, actor, ip, user_agent, note, confirmed_ip, "
                                                   "confirmed_user_agent"}}},
    "PrivacyRequest": {"type": "object", "properties": {
        "id": {"type": "integer"}, "kind": {"type": "string", "enum": list(REQUEST_KINDS)},
        "email": {"type": ["string", "null"]}, "received_at": {"type": "string", "format": "date-time"},
        "due": {"type": "string", "format": "date"}, "status": {"type": "string", "enum": ["open", "closed"]},
        "message_id": {"type": ["string", "null"]}, "closed_at": {"type": ["string", "null"]},
        "note": {"type": ["string", "null"]}}},
    "Campaign": {"type": "object", "required": [
        "campaign", "sent", "hard_bounces", "soft_bounces", "complaints", "unsubscribes", "complaint_rate",
        "hard_bounce_rate", "status", "paused_at", "paused_reason", "created_at", "counted_since", "resumed_at",
        "resumed_by", "resume_note"],
        "description": "Counts since counted_since (the campaign's start or its last resume), each recipient once "
                       "per kind; rates are fractions of sent (0.003 is 0.3%)",
        "properties": {
            "campaign": {"type": "string"},
            "sent": {"type": "integer", "minimum": 0, "description": "Distinct recipients given a link in it"},
            "hard_bounces": {"type": "integer", "minimum": 0}, "soft_bounces": {"type": "integer", "minimum": 0},
            "complaints": {"type": "integer", "minimum": 0}, "unsubscribes": {"type": "integer", "minimum": 0},
            "complaint_rate": {"type": "number", "minimum": 0}, "hard_bounce_rate": {"type": "number", "minimum": 0},
            "status": {"type": "string", "enum": list(CampaignStatus)},
            "paused_at": {"type": ["string", "null"], "format": "date-time"},
            "paused_reason": {"type": ["string", "null"], "description": "Which rate reached which threshold"},
            "created_at": {"type": "string", "format": "date-time"},
            "counted_since": {"type": "string", "format": "date-time"},
            "resumed_at": {"type": ["string", "null"], "format": "date-time"},
            "resumed_by": {"type": ["string", "null"], "description": "The name of the admin key that resumed it"},
            "resume_note": {"type": ["string", "null"], "description": "Why it was safe to send it again"}}},
    "Webhook": {"type": "object", "required": ["id", "url", "events"], "properties": {
        "id": {"type": "string", "format": "uuid"}, "url": {"type": "string"},
        "events": {"type": "array", "items": {"type": "string", "enum": EVENT_TYPES}},
        "created_at": {"type": "string", "format": "date-time"}, "created_by": {"type": "string"},
        "secret": {"type": "string", "description": "whsec_...: in the answer to POST only"}}},
}


def _paths() -> dict:
    return {
        "/healthz": {"get": _op("The process is up", None, {"200": _json({"type": "object"})})},
        "/readyz": {"get": _op("The database is reachable", None, {
            "200": _json({"type": "object"}), "503": _json({"type": "object"}, "Database unreachable")})},
        "/metrics": {"get": _op("Prometheus metrics", None, {
            "200": {"description": "Prometheus text format", "content": {"text/plain": {"schema": {"type": "string"}}}}})},
        "/openapi.json": {"get": _op("This document", None, {"200": _json({"type": "object"})})},
        "/v1/check": {
            "post": _op("Check up to 100,000 recipients in one scope", "check",
                        {"200": _json({"type": "object", "properties": {
                            "scope": {"type": "string"},
                            "results": {"type": "array", "items": {"$ref": "#/components/schemas/CheckResult"}}}}),
                         "413": _error("More than 100,000 recipients")},
                        requestBody=_body({"type": "object", "required": ["recipients"], "properties": {
                            "scope": {**SCOPE, "default": "global"},
                            "recipients": {"type": "array", "maxItems": 100000, "items": {
                                "description": "An address; anything else is answered as invalid_address"}},
                            "campaign": {**CAMPAIGN, "description": "When this campaign is paused, every recipient "
                                                                    "is answered campaign_paused. " + CAMPAIGN_RULES}}})),
            "get": _op("Check one recipient", "check", {"200": _json("CheckResult")},
                       parameters=[_query("email", "The address", True),
                                   _query("scope", "The scope (default global)", schema=SCOPE),
                                   _query("campaign", "When this campaign is paused, the answer is campaign_paused "
                                                      "(empty: no campaign). " + CAMPAIGN_RULES,
                                          schema={"type": "string", "maxLength": 100, "pattern": NO_CONTROL})]),
        },
        "/v1/suppressions": {"get": _op("Page through the list", "check", {"200": _json({"type": "object", "properties": {
            "suppressions": {"type": "array", "items": {"$ref": "#/components/schemas/Suppression"}},
            "next_cursor": {"type": ["string", "null"]}}})}, parameters=[
            _query("cursor", "next_cursor of the previous page"),
            _query("limit", "1 to 1000, default 100 (also when empty)",
                   schema={"anyOf": [{"type": "integer", "minimum": 1, "maximum": 1000}, EMPTY]}),
            _query("reason", "Only this reason (empty: any)", schema={"anyOf": [REASON, EMPTY]}),
            _query("scope", "Only this scope (empty: any)", schema={"anyOf": [SCOPE, EMPTY]}),
            _query("since", "Only created at or after this ISO-8601 time, with its offset (empty: any time)",
                   schema={"anyOf": [{"type": "string", "format": "date-time"}, EMPTY]})])},
        "/v1/suppressions.csv": {"get": _op("The whole list as CSV, streamed", "check", {
            "200": {"description": "email,scope,reason,source,note,created_at", "content": {"text/csv": {"schema": {"type": "string"}}}}})},
        "/v1/suppressions.ndjson": {"get": _op("The whole list as NDJSON, streamed", "check", {
            "200": {"description": "One JSON object per line", "content": {"application/x-ndjson": {"schema": {"type": "string"}}}}})},
        "/v1/suppressions/import": {"post": _op("Import a CSV or NDJSON file, streamed", "write", {
            "200": _json({"type": "object", "properties": {
                "imported": {"type": "integer"}, "already": {"type": "integer"},
                "invalid": {"type": "array", "items": {"type": "object", "properties": {
                    "line": {"type": "integer"}, "value": {"type": "string"}, "error": {"type": "string"}}}}}}),
            "415": _error("Neither CSV nor NDJSON")},
            requestBody={"required": True, "content": {
                "text/csv": {"schema": {"type": "string"}}, "application/x-ndjson": {"schema": {"type": "string"}}}})},
        "/v1/suppressions/{email}": {
            "parameters": [EMAIL_PATH],
            "get": _op("The suppressions of one address", "check", {
                "200": _json({"type": "object", "properties": {"email": {"type": "string"}, "suppressions": {
                    "type": "array", "items": {"$ref": "#/components/schemas/Suppression"}}}}),
                "404": _error("Not suppressed")}),
            "put": _op("Suppress an address", "write", {"201": _json("Suppression", "Created"), "200": _json("Suppression", "Already there")},
                       requestBody=_body({"type": "object", "properties": {
                           "scope": SCOPE, "reason": REASON, "source": SOURCE,
                           "note": {**TEXT, "type": ["string", "null"]}}})),
            "delete": _op("Lift a suppression, with evidence", "write", {
                "200": _json({"type": "object"}), "404": _error("Not suppressed in that scope"),
                "409": _error("A bounce or complaint, without force")},
                parameters=[_query("scope", "The scope to lift", True, schema=SCOPE)],
                requestBody=_body({"type": "object", "required": ["evidence"], "properties": {
                    "evidence": {**TEXT, "minLength": 1, "pattern": "\\S"}, "force": {"type": "boolean"}}})),
        },
        "/v1/links": {"post": _op("Unsubscribe URL and RFC 8058 headers per recipient (up to 10,000)", "links", {
            "200": _json({"type": "object", "properties": {"links": {"type": "array", "items": {"$ref": "#/components/schemas/Link"}}}})},
            requestBody=_body({"type": "object", "required": ["recipients"], "properties": {"recipients": {
                "type": "array", "maxItems": 10000, "items": {"type": "object", "properties": {
                    "email": {"description": "An address; anything else is answered with an error in its place"},
                    "scope": {**SCOPE, "default": "global"},
                    "campaign": CAMPAIGN}}}}}))},
        "/v1/campaigns": {"get": _op("The campaigns, newest first, with their counts and rates", "check", {
            "200": _json({"type": "object", "required": ["campaigns"], "properties": {
                "campaigns": {"type": "array", "items": {"$ref": "#/components/schemas/Campaign"}}}})},
            parameters=[_query("status", "Only active or only paused ones (empty: both)",
                               schema={"anyOf": [{"type": "string", "enum": list(CampaignStatus)}, EMPTY]}),
                        _query("limit", "1 to 1000, default 100 (also when empty)",
                               schema={"anyOf": [{"type": "integer", "minimum": 1, "maximum": 1000}, EMPTY]})])},
        "/v1/campaigns/{campaign}": {"parameters": [CAMPAIGN_PATH], "get": _op(
            "One campaign: its counts and rates since it began or was resumed, and whether it is paused", "check", {
                "200": _json("Campaign"), "404": _error("No campaign has this name")})},
        "/v1/campaigns/{campaign}/resume": {"parameters": [CAMPAIGN_PATH], "post": _op(
            "Resume a paused campaign, saying why it is safe; its counts start again from zero", "admin", {
                "200": _json("Campaign", "Resumed"), "404": _error("No campaign has this name"),
                "409": _error("The campaign is not paused")},
            description="The note and the key's name are kept with the campaign; the thresholds stay the same.",
            requestBody=_body({"type": "object", "required": ["note"], "properties": {
                "note": {"type": "string", "minLength": 1, "maxLength": 2000, "pattern": "\\S"}}}))},
        "/u/{token}": {
            "parameters": [TOKEN_PATH],
            "get": _op("The unsubscribe page (nl, en, fr by Accept-Language or ?lang=); never changes anything", None, {
                "200": HTML, "400": {"description": "Malformed or forged token", **HTML_BODY}},
                parameters=[_query("lang", "nl, en or fr")]),
            "post": _op("Unsubscribe: the page's button or the RFC 8058 one-click POST", None, {
                "200": HTML, "400": {"description": "Malformed token or no confirmation", **HTML_BODY},
                "413": {"description": "The form is larger than a page's form can be", **HTML_BODY},
                "503": {"description": "Not saved; try again", **HTML_BODY}},
                requestBody={"required": True, "content": {
                    "application/x-www-form-urlencoded": {"schema": FORM}, "multipart/form-data": {"schema": FORM}}}),
        },
        "/u/{token}/resubscribe": {
            "parameters": [TOKEN_PATH],
            "post": _op("Undo an unsubscribe made with this link", None, {
                "200": HTML, "400": {"description": "Malformed token", **HTML_BODY},
                "403": {"description": "Link older than OPTOUT_LINK_MAX_AGE_DAYS", **HTML_BODY},
                "409": {"description": "Suppressed for another reason (bounce, complaint, ...)", **HTML_BODY}},
                requestBody={"required": False, "content": {"application/x-www-form-urlencoded": {"schema": {
                    "type": "object", "properties": {"scope": {"type": "string"}, "lang": {"type": "string"}}}}}}),
        },
        "/v1/subjects/{email}": {"parameters": [EMAIL_PATH], "get": _op(
            "Everything held about an address (GDPR access)", "admin", {"200": _json({"type": "object", "properties": {
                "email": {"type": "string"},
                "suppressions": {"type": "array", "items": {"$ref": "#/components/schemas/Suppression"}},
                "events": {"type": "array", "items": {"$ref": "#/components/schemas/Event"}},
                "erased": {"type": ["object", "null"]}, "messages": {"type": "array", "items": {"type": "object"}},
                "consents": {"type": "array", "items": {"$ref": "#/components/schemas/Consent"}},
                "requests": {"type": "array", "items": {"$ref": "#/components/schemas/PrivacyRequest"}}}})})},
        "/v1/erasure": {"post": _op(
            "Erase an address and its history in clear; it stays suppressed in every scope by a keyed hash", "admin",
            {"200": _json({"type": "object", "properties": {"erased": {"type": "boolean"}, "suppressed": {"type": "boolean"},
                                                            "removed": {"type": "object"}}})},
            requestBody=_body({"type": "object", "required": ["email"], "properties": {"email": {"type": "string"}}}))},
        "/v1/inbound": {"get": _op(
            "Stored inbound messages, newest first, a page at a time", "inbound",
            {"200": _json({"type": "object", "properties": {
                "messages": {"type": "array", "items": {"type": "object", "properties": {
                    "id": {"type": "string"}, "received_at": {"type": "string", "format": "date-time"},
                    "sender": {"type": ["string", "null"]}, "subject": {"type": ["string", "null"]},
                    "status": {"type": "string", "enum": list(InboundStatus)},
                    "classification": {"type": ["string", "null"]}}}},
                "next_cursor": {"type": ["string", "null"]}}}),
             "400": _error("A bad status, time, limit or cursor")},
            parameters=[_query("status", "queued, processed, forwarded, held or failed",
                               schema={"type": "string", "enum": list(InboundStatus)}),
                        _query("since", "ISO-8601 time with its offset: messages received then or later"),
                        _query("cursor", "next_cursor of the page before"),
                        _query("limit", "1 to 1000 (100)", schema={"type": "integer", "minimum": 1, "maximum": 1000})]),
                        "post": _op(
            "Hand over a raw message received at info@, stored durably and classified by the worker", "inbound",
            {"202": _json({"type": "object", "properties": {"id": {"type": "string"}, "status": {"const": "queued"}}},
                          "Stored"),
             "200": _json({"type": "object", "properties": {"id": {"type": "string"}, "duplicate": {"const": True}}},
                          "The same Message-ID (or, without one, the same bytes) was stored before"),
             "413": _error("Larger than OPTOUT_MAX_MESSAGE_BYTES"), "415": _error("Not message/rfc822")},
            requestBody={"required": True, "content": {"message/rfc822": {"schema": {"type": "string", "format": "binary"}}}})},
        "/v1/inbound/{id}": {"parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
                             "get": _op("What became of an inbound message", "inbound", {
            "200": _json({"type": "object", "properties": {
                "id": {"type": "string"},
                "status": {"type": "string", "enum": list(InboundStatus)},
                "classification": {"type": ["string", "null"],
                                   "enum": [*Classification, None]},
                "kind": {"type": ["string", "null"], "enum": [*BounceKind, None]},
                "addresses": {"type": "array", "items": {"type": "string"}},
                "actions": {"type": "array", "items": {"type": "object"}},
                "error": {"type": "string"}}}),
            "404": _error("No such message")})},
        "/v1/events": {"get": _op("The history of an address, oldest first", "check", {
            "200": _json({"type": "object", "properties": {"events": {"type": "array", "items": {"$ref": "#/components/schemas/Event"}}}})},
            parameters=[_query("email", "The address", True)])},
        "/v1/events/feed": {"get": _op("Every published event of every address, in commit order", "check", {
            "200": _json({"type": "object", "required": ["events", "next"], "properties": {
                "events": {"type": "array", "items": {"$ref": "#/components/schemas/PublishedEvent"}},
                "next": {"type": "string", "description": "The cursor to ask with next, also when no event came"}}})},
            description="A transaction that commits late is never skipped by a cursor taken before it committed.",
            parameters=[_query("after", "The `next` of the previous page (empty or absent: from the beginning)"),
                        _query("limit", "1 to 1000, default 100 (also when empty)",
                               schema={"anyOf": [{"type": "integer", "minimum": 1, "maximum": 1000}, EMPTY]})])},
        "/v1/webhooks": {
            "post": _op("Subscribe a URL to events; the answer holds its signing secret, once", "admin",
                        {"201": _json("Webhook", "Created")},
                        requestBody=_body({"type": "object", "required": ["url", "events"], "properties": {
                            "url": {"type": "string", "maxLength": 2048, "pattern": "^https?://\\S+$",
                                    "description": "https://, or http:// on 127.0.0.1, ::1 or localhost; the host a DNS "
                                                   "name or an IP address in its usual form, not a cloud metadata "
                                                   "name, not link-local, unspecified, multicast or reserved, and "
                                                   "private only with OPTOUT_WEBHOOK_ALLOW_PRIVATE=on"},
                            "events": {"type": "array", "minItems": 1,
                                       "items": {"type": "string", "enum": EVENT_TYPES}}}})),
            "get": _op("The subscriptions (never their secrets)", "admin", {"200": _json({"type": "object", "properties": {
                "webhooks": {"type": "array", "items": {"$ref": "#/components/schemas/Webhook"}}}})}),
        },
        "/v1/scopes": {"get": _op("The registered scopes: labels and consent rule", "check", {
            "200": _json({"type": "object", "properties": {"scopes": {"type": "array",
                                                                      "items": {"$ref": "#/components/schemas/Scope"}}}})})},
        "/v1/scopes/{scope}": {"parameters": [{"name": "scope", "in": "path", "required": True, "schema": SCOPE}],
                               "put": _op("Register a scope, or change its labels and consent rule", "admin", {
            "201": _json("Scope", "Registered"), "200": _json("Scope", "Changed")},
            requestBody=_body({"type": "object", "required": ["labels"], "properties": {
                "labels": LABELS, "consent": {"type": "string", "enum": list(CONSENT_RULES),
                                              "default": "none"}}}))},
        "/v1/consents": {"post": _op(
            "Record a consent with its proof; with confirm, a confirmation mail is sent (double opt-in)", "write", {
                "201": _json(CONSENT_ANSWER, "Given"), "202": _json(CONSENT_ANSWER, "Pending: a confirmation mail is queued"),
                "409": _error("Suppressed for good (bounce, complaint, manual, erased), or unsubscribed and not confirm"),
                "429": _error("Three confirmation mails were sent to this address in the last day")},
            requestBody=_body({"type": "object", "required": ["email", "source", "text", "language"], "properties": {
                "email": {"type": "string", "minLength": 1}, "scope": {**SCOPE, "default": "global"},
                "source": {"type": "string", "enum": list(CONSENT_SOURCES)},
                "text": {"type": "string", "minLength": 1, "maxLength": 10000, "pattern": "\\S"},
                "text_version": {"type": ["string", "null"], "maxLength": 200},
                "language": {"type": "string", "enum": list(LANGUAGES)},
                "ip": {"type": ["string", "null"], "anyOf": [{"format": "ipv4"}, {"format": "ipv6"}, {"type": "null"}]},
                "user_agent": {"type": ["string", "null"], "maxLength": 1000},
                "note": {"type": ["string", "null"], "maxLength": 2000},
                "confirm": {"type": "boolean", "default": False}}}))},
        "/v1/consents/{email}": {"parameters": [EMAIL_PATH], "get": _op(
            "The consents of an address, with their proof, oldest first", "write", {
                "200": _json({"type": "object", "properties": {"email": {"type": "string"}, "consents": {
                    "type": "array", "items": {"$ref": "#/components/schemas/Consent"}}}})})},
        "/v1/requests": {"get": _op("The privacy requests received by mail, with their due date", "write", {
            "200": _json({"type": "object", "properties": {
                "requests": {"type": "array", "items": {"$ref": "#/components/schemas/PrivacyRequest"}},
                "next_cursor": {"type": ["string", "null"]}}})},
            parameters=[_query("status", "open or closed", schema={"type": "string", "enum": ["open", "closed"]}),
                        _query("cursor", "next_cursor of the page before",
                               schema={"type": "integer", "minimum": 0, "maximum": 2**62}),
                        _query("limit", "1 to 1000 (100)", schema={"type": "integer", "minimum": 1, "maximum": 1000})])},
        "/v1/requests/{id}/close": {
            "parameters": [{"name": "id", "in": "path", "required": True,
                            "schema": {"type": "integer", "minimum": 1, "maximum": 2**62 - 1}}],
            "post": _op("Close a privacy request, saying what was done", "write", {
                "200": _json("PrivacyRequest"), "404": _error("No such request"), "409": _error("Closed already")},
                requestBody=_body({"type": "object", "required": ["note"], "properties": {
                    "note": {"type": "string", "minLength": 1, "maxLength": 5000, "pattern": "\\S"}}}))},
        "/c/{token}": {
            "parameters": [{"name": "token", "in": "path", "required": True,
                            "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"}}],
            "get": _op("The double opt-in page (nl, en, fr); never changes anything", None, {
                "200": HTML, "400": {"description": "Malformed or forged token", **HTML_BODY},
                "404": {"description": "The consent is no longer known (erased)", **HTML_BODY},
                "409": {"description": "Withdrawn since", **HTML_BODY},
                "410": {"description": "Expired (older than OPTOUT_CONFIRM_MAX_AGE_DAYS)", **HTML_BODY}},
                parameters=[_query("lang", "nl, en or fr")]),
            "post": _op("Confirm: the consent is given, with the time, IP and user agent", None, {
                "200": HTML, "400": {"description": "Malformed token or no confirmation", **HTML_BODY},
                "404": {"description": "The consent is no longer known (erased)", **HTML_BODY},
                "409": {"description": "Withdrawn since, or suppressed for good", **HTML_BODY},
                "410": {"description": "Expired (older than OPTOUT_CONFIRM_MAX_AGE_DAYS): nothing confirmed",
                        **HTML_BODY},
                "413": {"description": "The form is larger than a page's form can be", **HTML_BODY},
                "503": {"description": "Not saved; try again", **HTML_BODY}},
                requestBody={"required": True, "content": {"application/x-www-form-urlencoded": {"schema": {
                    "type": "object", "properties": {"confirm": {"type": "string", "enum": ["yes"]},
                                                     "lang": {"type": "string"}}}}}}),
        },
        "/v1/webhooks/{id}": {"parameters": [WEBHOOK_ID_PATH], "delete": _op(
            "Remove a subscription and its deliveries not yet made", "admin", {
                "200": _json({"type": "object", "properties": {"id": {"type": "string"}, "deleted": {"const": True}}}),
                "404": _error("No such webhook")})},
    }


def build_document() -> dict:
    return {
        "openapi": "3.1.0",
        "info": {"title": "optout", "version": __version__,
                 "description": "Suppression list, unsubscribe links and inbound mail of CETIT."},
        "paths": _paths(),
        "components": {"schemas": SCHEMAS, "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    }


async def document(request: web.Request) -> web.Response:
    return web.json_response(build_document())
