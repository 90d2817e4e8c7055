"""Speech to text: OpenAI ``/v1/audio/transcriptions`` and ``/v1/audio/translations`` (multipart uploads,
bounded by ``max_upload_bytes``; plain-text, JSON or SSE answers)."""

from __future__ import annotations

from omnirouter.api.errors import OPENAI_ERRORS
from omnirouter.api.media import media_handler, media_route
from omnirouter.gateway import Gateway
from omnirouter.http.routes import Route
from omnirouter.protocols.media.openai_transcription import OPENAI_TRANSCRIPTIONS_IN, OPENAI_TRANSLATIONS_IN
from omnirouter.providers import Capability

__all__ = ["transcription_routes"]


def transcription_routes(gateway: Gateway) -> list[Route]:
    """Transcriptions and translations, with and without ``/v1``."""
    transcribe = media_handler(gateway, Capability.TRANSCRIPTION, OPENAI_TRANSCRIPTIONS_IN, upload=True)
    translate = media_handler(gateway, Capability.TRANSCRIPTION, OPENAI_TRANSLATIONS_IN, upload=True)
    routes: list[Route] = []
    for prefix in ("/v1", ""):
        routes += [
            media_route(f"{prefix}/audio/transcriptions", transcribe, OPENAI_ERRORS,
                        "OpenAI audio transcriptions (multipart; JSON, plain-text or SSE answers)",
                        tag="audio"),
            media_route(f"{prefix}/audio/translations", translate, OPENAI_ERRORS,
                        "OpenAI audio translations to English (multipart)", tag="audio"),
        ]  # fmt: skip
    return routes
