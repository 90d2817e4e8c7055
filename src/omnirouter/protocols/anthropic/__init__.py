"""The Anthropic Messages codec, both directions, and its pass-through adapter.

``ANTHROPIC`` decodes client requests and upstream answers into the IR and encodes
the IR into client answers and upstream requests; ``ANTHROPIC_PASSTHROUGH``
relays Anthropic to Anthropic.  The lossy spots and the rule chosen for each are
documented in the module that handles them: :mod:`.content`, :mod:`.signatures`,
:mod:`.side`, :mod:`.request_decode`, :mod:`.request_encode`, :mod:`.thinking`,
:mod:`.response`, :mod:`.usage`, :mod:`.errors`, :mod:`.stream_encode`; the
overview is ``docs/protocols/anthropic.md``.
"""

from __future__ import annotations

from typing import Any

from omnirouter.ir import ChatRequest, ChatResponse, GatewayError
from omnirouter.protocols.anthropic.errors import decode_error, encode_error, encode_stream_error
from omnirouter.protocols.anthropic.passthrough import ANTHROPIC_PASSTHROUGH, AnthropicPassthrough
from omnirouter.protocols.anthropic.request_decode import decode_request
from omnirouter.protocols.anthropic.request_encode import encode_request
from omnirouter.protocols.anthropic.response import decode_response, encode_response
from omnirouter.protocols.anthropic.stream_decode import AnthropicStreamDecoder
from omnirouter.protocols.anthropic.stream_encode import PING, AnthropicStreamEncoder, ping
from omnirouter.protocols.anthropic.usage import usage_from_anthropic, usage_to_anthropic
from omnirouter.protocols.base import Codec, PassthroughAdapter, ProtocolName

__all__ = [
    "ANTHROPIC",
    "ANTHROPIC_PASSTHROUGH",
    "PING",
    "AnthropicCodec",
    "AnthropicPassthrough",
    "AnthropicStreamDecoder",
    "AnthropicStreamEncoder",
    "encode_stream_error",
    "ping",
    "usage_from_anthropic",
    "usage_to_anthropic",
]


class AnthropicCodec:
    """Messages ↔ IR; stateless apart from the stream encoders and decoders it makes."""

    name: ProtocolName = ProtocolName.ANTHROPIC
    keepalive: bytes = b'event: ping\ndata: {"type": "ping"}\n\n'
    passthrough: PassthroughAdapter | None = ANTHROPIC_PASSTHROUGH

    def decode_request(self, body: dict[str, Any]) -> ChatRequest:
        """A client's request body; raises ``GatewayError(INVALID_REQUEST)`` on bad input."""
        return decode_request(body)

    def encode_request(self, request: ChatRequest) -> dict[str, Any]:
        """The body for an Anthropic upstream."""
        return encode_request(request)

    def decode_response(self, body: dict[str, Any]) -> ChatResponse:
        """An upstream's message; raises ``GatewayError(UPSTREAM)`` when malformed."""
        return decode_response(body)

    def encode_response(self, response: ChatResponse) -> dict[str, Any]:
        """A ``message`` body for a client."""
        return encode_response(response)

    def new_stream_decoder(self) -> AnthropicStreamDecoder:
        """A decoder for one upstream stream."""
        return AnthropicStreamDecoder()

    def new_stream_encoder(self, request: ChatRequest) -> AnthropicStreamEncoder:
        """An encoder for one client stream (uses ``request.model``)."""
        return AnthropicStreamEncoder(request)

    def encode_error(self, error: GatewayError) -> tuple[int, bytes]:
        """Status (529 when overloaded) and ``{"type": "error", ...}`` body."""
        return encode_error(error)

    def decode_error(self, status: int, body: bytes) -> GatewayError:
        """An upstream error answer, keeping its status and message."""
        return decode_error(status, body)


ANTHROPIC: Codec = AnthropicCodec()
