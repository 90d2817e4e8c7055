"""ElevenLabs text to speech (``POST /v1/text-to-speech/{voice_id}?output_format=…``) as a speech upstream.

The answer is the audio itself, relayed as it arrives: ``mp3`` (``mp3_44100_128``), ``pcm``
(``pcm_24000``), ``wav`` (``pcm_24000`` behind a WAV stream header), ``opus`` (``opus_48000_64``, Ogg);
``flac`` is ``pcm_24000`` read whole and transcoded; ``aac`` is a 400.  The voice is an ElevenLabs voice
id (OpenAI names mapped).  ``speed`` goes in ``voice_settings.speed`` (clamped to ElevenLabs' 0.7–1.2);
``instructions`` are dropped.  Usage: the ``character-cost`` header → characters (else estimated).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from omnirouter.ir import GatewayError, Usage
from omnirouter.ir.media import SpeechRequest, SpeechResult
from omnirouter.protocols.limits import client_json
from omnirouter.protocols.media.audio import SPEECH_RATE
from omnirouter.protocols.media.base import Answer, Followup, Target, UpstreamCall
from omnirouter.protocols.media.speech import AudioDecoder, RawAudio, characters, format_error, pcm_result, vendor_error
from omnirouter.protocols.media.voices import vendor_voice

__all__ = ["ELEVENLABS_SPEECH_UP", "ElevenLabsSpeechUpstream"]

_VENDOR = "ElevenLabs"
_OUTPUT = {"mp3": "mp3_44100_128", "pcm": "pcm_24000", "wav": "pcm_24000", "flac": "pcm_24000",
           "opus": "opus_48000_64"}  # fmt: skip


def _usage(headers: Mapping[str, str], request: SpeechRequest) -> Usage:
    cost = headers.get("character-cost", "")
    if cost.isdigit():
        return Usage(characters=int(cost))
    return Usage(characters=characters(request.text), estimated=True)


class _Stream(RawAudio):
    """The raw audio, with the usage the answer's headers carry."""

    __slots__ = ("_request",)

    def __init__(self, request: SpeechRequest) -> None:
        super().__init__(Usage(), _VENDOR, wav_header=request.format == "wav")
        self._request = request

    def begin(self, headers: Mapping[str, str]) -> None:
        self.usage = _usage(headers, self._request)


class ElevenLabsSpeechUpstream:
    """``/v1/text-to-speech/{voice_id}``."""

    def build(self, request: SpeechRequest, target: Target) -> UpstreamCall:
        output = _OUTPUT.get(request.format)
        if output is None:
            raise format_error(request.format, _VENDOR, ", ".join(_OUTPUT))
        voice = vendor_voice(request.voice, "elevenlabs")
        body: dict[str, Any] = {"text": request.text, "model_id": target.upstream_model}
        if request.speed is not None:
            body["voice_settings"] = {"speed": min(1.2, max(0.7, request.speed))}
        path = f"/v1/text-to-speech/{quote(voice, safe='')}?output_format={output}"
        return UpstreamCall(path, client_json(body), stream=request.format != "flac")

    def audio_stream(self, request: SpeechRequest, target: Target) -> tuple[UpstreamCall, AudioDecoder] | None:
        call = self.build(request, target)
        return (call, _Stream(request)) if call.stream else None

    def parse(self, answer: Answer, request: SpeechRequest, target: Target, step: Followup | None) -> SpeechResult:
        usage = _usage(answer.headers, request)
        if request.format in ("flac", "wav"):
            return pcm_result(answer.body, SPEECH_RATE, request.format, usage, _VENDOR)
        return SpeechResult(audio=answer.body, format=request.format, usage=usage)

    def decode_error(self, status: int, body: bytes) -> GatewayError:
        return vendor_error(status, body, _VENDOR)


ELEVENLABS_SPEECH_UP = ElevenLabsSpeechUpstream()
