"""Errors: the OpenAI error shape (the Chat codec's functions), and the Responses in-stream forms.

HTTP error bodies are the same as Chat Completions': ``encode_error`` and
``decode_error`` are :mod:`omnirouter.protocols.openai_chat.errors`'.  In a stream
an error is an ``error`` event (``{type, code, message, param}``) and/or a
``response.failed`` event whose Response carries ``error {code, message}``;
``code`` there must be one of the spec's ``ResponseErrorCode`` values, so rate
limits and quota become ``rate_limit_exceeded``, client errors
``invalid_prompt`` and everything else ``server_error``.
"""

from __future__ import annotations

from typing import Any

from omnirouter.ir import ErrorKind, GatewayError, StreamFailure, kind_for_status
from omnirouter.ir.errors import DEFAULT_STATUS
from omnirouter.protocols.openai_chat.errors import decode_error, encode_error, error_object

__all__ = [
    "decode_error",
    "encode_error",
    "error_event",
    "failure_from_error",
    "failure_from_response",
    "response_error",
]

_KIND_BY_CODE: dict[str, ErrorKind] = {
    "rate_limit_exceeded": ErrorKind.RATE_LIMIT,
    "rate_limit_error": ErrorKind.RATE_LIMIT,
    "insufficient_quota": ErrorKind.INSUFFICIENT_QUOTA,
    "context_length_exceeded": ErrorKind.INVALID_REQUEST,
    "invalid_prompt": ErrorKind.INVALID_REQUEST,
    "invalid_request_error": ErrorKind.INVALID_REQUEST,
    "authentication_error": ErrorKind.AUTHENTICATION,
    "permission_error": ErrorKind.PERMISSION,
    "not_found_error": ErrorKind.NOT_FOUND,
    "server_is_overloaded": ErrorKind.OVERLOADED,
    "overloaded": ErrorKind.OVERLOADED,
    "slow_down": ErrorKind.OVERLOADED,
    "server_error": ErrorKind.UPSTREAM,
}

_CLIENT_CODE: dict[ErrorKind, str] = {
    ErrorKind.RATE_LIMIT: "rate_limit_exceeded",
    ErrorKind.INSUFFICIENT_QUOTA: "rate_limit_exceeded",
    ErrorKind.INVALID_REQUEST: "invalid_prompt",
    ErrorKind.REQUEST_TOO_LARGE: "invalid_prompt",
}


def _kind(code: str | None) -> tuple[ErrorKind, int | None]:
    if code is None:
        return ErrorKind.UPSTREAM, None
    if code.isdigit() and 400 <= int(code) < 600:
        return kind_for_status(int(code)), int(code)
    if code in _KIND_BY_CODE:
        return _KIND_BY_CODE[code], None
    if code.startswith("invalid_") or "image" in code:
        return ErrorKind.INVALID_REQUEST, None
    return ErrorKind.UPSTREAM, None


def _failure(error: Any, fallback: str) -> StreamFailure:
    error = error if isinstance(error, dict) else {}
    if isinstance(error.get("error"), dict):
        error = error["error"]
    message, code = error.get("message"), error.get("code")
    if not isinstance(code, str):
        code = str(int(code)) if isinstance(code, int | float) and not isinstance(code, bool) else None
    if code is None and isinstance(error.get("type"), str) and error["type"] != "error":
        code = error["type"]
    kind, status = _kind(code)
    return StreamFailure(
        kind=kind,
        message=message if isinstance(message, str) and message else fallback,
        status=status if status is not None else DEFAULT_STATUS[kind],
    )


def failure_from_error(payload: dict[str, Any]) -> StreamFailure:
    """A :class:`StreamFailure` from an ``error`` event (flat or with a nested ``error``)."""
    return _failure(payload, "upstream reported an error mid-stream")


def failure_from_response(response: Any) -> StreamFailure:
    """A :class:`StreamFailure` from the Response of a ``response.failed`` event."""
    error = response.get("error") if isinstance(response, dict) else None
    return _failure(error, "upstream response failed")


def response_error(error: GatewayError) -> dict[str, Any]:
    """The ``error`` object of a failed Response."""
    return {"code": _CLIENT_CODE.get(error.kind, "server_error"), "message": error.message}


def error_event(error: GatewayError) -> dict[str, Any]:
    """An ``error`` stream event without its ``sequence_number``."""
    obj = error_object(error)
    return {"type": "error", "code": obj["code"] or obj["type"], "message": error.message, "param": error.param}
