"""OpenAI error bodies ↔ :class:`GatewayError`.

Encoded bodies always carry all four keys ``message, type, param, code``.
Decoding accepts the OpenAI shape, llama.cpp's numeric ``code``, a bare
``{"error": "text"}``, FastAPI's ``{"detail": ...}``, a top-level
``message`` and non-JSON bodies; it keeps the upstream's status and message.
"""

from __future__ import annotations

from typing import Any

import orjson

from omnirouter.ir import ErrorKind, GatewayError, StreamFailure, kind_for_status
from omnirouter.ir.errors import DEFAULT_STATUS
from omnirouter.protocols.sse import frame

_TYPE_BY_KIND: dict[ErrorKind, str] = {
    ErrorKind.INVALID_REQUEST: "invalid_request_error",
    ErrorKind.AUTHENTICATION: "authentication_error",
    ErrorKind.PERMISSION: "permission_error",
    ErrorKind.NOT_FOUND: "not_found_error",
    ErrorKind.REQUEST_TOO_LARGE: "invalid_request_error",
    ErrorKind.RATE_LIMIT: "rate_limit_error",
    ErrorKind.INSUFFICIENT_QUOTA: "insufficient_quota",
    ErrorKind.UPSTREAM: "server_error",
    ErrorKind.UPSTREAM_UNREACHABLE: "server_error",
    ErrorKind.UPSTREAM_TIMEOUT: "server_error",
    ErrorKind.OVERLOADED: "server_error",
    ErrorKind.INTERNAL: "server_error",
}

_DEFAULT_CODE: dict[ErrorKind, str] = {
    ErrorKind.REQUEST_TOO_LARGE: "request_too_large",
    ErrorKind.RATE_LIMIT: "rate_limit_exceeded",
    ErrorKind.INSUFFICIENT_QUOTA: "insufficient_quota",
    ErrorKind.UPSTREAM_UNREACHABLE: "upstream_unreachable",
    ErrorKind.UPSTREAM_TIMEOUT: "upstream_timeout",
    ErrorKind.OVERLOADED: "overloaded",
}

_KIND_BY_TYPE: dict[str, ErrorKind] = {
    "invalid_request_error": ErrorKind.INVALID_REQUEST,
    "authentication_error": ErrorKind.AUTHENTICATION,
    "permission_error": ErrorKind.PERMISSION,
    "not_found_error": ErrorKind.NOT_FOUND,
    "request_too_large": ErrorKind.REQUEST_TOO_LARGE,
    "rate_limit_error": ErrorKind.RATE_LIMIT,
    "insufficient_quota": ErrorKind.INSUFFICIENT_QUOTA,
    "overloaded_error": ErrorKind.OVERLOADED,
    "server_error": ErrorKind.UPSTREAM,
    "api_error": ErrorKind.UPSTREAM,
}

_MAX_MESSAGE = 1000


def error_object(error: GatewayError) -> dict[str, Any]:
    """The ``{"message", "type", "param", "code"}`` object for an error."""
    return {
        "message": error.message,
        "type": _TYPE_BY_KIND.get(error.kind, "server_error"),
        "param": error.param,
        "code": error.code if error.code is not None else _DEFAULT_CODE.get(error.kind),
    }


def client_status(status: int) -> int:
    """The status an OpenAI client understands: Anthropic's 529 (overloaded) becomes 503."""
    return 503 if status == 529 else status


def encode_error(error: GatewayError) -> tuple[int, bytes]:
    """The HTTP status and JSON body to answer a client with."""
    return client_status(error.status), orjson.dumps({"error": error_object(error)})


def encode_stream_error(error: GatewayError) -> bytes:
    """An in-stream ``data: {"error": ...}`` chunk followed by ``data: [DONE]``."""
    return frame(orjson.dumps({"error": error_object(error)})) + b"data: [DONE]\n\n"


def _code_text(code: Any) -> str | None:
    if isinstance(code, str):
        return code
    if isinstance(code, int | float) and not isinstance(code, bool):
        return str(int(code))
    return None


def _read(parsed: Any) -> tuple[str | None, str | None, str | None, str | None]:
    """``(message, type, code, param)`` from any error-ish JSON value."""
    if not isinstance(parsed, dict):
        return (parsed if isinstance(parsed, str) and parsed else None), None, None, None
    error = parsed.get("error")
    if isinstance(error, dict):
        message = error.get("message")
        kind = error.get("type")
        param = error.get("param")
        return (
            message if isinstance(message, str) else None,
            kind if isinstance(kind, str) else None,
            _code_text(error.get("code")),
            param if isinstance(param, str) else None,
        )
    if isinstance(error, str) and error:
        return error, None, _code_text(parsed.get("code")), None
    for key in ("detail", "message"):
        value = parsed.get(key)
        if isinstance(value, str) and value:
            return value, None, None, None
        if value:
            return orjson.dumps(value).decode()[:_MAX_MESSAGE], None, None, None
    return None, None, None, None


def _refine(kind: ErrorKind, type_: str | None, code: str | None) -> ErrorKind:
    if "insufficient_quota" in (type_, code):
        return ErrorKind.INSUFFICIENT_QUOTA
    return kind


def decode_error(status: int, body: bytes) -> GatewayError:
    """An upstream's error answer as a :class:`GatewayError` with the upstream's status; never raises."""
    try:
        parsed: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        parsed = body.decode("utf-8", "replace").strip()[:_MAX_MESSAGE]
    message, type_, code, param = _read(parsed)
    kind = _refine(kind_for_status(status), type_, code)
    return GatewayError(kind, message or f"upstream returned HTTP {status}", status=status, code=code, param=param)


def stream_failure(chunk: dict[str, Any]) -> StreamFailure:
    """A :class:`StreamFailure` from an in-stream ``{"error": ...}`` chunk."""
    message, type_, code, _ = _read(chunk)
    status = int(code) if code is not None and code.isdigit() and 400 <= int(code) < 600 else None
    kind = kind_for_status(status) if status is not None else _KIND_BY_TYPE.get(type_ or "", ErrorKind.UPSTREAM)
    kind = _refine(kind, type_, code)
    return StreamFailure(
        kind=kind,
        message=message or "upstream reported an error mid-stream",
        status=status if status is not None else DEFAULT_STATUS[kind],
    )
