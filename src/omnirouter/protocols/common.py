"""Helpers every codec needs: base64 media sniffing, data URIs, JSON text checks, ids, upstream errors."""

from __future__ import annotations

import uuid
from typing import Any

import orjson

from omnirouter.ir import ErrorKind, GatewayError

_MEDIA_BY_PREFIX = (
    ("iVBORw0KGgo", "image/png"),
    ("/9j/", "image/jpeg"),
    ("R0lGOD", "image/gif"),
    ("UklGR", "image/webp"),
    ("JVBERi0", "application/pdf"),
)


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


def data_uri(data: str, media_type: str | None) -> str:
    """The inverse of :func:`split_data_uri`; guesses the type from the data when unknown."""
    return f"data:{media_type or guess_media_type(data)};base64,{data}"


def is_complete_json(text: str) -> bool:
    """Whether ``text`` (e.g. streamed tool-call arguments) parses as JSON."""
    try:
        orjson.loads(text)
    except orjson.JSONDecodeError:
        return False
    return True


def json_object(text: str) -> dict[str, Any]:
    """Tool-call arguments (JSON text, maybe malformed) as an object; ``{}`` when they are not one."""
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def new_id(prefix: str) -> str:
    """A fresh id such as ``chatcmpl-…``, ``msg_…`` or ``call_…``."""
    return prefix + uuid.uuid4().hex[:24]


def bad_upstream(message: str) -> GatewayError:
    """An upstream answer a codec cannot read."""
    return GatewayError(ErrorKind.UPSTREAM, message)
