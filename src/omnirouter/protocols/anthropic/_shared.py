"""Small helpers shared by the Anthropic request, response and stream modules."""

from __future__ import annotations

import uuid
from typing import Any

import orjson

from omnirouter.ir import ErrorKind, GatewayError

PROTOCOL = "anthropic"
"""The value of ``source_protocol`` and of reasoning origins for data this codec decoded."""

DEFAULT_MAX_TOKENS = 8192
"""``max_tokens`` sent upstream when the IR has none (Anthropic requires it)."""

_MEDIA_BY_PREFIX = (
    ("iVBORw0KGgo", "image/png"),
    ("/9j/", "image/jpeg"),
    ("R0lGOD", "image/gif"),
    ("UklGR", "image/webp"),
    ("JVBERi0", "application/pdf"),
)


def invalid(message: str, param: str | None) -> GatewayError:
    """A client error about one request field, worded like Anthropic's (``param: problem``)."""
    return GatewayError(ErrorKind.INVALID_REQUEST, f"{param}: {message}" if param else message, param=param)


def bad_upstream(message: str) -> GatewayError:
    """An upstream answer this codec cannot read."""
    return GatewayError(ErrorKind.UPSTREAM, message)


def new_id(prefix: str) -> str:
    """A fresh id such as ``msg_…`` or ``toolu_…``."""
    return prefix + uuid.uuid4().hex[:24]


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


def count(value: Any) -> int:
    """A token count from lax data: integers and floats, anything else is 0."""
    if isinstance(value, int) and not isinstance(value, bool):
        return max(value, 0)
    if isinstance(value, float) and value >= 0:
        return int(value)
    return 0


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


def guess_media_type(data: str, default: str = "application/octet-stream") -> str:
    """The media type of base64 data from its first bytes."""
    for prefix, media_type in _MEDIA_BY_PREFIX:
        if data.startswith(prefix):
            return media_type
    return default


def split_data_uri(uri: str) -> tuple[str, str] | None:
    """``data:<type>;base64,<data>`` → ``(data, type)``; ``None`` for anything else."""
    if not uri.startswith("data:"):
        return None
    header, sep, data = uri[5:].partition(",")
    if not sep or not header.endswith(";base64"):
        return None
    return data, header[: -len(";base64")].split(";", 1)[0]


def input_object(arguments: str) -> dict[str, Any]:
    """Tool-call arguments (JSON text, maybe malformed) as the object ``tool_use.input`` needs ({} if not one)."""
    try:
        value = orjson.loads(arguments)
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def is_complete_json(text: str) -> bool:
    """Whether ``text`` parses as JSON."""
    try:
        orjson.loads(text)
    except orjson.JSONDecodeError:
        return False
    return True


def dumps(value: Any) -> str:
    """Compact JSON text."""
    return orjson.dumps(value).decode()
