"""The errors services raise; ``api/errors.py`` maps each to one HTTP status."""

from __future__ import annotations

from typing import Any


class JolibaError(Exception):
    """Base class: a stable machine code, a human message, optional details."""

    code = "error"

    def __init__(self, message: str, *, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class Invalid(JolibaError):
    """The request is well formed but a value is wrong (names the field)."""

    code = "invalid"


class Unauthorized(JolibaError):
    """No valid credentials."""

    code = "unauthorized"


class Forbidden(JolibaError):
    """Known caller, not allowed (only ever raised once the caller may see the resource)."""

    code = "forbidden"


class NotFound(JolibaError):
    """Missing, or hidden from this caller (outsiders never learn a workspace exists)."""

    code = "not_found"


class Conflict(JolibaError):
    """Clashes with existing state (duplicate slug, file exists, …)."""

    code = "conflict"


class TooLarge(JolibaError):
    """The request body is over the configured limit."""

    code = "too_large"


class TooManyRequests(JolibaError):
    """Throttled (failed sign-ins)."""

    code = "too_many_requests"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message, details={"retry_after": retry_after})
        self.retry_after = retry_after


class Unavailable(JolibaError):
    """An outside system (storage, a connection's server) could not be reached."""

    code = "unavailable"


class BadGateway(JolibaError):
    """An outside system a request relies on (a connection's DHIS2 server) answered with an
    error or not at all."""

    code = "bad_gateway"
