"""What every protocol codec provides.  The same codec serves both sides:
inbound (a client speaks it) and outbound (an upstream speaks it)."""

from __future__ import annotations

import enum
from typing import Any, NamedTuple, Protocol

from omnirouter.ir import ChatRequest, ChatResponse, GatewayError, StreamEvent, Usage
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
    """Turns neutral stream events into the client's SSE bytes (stateful, one per stream).

    ``answer``: the whole answer object the stream ended with, where the protocol sends one (the
    Responses API's ``response.completed``); ``None`` until then, and always for the others.
    """

    answer: dict[str, Any] | None

    def start(self) -> bytes:
        """The client's opening frame(s), once (``b""`` after that, or where the protocol has none).

        Sent as soon as the upstream's stream has started and checks out, before any content: a client
        sees its stream begin one upstream event earlier than the first content delta.
        """
        ...

    def encode(self, event: StreamEvent) -> bytes: ...

    def finish(self) -> bytes: ...

    def error(self, error: GatewayError) -> bytes: ...


class Codec(Protocol):
    """One protocol's request, response, stream and error translation, both directions."""

    name: ProtocolName
    passthrough: PassthroughAdapter | None
    keepalive: bytes
    """What a client of this protocol is sent while its stream is quiet (a comment, a ping event, ...)."""

    def decode_request(self, body: dict[str, Any]) -> ChatRequest: ...

    def encode_request(self, request: ChatRequest) -> dict[str, Any]: ...

    def decode_response(self, body: dict[str, Any]) -> ChatResponse: ...

    def encode_response(self, response: ChatResponse) -> dict[str, Any]: ...

    def new_stream_decoder(self) -> StreamDecoder: ...

    def new_stream_encoder(self, request: ChatRequest) -> StreamEncoder: ...

    def encode_error(self, error: GatewayError) -> tuple[int, bytes]: ...

    def decode_error(self, status: int, body: bytes) -> GatewayError: ...


class PreparedBody(NamedTuple):
    """An upstream request body ready to send, and whether the client itself asked for stream usage."""

    data: bytes
    client_wants_usage: bool


class StreamFilter(Protocol):
    """Relays one stream event by event into client bytes.

    ``process`` returns the bytes to forward (possibly empty) and records the
    usage it sees; ``failure`` is set when the upstream reported an error
    in-stream; ``completed`` once the stream ended properly; ``answer`` as the stream's last event
    carries it, before that event is sent.  ``finish`` gives
    the closing bytes, ``error`` the bytes that end the stream with an error.
    """

    usage: Usage | None
    failure: str | None
    completed: bool

    @property
    def answer(self) -> dict[str, Any] | None:
        """The whole answer object the stream ended with, as the client gets it (see ``StreamEncoder``)."""
        ...

    def process(self, event: SSEEvent) -> bytes: ...

    def finish(self) -> bytes: ...

    def error(self, error: GatewayError) -> bytes: ...


class PassthroughAdapter(Protocol):
    """Same protocol on both sides: forward bodies with only the model (and auth) changed.

    ``check`` is the cheap structural validation the gateway does itself, so that a
    malformed request is answered 400 once instead of being sent to every channel.
    ``prepare`` may reuse ``raw``, the client's JSON text of ``body`` (``None`` when the gateway
    changed the body), editing bytes instead of re-serialising; ``rewrite_response`` the same.
    """

    def check(self, body: dict[str, Any]) -> None: ...

    def prepare(
        self, body: dict[str, Any], upstream_model: str, stream: bool, raw: bytes | None = None
    ) -> PreparedBody: ...

    def rewrite_response(self, body: bytes, public_model: str) -> tuple[bytes, Usage | None]: ...

    def new_stream_filter(self, public_model: str, client_wants_usage: bool) -> StreamFilter: ...
