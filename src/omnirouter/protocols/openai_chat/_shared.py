"""Small helpers shared by the OpenAI Chat request, response and stream modules."""

from __future__ import annotations

import uuid
from typing import Any

from omnirouter.ir import ErrorKind, GatewayError

PROTOCOL = "openai_chat"
"""The value of ``source_protocol`` for bodies this codec decoded."""

_MEDIA_BY_PREFIX = (
    ("iVBORw0KGgo", "image/png"),
    ("/9j/", "image/jpeg"),
    ("R0lGOD", "image/gif"),
    ("UklGR", "image/webp"),
    ("JVBERi0", "application/pdf"),
)


def invalid(message: str, param: str | None) -> GatewayError:
    """A client error about one request field."""
    return GatewayError(ErrorKind.INVALID_REQUEST, message, param=param)


def bad_upstream(message: str) -> GatewayError:
    """An upstream answer this codec cannot read."""
    return GatewayError(ErrorKind.UPSTREAM, message)


def new_id(prefix: str) -> str:
    """A fresh id such as ``chatcmpl-…`` or ``call_…``."""
    return prefix + uuid.uuid4().hex[:24]


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


def split_data_uri(uri: str) -> tuple[str, str] | None:
    """``data:<type>;base64,<data>`` → ``(data, type)``; ``None`` for anything else."""
    if not uri.startswith("data:"):
        return None
    header, sep, data = uri[5:].partition(",")
    if not sep or not header.endswith(";base64"):
        return None
    return data, header[: -len(";base64")].split(";", 1)[0]


def data_uri(data: str, media_type: str | None) -> str:
    """The inverse of :func:`split_data_uri`; guesses the type from the data when unknown."""
    return f"data:{media_type or guess_media_type(data)};base64,{data}"


def guess_media_type(data: str) -> str:
    """The media type of base64 data from its first bytes (``application/octet-stream`` if unknown)."""
    for prefix, media_type in _MEDIA_BY_PREFIX:
        if data.startswith(prefix):
            return media_type
    return "application/octet-stream"
