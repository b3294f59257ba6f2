"""An asyncio client for the optout API, for senders that check and link every recipient.
Calls are idempotent, so 503s and connection errors are retried; a 4xx raises OptoutError at once.
Usage is in README.md ("Sending with the client")."""

from __future__ import annotations

import asyncio
import io
import random
from dataclasses import dataclass, field, fields
from typing import Any, Iterable, NamedTuple, Sequence

import aiohttp
import orjson
from urllib.parse import quote

MAX_CHECK = 100_000
MAX_LINKS = 10_000


class OptoutError(Exception):
    """The server refused the request (4xx): fix the request, do not retry it."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message


class OptoutUnavailable(Exception):
    """The service or its database could not be reached after every retry: do not send."""


class CheckResult(NamedTuple):
    """One recipient's answer (a tuple: 100,000 of them are built several times faster)."""

    email: str
    allowed: bool
    reason: str | None = None
    scope: str | None = None
    since: str | None = None


@dataclass(frozen=True)
class Link:
    email: str
    url: str | None
    headers: dict[str, str] = field(default_factory=dict)
    error: dict | None = None
    return_path: str | None = None  # send this recipient's copy with it as MAIL FROM: its bounces name it


@dataclass(frozen=True)
class Suppression:
    email: str
    scope: str
    reason: str
    source: str
    created_at: str
    note: str | None = None
    created: bool | None = None


@dataclass(frozen=True)
class Event:
    at: str
    type: str
    scope: str | None
    reason: str | None
    source: str | None
    detail: dict
    actor: str | None = None  # who caused it: a key's name, "recipient", "mail" or "cli"


@dataclass(frozen=True)
class Campaign:
    """A campaign's counts since it began or was last resumed; rates are fractions of `sent`."""

    campaign: str
    sent: int
    hard_bounces: int
    soft_bounces: int
    complaints: int
    unsubscribes: int
    complaint_rate: float
    hard_bounce_rate: float
    status: str  # "active" or "paused"
    paused_at: str | None = None
    paused_reason: str | None = None
    created_at: str | None = None
    counted_since: str | None = None
    resumed_at: str | None = None
    resumed_by: str | None = None
    resume_note: str | None = None

    @property
    def paused(self) -> bool:
        return self.status == "paused"


def _campaign(body: dict) -> Campaign:
    known = {f.name for f in fields(Campaign)}  # a newer server may say more: keep what this client knows
    return Campaign(**{k: v for k, v in body.items() if k in known})


@dataclass(frozen=True)
class InboundReceipt:
    id: str
    status: str | None = None
    duplicate: bool = False


class OptoutClient:
    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 30.0,
        retries: int = 4,
        backoff: float = 0.25,
        session: aiohttp.ClientSession | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {api_key}"}
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._retries = retries
        self._backoff = backoff
        self._session = session
        self._own_session = session is None

    async def __aenter__(self) -> "OptoutClient":
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    async def close(self) -> None:
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session

    async def _request(self, method: str, path: str, **kwargs) -> Any:
        """Send with retries on 503 and connection errors; raise OptoutError on a 4xx."""
        headers = {**self._headers, **kwargs.pop("headers", {})}
        payload = kwargs.pop("data", None)
        if "json" in kwargs:  # orjson: a 100,000-address body is encoded several times faster
            payload = orjson.dumps(kwargs.pop("json"))
            headers["Content-Type"] = "application/json"
        last: Exception | None = None
        for attempt in range(self._retries + 1):
            if attempt:
                await asyncio.sleep(self._backoff * 2 ** (attempt - 1) * (1 + random.random()))
            try:
                data = io.BytesIO(payload) if payload is not None else None  # a fresh body for each try
                async with self._http().request(
                    method, self.base_url + path, headers=headers, data=data, **kwargs
                ) as response:
                    if response.status in (502, 503, 504):
                        last = OptoutUnavailable(f"{method} {path}: {response.status}")
                        continue
                    raw = await response.read()
                    try:
                        body = orjson.loads(raw) if raw else None
                    except orjson.JSONDecodeError:
                        body = None
                    if response.status >= 400:
                        error = (body or {}).get("error", {}) if isinstance(body, dict) else {}
                        raise OptoutError(response.status, error.get("code", "error"), error.get("message", ""))
                    return body
            except (aiohttp.ClientConnectionError, asyncio.TimeoutError) as exc:
                last = exc
        raise OptoutUnavailable(f"{method} {path} failed after {self._retries + 1} attempts: {last}") from last

    async def check(self, recipients: Sequence[str], scope: str = "global",
                    campaign: str | None = None) -> list[CheckResult]:
        """One result per recipient, in order; lists above 100,000 are sent in several calls. With
        `campaign`, every recipient is refused (reason `campaign_paused`) while it is paused."""
        results: list[CheckResult] = []
        named = {"campaign": campaign} if campaign else {}
        for start in range(0, len(recipients), MAX_CHECK):
            body = await self._request(
                "POST", "/v1/check",
                json={"scope": scope, "recipients": list(recipients[start:start + MAX_CHECK]), **named},
            )
            results.extend(CheckResult(**r) for r in body["results"])
        return results

    async def check_one(self, email: str, scope: str = "global", campaign: str | None = None) -> CheckResult:
        params = {"email": email, "scope": scope, **({"campaign": campaign} if campaign else {})}
        return CheckResult(**await self._request("GET", "/v1/check", params=params))

    async def campaigns(self, status: str | None = None, limit: int = 100) -> list[Campaign]:
        """The campaigns, newest first; `status` "active" or "paused" keeps only those."""
        params = {"limit": limit, **({"status": status} if status else {})}
        body = await self._request("GET", "/v1/campaigns", params=params)
        return [_campaign(c) for c in body["campaigns"]]

    async def campaign(self, name: str) -> Campaign:
        """One campaign; OptoutError 404 when no link was ever issued in it."""
        return _campaign(await self._request("GET", f"/v1/campaigns/{quote(name, safe='')}"))

    async def resume_campaign(self, name: str, note: str) -> Campaign:
        """Resume a paused campaign (an admin key), saying in `note` why it is safe to send again;
        its counts start again from zero. OptoutError 409 when it is not paused (also when a
        retried call's earlier try resumed it: read the campaign to know)."""
        return _campaign(await self._request("POST", f"/v1/campaigns/{quote(name, safe='')}/resume",
                                             json={"note": note}))

    async def links(
        self, recipients: Iterable[str], scope: str = "global", campaign: str | None = None
    ) -> list[Link]:
        """The unsubscribe URL and the List-Unsubscribe headers of each recipient, in order."""
        items = [{"email": e, "scope": scope, **({"campaign": campaign} if campaign else {})} for e in recipients]
        links: list[Link] = []
        for start in range(0, len(items), MAX_LINKS):
            body = await self._request("POST", "/v1/links", json={"recipients": items[start:start + MAX_LINKS]})
            links.extend(
                Link(email=l["email"], url=l.get("url"), headers=l.get("headers", {}), error=l.get("error"),
                     return_path=l.get("return_path"))
                for l in body["links"]
            )
        return links

    async def suppress(
        self, email: str, scope: str = "global", reason: str = "manual", source: str = "api", note: str | None = None
    ) -> Suppression:
        body = {"scope": scope, "reason": reason, "source": source, **({"note": note} if note else {})}
        answer = await self._request("PUT", f"/v1/suppressions/{_quote(email)}", json=body)
        return Suppression(**answer)

    async def unsuppress(self, email: str, scope: str, evidence: str, force: bool = False) -> None:
        await self._request(
            "DELETE", f"/v1/suppressions/{_quote(email)}", params={"scope": scope},
            json={"evidence": evidence, "force": force},
        )

    async def suppressions(self, email: str) -> list[Suppression]:
        """The address's suppressions; an empty list when it has none."""
        try:
            body = await self._request("GET", f"/v1/suppressions/{_quote(email)}")
        except OptoutError as exc:
            if exc.status == 404:
                return []
            raise
        return [Suppression(email=body["email"], **s) for s in body["suppressions"]]

    async def events(self, email: str) -> list[Event]:
        body = await self._request("GET", "/v1/events", params={"email": email})
        known = {f.name for f in fields(Event)}  # a newer server may say more: keep what this client knows
        return [Event(**{k: v for k, v in e.items() if k in known}) for e in body["events"]]

    async def inbound(self, raw: bytes) -> InboundReceipt:
        """Hand a received message to optout; safe to repeat (duplicates are recognised)."""
        body = await self._request(
            "POST", "/v1/inbound", data=raw, headers={"Content-Type": "message/rfc822"}
        )
        return InboundReceipt(id=str(body["id"]), status=body.get("status"), duplicate=bool(body.get("duplicate")))


def _quote(email: str) -> str:
    return quote(email.strip(), safe="@+")
