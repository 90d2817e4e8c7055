"""The OpenAI Chat codec for one vendor's dialect (upstream side): OpenAI's codec plus a
:class:`ChatDialect` applied on the way out (thinking switch, renames, drops) and on the way back
(reasoning fields, ``<think>`` tags, usage extras).  One is made per channel, so the dialect is looked
up once, never per request or chunk; it has no pass-through, because a vendor's answer must be
normalized for an OpenAI client too (MiniMax's ``<think>`` becomes ``reasoning_content``).
"""

from __future__ import annotations

from typing import Any

from omnirouter.ir import ChatRequest, ChatResponse, GatewayError
from omnirouter.protocols.base import PassthroughAdapter, ProtocolName
from omnirouter.protocols.openai_chat.body_errors import base_resp_error
from omnirouter.protocols.openai_chat.dialect import ChatDialect, adjust_request, normalize_message
from omnirouter.protocols.openai_chat.errors import decode_error, encode_error
from omnirouter.protocols.openai_chat.request_decode import decode_request
from omnirouter.protocols.openai_chat.request_encode import encode_request
from omnirouter.protocols.openai_chat.response import decode_response, encode_response
from omnirouter.protocols.openai_chat.stream_decode import OpenAIChatStreamDecoder
from omnirouter.protocols.openai_chat.stream_encode import OpenAIChatStreamEncoder

__all__ = ["VendorChatCodec"]


class VendorChatCodec:
    """Chat Completions ↔ IR for an OpenAI-compatible vendor with its own :class:`ChatDialect`."""

    name: ProtocolName = ProtocolName.OPENAI_CHAT
    keepalive: bytes = b": keep-alive\n\n"
    passthrough: PassthroughAdapter | None = None

    def __init__(self, dialect: ChatDialect) -> None:
        self.dialect = dialect

    def decode_request(self, body: dict[str, Any]) -> ChatRequest:
        return decode_request(body)

    def encode_request(self, request: ChatRequest) -> dict[str, Any]:
        """OpenAI's body in the vendor's dialect."""
        return adjust_request(self.dialect, request, encode_request(request))

    def decode_response(self, body: dict[str, Any]) -> ChatResponse:
        """The vendor's answer, its reasoning moved where OpenAI's decoder reads it (an error it reports
        inside the answer is raised)."""
        error = base_resp_error(body) if self.dialect.base_resp and isinstance(body, dict) else None
        if error is not None:
            raise error
        choices = body.get("choices") if isinstance(body, dict) else None
        for choice in choices if isinstance(choices, list) else ():
            message = choice.get("message") if isinstance(choice, dict) else None
            if isinstance(message, dict):
                normalize_message(self.dialect, message)
        return decode_response(body)

    def encode_response(self, response: ChatResponse) -> dict[str, Any]:
        return encode_response(response)

    def new_stream_decoder(self) -> OpenAIChatStreamDecoder:
        """A decoder that knows the dialect's reasoning fields, think tags and usage extras."""
        return OpenAIChatStreamDecoder(self.dialect)

    def new_stream_encoder(self, request: ChatRequest) -> OpenAIChatStreamEncoder:
        return OpenAIChatStreamEncoder(request)

    def encode_error(self, error: GatewayError) -> tuple[int, bytes]:
        return encode_error(error)

    def decode_error(self, status: int, body: bytes) -> GatewayError:
        return decode_error(status, body)
