"""The OpenAI Responses codec, both directions.

``OPENAI_RESPONSES`` decodes client requests and upstream answers into the IR
and encodes the IR into client answers and upstream requests;
``OPENAI_RESPONSES_PASSTHROUGH`` (also ``OPENAI_RESPONSES.passthrough``) relays
Responses to Responses.  Decisions on lossy spots are documented in the modules
that make them — :mod:`.items` (reasoning and signature carrying),
:mod:`.options` (tools, namespaces), :mod:`.request_decode`,
:mod:`.request_encode`, :mod:`.output`, :mod:`.response`, :mod:`.stream_encode`,
:mod:`.stream_decode`, :mod:`.errors` — and in ``docs/protocols/openai_responses.md``.

The id a client sees: ``encode_response(...)["id"]`` and
``new_stream_encoder(...).response_id``.
"""

from __future__ import annotations

from typing import Any

from omnirouter.ir import ChatRequest, ChatResponse, GatewayError
from omnirouter.protocols.base import Codec, PassthroughAdapter, ProtocolName
from omnirouter.protocols.openai_responses.errors import decode_error, encode_error
from omnirouter.protocols.openai_responses.passthrough import (
    OPENAI_RESPONSES_PASSTHROUGH,
    OpenAIResponsesPassthrough,
    OpenAIResponsesStreamFilter,
)
from omnirouter.protocols.openai_responses.request_decode import decode_request
from omnirouter.protocols.openai_responses.request_encode import encode_request
from omnirouter.protocols.openai_responses.response import decode_response, encode_response
from omnirouter.protocols.openai_responses.stream_decode import OpenAIResponsesStreamDecoder
from omnirouter.protocols.openai_responses.stream_encode import OpenAIResponsesStreamEncoder
from omnirouter.protocols.openai_responses.usage import usage_from_responses, usage_to_responses

__all__ = [
    "OPENAI_RESPONSES",
    "OPENAI_RESPONSES_PASSTHROUGH",
    "OpenAIResponsesCodec",
    "OpenAIResponsesPassthrough",
    "OpenAIResponsesStreamDecoder",
    "OpenAIResponsesStreamEncoder",
    "OpenAIResponsesStreamFilter",
    "usage_from_responses",
    "usage_to_responses",
]


class OpenAIResponsesCodec:
    """Responses ↔ IR; stateless apart from the stream encoders and decoders it makes."""

    name: ProtocolName = ProtocolName.OPENAI_RESPONSES
    keepalive: bytes = b": keep-alive\n\n"
    passthrough: PassthroughAdapter | None = OPENAI_RESPONSES_PASSTHROUGH

    def decode_request(self, body: dict[str, Any]) -> ChatRequest:
        """A client's request body; raises ``GatewayError(INVALID_REQUEST)`` on bad input."""
        return decode_request(body)

    def encode_request(self, request: ChatRequest) -> dict[str, Any]:
        """The body for a Responses upstream."""
        return encode_request(request)

    def decode_response(self, body: dict[str, Any]) -> ChatResponse:
        """An upstream's answer; raises ``GatewayError(UPSTREAM)`` when malformed or failed."""
        return decode_response(body)

    def encode_response(self, response: ChatResponse, request: ChatRequest | None = None) -> dict[str, Any]:
        """A Response object for a client; with the client's ``request``, namespace tool calls are split back."""
        return encode_response(response, request)

    def new_stream_decoder(self) -> OpenAIResponsesStreamDecoder:
        """A decoder for one upstream stream."""
        return OpenAIResponsesStreamDecoder()

    def new_stream_encoder(self, request: ChatRequest) -> OpenAIResponsesStreamEncoder:
        """An encoder for one client stream (its ``response_id`` is the id the client sees)."""
        return OpenAIResponsesStreamEncoder(request)

    def encode_error(self, error: GatewayError) -> tuple[int, bytes]:
        """Status and ``{"error": {...}}`` body (the OpenAI shape)."""
        return encode_error(error)

    def decode_error(self, status: int, body: bytes) -> GatewayError:
        """An upstream error answer, keeping its status and message."""
        return decode_error(status, body)


OPENAI_RESPONSES: Codec = OpenAIResponsesCodec()
