"""The staff console's session: a signed, HttpOnly, SameSite=Strict cookie, and CSRF tokens.

The cookie holds the digest of the API key the person logged in with (never the key), the
key's name, and a CSRF token that every form must send back. The key is looked up again on
each request, so revoking it ends the session within seconds.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from aiohttp import web
from itsdangerous import BadData, URLSafeTimedSerializer

from ..domain.apikeys import has_scope
from .keys import API_KEYS, SETTINGS

COOKIE = "optout_staff"
LOGIN_COOKIE = "optout_staff_login"
SESSION_AGE = timedelta(hours=12)


@dataclass(frozen=True)
class StaffSession:
    digest: bytes
    name: str
    csrf: str


def _serializer(request: web.Request, salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(list(reversed(request.config_dict[SETTINGS].secret_keys)), salt=salt)


def _cookie_options(request: web.Request, max_age: timedelta) -> dict:
    secure = request.config_dict[SETTINGS].public_url.startswith("https://")
    return {"path": "/staff", "httponly": True, "samesite": "Strict", "secure": secure,
            "max_age": int(max_age.total_seconds())}


def may_use_console(scopes: tuple[str, ...] | None) -> bool:
    """Keys with scope write (or admin, which implies it) may use the console."""
    return scopes is not None and has_scope(scopes, "write")


async def current(request: web.Request) -> StaffSession | None:
    """The logged-in session, or None (no cookie, forged, expired, or the key was revoked)."""
    raw = request.cookies.get(COOKIE)
    if not raw:
        return None
    try:
        data = _serializer(request, "optout.staff.session").loads(raw, max_age=SESSION_AGE.total_seconds())
        session = StaffSession(bytes.fromhex(data["k"]), str(data["n"]), str(data["c"]))
    except (BadData, KeyError, TypeError, ValueError):
        return None
    found = await request.config_dict[API_KEYS].lookup_digest(session.digest)
    return session if found is not None and may_use_console(found.scopes) else None


def start(request: web.Request, response: web.StreamResponse, digest: bytes, name: str) -> None:
    payload = {"k": digest.hex(), "n": name, "c": secrets.token_urlsafe(24)}
    value = _serializer(request, "optout.staff.session").dumps(payload)
    response.set_cookie(COOKIE, value, **_cookie_options(request, SESSION_AGE))
    response.del_cookie(LOGIN_COOKIE, path="/staff")


def end(response: web.StreamResponse) -> None:
    response.del_cookie(COOKIE, path="/staff")


def new_login_token() -> str:
    return secrets.token_urlsafe(24)


def set_login_cookie(request: web.Request, response: web.StreamResponse, token: str) -> None:
    """The login form's CSRF token, paired with a short-lived cookie (no session exists yet)."""
    value = _serializer(request, "optout.staff.login").dumps(token)
    response.set_cookie(LOGIN_COOKIE, value, **_cookie_options(request, timedelta(hours=1)))


def login_token_matches(request: web.Request, sent: str) -> bool:
    try:
        expected = _serializer(request, "optout.staff.login").loads(
            request.cookies.get(LOGIN_COOKIE, ""), max_age=3600
        )
    except BadData:
        return False
    return isinstance(sent, str) and hmac.compare_digest(expected, sent)


def csrf_matches(session: StaffSession, sent: object) -> bool:
    return isinstance(sent, str) and hmac.compare_digest(session.csrf, sent)
