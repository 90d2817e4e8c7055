"""The OpenAI Chat Completions codec, both directions.

``OPENAI_CHAT`` decodes client requests and upstream answers into the IR and
encodes the IR into client answers and upstream requests.  The lossy spots and
the rule chosen for each are documented in the module that handles them:
:mod:`.content` (signatures, reasoning), :mod:`.request_encode`,
:mod:`.response` (refusal, finish reasons), :mod:`.usage`, :mod:`.errors`.
"""

from __future__ import annotations

from typing import Any

from omnirouter.ir import ChatRequest, ChatResponse, GatewayError
from omnirouter.protocols.base import Codec, PassthroughAdapter, ProtocolName
from omnirouter.protocols.openai_chat.errors import decode_error, encode_error, encode_stream_error
from omnirouter.protocols.openai_chat.passthrough import OPENAI_CHAT_PASSTHROUGH
from omnirouter.protocols.openai_chat.request_decode import decode_request
from omnirouter.protocols.openai_chat.request_encode import encode_request
from omnirouter.protocols.openai_chat.response import decode_response, encode_response
from omnirouter.protocols.openai_chat.stream_decode import OpenAIChatStreamDecoder
from omnirouter.protocols.openai_chat.stream_encode import OpenAIChatStreamEncoder
from omnirouter.protocols.openai_chat.usage import usage_from_openai, usage_to_openai

__all__ = [
    "OPENAI_CHAT",
    "OpenAIChatCodec",
    "OpenAIChatStreamDecoder",
    "OpenAIChatStreamEncoder",
    "encode_stream_error",
    "usage_from_openai",
    "usage_to_openai",
]


class OpenAIChatCodec:
    """Chat Completions ↔ IR; stateless apart from the stream encoders and decoders it makes."""

    name: ProtocolName = ProtocolName.OPENAI_CHAT
    keepalive: bytes = b": keep-alive\n\n"
    passthrough: PassthroughAdapter | None = OPENAI_CHAT_PASSTHROUGH

    def decode_request(self, body: dict[str, Any]) -> ChatRequest:
        """A client's request body; raises ``GatewayError(INVALID_REQUEST)`` on bad input."""
        return decode_request(body)

    def encode_request(self, request: ChatRequest) -> dict[str, Any]:
        """The body for an OpenAI-compatible upstream."""
        return encode_request(request)

    def decode_response(self, body: dict[str, Any]) -> ChatResponse:
        """An upstream's answer; raises ``GatewayError(UPSTREAM)`` when malformed."""
        return decode_response(body)

    def encode_response(self, response: ChatResponse) -> dict[str, Any]:
        """A ``chat.completion`` body for a client."""
        return encode_response(response)

    def new_stream_decoder(self) -> OpenAIChatStreamDecoder:
        """A decoder for one upstream stream."""
        return OpenAIChatStreamDecoder()

    def new_stream_encoder(self, request: ChatRequest) -> OpenAIChatStreamEncoder:
        """An encoder for one client stream (uses ``request.model`` and ``include_usage``)."""
        return OpenAIChatStreamEncoder(request)

    def encode_error(self, error: GatewayError) -> tuple[int, bytes]:
        """Status and ``{"error": {...}}`` body."""
        return encode_error(error)

    def decode_error(self, status: int, body: bytes) -> GatewayError:
        """An upstream error answer, keeping its status and message."""
        return decode_error(status, body)


OPENAI_CHAT: Codec = OpenAIChatCodec()
