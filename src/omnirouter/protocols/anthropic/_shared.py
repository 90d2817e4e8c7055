"""Small helpers shared by the Anthropic request, response and stream modules."""

from __future__ import annotations

from typing import Any

import orjson

from omnirouter.ir import ErrorKind, GatewayError
from omnirouter.protocols.common import new_id
from omnirouter.protocols.limits import Bounds

PROTOCOL = "anthropic"
"""The value of ``source_protocol`` and of reasoning origins for data this codec decoded."""

DEFAULT_MAX_TOKENS = 8192
"""``max_tokens`` sent upstream when the IR has none (Anthropic requires it)."""


def invalid(message: str, param: str | None) -> GatewayError:
    """A client error about one request field, worded like Anthropic's (``param: problem``)."""
    return GatewayError(ErrorKind.INVALID_REQUEST, f"{param}: {message}" if param else message, param=param)


def out_of_bounds(param: str, bounds: Bounds) -> GatewayError:
    """A numeric field outside its range, worded like Anthropic's errors."""
    return invalid(f"Input should be {bounds.describe()}", param)


def message_id(ir_id: str) -> str:
    """An Anthropic ``msg_…`` id for an IR answer id (kept when it already is one)."""
    if ir_id.startswith("msg_"):
        return ir_id
    return "msg_" + ir_id if ir_id else new_id("msg_")


def as_int(value: Any) -> int | None:
    """An integer (``2.0`` accepted) or ``None``."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def opt_str(obj: dict[str, Any], key: str, param: str, *, required: bool = False) -> str | None:
    """``obj[key]`` as a string; ``None`` when absent (an error when ``required``)."""
    value = obj.get(key)
    if value is None and not required:
        return None
    if isinstance(value, str):
        return value
    raise invalid("Field required" if value is None else "Input should be a valid string", param)


def opt_bool(obj: dict[str, Any], key: str, param: str) -> bool | None:
    """``obj[key]`` as a boolean, ``None`` when absent or null."""
    value = obj.get(key)
    if value is None or isinstance(value, bool):
        return value
    raise invalid("Input should be a valid boolean", param)


def opt_int(obj: dict[str, Any], key: str, param: str) -> int | None:
    """``obj[key]`` as an integer, ``None`` when absent or null."""
    value = obj.get(key)
    if value is None:
        return None
    number = as_int(value)
    if number is None:
        raise invalid("Input should be a valid integer", param)
    return number


def opt_float(obj: dict[str, Any], key: str, param: str) -> float | None:
    """``obj[key]`` as a number, ``None`` when absent or null."""
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    raise invalid("Input should be a valid number", param)


def opt_dict(obj: dict[str, Any], key: str, param: str) -> dict[str, Any] | None:
    """``obj[key]`` as an object, ``None`` when absent or null."""
    value = obj.get(key)
    if value is None or isinstance(value, dict):
        return value
    raise invalid("Input should be a valid dictionary", param)


def dumps(value: Any) -> str:
    """Compact JSON text."""
    return orjson.dumps(value).decode()
