"""Speech to text: OpenAI ``/v1/audio/transcriptions`` and ``/v1/audio/translations`` (multipart uploads,
bounded by ``max_upload_bytes``; plain-text, JSON or SSE answers)."""

from __future__ import annotations

from omnirouter.api.errors import OPENAI_ERRORS
from omnirouter.api.media import media_handler, media_route
from omnirouter.gateway import Gateway
from omnirouter.http.routes import FormField, Route
from omnirouter.protocols.media.openai_transcription import OPENAI_TRANSCRIPTIONS_IN, OPENAI_TRANSLATIONS_IN
from omnirouter.providers import Capability

__all__ = ["transcription_routes"]

_MULTIPART = ("multipart/form-data",)
_ANSWERS = ("application/json", "text/plain")  # JSON formats; text, srt and vtt as plain text


def _form(translate: bool) -> tuple[FormField, ...]:
    formats = "json, text, srt, verbose_json, vtt" if translate else "json, verbose_json, diarized_json, text, srt, vtt"
    fields = [
        FormField("file", "the audio (relayed upstream with its bytes, filename and type)", "file", required=True),
        FormField("model", "the public model", required=True),
        FormField("response_format", f"one of {formats} (default json)"),
        FormField("prompt", "context or spelling hints"),
        FormField("temperature", "0 to 1"),
    ]
    if not translate:
        fields += [
            FormField("language", "ISO-639-1 code of the audio"),
            FormField("stream", "true: SSE events (transcript.text.delta … transcript.text.done)"),
            FormField("timestamp_granularities[]", "word and/or segment (verbose_json)"),
        ]
    return tuple(fields)


def transcription_routes(gateway: Gateway) -> list[Route]:
    """Transcriptions and translations, with and without ``/v1``."""
    transcribe = media_handler(gateway, Capability.TRANSCRIPTION, OPENAI_TRANSCRIPTIONS_IN, upload=True)
    translate = media_handler(gateway, Capability.TRANSCRIPTION, OPENAI_TRANSLATIONS_IN, upload=True)
    routes: list[Route] = []
    for prefix in ("/v1", ""):
        routes += [
            media_route(f"{prefix}/audio/transcriptions", transcribe, OPENAI_ERRORS,
                        "OpenAI audio transcriptions (multipart; JSON, plain-text or SSE answers)",
                        tag="audio", body=None, body_types=_MULTIPART, form=_form(False), answers=_ANSWERS,
                        streams=True),
            media_route(f"{prefix}/audio/translations", translate, OPENAI_ERRORS,
                        "OpenAI audio translations to English (multipart)", tag="audio", body=None,
                        body_types=_MULTIPART, form=_form(True), answers=_ANSWERS),
        ]  # fmt: skip
    return routes
