"""Anthropic error bodies ↔ :class:`GatewayError`.

Encoded bodies are ``{"type": "error", "error": {"type", "message"}}`` with the
types of docs/protocols/anthropic.md; an overloaded error is always status 529 (what
Anthropic clients retry as "overloaded").  Insufficient quota is
``billing_error``, an upstream timeout ``timeout_error``, every other server-side
kind ``api_error``.  Decoding accepts the Anthropic shape, the OpenAI-style
``{"error": {"message"}}``, a bare ``{"error": "text"}``, a top-level
``message`` / ``detail`` and non-JSON bodies; it keeps the upstream's status and
message and never raises.
"""

from __future__ import annotations

from typing import Any

import orjson

from omnirouter.ir import ErrorKind, GatewayError, StreamFailure, kind_for_status
from omnirouter.protocols.sse import frame

_TYPE_BY_KIND: dict[ErrorKind, str] = {
    ErrorKind.INVALID_REQUEST: "invalid_request_error",
    ErrorKind.AUTHENTICATION: "authentication_error",
    ErrorKind.PERMISSION: "permission_error",
    ErrorKind.NOT_FOUND: "not_found_error",
    ErrorKind.REQUEST_TOO_LARGE: "request_too_large",
    ErrorKind.RATE_LIMIT: "rate_limit_error",
    ErrorKind.INSUFFICIENT_QUOTA: "billing_error",
    ErrorKind.UPSTREAM: "api_error",
    ErrorKind.UPSTREAM_UNREACHABLE: "api_error",
    ErrorKind.UPSTREAM_TIMEOUT: "timeout_error",
    ErrorKind.OVERLOADED: "overloaded_error",
    ErrorKind.INTERNAL: "api_error",
}

_KIND_BY_TYPE: dict[str, tuple[ErrorKind, int]] = {
    "invalid_request_error": (ErrorKind.INVALID_REQUEST, 400),
    "authentication_error": (ErrorKind.AUTHENTICATION, 401),
    "billing_error": (ErrorKind.INSUFFICIENT_QUOTA, 402),
    "permission_error": (ErrorKind.PERMISSION, 403),
    "not_found_error": (ErrorKind.NOT_FOUND, 404),
    "request_too_large": (ErrorKind.REQUEST_TOO_LARGE, 413),
    "rate_limit_error": (ErrorKind.RATE_LIMIT, 429),
    "api_error": (ErrorKind.UPSTREAM, 500),
    "timeout_error": (ErrorKind.UPSTREAM_TIMEOUT, 504),
    "overloaded_error": (ErrorKind.OVERLOADED, 529),
}

OVERLOADED_STATUS = 529
_MAX_MESSAGE = 1000


def error_body(error: GatewayError) -> dict[str, Any]:
    """The ``{"type": "error", "error": {...}}`` body for an error."""
    return {"type": "error", "error": {"type": _TYPE_BY_KIND.get(error.kind, "api_error"), "message": error.message}}


def encode_error(error: GatewayError) -> tuple[int, bytes]:
    """The HTTP status and JSON body to answer a client with."""
    status = OVERLOADED_STATUS if error.kind is ErrorKind.OVERLOADED else error.status
    return status, orjson.dumps(error_body(error))


def encode_stream_error(error: GatewayError) -> bytes:
    """An in-stream ``event: error`` frame."""
    return frame(orjson.dumps(error_body(error)), "error")


def _read(parsed: Any) -> tuple[str | None, str | None]:
    """``(message, type)`` from any error-ish JSON value."""
    if not isinstance(parsed, dict):
        return (parsed if isinstance(parsed, str) and parsed else None), None
    error = parsed.get("error")
    if isinstance(error, dict):
        message, kind = error.get("message"), error.get("type")
        return (message if isinstance(message, str) else None), (kind if isinstance(kind, str) else None)
    if isinstance(error, str) and error:
        return error, None
    for key in ("message", "detail"):
        value = parsed.get(key)
        if isinstance(value, str) and value:
            return value, None
        if value:
            return orjson.dumps(value).decode()[:_MAX_MESSAGE], None
    return None, None


def decode_error(status: int, body: bytes) -> GatewayError:
    """An upstream's error answer as a :class:`GatewayError` with the upstream's status; never raises."""
    try:
        parsed: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        parsed = body.decode("utf-8", "replace").strip()[:_MAX_MESSAGE]
    message, type_ = _read(parsed)
    kind = kind_for_status(status)
    if type_ == "billing_error" or (type_ == "overloaded_error" and status >= 500):
        kind = _KIND_BY_TYPE[type_][0]
    return GatewayError(kind, message or f"upstream returned HTTP {status}", status=status)


def stream_failure(body: Any) -> StreamFailure:
    """A :class:`StreamFailure` from an in-stream ``error`` event's data."""
    message, type_ = _read(body)
    kind, status = _KIND_BY_TYPE.get(type_ or "", (ErrorKind.UPSTREAM, 502))
    return StreamFailure(kind=kind, message=message or "upstream reported an error mid-stream", status=status)
