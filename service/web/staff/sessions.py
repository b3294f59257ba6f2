"""The staff console's session: kept on the server, named by a signed, HttpOnly, SameSite=Strict
cookie; and CSRF tokens."""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from aiohttp import web
from itsdangerous import BadData, URLSafeTimedSerializer

from ...domain import staff_sessions
from ...domain.apikeys import has_scope
from ...domain.staff_sessions import SESSION_AGE
from ..keys import API_KEYS, DB, SETTINGS

# The cookie holds only a random session id (signed). The server keeps the id's digest with the
# digest of the API key the person logged in with (never the key), the key's name and the CSRF
# token every form must send back. Logging out ends the session on the server, so a copied
# cookie is refused afterwards; how long a session lives is the domain's (`staff_sessions`).
# The key is looked up again on each request, so revoking it ends the session within seconds.
COOKIE = "optout_staff"
LOGIN_COOKIE = "optout_staff_login"


@dataclass(frozen=True)
class StaffSession:
    digest: bytes
    name: str
    csrf: str
    scopes: tuple[str, ...] = ()  # the key's, as looked up on this request

    def may(self, scope: str) -> bool:
        return has_scope(self.scopes, scope)


def _serializer(request: web.Request, salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(list(reversed(request.config_dict[SETTINGS].secret_keys)), salt=salt)


def _cookie_options(request: web.Request, max_age: timedelta) -> dict:
    secure = request.config_dict[SETTINGS].public_url.startswith("https://")
    return {"path": "/staff", "httponly": True, "samesite": "Strict", "secure": secure,
            "max_age": int(max_age.total_seconds())}


def may_use_console(scopes: tuple[str, ...] | None) -> bool:
    """Keys with scope write (or admin, which implies it) may use the console."""
    return scopes is not None and has_scope(scopes, "write")


def _session_id(request: web.Request) -> str | None:
    """The digest of the session id the cookie names, when its signature holds."""
    raw = request.cookies.get(COOKIE)
    if not raw:
        return None
    try:
        session_id = _serializer(request, "optout.staff.session").loads(raw, max_age=SESSION_AGE.total_seconds())
    except BadData:
        return None
    return session_id if isinstance(session_id, str) else None


async def current(request: web.Request) -> StaffSession | None:
    """The logged-in session, or None (no cookie, forged, ended by logout, idle too long,
    too old, or the key was revoked)."""
    session_id = _session_id(request)
    if session_id is None:
        return None
    async with request.config_dict[DB].acquire() as conn:
        row = await staff_sessions.live(conn, session_id)
    if row is None:
        return None
    digest = bytes(row["key_digest"])
    found = await request.config_dict[API_KEYS].lookup_digest(digest)
    if found is None or not may_use_console(found.scopes):
        return None
    return StaffSession(digest, row["name"], row["csrf"], tuple(found.scopes))


async def start(request: web.Request, response: web.StreamResponse, digest: bytes, name: str) -> None:
    async with request.config_dict[DB].acquire() as conn:
        session_id = await staff_sessions.start(conn, digest, name)
    value = _serializer(request, "optout.staff.session").dumps(session_id)
    response.set_cookie(COOKIE, value, **_cookie_options(request, SESSION_AGE))
    response.del_cookie(LOGIN_COOKIE, path="/staff")


async def end(request: web.Request, response: web.StreamResponse) -> None:
    """Log out: the session ends on the server (a copy of the cookie is refused from now on)."""
    session_id = _session_id(request)
    if session_id is not None:
        async with request.config_dict[DB].acquire() as conn:
            await staff_sessions.end(conn, session_id)
    response.del_cookie(COOKIE, path="/staff")


async def too_many_failures(request: web.Request) -> bool:
    """Whether this client failed to log in too often of late (staff_sessions.LOGIN_FAILURES_ALLOWED)."""
    async with request.config_dict[DB].acquire() as conn:
        return await staff_sessions.too_many_failures(conn, _client(request))


async def failed_login(request: web.Request) -> None:
    async with request.config_dict[DB].acquire() as conn:
        await staff_sessions.failed_login(conn, _client(request))


def _client(request: web.Request) -> str:
    return request.remote or "unknown"


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
