"""Small helpers shared by the Gemini request, response and stream modules."""

from __future__ import annotations

import hashlib
import mimetypes
import re
import uuid
from typing import Any

from omnirouter.ir import ErrorKind, GatewayError
from omnirouter.protocols.carry import unwrap_b64, wrap_b64
from omnirouter.protocols.fields import FIELDS

PROTOCOL = "gemini"
"""The value of ``source_protocol`` and of signature origins for this codec."""

REDACTED = ":redacted"
"""Suffix of a carried origin marking redacted thinking (no Gemini field holds it)."""

_URLSAFE = str.maketrans("-_", "+/")
_CAMEL = re.compile(r"_([a-z0-9])")
_UPPER = re.compile(r"([A-Z])")
_SNAKE: dict[str, str] = {}  # snake_case spellings of the (literal) keys asked for
_AUDIO_FORMATS = {"mpeg": "mp3", "x-wav": "wav", "wave": "wav", "x-flac": "flac", "x-aiff": "aiff"}


def invalid(message: str, param: str | None) -> GatewayError:
    """A client error about one request field."""
    return GatewayError(ErrorKind.INVALID_REQUEST, message, param=param)


def camel(key: str) -> str:
    """``snake_case`` → ``camelCase`` (the proto JSON mapping accepts both)."""
    return _CAMEL.sub(lambda m: m.group(1).upper(), key)


def camel_keys(obj: dict[str, Any]) -> dict[str, Any]:
    """``obj`` with its top-level keys in camelCase (a camelCase key wins over its snake twin)."""
    out: dict[str, Any] = {}
    for key, value in obj.items():
        name = camel(key)
        if name not in out or name == key:
            out[name] = value
    return out


def get(obj: dict[str, Any], key: str) -> Any:
    """``obj[key]`` given in camelCase, falling back to its snake_case spelling."""
    value = obj.get(key)
    if value is None:
        snake = _SNAKE.get(key)
        if snake is None:
            snake = _SNAKE[key] = _UPPER.sub(lambda m: "_" + m.group(1).lower(), key)
        value = obj.get(snake)
    return value


def child_str(obj: dict[str, Any], key: str, parent: str) -> str | None:
    """``obj[key]`` (camelCase or snake_case) as a string, ``None`` when absent; a 400 names ``parent.key``."""
    return FIELDS.string(get(obj, key), f"{parent}.{key}")


def child_bool(obj: dict[str, Any], key: str, parent: str) -> bool | None:
    """``obj[key]`` (camelCase or snake_case) as a boolean, ``None`` when absent; a 400 names ``parent.key``."""
    return FIELDS.boolean(get(obj, key), f"{parent}.{key}")


def config_object(value: Any, param: str) -> dict[str, Any] | None:
    """``value`` as an object with camelCase keys (:func:`camel_keys`), ``None`` when null."""
    found = FIELDS.object(value, param)
    return None if found is None else camel_keys(found)


def random_call_id() -> str:
    """A fresh ``call_<24 hex>`` id (upstream calls without an id)."""
    return "call_" + uuid.uuid4().hex[:24]


def positional_call_id(*key: object) -> str:
    """A ``call_<24 hex>`` id derived from a position, stable across turns of one conversation."""
    text = ":".join(str(k) for k in key)
    return "call_" + hashlib.sha256(f"gemini:{text}".encode()).hexdigest()[:24]


def is_own(origin: str | None) -> bool:
    """Whether a signature of ``origin`` was made by a Gemini upstream (unknown counts as own)."""
    return origin is None or origin == PROTOCOL


def signature_out(value: str, origin: str | None, *, for_client: bool) -> str | None:
    """A ``thoughtSignature`` to write: own as-is; foreign wrapped for clients, dropped for upstreams."""
    if is_own(origin):
        return value
    return wrap_b64(origin or PROTOCOL, value) if for_client else None


def redacted_out(value: str, origin: str | None) -> str:
    """Redacted thinking carried to a client as a wrapped ``thoughtSignature``."""
    return wrap_b64((origin or PROTOCOL) + REDACTED, value)


def signature_in(value: str) -> tuple[str, str, bool]:
    """``(origin, value, redacted)`` of a client's ``thoughtSignature``.

    The google-genai SDK sends bytes back as URL-safe base64, so a wrapped value
    is also looked for in that alphabet; native values are kept exactly as sent.
    """
    origin, inner = unwrap_b64(value, PROTOCOL)
    if origin == PROTOCOL and ("-" in value or "_" in value):
        other, other_inner = unwrap_b64(value.translate(_URLSAFE), PROTOCOL)
        if other != PROTOCOL:
            origin, inner = other, other_inner
    if origin.endswith(REDACTED):
        return origin[: -len(REDACTED)], inner, True
    return origin, inner, False


def standard_b64(data: str) -> str:
    """Base64 text in the standard alphabet (URL-safe ``-``/``_`` translated)."""
    return data.translate(_URLSAFE) if "-" in data or "_" in data else data


def media_type_of_url(url: str) -> str | None:
    """The media type a URL's file extension suggests."""
    return mimetypes.guess_type(url.split("?", 1)[0])[0]


def audio_format(mime_type: str) -> str:
    """``audio/mpeg`` → ``mp3``, ``audio/wav`` → ``wav``."""
    sub = mime_type.split("/", 1)[-1].split(";", 1)[0].lower()
    return _AUDIO_FORMATS.get(sub, sub)
