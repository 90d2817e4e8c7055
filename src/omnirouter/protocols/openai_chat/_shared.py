"""Small helpers shared by the OpenAI Chat request, response and stream modules."""

from __future__ import annotations

from typing import Any

from omnirouter.ir import ErrorKind, GatewayError
from omnirouter.protocols.common import bad_upstream, data_uri, guess_media_type, new_id, split_data_uri

__all__ = [
    "PROTOCOL",
    "bad_upstream",
    "data_uri",
    "guess_media_type",
    "invalid",
    "new_id",
    "opt_bool",
    "opt_dict",
    "opt_float",
    "opt_int",
    "opt_str",
    "split_data_uri",
]

PROTOCOL = "openai_chat"
"""The value of ``source_protocol`` for bodies this codec decoded."""


def invalid(message: str, param: str | None) -> GatewayError:
    """A client error about one request field."""
    return GatewayError(ErrorKind.INVALID_REQUEST, message, param=param)


def opt_str(body: dict[str, Any], key: str, param: str) -> str | None:
    """``body[key]`` as a string, ``None`` when absent or null."""
    value = body.get(key)
    if value is None or isinstance(value, str):
        return value
    raise invalid(f"'{param}' must be a string", param)


def opt_bool(body: dict[str, Any], key: str, param: str) -> bool | None:
    """``body[key]`` as a boolean, ``None`` when absent or null."""
    value = body.get(key)
    if value is None or isinstance(value, bool):
        return value
    raise invalid(f"'{param}' must be a boolean", param)


def opt_int(body: dict[str, Any], key: str, param: str) -> int | None:
    """``body[key]`` as an integer (``2.0`` accepted), ``None`` when absent or null."""
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise invalid(f"'{param}' must be an integer", param)


def opt_float(body: dict[str, Any], key: str, param: str) -> float | None:
    """``body[key]`` as a number, ``None`` when absent or null."""
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    raise invalid(f"'{param}' must be a number", param)


def opt_dict(body: dict[str, Any], key: str, param: str) -> dict[str, Any] | None:
    """``body[key]`` as an object, ``None`` when absent or null."""
    value = body.get(key)
    if value is None or isinstance(value, dict):
        return value
    raise invalid(f"'{param}' must be an object", param)
