"""POST /v1/check and GET /v1/check: may these addresses be mailed in this scope?"""

from __future__ import annotations

import contextlib
import gc
from typing import Iterator

import orjson
from aiohttp import web

from ..domain.campaigns import guard
from ..domain.campaigns.model import valid_campaign
from ..domain.errors import InvalidInput, TooMany
from ..domain.suppressions import suppression_list
from ..domain.suppressions.model import CheckResults
from ..domain.suppressions.rules import GLOBAL, MAX_CHECK, valid_scope
from . import views
from .auth import requires
from .keys import METRICS, READS, SERVICES
from .payload import json_object


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """No cyclic garbage collection in a synchronous block (it cannot await, so nothing else runs)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


@requires("check")
async def check_many(request: web.Request) -> web.Response:
    body = await json_object(request)
    scope = valid_scope(body.get("scope", GLOBAL))
    recipients = body.get("recipients")
    if not isinstance(recipients, list):
        raise InvalidInput("'recipients' must be a list of addresses.", field="recipients")
    if len(recipients) > MAX_CHECK:
        raise TooMany(f"At most {MAX_CHECK} recipients per check; got {len(recipients)}. Split the list.")
    keyed_hash, erased = request.app[SERVICES].keyed_hash, request.app[SERVICES].erased
    campaign = valid_campaign(body.get("campaign"))

    async def check(conn) -> tuple[list[bytes], list[CheckResults]]:
        """Each part's results, encoded while the database reads the next part."""
        if campaign is not None and await guard.is_paused(conn, campaign):
            parts = [guard.all_paused(recipients)]  # every recipient waits while the campaign is paused
            return [encoded(part) for part in parts], parts
        parts, encoding = [], []
        in_parts = suppression_list.check_in_parts(conn, recipients, scope, keyed_hash, erased)
        async with contextlib.aclosing(in_parts):
            async for part in in_parts:
                parts.append(part)
                encoding.append(encoded(part))
        return encoding, parts

    encoding, parts = await request.app[READS].read(check)
    for part in parts:
        request.app[METRICS].count_checks(part)
    body = b"".join([b'{"scope":', orjson.dumps(scope), b',"results":[', b",".join(filter(None, encoding)), b"]}"])
    return web.Response(body=body, content_type="application/json")


def encoded(results: CheckResults) -> bytes:
    """The results as the JSON array's items, without its brackets. 10,000 results: orjson
    encodes them several times faster than the json module. Their dicts are made and dropped
    at once, with nothing else in between: the cyclic garbage collector, which would scan the
    young ones again and again as they are made (half the time of making them), waits until
    they are gone."""
    with collector_paused():
        return orjson.dumps(views.check_results(results))[1:-1]


@requires("check")
async def check_one(request: web.Request) -> web.Response:
    email = request.query.get("email")
    if email is None:
        raise InvalidInput("Give the address as ?email=...", field="email")
    scope = valid_scope(request.query.get("scope", GLOBAL))
    campaign = valid_campaign(request.query.get("campaign"))
    keyed_hash, erased = request.app[SERVICES].keyed_hash, request.app[SERVICES].erased

    async def check(conn):
        if campaign is not None and await guard.is_paused(conn, campaign):
            return guard.all_paused([email])
        return await suppression_list.check(conn, [email], scope, keyed_hash, erased)

    results = await request.app[READS].read(check)
    request.app[METRICS].count_checks(results)
    return web.json_response(views.check_result(results[0]))
