"""Small helpers shared by the OpenAI Chat request, response and stream modules."""

from __future__ import annotations

from omnirouter.ir import ErrorKind, GatewayError
from omnirouter.protocols.common import bad_upstream, data_uri, guess_media_type, new_id, split_data_uri

__all__ = [
    "PROTOCOL",
    "bad_upstream",
    "data_uri",
    "guess_media_type",
    "invalid",
    "new_id",
    "split_data_uri",
]

PROTOCOL = "openai_chat"
"""The value of ``source_protocol`` for bodies this codec decoded."""


def invalid(message: str, param: str | None) -> GatewayError:
    """A client error about one request field."""
    return GatewayError(ErrorKind.INVALID_REQUEST, message, param=param)
