"""Requests generated from /openapi.json (schemathesis), sent to the app served on a real socket
with a real database: none gets a 5xx, and every answer has a status, a content type and a
body that the document describes.

The generated requests are sent from a worker thread (schemathesis calls are blocking) while
the test's event loop serves them. Examples per operation and a time budget keep it under a
minute; the seed is fixed, so a failure found once is found again.
"""

from __future__ import annotations

import asyncio
import time

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.config import GenerationConfig
from schemathesis.core.failures import FailureGroup
from schemathesis.checks import (content_type_conformance, negative_data_rejection, not_a_server_error,
                                 response_schema_conformance, status_code_conformance)

EXAMPLES = {GenerationMode.POSITIVE: 40, GenerationMode.NEGATIVE: 25}
BUDGET_SECONDS = 45.0
# A raw body (a file, a message) is bytes whatever type a generator meant it to have: it has no
# wrong type to send, so these get no requests outside the document.
RAW_BODIES = {"POST /v1/suppressions/import", "POST /v1/inbound"}
CHECKS = {
    GenerationMode.POSITIVE: [not_a_server_error, status_code_conformance, content_type_conformance,
                              response_schema_conformance],
    # Input outside the document: answered with a documented status, never a 5xx.
    GenerationMode.NEGATIVE: [not_a_server_error, status_code_conformance, content_type_conformance],
}
# The coverage phase breaks one constraint at a time: each such request must be refused (a 4xx),
# which holds the document to what the API really accepts. Random requests outside the document
# also carry unknown query parameters, which the API ignores, as HTTP APIs do.
COVERAGE_CHECKS = {**CHECKS, GenerationMode.NEGATIVE: [*CHECKS[GenerationMode.NEGATIVE], negative_data_rejection]}


@schemathesis.serializer("message/rfc822", "application/x-ndjson", "text/csv")
def as_text(ctx, value) -> bytes:
    """A message or an import file: the generated string (or bytes) sent as it is."""
    return value if isinstance(value, bytes) else str(value).encode("utf-8", "surrogatepass")


def fuzz(base: str, headers: dict) -> tuple[list[str], int]:
    """Failures (operation, mode and what went wrong) and the number of requests sent."""
    schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    stop_at = time.monotonic() + BUDGET_SECONDS
    failures: list[str] = []
    sent = 0
    for operation in operations:  # the coverage phase: boundary values and near misses of each parameter
        cases = schema.iter_coverage_cases(operation, generation_modes=list(GenerationMode),
                                           generation_config=GenerationConfig())
        for case in cases:
            if time.monotonic() > stop_at:
                break
            mode = case.meta.generation.mode if case.meta else GenerationMode.POSITIVE
            if mode is GenerationMode.NEGATIVE and operation.label in RAW_BODIES:
                continue
            sent += 1
            try:
                case.call_and_validate(base_url=base, headers=headers, checks=COVERAGE_CHECKS[mode], timeout=10)
            except (Exception, FailureGroup) as exc:
                failures.append(f"{operation.label} (coverage, {mode.value}): {exc}")
                break
    for mode, examples in EXAMPLES.items():  # then random requests, from a fixed seed
        for operation in operations:
            if mode is GenerationMode.NEGATIVE and operation.label in RAW_BODIES:
                continue

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
                      phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
            def send(case) -> None:
                nonlocal sent
                if time.monotonic() > stop_at:
                    return
                sent += 1
                case.call_and_validate(base_url=base, headers=headers, checks=CHECKS[mode], timeout=10)

            try:
                send()
            except Unsatisfiable:
                pass  # no input outside the document to make (an operation without parameters)
            except (Exception, FailureGroup) as exc:  # a failed check: collect it, go on with the next operation
                failures.append(f"{operation.label} ({mode.value}): {exc}")
    return failures, sent


async def test_generated_requests_never_get_a_5xx_and_are_answered_as_documented(served, auth):
    base = await served()
    started = time.monotonic()
    failures, sent = await asyncio.to_thread(fuzz, base, auth)
    print(f"{sent} generated requests in {time.monotonic() - started:.1f} s")
    assert failures == [], "\n\n".join(failures)
    assert sent > 100
