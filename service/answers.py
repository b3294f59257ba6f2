"""One table from each error to how every edge says it: HTTP status and code, page title, SMTP reply.
The domain raises without knowing who asked; anything unforeseen is a 500, or a 451 for mail."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import NamedTuple

from .domain import errors
from .domain.inbound.mime import UnreadableMessage
from .domain.suppressions.links import Erased
from .storage.db import UNAVAILABLE


class Titles(NamedTuple):
    """The heading of an error page, per language of the recipient's pages (Dutch in the formal "u")."""

    nl: str
    en: str
    fr: str


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    code: str
    smtp_reply: str
    titles: Titles
    message: str  # the error's own message; the row's when the error brings none (a database, a fault)

    def title(self, lang: str) -> str:
        """The heading in `lang`; Dutch, the default language, for any other."""
        return getattr(self.titles, lang) if lang in Titles._fields else self.titles.nl


# A temporary failure: the sending MTA keeps the message and tries again (RFC 5321 4.2.5).
TRY_LATER = "451 4.3.0 Cannot take the message right now, try again later"
NOT_PERMITTED = "550 5.7.1 Not permitted"

# Walked along an error's MRO: the nearest class listed answers. The bare DomainError comes first,
# so that an HTTP status that no error names (405) finds it as the general answer.
ANSWERS: dict[type[errors.DomainError], Answer] = {
    errors.DomainError: Answer(
        400, errors.DomainError.code, TRY_LATER,
        Titles("Dit verzoek kon niet worden verwerkt", "This request could not be handled",
               "Cette demande n'a pas pu être traitée"),
        "The request could not be handled."),
    errors.InvalidInput: Answer(
        400, errors.InvalidInput.code, "550 5.6.0 Message content not accepted",
        Titles("Dit verzoek is niet geldig", "This request is not valid", "Cette demande n'est pas valide"),
        "Something in the request is not valid."),
    errors.InvalidAddress: Answer(
        400, errors.InvalidAddress.code, "550 5.1.3 Not a valid address",
        Titles("Dit is geen geldig e-mailadres", "This is not a valid email address",
               "Cette adresse e-mail n'est pas valide"),
        "This is not a valid email address."),
    # Mail names a scope only in the gateway's X-Optout-Scope header.
    errors.InvalidScope: Answer(
        400, errors.InvalidScope.code, "550 5.6.0 X-Optout-Scope is not a valid scope",
        Titles("Deze soort mail bestaat niet", "There is no such kind of mail", "Ce type d'e-mail n'existe pas"),
        "This is not a valid scope."),
    # Mail names a campaign only in the gateway's X-Optout-Campaign header.
    errors.InvalidCampaign: Answer(
        400, errors.InvalidCampaign.code, "550 5.6.0 X-Optout-Campaign is not a valid campaign name",
        Titles("Deze campagnenaam is niet geldig", "This campaign name is not valid",
               "Ce nom de campagne n'est pas valide"),
        "This is not a valid campaign name."),
    errors.TooMany: Answer(
        413, errors.TooMany.code, "552 5.3.4 Message exceeds the size limit",
        Titles("Dit is te groot", "This is too large", "C'est trop volumineux"),
        "The request is larger than the service takes."),
    UnreadableMessage: Answer(
        400, UnreadableMessage.code, "550 5.6.0 Message cannot be read",
        Titles("Dit bericht kan niet gelezen worden", "This message cannot be read", "Ce message ne peut pas être lu"),
        "The message cannot be read."),
    errors.NotFound: Answer(
        404, errors.NotFound.code, "550 5.0.0 Not found",
        Titles("Niet gevonden", "Not found", "Introuvable"),
        "There is nothing here."),
    errors.TooManyRequests: Answer(
        429, errors.TooManyRequests.code, "452 4.5.3 Too many, try again later",
        Titles("Even geduld", "Please wait a while", "Veuillez patienter"),
        "Too many of these in a short time; try again later."),
    errors.Conflict: Answer(
        409, errors.Conflict.code, "550 5.0.0 Not possible with what is recorded",
        Titles("Dit is niet mogelijk", "This is not possible", "Ce n'est pas possible"),
        "This is not possible with what is recorded."),
    errors.BadToken: Answer(
        400, errors.BadToken.code, "550 5.7.0 Not a valid link token",
        Titles("Deze link werkt niet", "This link does not work", "Ce lien ne fonctionne pas"),
        "The link is damaged or incomplete."),
    errors.Expired: Answer(
        410, errors.Expired.code, "550 5.7.0 The link has expired",
        Titles("Deze link is verlopen", "This link has expired", "Ce lien a expiré"),
        "The link has expired."),
    errors.Unauthorized: Answer(
        401, errors.Unauthorized.code, "535 5.7.8 Authentication credentials invalid",
        Titles("Meld u eerst aan", "Please log in first", "Veuillez d'abord vous connecter"),
        "An API key is needed."),
    errors.Forbidden: Answer(
        403, errors.Forbidden.code, NOT_PERMITTED,
        Titles("Dit is niet toegestaan", "This is not allowed", "Ce n'est pas autorisé"),
        "This is not allowed."),
    Erased: Answer(
        403, Erased.code, NOT_PERMITTED,
        Titles("Dit adres werd gewist", "This address was erased", "Cette adresse a été effacée"),
        "This address was erased on request."),
    errors.Unavailable: Answer(
        503, errors.Unavailable.code, TRY_LATER,
        Titles("Probeer het later opnieuw", "Please try again later", "Veuillez réessayer plus tard"),
        "The database cannot be reached; try again shortly."),
}

INTERNAL = Answer(
    500, "internal", TRY_LATER,
    Titles("Er ging bij ons iets mis", "Something went wrong on our side", "Une erreur s'est produite de notre côté"),
    "Something went wrong on our side; it has been logged.")


def answer_for_class(error_class: type[BaseException]) -> Answer:
    """The answer to errors of this class: the nearest row along its MRO, `Unavailable`'s for a
    database that cannot be reached, else INTERNAL. A domain error answers with its own code."""
    for cls in error_class.__mro__:
        if cls in ANSWERS:
            return replace(ANSWERS[cls], code=error_class.code)
    if issubclass(error_class, UNAVAILABLE):
        return ANSWERS[errors.Unavailable]
    return INTERNAL


def answer_for(error: BaseException) -> Answer:
    """The answer to this error; a domain error's own message replaces the row's."""
    answer = answer_for_class(type(error))
    if isinstance(error, errors.DomainError):
        return replace(answer, message=error.message)
    return answer


def answer_for_status(status: int) -> Answer:
    """The answer to a failure the HTTP layer finds itself (no route, a method not allowed, a body
    too large): the first row with that status, else the general one of its class of status."""
    for answer in ANSWERS.values():
        if answer.status == status:
            return answer
    return replace(INTERNAL if status >= 500 else ANSWERS[errors.DomainError], status=status)
