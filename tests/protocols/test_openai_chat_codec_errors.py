"""OpenAI Chat codec: error bodies, both directions."""

from __future__ import annotations

import orjson
import pytest

from omnirouter.ir import ErrorKind, GatewayError
from omnirouter.protocols.openai_chat import OPENAI_CHAT
from tests.helpers.openapi_schema import validate_openai


@pytest.mark.parametrize(
    ("error", "status", "type_", "code"),
    [
        (
            GatewayError(ErrorKind.INVALID_REQUEST, "bad", param="messages"),
            400,
            "invalid_request_error",
            None,
        ),
        (GatewayError(ErrorKind.AUTHENTICATION, "key"), 401, "authentication_error", None),
        (GatewayError(ErrorKind.PERMISSION, "no"), 403, "permission_error", None),
        (
            GatewayError(ErrorKind.NOT_FOUND, "model", code="model_not_found"),
            404,
            "not_found_error",
            "model_not_found",
        ),
        (GatewayError(ErrorKind.REQUEST_TOO_LARGE, "big"), 413, "invalid_request_error", "request_too_large"),
        (GatewayError(ErrorKind.RATE_LIMIT, "slow"), 429, "rate_limit_error", "rate_limit_exceeded"),
        (GatewayError(ErrorKind.INSUFFICIENT_QUOTA, "pay"), 429, "insufficient_quota", "insufficient_quota"),
        (GatewayError(ErrorKind.UPSTREAM, "up", status=502), 502, "server_error", None),
        (GatewayError(ErrorKind.UPSTREAM_TIMEOUT, "late"), 504, "server_error", "upstream_timeout"),
        (GatewayError(ErrorKind.OVERLOADED, "busy"), 503, "server_error", "overloaded"),
        (GatewayError(ErrorKind.INTERNAL, "oops"), 500, "server_error", None),
        (
            GatewayError(ErrorKind.INVALID_REQUEST, "upstream 422", status=422),
            422,
            "invalid_request_error",
            None,
        ),
    ],
)
def test_encode_error(error: GatewayError, status: int, type_: str, code: str | None) -> None:
    got_status, body = OPENAI_CHAT.encode_error(error)
    parsed = orjson.loads(body)
    validate_openai("ErrorResponse", parsed)
    assert got_status == status
    assert parsed == {"error": {"message": error.message, "type": type_, "param": error.param, "code": code}}


@pytest.mark.parametrize(
    ("status", "body", "kind", "message", "code", "param"),
    [
        (
            400,
            b'{"error":{"message":"bad temp","type":"invalid_request_error","param":"temperature","code":null}}',
            ErrorKind.INVALID_REQUEST,
            "bad temp",
            None,
            "temperature",
        ),
        (
            429,
            b'{"error":{"message":"quota","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}',
            ErrorKind.INSUFFICIENT_QUOTA,
            "quota",
            "insufficient_quota",
            None,
        ),
        (
            429,
            b'{"error":{"message":"slow","type":"requests","code":"rate_limit_exceeded"}}',
            ErrorKind.RATE_LIMIT,
            "slow",
            "rate_limit_exceeded",
            None,
        ),
        (
            401,
            b'{"error":{"code":401,"message":"Invalid API Key","type":"authentication_error"}}',
            ErrorKind.AUTHENTICATION,
            "Invalid API Key",
            "401",
            None,
        ),
        (401, b'{"detail": "Invalid API Key"}', ErrorKind.AUTHENTICATION, "Invalid API Key", None, None),
        (
            422,
            b'{"detail": [{"loc": ["body"], "msg": "field required"}]}',
            ErrorKind.INVALID_REQUEST,
            '[{"loc":["body"],"msg":"field required"}]',
            None,
            None,
        ),
        (404, b'{"error": "model not found"}', ErrorKind.NOT_FOUND, "model not found", None, None),
        (
            500,
            b"<html>Internal Server Error</html>",
            ErrorKind.UPSTREAM,
            "<html>Internal Server Error</html>",
            None,
            None,
        ),
        (503, b"", ErrorKind.OVERLOADED, "upstream returned HTTP 503", None, None),
        (502, b"[1, 2]", ErrorKind.UPSTREAM, "upstream returned HTTP 502", None, None),
        (400, b'{"message": "plain"}', ErrorKind.INVALID_REQUEST, "plain", None, None),
        (504, b"\xff\xfe garbage", ErrorKind.UPSTREAM_TIMEOUT, "\ufffd\ufffd garbage", None, None),
    ],
)
def test_decode_error(
    status: int, body: bytes, kind: ErrorKind, message: str, code: str | None, param: str | None
) -> None:
    error = OPENAI_CHAT.decode_error(status, body)
    assert (error.kind, error.status, error.message, error.code, error.param) == (
        kind,
        status,
        message,
        code,
        param,
    )


def test_error_round_trip_keeps_kind_status_and_fields() -> None:
    original = GatewayError(ErrorKind.RATE_LIMIT, "slow down", code="rate_limit_exceeded", param="model")
    decoded = OPENAI_CHAT.decode_error(*OPENAI_CHAT.encode_error(original))
    assert (decoded.kind, decoded.status, decoded.message, decoded.code, decoded.param) == (
        ErrorKind.RATE_LIMIT,
        429,
        "slow down",
        "rate_limit_exceeded",
        "model",
    )
