"""What every protocol codec provides.  The same codec serves both sides:
inbound (a client speaks it) and outbound (an upstream speaks it)."""

from __future__ import annotations

import enum
from typing import Any, Protocol

from omnirouter.ir import ChatRequest, ChatResponse, GatewayError, StreamEvent
from omnirouter.protocols.sse import SSEEvent


class ProtocolName(enum.StrEnum):
    """The wire protocols omnirouter speaks."""

    OPENAI_CHAT = "openai_chat"
    OPENAI_RESPONSES = "openai_responses"
    ANTHROPIC = "anthropic"
    GEMINI = "gemini"


class StreamDecoder(Protocol):
    """Turns an upstream's SSE events into neutral stream events (stateful, one per stream)."""

    def feed(self, event: SSEEvent) -> list[StreamEvent]: ...

    def finish(self) -> list[StreamEvent]: ...


class StreamEncoder(Protocol):
    """Turns neutral stream events into the client's SSE bytes (stateful, one per stream)."""

    def encode(self, event: StreamEvent) -> bytes: ...

    def finish(self) -> bytes: ...

    def error(self, error: GatewayError) -> bytes: ...


class Codec(Protocol):
    """One protocol's request, response, stream and error translation, both directions."""

    name: ProtocolName

    def decode_request(self, body: dict[str, Any]) -> ChatRequest: ...

    def encode_request(self, request: ChatRequest) -> dict[str, Any]: ...

    def decode_response(self, body: dict[str, Any]) -> ChatResponse: ...

    def encode_response(self, response: ChatResponse) -> dict[str, Any]: ...

    def new_stream_decoder(self) -> StreamDecoder: ...

    def new_stream_encoder(self, request: ChatRequest) -> StreamEncoder: ...

    def encode_error(self, error: GatewayError) -> tuple[int, bytes]: ...

    def decode_error(self, status: int, body: bytes) -> GatewayError: ...
