"""The one table from a failure to its answer on every edge: each domain error has its own row,
and the replies the mail servers and the API have always given come from it."""

import ast
import asyncio
import importlib
import pkgutil
import re
from pathlib import Path

import asyncpg
import pytest

import service
from service import answers
from service.answers import ANSWERS, INTERNAL, Titles, answer_for, answer_for_class, answer_for_status
from service.domain import errors
from service.storage.db import UNAVAILABLE

SMTP_REPLY = re.compile(r"[45]\d\d [45]\.\d{1,3}\.\d{1,3} \S.*")


def every_domain_error() -> list[type[errors.DomainError]]:
    """Every subclass of DomainError defined anywhere in the service, once all its modules are imported."""
    for module in pkgutil.walk_packages(service.__path__, "service."):
        if not module.name.endswith("__main__"):
            importlib.import_module(module.name)
    found, pending = [], [errors.DomainError]
    while pending:
        for subclass in pending.pop().__subclasses__():
            found.append(subclass)
            pending.append(subclass)
    return found


def row_of(error_class: type) -> type:
    return next(cls for cls in error_class.__mro__ if cls in ANSWERS)


def test_the_walk_finds_the_errors_defined_outside_the_errors_module():
    names = {cls.__name__ for cls in every_domain_error()}
    assert {"Erased", "MessageTooLarge", "UnreadableMessage", "ImportTooLarge", "InvalidAddress"} <= names


@pytest.mark.parametrize("error_class", every_domain_error(), ids=lambda cls: f"{cls.__module__}.{cls.__name__}")
def test_every_domain_error_has_a_row_of_its_own_kind_with_an_answer_for_every_edge(error_class):
    assert row_of(error_class) is not errors.DomainError, "answered only as a bare DomainError"
    answer = answer_for(error_class("what went wrong"))
    assert 400 <= answer.status < 600
    assert answer.code == error_class.code and answer.message == "what went wrong"
    assert SMTP_REPLY.fullmatch(answer.smtp_reply), answer.smtp_reply
    assert all(answer.title(lang) for lang in Titles._fields)


@pytest.mark.parametrize("error_class, status", [
    (errors.InvalidAddress, 400), (errors.InvalidScope, 400), (errors.TooMany, 413), (errors.InvalidInput, 400),
    (errors.BadToken, 400), (errors.Unauthorized, 401), (errors.Forbidden, 403), (errors.NotFound, 404),
    (errors.Conflict, 409), (errors.Expired, 410), (errors.Unavailable, 503), (errors.DomainError, 400),
])
def test_the_http_statuses_are_those_the_api_has_always_given(error_class, status):
    assert answer_for_class(error_class).status == status


def test_the_smtp_replies_are_those_the_mail_servers_have_always_given():
    from service.domain.inbound.inbox import MessageTooLarge
    from service.smtp import gateway, guarded

    assert answer_for(errors.InvalidScope("x")).smtp_reply == "550 5.6.0 X-Optout-Scope is not a valid scope"
    assert answer_for(errors.Unauthorized("x")).smtp_reply == gateway.AUTH_BAD
    too_big = answer_for_class(MessageTooLarge).smtp_reply
    assert too_big == guarded.TOO_BIG == "552 5.3.4 Message exceeds the size limit"
    assert answer_for(errors.InvalidInput("The message is empty.")).smtp_reply.startswith("550 5.6.0 ")
    assert answer_for(errors.Forbidden("x")).smtp_reply.startswith("550 5.7.1 ")


@pytest.mark.parametrize("error", [
    ConnectionRefusedError(), asyncio.TimeoutError(), asyncpg.exceptions.CannotConnectNowError(),
    asyncpg.exceptions.ReadOnlySQLTransactionError(),
], ids=lambda error: type(error).__name__)
def test_a_database_that_cannot_be_reached_is_a_503_and_a_451(error):
    assert isinstance(error, UNAVAILABLE)
    answer = answer_for(error)
    assert (answer.status, answer.code) == (503, "unavailable")
    assert answer.message == "The database cannot be reached; try again shortly."
    assert answer.smtp_reply.startswith("451 4.3.0 ")


def test_a_fault_of_ours_is_a_500_and_still_a_451_for_mail():
    answer = answer_for(RuntimeError("boom"))
    assert answer is INTERNAL and (answer.status, answer.code) == (500, "internal")
    assert answer.smtp_reply.startswith("451 4.3.0 ") and "boom" not in answer.message


def test_failures_of_http_itself_find_the_row_of_their_status():
    assert answer_for_status(404).title("en") == ANSWERS[errors.NotFound].title("en")
    assert answer_for_status(413).status == 413 and answer_for_status(413).title("fr") == "C'est trop volumineux"
    assert answer_for_status(405).status == 405 and answer_for_status(405).title("nl")
    assert answer_for_status(502).status == 502 and answer_for_status(502).titles == INTERNAL.titles


def test_a_page_in_another_language_gets_the_dutch_title():
    answer = answer_for(errors.NotFound("x"))
    assert answer.title("de") == answer.title("nl") == "Niet gevonden"
    assert answer.title("count") == "Niet gevonden"  # a name of the tuple's, not a language


def test_the_dutch_titles_address_the_reader_formally():
    informal = re.compile(r"\b(je|jij|jou|jouw)\b", re.IGNORECASE)
    offenders = [answer.titles.nl for answer in [*ANSWERS.values(), INTERNAL] if informal.search(answer.titles.nl)]
    assert offenders == []


def test_the_table_imports_no_web_or_mail_framework():
    tree = ast.parse(Path(answers.__file__).read_text())
    imported = [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    imported += [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
    assert not [name for name in imported if name.split(".")[0] in ("aiohttp", "aiosmtpd", "aiohttp_jinja2", "jinja2")]
    assert not [name for name in imported if name.startswith((".web", ".smtp"))]
