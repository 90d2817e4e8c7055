"""Parse a request body as a JSON object, with protocol-neutral errors."""

from __future__ import annotations

from typing import Any

import orjson

from omnirouter.ir import ErrorKind, GatewayError


def parse_json_object(body: bytes) -> dict[str, Any]:
    """The body as a JSON object, or a 400 that says what is wrong."""
    if not body:
        raise GatewayError(ErrorKind.INVALID_REQUEST, "The request body is empty; a JSON object is required.")
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise GatewayError(ErrorKind.INVALID_REQUEST, f"The request body is not valid JSON: {exc}") from None
    if not isinstance(parsed, dict):
        raise GatewayError(ErrorKind.INVALID_REQUEST, "The request body must be a JSON object.")
    return parsed
