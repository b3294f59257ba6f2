"""POST /v1/check and GET /v1/check: may these addresses be mailed in this scope?"""

from __future__ import annotations

import asyncio

import orjson
from aiohttp import web

from ..domain.addresses import full_forms, known_forms
from ..domain.errors import InvalidInput, TooMany
from ..domain.suppressions import operations as suppression_list
from ..domain.suppressions.rules import GLOBAL, MAX_CHECK, valid_scope
from . import views
from .auth import requires
from .keys import HASH_PADS, METRICS, READS
from .payload import json_object

ON_THE_LOOP = 50  # recipients checked without a worker thread: at worst a few ms of validation


@requires("check")
async def check_many(request: web.Request) -> web.Response:
    body = await json_object(request)
    scope = valid_scope(body.get("scope", GLOBAL))
    recipients = body.get("recipients")
    if not isinstance(recipients, list):
        raise InvalidInput("'recipients' must be a list of addresses.", field="recipients")
    if len(recipients) > MAX_CHECK:
        raise TooMany(f"At most {MAX_CHECK} recipients per check; got {len(recipients)}. Split the list.")
    pads = request.app[HASH_PADS]
    # Addresses outside the plain ASCII shape need the full validator: its answers are worked
    # out in a worker thread first, so the check itself finds them ready.
    forms = await asyncio.to_thread(full_forms, recipients) if len(recipients) > ON_THE_LOOP else {}
    with known_forms(forms):
        results = await request.app[READS].read(lambda conn: suppression_list.check(conn, recipients, scope, pads))
    request.app[METRICS].count_checks(results)
    # 100,000 results: orjson encodes them several times faster than the json module.
    return web.Response(body=orjson.dumps({"scope": scope, "results": views.check_results(results)}),
                        content_type="application/json")


@requires("check")
async def check_one(request: web.Request) -> web.Response:
    email = request.query.get("email")
    if email is None:
        raise InvalidInput("Give the address as ?email=...", field="email")
    scope = valid_scope(request.query.get("scope", GLOBAL))
    pads = request.app[HASH_PADS]
    results = await request.app[READS].read(lambda conn: suppression_list.check(conn, [email], scope, pads))
    request.app[METRICS].count_checks(results)
    return web.json_response(views.check_result(results[0]))
