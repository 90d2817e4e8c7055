"""Gemini error bodies ↔ :class:`GatewayError`.

Encoded: ``{"error": {"code", "message", "status"[, "details"]}}`` with a
google.rpc status name.  HTTP statuses are kept except: 529 → 503 (Gemini has
no 529), 413 and 422 → 400 (Google answers oversized or invalid payloads with
400 ``INVALID_ARGUMENT``), and an authentication failure → 400
``INVALID_ARGUMENT`` with an ``ErrorInfo`` detail of reason ``API_KEY_INVALID``,
which is what Gemini answers for a wrong key and what its SDKs and CLIs
recognise.  ``retry_after`` becomes a ``RetryInfo`` detail.

Decoded: the upstream status and message are kept; the kind comes from the
status, except that ``API_KEY_INVALID`` is an authentication failure; a
``RetryInfo.retryDelay`` becomes ``retry_after``.  Bodies may be wrapped in a
JSON array (Gemini's non-SSE stream form) or not be JSON at all.
"""

from __future__ import annotations

from typing import Any

import orjson

from omnirouter.ir import ErrorKind, GatewayError, StreamFailure, kind_for_status
from omnirouter.ir.errors import DEFAULT_STATUS

_STATUS_NAME: dict[int, str] = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    412: "FAILED_PRECONDITION",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "NOT_IMPLEMENTED",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
_CLIENT_STATUS = {529: 503, 413: 400, 422: 400}
_API_KEY_INVALID = "API_KEY_INVALID"
_MAX_MESSAGE = 1000


def status_name(status: int) -> str:
    """The google.rpc status name for an HTTP status."""
    return _STATUS_NAME.get(status, "INTERNAL" if status >= 500 else "FAILED_PRECONDITION")


def error_object(error: GatewayError) -> tuple[int, dict[str, Any]]:
    """The HTTP status and the ``{"code", "message", "status", "details"?}`` object for an error."""
    if error.kind is ErrorKind.AUTHENTICATION:
        details: list[dict[str, Any]] = [
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": _API_KEY_INVALID,
                "domain": "googleapis.com",
                "metadata": {"service": "generativelanguage.googleapis.com"},
            }
        ]
        return 400, {"code": 400, "message": error.message, "status": "INVALID_ARGUMENT", "details": details}
    status = _CLIENT_STATUS.get(error.status, error.status)
    body: dict[str, Any] = {"code": status, "message": error.message, "status": status_name(status)}
    if error.retry_after is not None:
        delay = f"{max(0, round(error.retry_after))}s"
        body["details"] = [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": delay}]
    return status, body


def encode_error(error: GatewayError) -> tuple[int, bytes]:
    """The HTTP status and JSON body to answer a Gemini client with."""
    status, body = error_object(error)
    return status, orjson.dumps({"error": body})


def encode_stream_error(error: GatewayError) -> bytes:
    """The JSON of an in-stream ``{"error": {...}}`` chunk (without framing)."""
    return orjson.dumps({"error": error_object(error)[1]})


def _retry_after(details: Any) -> float | None:
    for detail in details if isinstance(details, list) else []:
        delay = detail.get("retryDelay") if isinstance(detail, dict) else None
        if isinstance(delay, str) and delay.endswith("s"):
            try:
                return float(delay[:-1])
            except ValueError:
                return None
    return None


def _is_bad_key(details: Any) -> bool:
    return any(isinstance(d, dict) and d.get("reason") == _API_KEY_INVALID for d in details or [])


def read_error(parsed: Any) -> tuple[str | None, int | None, str | None, Any]:
    """``(message, code, status name, details)`` from any error-ish JSON value."""
    if isinstance(parsed, list) and parsed:
        parsed = parsed[0]
    if not isinstance(parsed, dict):
        return (parsed if isinstance(parsed, str) and parsed else None), None, None, None
    error = parsed.get("error")
    if isinstance(error, str) and error:
        return error, None, None, None
    if not isinstance(error, dict):
        message = parsed.get("message")
        return (message if isinstance(message, str) and message else None), None, None, None
    message, code, status = error.get("message"), error.get("code"), error.get("status")
    return (
        message if isinstance(message, str) and message else None,
        code if isinstance(code, int) and not isinstance(code, bool) else None,
        status if isinstance(status, str) else None,
        error.get("details"),
    )


def decode_error(status: int, body: bytes) -> GatewayError:
    """An upstream error answer, keeping its status and message; never raises."""
    try:
        parsed: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        parsed = body.decode("utf-8", "replace").strip()[:_MAX_MESSAGE]
    message, _, name, details = read_error(parsed)
    kind = ErrorKind.AUTHENTICATION if _is_bad_key(details) else kind_for_status(status)
    return GatewayError(
        kind,
        message or f"upstream returned HTTP {status}",
        status=status,
        code=name,
        retry_after=_retry_after(details),
    )


def stream_failure(chunk: Any) -> StreamFailure:
    """A :class:`StreamFailure` from an in-stream ``{"error": {...}}`` chunk."""
    message, code, _, details = read_error(chunk)
    status = code if code is not None and 400 <= code < 600 else None
    kind = ErrorKind.AUTHENTICATION if _is_bad_key(details) else None
    if kind is None:
        kind = kind_for_status(status) if status is not None else ErrorKind.UPSTREAM
    return StreamFailure(
        kind=kind,
        message=message or "upstream reported an error mid-stream",
        status=status if status is not None else DEFAULT_STATUS[kind],
    )
