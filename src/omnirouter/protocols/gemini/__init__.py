"""The Gemini ``generateContent`` codec, both directions.

``GEMINI`` writes client streams as SSE (what ``alt=sse`` and the official SDKs
use); ``GEMINI_JSON_ARRAY`` writes them as one incrementally streamed JSON array
(``:streamGenerateContent`` without ``alt=sse``).  Each has a ``passthrough``
adapter with the same output form.  The model and streaming live in the URL:
decoded requests have ``model=""`` and ``stream=False``, encoded ones carry
neither.  The rules for lossy spots are in the modules that apply them:
:mod:`.content_decode`, :mod:`.content_encode` (signatures, media, tool
results), :mod:`.request_decode`, :mod:`.request_encode`, :mod:`.response`
(finish reasons, usage), :mod:`.stream_decode`, :mod:`.stream_encode`,
:mod:`.errors`; see also ``docs/protocols/gemini.md``.
"""

from __future__ import annotations

from typing import Any

from omnirouter.ir import ChatRequest, ChatResponse, GatewayError
from omnirouter.protocols.base import Codec, PassthroughAdapter, ProtocolName
from omnirouter.protocols.gemini.errors import decode_error, encode_error
from omnirouter.protocols.gemini.passthrough import (
    GEMINI_JSON_ARRAY_PASSTHROUGH,
    GEMINI_PASSTHROUGH,
    GeminiPassthrough,
    GeminiStreamFilter,
)
from omnirouter.protocols.gemini.request_decode import decode_request
from omnirouter.protocols.gemini.request_encode import encode_request
from omnirouter.protocols.gemini.response import decode_response, encode_response, usage_from_gemini, usage_to_gemini
from omnirouter.protocols.gemini.stream_decode import GeminiStreamDecoder
from omnirouter.protocols.gemini.stream_encode import GeminiStreamEncoder

__all__ = [
    "GEMINI",
    "GEMINI_JSON_ARRAY",
    "GEMINI_JSON_ARRAY_PASSTHROUGH",
    "GEMINI_PASSTHROUGH",
    "GeminiCodec",
    "GeminiPassthrough",
    "GeminiStreamDecoder",
    "GeminiStreamEncoder",
    "GeminiStreamFilter",
    "usage_from_gemini",
    "usage_to_gemini",
]


class GeminiCodec:
    """Gemini ↔ IR; ``json_array`` selects the non-SSE client stream form."""

    name: ProtocolName = ProtocolName.GEMINI
    # google-genai's stream reader skips blank lines but not SSE comments; whitespace also keeps a JSON array valid.
    keepalive: bytes = b"\n"

    def __init__(self, *, json_array: bool = False) -> None:
        self.json_array = json_array
        self.passthrough: PassthroughAdapter | None = (
            GEMINI_JSON_ARRAY_PASSTHROUGH if json_array else GEMINI_PASSTHROUGH
        )

    def decode_request(self, body: dict[str, Any]) -> ChatRequest:
        """A client's request body; raises ``GatewayError(INVALID_REQUEST)`` on bad input."""
        return decode_request(body)

    def encode_request(self, request: ChatRequest) -> dict[str, Any]:
        """The body for a Gemini upstream (model and stream go into the URL)."""
        return encode_request(request)

    def decode_response(self, body: dict[str, Any]) -> ChatResponse:
        """An upstream's answer; raises ``GatewayError(UPSTREAM)`` when malformed."""
        return decode_response(body)

    def encode_response(self, response: ChatResponse) -> dict[str, Any]:
        """A ``GenerateContentResponse`` body for a client."""
        return encode_response(response)

    def new_stream_decoder(self) -> GeminiStreamDecoder:
        """A decoder for one upstream SSE stream."""
        return GeminiStreamDecoder()

    def new_stream_encoder(self, request: ChatRequest) -> GeminiStreamEncoder:
        """An encoder for one client stream (``modelVersion`` is ``request.model``)."""
        return GeminiStreamEncoder(request, json_array=self.json_array)

    def encode_error(self, error: GatewayError) -> tuple[int, bytes]:
        """Status and ``{"error": {code, message, status}}`` body."""
        return encode_error(error)

    def decode_error(self, status: int, body: bytes) -> GatewayError:
        """An upstream error answer, keeping its status and message."""
        return decode_error(status, body)


GEMINI: Codec = GeminiCodec()
GEMINI_JSON_ARRAY: Codec = GeminiCodec(json_array=True)
