"""Carrying another provider's opaque reasoning data through a client protocol that has no field for it.

Signatures are only valid with the provider that made them, so the IR records
their ``origin`` (the protocol name of the upstream that produced them).  When a
codec must put a foreign signature into a field of its own protocol (an
Anthropic ``thinking.signature``, a Gemini ``thoughtSignature``, a Responses
``encrypted_content``), it wraps it with :func:`wrap` so that, when the client
sends the turn back, :func:`unwrap` restores both the origin and the original
value.  Values of the codec's own origin are never wrapped, so native clients
and same-protocol pass-through see exactly what the provider sent.

Text form: ``omr1.<origin>.<value>``.  Gemini's ``thoughtSignature`` is base64
bytes (the SDK decodes it), so there the text form is itself base64-encoded:
:func:`wrap_b64` / :func:`unwrap_b64`.
"""

from __future__ import annotations

import base64
import binascii

_PREFIX = "omr1."
_B64_MAGIC = b"omr1."


def wrap(origin: str, value: str) -> str:
    """``value`` from ``origin``, in a form another protocol can carry as an opaque string."""
    return f"{_PREFIX}{origin}.{value}"


def unwrap(carried: str, native_origin: str) -> tuple[str, str]:
    """``(origin, value)`` of a carried string; unwrapped values are of ``native_origin``."""
    if carried.startswith(_PREFIX):
        origin, sep, value = carried[len(_PREFIX) :].partition(".")
        if sep:
            return origin, value
    return native_origin, carried


def wrap_b64(origin: str, value: str) -> str:
    """Like :func:`wrap`, as base64 (for Gemini's bytes-typed ``thoughtSignature``)."""
    return base64.b64encode(wrap(origin, value).encode()).decode()


def unwrap_b64(carried: str, native_origin: str) -> tuple[str, str]:
    """``(origin, value)`` of a base64 value that may hold a wrapped foreign signature."""
    try:
        raw = base64.b64decode(carried, validate=True)
    except (binascii.Error, ValueError):
        return native_origin, carried
    if raw.startswith(_B64_MAGIC):
        return unwrap(raw.decode("utf-8", "replace"), native_origin)
    return native_origin, carried
