"""The error encoders of the client routes: one per protocol, and one that picks the protocol by headers.

A route's ``ErrorEncoder`` answers what the route table raises for it (a refused key, a 404 / 405, the
last-resort 500) in the route's own wire format; the chat routes encode their own errors the same way.
"""

from __future__ import annotations

from omnirouter.http.asgi import Scope, header
from omnirouter.http.routes import ErrorEncoder
from omnirouter.ir import GatewayError
from omnirouter.protocols.anthropic import ANTHROPIC
from omnirouter.protocols.base import Codec
from omnirouter.protocols.gemini import GEMINI
from omnirouter.protocols.openai_chat import OPENAI_CHAT
from omnirouter.protocols.openai_responses import OPENAI_RESPONSES

__all__ = [
    "ANTHROPIC_ERRORS",
    "CLIENT_ERRORS",
    "GEMINI_ERRORS",
    "OPENAI_ERRORS",
    "RESPONSES_ERRORS",
    "client_protocol",
    "codec_errors",
]


def client_protocol(scope: Scope) -> Codec:
    """The protocol a request on a shared path (``/v1/models``) speaks, judged by its headers.

    ``?key=`` alone does not mark a Gemini client here: ``/v1beta/...`` paths are Gemini's own.
    """
    if header(scope, b"anthropic-version") is not None:
        return ANTHROPIC
    if header(scope, b"x-goog-api-key") is not None:
        return GEMINI
    return OPENAI_CHAT


def codec_errors(name: str, codec: Codec) -> ErrorEncoder:
    """``codec``'s error shape, whatever the request's headers."""

    def encode(scope: Scope, error: GatewayError) -> tuple[int, bytes]:
        return codec.encode_error(error)

    return ErrorEncoder(name, encode)


def _encode_client_error(scope: Scope, error: GatewayError) -> tuple[int, bytes]:
    return client_protocol(scope).encode_error(error)


OPENAI_ERRORS = codec_errors("OpenAI", OPENAI_CHAT)
RESPONSES_ERRORS = codec_errors("OpenAIResponses", OPENAI_RESPONSES)
ANTHROPIC_ERRORS = codec_errors("Anthropic", ANTHROPIC)
GEMINI_ERRORS = codec_errors("Gemini", GEMINI)
CLIENT_ERRORS = ErrorEncoder("Client", _encode_client_error, (OPENAI_ERRORS, ANTHROPIC_ERRORS, GEMINI_ERRORS))
"""The shape of the protocol the request's headers name (:func:`client_protocol`): OpenAI's by default."""
