"""Gemini TTS (``generateContent`` with ``responseModalities: ["AUDIO"]``) as a speech upstream.

Gemini answers raw 24 kHz 16-bit mono PCM (``inlineData``, ``audio/L16;codec=pcm;rate=24000``): a ``pcm``
client gets it as is, ``wav`` framed, ``mp3``/``flac``/``opus`` transcoded (so OpenAI's default ``mp3``
works too); ``aac`` has no encoder here and is a 400 naming ``response_format``.  The voice is one of
Gemini's prebuilt voices (OpenAI names mapped, ``protocols/media/voices.py``); ``instructions`` go before
the text (Gemini takes style in natural language); ``speed`` has no Gemini equivalent and is dropped.
Usage: ``usageMetadata`` (prompt tokens; AUDIO candidate tokens → ``audio_output_tokens``).
"""

from __future__ import annotations

import re
from typing import Any

from omnirouter.ir import ErrorKind, GatewayError, Usage, token_count
from omnirouter.ir.media import SpeechRequest, SpeechResult
from omnirouter.protocols.gemini.errors import decode_error
from omnirouter.protocols.limits import client_json
from omnirouter.protocols.media.audio import SPEECH_RATE
from omnirouter.protocols.media.base import Answer, Followup, Target, UpstreamCall, estimated_tokens, json_object
from omnirouter.protocols.media.speech import b64_audio, format_error, pcm_result
from omnirouter.protocols.media.voices import vendor_voice

__all__ = ["GEMINI_SPEECH_UP", "GeminiSpeechUpstream"]

_VENDOR = "Gemini"
_RATE = re.compile(r"rate=(\d+)")


def _usage(parsed: dict[str, Any], request: SpeechRequest) -> Usage:
    meta = parsed.get("usageMetadata")
    if not isinstance(meta, dict):
        return Usage(input_tokens=estimated_tokens([request.text]), estimated=True)
    out = token_count(meta.get("candidatesTokenCount", 0))
    audio = 0
    details = meta.get("candidatesTokensDetails")
    for item in details if isinstance(details, list) else []:
        if isinstance(item, dict) and item.get("modality") == "AUDIO":
            audio += token_count(item.get("tokenCount", 0))
    return Usage(input_tokens=token_count(meta.get("promptTokenCount", 0)), output_tokens=out,
                 audio_output_tokens=min(audio, out) if out else audio)  # fmt: skip


class GeminiSpeechUpstream:
    """``POST /v1beta/models/{model}:generateContent`` for a TTS model."""

    def build(self, request: SpeechRequest, target: Target) -> UpstreamCall:
        if request.format == "aac":
            raise format_error("aac", _VENDOR, "mp3, opus, flac, wav, pcm")
        voice = vendor_voice(request.voice, "gemini")
        text = f"{request.instructions}: {request.text}" if request.instructions else request.text
        body = {
            "contents": [{"role": "user", "parts": [{"text": text}]}],
            "generationConfig": {
                "responseModalities": ["AUDIO"],
                "speechConfig": {"voiceConfig": {"prebuiltVoiceConfig": {"voiceName": voice}}},
            },
        }
        model = target.upstream_model
        if not model.startswith(("models/", "tunedModels/")):
            model = f"models/{model}"
        return UpstreamCall(f"/v1beta/{model}:generateContent", client_json(body))

    def parse(self, answer: Answer, request: SpeechRequest, target: Target, step: Followup | None) -> SpeechResult:
        parsed = json_object(answer.body, _VENDOR)
        feedback = parsed.get("promptFeedback")
        if isinstance(feedback, dict) and feedback.get("blockReason"):
            raise GatewayError(ErrorKind.UPSTREAM, f"Gemini blocked the text: {feedback['blockReason']}")
        pcm: list[bytes] = []
        rate = SPEECH_RATE
        candidates = parsed.get("candidates")
        first = candidates[0] if isinstance(candidates, list) and candidates else {}
        content = first.get("content") if isinstance(first, dict) else None
        parts = content.get("parts") if isinstance(content, dict) else None
        for part in parts if isinstance(parts, list) else []:
            inline = part.get("inlineData") if isinstance(part, dict) else None
            if isinstance(inline, dict) and str(inline.get("mimeType", "")).startswith("audio/"):
                found = _RATE.search(str(inline["mimeType"]))
                rate = int(found.group(1)) if found else SPEECH_RATE
                pcm.append(b64_audio(inline.get("data"), _VENDOR))
        if not pcm or not any(pcm):
            raise GatewayError(ErrorKind.UPSTREAM, "Gemini returned no audio")
        return pcm_result(b"".join(pcm), rate, request.format, _usage(parsed, request), _VENDOR)

    def decode_error(self, status: int, body: bytes) -> GatewayError:
        return decode_error(status, body)


GEMINI_SPEECH_UP = GeminiSpeechUpstream()
