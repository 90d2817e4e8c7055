"""Alibaba DashScope Qwen-TTS (``qwen3-tts-flash``, ``qwen3-tts-instruct-flash``) as a speech upstream.

``POST /api/v1/services/aigc/multimodal-generation/generation`` with ``input: {text, voice}``
(``instructions`` go in ``input.instructions``; ``speed`` has no documented field and is dropped).  The
answer names a short-lived WAV at ``output.audio.url``, downloaded as a follow-up call without the key
(or carries base64 audio in ``output.audio.data``).  ``wav`` is relayed as made, ``pcm`` is its samples
(24 kHz), ``mp3``/``flac``/``opus`` are transcoded, ``aac`` is a 400.  An error ``code`` inside a 2xx body
fails the attempt.  Usage: ``usage.characters``.
"""

from __future__ import annotations

from typing import Any

from omnirouter.ir import ErrorKind, GatewayError, Usage
from omnirouter.ir.media import SpeechRequest, SpeechResult
from omnirouter.protocols.limits import client_json
from omnirouter.protocols.media.base import Answer, Followup, Target, UpstreamCall, json_object
from omnirouter.protocols.media.speech import (
    b64_audio,
    characters,
    format_error,
    pcm_of_wav,
    pcm_result,
    vendor_error,
)
from omnirouter.protocols.media.voices import vendor_voice

__all__ = ["DASHSCOPE_SPEECH_UP", "DashScopeSpeechUpstream"]

_VENDOR = "DashScope"
_PATH = "/api/v1/services/aigc/multimodal-generation/generation"


def _usage(parsed: dict[str, Any], request: SpeechRequest) -> Usage:
    usage = parsed.get("usage")
    count = usage.get("characters") if isinstance(usage, dict) else None
    if type(count) is int and count >= 0:
        return Usage(characters=count)
    return Usage(characters=characters(request.text), estimated=True)


def _from_wav(data: bytes, request: SpeechRequest, usage: Usage) -> SpeechResult:
    pcm, rate = pcm_of_wav(data, _VENDOR)
    if request.format == "wav":
        return SpeechResult(audio=data, format="wav", usage=usage)
    return pcm_result(pcm, rate, request.format, usage, _VENDOR)


class DashScopeSpeechUpstream:
    """DashScope multimodal generation for qwen-tts models (then the audio download)."""

    def build(self, request: SpeechRequest, target: Target) -> UpstreamCall:
        if request.format == "aac":
            raise format_error("aac", _VENDOR, "wav, pcm, mp3, flac, opus")
        inp: dict[str, Any] = {"text": request.text, "voice": vendor_voice(request.voice, "dashscope")}
        if request.instructions is not None:
            inp["instructions"] = request.instructions
        return UpstreamCall(_PATH, client_json({"model": target.upstream_model, "input": inp}))

    def parse(
        self, answer: Answer, request: SpeechRequest, target: Target, step: Followup | None
    ) -> SpeechResult | Followup:
        if step is not None:  # the downloaded WAV
            usage: Usage = step.carry
            return _from_wav(answer.body, request, usage)
        parsed = json_object(answer.body, _VENDOR)
        if parsed.get("code"):
            raise GatewayError(ErrorKind.UPSTREAM, f"DashScope error {parsed['code']}: {parsed.get('message') or ''}")
        output = parsed.get("output")
        audio = output.get("audio") if isinstance(output, dict) else None
        if not isinstance(audio, dict):
            raise GatewayError(ErrorKind.UPSTREAM, "DashScope returned no audio")
        usage = _usage(parsed, request)
        if audio.get("data"):
            data = b64_audio(audio["data"], _VENDOR)
            if data[:4] == b"RIFF":
                return _from_wav(data, request, usage)
            return pcm_result(data, 24000, request.format, usage, _VENDOR)
        url = audio.get("url")
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise GatewayError(ErrorKind.UPSTREAM, "DashScope returned no audio URL")
        return Followup(UpstreamCall(url, method="GET", auth=False), "download", carry=usage)

    def decode_error(self, status: int, body: bytes) -> GatewayError:
        return vendor_error(status, body, _VENDOR)


DASHSCOPE_SPEECH_UP = DashScopeSpeechUpstream()
