"""Other providers' opaque reasoning data in Anthropic's ``signature`` / ``data`` fields.

Anthropic clients replay ``thinking`` blocks (``thinking`` + ``signature``) and
``redacted_thinking`` blocks (``data``) unchanged, so those fields carry what other
upstreams need back on the next turn, wrapped with :mod:`omnirouter.protocols.carry`
(``omr1.<origin>.<value>``).  Inside a wrapped value:

* ``call:<signature>`` is a tool-call signature (Gemini ``thoughtSignature`` on a
  function call).  Anthropic's ``tool_use`` has no field for it, so it travels in an
  empty thinking block placed right before the ``tool_use``; decoding moves it back
  onto that call.
* ``rid:<id>:<signature>`` is a reasoning signature with its provider item id
  (Responses ``rs_…``).
* anything else is the reasoning signature itself.

Signatures of Anthropic origin, and of unknown origin, are written as they are.
Reasoning without a signature (e.g. a DeepSeek upstream's ``reasoning_content``)
gets the empty signature ``""`` (the SDK accepts it; a thinking block must end
with a ``signature_delta``), which decodes back to "no signature, no origin".
"""

from __future__ import annotations

import msgspec

from omnirouter.protocols import carry
from omnirouter.protocols.anthropic._shared import PROTOCOL

_CALL = "call:"
_ID = "rid:"


class Carried(msgspec.Struct, frozen=True, kw_only=True):
    """What a ``thinking.signature`` read back from a client holds."""

    signature: str | None = None
    origin: str | None = None
    item_id: str | None = None
    call_signature: bool = False


def _foreign(origin: str | None) -> bool:
    return origin is not None and origin != PROTOCOL


def reasoning_signature(signature: str | None, origin: str | None, item_id: str | None = None) -> str:
    """The ``signature`` to give a client for a reasoning block."""
    if not _foreign(origin):
        return signature or ""
    assert origin is not None
    if item_id is not None:
        return carry.wrap(origin, f"{_ID}{item_id}:{signature or ''}")
    return carry.wrap(origin, signature) if signature else ""


def redacted_data(data: str, origin: str | None) -> str:
    """The ``redacted_thinking.data`` to give a client."""
    return carry.wrap(origin, data) if _foreign(origin) and origin is not None else data


def call_signature(signature: str, origin: str | None) -> str:
    """The ``signature`` of the empty thinking block that carries a tool call's signature."""
    return carry.wrap(origin or "", _CALL + signature)


def read_signature(carried: str) -> Carried:
    """A client's ``thinking.signature``: ``""`` means unsigned (no origin)."""
    origin, value = carry.unwrap(carried, PROTOCOL)
    if origin == PROTOCOL:
        return Carried(signature=value, origin=PROTOCOL) if value else Carried()
    known = origin or None
    if value.startswith(_CALL):
        return Carried(signature=value[len(_CALL) :], origin=known, call_signature=True)
    if value.startswith(_ID):
        item_id, _, rest = value[len(_ID) :].partition(":")
        return Carried(signature=rest or None, origin=known, item_id=item_id or None)
    return Carried(signature=value or None, origin=known)


def read_redacted(carried: str) -> tuple[str | None, str]:
    """``(origin, data)`` of a client's ``redacted_thinking.data``."""
    origin, value = carry.unwrap(carried, PROTOCOL)
    return origin or None, value
