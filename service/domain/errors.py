"""Errors the domain raises; each edge translates them into its own replies."""


class DomainError(Exception):
    """Base of every error a caller can act on; `code` is a stable machine-readable name."""

    code = "bad_request"

    def __init__(self, message: str, **detail):
        super().__init__(message)
        self.message = message
        self.detail = detail


class InvalidInput(DomainError):
    code = "invalid_input"


class InvalidAddress(InvalidInput):
    code = "invalid_address"


class InvalidScope(InvalidInput):
    code = "invalid_scope"


class InvalidCampaign(InvalidInput):
    code = "invalid_campaign"


class TooMany(InvalidInput):
    code = "too_many_recipients"


class TooManyRequests(DomainError):
    """Too many of one thing in a short time (confirmation mails to one mailbox); `retry_after` in seconds."""

    code = "too_many_requests"


class NotFound(DomainError):
    code = "not_found"


class Conflict(DomainError):
    code = "conflict"


class BadToken(DomainError):
    code = "bad_token"


class Expired(DomainError):
    """A valid link past its max age (a confirmation link): it no longer does what it did."""

    code = "expired"


class Unauthorized(DomainError):
    code = "unauthorized"


class Forbidden(DomainError):
    code = "forbidden"


class Unavailable(DomainError):
    """The database (or another dependency) cannot be reached; try again later."""

    code = "unavailable"
