"""The speech routes: OpenAI ``POST /v1/audio/speech`` (audio bytes streamed as they come, or SSE)."""

from __future__ import annotations

from omnirouter.api.errors import OPENAI_ERRORS
from omnirouter.api.media import media_handler, media_route
from omnirouter.gateway import Gateway
from omnirouter.http.routes import Route
from omnirouter.protocols.media.audio import AUDIO_CONTENT_TYPES
from omnirouter.protocols.media.openai_speech import OPENAI_SPEECH_IN
from omnirouter.providers import Capability

__all__ = ["speech_routes"]


def speech_routes(gateway: Gateway) -> list[Route]:
    """``/v1/audio/speech`` and ``/audio/speech``."""
    handler = media_handler(gateway, Capability.SPEECH, OPENAI_SPEECH_IN)
    answers = tuple(AUDIO_CONTENT_TYPES.values())  # the audio itself; SSE events for stream_format "sse"
    return [
        media_route("/v1/audio/speech", handler, OPENAI_ERRORS, "OpenAI text to speech", tag="audio",
                    answers=answers, streams=True),
        media_route("/audio/speech", handler, OPENAI_ERRORS, "OpenAI text to speech (without /v1)", tag="audio",
                    answers=answers, streams=True),
    ]  # fmt: skip
