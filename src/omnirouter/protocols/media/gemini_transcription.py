"""Gemini as a speech-to-text upstream: ``generateContent`` with the upload as ``inlineData`` and an
instruction to transcribe (or translate to English).

Gemini gives text without timings, so only the formats it can fill are served: ``json``, ``text`` and
``verbose_json`` without ``timestamp_granularities`` (duration measured from the upload); ``srt``, ``vtt``
and ``diarized_json`` are a 400 naming ``response_format``, ``stream=true`` a 400 naming ``stream``.
Usage is ``usageMetadata`` (audio tokens from ``promptTokensDetails``), else estimated.
"""

from __future__ import annotations

import base64
import math
from typing import Any

from omnirouter.ir import ErrorKind, GatewayError, Usage, token_count
from omnirouter.ir.media import TranscriptionRequest, TranscriptionResult
from omnirouter.protocols.gemini.errors import decode_error
from omnirouter.protocols.limits import client_json
from omnirouter.protocols.media.base import Answer, Followup, Target, UpstreamCall, estimated_tokens, json_object
from omnirouter.protocols.media.sniff import sniff_audio_format

__all__ = ["GEMINI_TRANSCRIPTION_UP", "GeminiTranscriptionUpstream"]

SERVED_FORMATS = ("json", "text", "verbose_json")
AUDIO_TOKENS_PER_SECOND = 32
"""Gemini's documented rate for audio input, used when it reports no usage."""
_MIME = {"wav": "audio/wav", "flac": "audio/flac", "ogg": "audio/ogg", "mp3": "audio/mp3", "aac": "audio/aac"}


def _instruction(request: TranscriptionRequest) -> str:
    if request.translate:
        text = "Translate the speech in this audio into English. Answer with the English text only."
    else:
        text = "Transcribe the speech in this audio verbatim. Answer with the transcript only."
        if request.language:
            text += f" The audio is in the language with ISO-639-1 code '{request.language}'."
    if request.prompt:
        text += f" Context from the previous audio or spelling hints: {request.prompt}"
    return text


def _mime(request: TranscriptionRequest) -> str:
    sniffed = sniff_audio_format(request.file.data)
    if sniffed in _MIME:
        return _MIME[sniffed]
    declared = request.file.content_type
    return declared if declared.startswith("audio/") else "audio/wav"


def _usage(metadata: Any, request: TranscriptionRequest, text: str) -> Usage:
    if isinstance(metadata, dict) and "promptTokenCount" in metadata:
        total_in = token_count(metadata.get("promptTokenCount"))
        audio = 0
        for detail in metadata.get("promptTokensDetails") or []:
            if isinstance(detail, dict) and detail.get("modality") == "AUDIO":
                audio += token_count(detail.get("tokenCount"))
        output = token_count(metadata.get("candidatesTokenCount")) + token_count(metadata.get("thoughtsTokenCount"))
        return Usage(
            input_tokens=total_in,
            output_tokens=output,
            reasoning_tokens=token_count(metadata.get("thoughtsTokenCount")),
            audio_input_tokens=min(audio, total_in),
        )
    seconds = request.seconds if request.seconds is not None else 0.0
    audio = math.ceil(seconds * AUDIO_TOKENS_PER_SECOND)
    prompt = estimated_tokens([_instruction(request)])
    return Usage(
        input_tokens=audio + prompt,
        audio_input_tokens=audio,
        output_tokens=estimated_tokens([text]),
        estimated=True,
    )


class GeminiTranscriptionUpstream:
    """Gemini ``generateContent`` answering transcriptions and translations."""

    vendor = "Gemini"

    def build(self, request: TranscriptionRequest, target: Target) -> UpstreamCall:
        if request.response_format not in SERVED_FORMATS:
            raise GatewayError(
                ErrorKind.INVALID_REQUEST,
                f"response_format '{request.response_format}' needs timings this model's upstream does not give; "
                f"use one of: {', '.join(SERVED_FORMATS)}.",
                param="response_format",
            )
        if any(name.startswith("timestamp_granularities") for name, _ in request.fields):
            raise GatewayError(
                ErrorKind.INVALID_REQUEST,
                "timestamp_granularities are not available for this model's upstream (it gives no timings).",
                param="timestamp_granularities[]",
            )
        if request.stream:
            raise GatewayError(
                ErrorKind.INVALID_REQUEST, "stream=true is not available for this model's upstream.", param="stream"
            )
        audio = {"mimeType": _mime(request), "data": base64.b64encode(request.file.data).decode("ascii")}
        body: dict[str, Any] = {
            "contents": [{"role": "user", "parts": [{"text": _instruction(request)}, {"inlineData": audio}]}]
        }
        if request.temperature is not None:
            body["generationConfig"] = {"temperature": request.temperature}
        return UpstreamCall(f"/v1beta/models/{target.upstream_model}:generateContent", client_json(body))

    def parse(
        self, answer: Answer, request: TranscriptionRequest, target: Target, step: Followup | None
    ) -> TranscriptionResult:
        parsed = json_object(answer.body, self.vendor)
        candidates = parsed.get("candidates")
        first = candidates[0] if isinstance(candidates, list) and candidates else None
        content = first.get("content") if isinstance(first, dict) else None
        parts = content.get("parts") if isinstance(content, dict) else None
        if not isinstance(parts, list):
            raise GatewayError(ErrorKind.UPSTREAM, "Gemini returned no transcript (blocked or empty answer)")
        text = "".join(
            part["text"]
            for part in parts
            if isinstance(part, dict) and isinstance(part.get("text"), str) and not part.get("thought")
        ).strip()
        usage = _usage(parsed.get("usageMetadata"), request, text)
        plain = text + "\n" if request.response_format == "text" else None
        language = "english" if request.translate else request.language
        return TranscriptionResult(text=text, usage=usage, language=language, duration=request.seconds, plain=plain)

    def decode_error(self, status: int, body: bytes) -> GatewayError:
        return decode_error(status, body)


GEMINI_TRANSCRIPTION_UP = GeminiTranscriptionUpstream()
