"""HTML pages: rendering with the security headers every page of the service carries."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import aiohttp_jinja2
from aiohttp import web

from ..texts import choose_language

# The language a recipient's page speaks, kept on the request so that its error page speaks it too.
PAGE_LANGUAGE = web.RequestKey("page_language", str)


def page_language(request: web.Request, form: dict | None = None) -> str:
    """The form's or the query's `lang`, else the browser's Accept-Language, else Dutch."""
    chosen = (form or {}).get("lang") or request.query.get("lang")
    request[PAGE_LANGUAGE] = lang = choose_language(chosen, request.headers.get("Accept-Language"))
    return lang


# CETIT's staff read times as the clock on their wall shows them, with the zone said.
BRUSSELS = ZoneInfo("Europe/Brussels")

# No script at all, styles from /static only, forms post back to this site, never framed;
# no Referer, since an unsubscribe URL holds its token.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; form-action 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Robots-Tag": "noindex, nofollow",
}


def render(request: web.Request, template: str, context: dict, status: int = 200) -> web.Response:
    response = aiohttp_jinja2.render_template(template, request, context, status=status)
    response.headers.update(SECURITY_HEADERS)
    return response


def brussels_time(value: datetime | None, with_date: bool = True) -> str:
    """A time as Brussels shows it, the day first as in Belgium, with its zone: "02/12/2026 11:11 CET"."""
    if value is None:
        return ""
    local = value.astimezone(BRUSSELS)
    return local.strftime("%d/%m/%Y %H:%M %Z" if with_date else "%H:%M %Z")


def belgian_date(value: date | None) -> str:
    """A day as Belgium writes it: 07/12/2026."""
    return value.strftime("%d/%m/%Y") if value is not None else ""
