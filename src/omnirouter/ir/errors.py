"""The closed set of failures the gateway can report, independent of protocol."""

from __future__ import annotations

import enum


class ErrorKind(enum.StrEnum):
    """What went wrong; each protocol's error encoder maps a kind to its own type names."""

    INVALID_REQUEST = "invalid_request"
    AUTHENTICATION = "authentication"
    PERMISSION = "permission"
    NOT_FOUND = "not_found"
    REQUEST_TOO_LARGE = "request_too_large"
    RATE_LIMIT = "rate_limit"
    INSUFFICIENT_QUOTA = "insufficient_quota"
    UPSTREAM = "upstream"
    UPSTREAM_UNREACHABLE = "upstream_unreachable"
    UPSTREAM_TIMEOUT = "upstream_timeout"
    OVERLOADED = "overloaded"
    INTERNAL = "internal"


DEFAULT_STATUS: dict[ErrorKind, int] = {
    ErrorKind.INVALID_REQUEST: 400,
    ErrorKind.AUTHENTICATION: 401,
    ErrorKind.PERMISSION: 403,
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.REQUEST_TOO_LARGE: 413,
    ErrorKind.RATE_LIMIT: 429,
    ErrorKind.INSUFFICIENT_QUOTA: 429,
    ErrorKind.UPSTREAM: 502,
    ErrorKind.UPSTREAM_UNREACHABLE: 502,
    ErrorKind.UPSTREAM_TIMEOUT: 504,
    ErrorKind.OVERLOADED: 503,
    ErrorKind.INTERNAL: 500,
}

_KIND_BY_STATUS: dict[int, ErrorKind] = {
    400: ErrorKind.INVALID_REQUEST,
    401: ErrorKind.AUTHENTICATION,
    403: ErrorKind.PERMISSION,
    404: ErrorKind.NOT_FOUND,
    413: ErrorKind.REQUEST_TOO_LARGE,
    422: ErrorKind.INVALID_REQUEST,
    429: ErrorKind.RATE_LIMIT,
    503: ErrorKind.OVERLOADED,
    529: ErrorKind.OVERLOADED,
    504: ErrorKind.UPSTREAM_TIMEOUT,
}


def kind_for_status(status: int) -> ErrorKind:
    """The kind an upstream HTTP status means."""
    if status in _KIND_BY_STATUS:
        return _KIND_BY_STATUS[status]
    return ErrorKind.INVALID_REQUEST if 400 <= status < 500 else ErrorKind.UPSTREAM


class GatewayError(Exception):
    """A failure to report to the client in its own protocol.

    ``status`` defaults from the kind; upstream 4xx errors keep the upstream's status.
    ``code`` and ``param`` fill the OpenAI fields of the same name.
    """

    def __init__(
        self,
        kind: ErrorKind,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        param: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.status = status if status is not None else DEFAULT_STATUS[kind]
        self.code = code
        self.param = param
        self.retry_after = retry_after
