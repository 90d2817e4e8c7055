"""OpenAI ``POST /v1/audio/speech``, both ways: what clients send the gateway, and OpenAI (or an
OpenAI-compatible TTS server) as an upstream.

The client gets audio bytes labelled with the format made (``audio/mpeg``, ``audio/opus`` (Ogg),
``audio/aac``, ``audio/flac``, ``audio/wav``, ``audio/pcm``), or ``speech.audio.delta`` events then
``speech.audio.done`` with usage when it asked ``stream_format: "sse"``.

Upstream usage: ``tts-1``/``tts-1-hd`` are billed per input character (code points), which the gateway
counts exactly.  Other models (``gpt-4o-mini-tts``) are billed in tokens, which OpenAI reports only in
its SSE mode, so they are asked ``stream_format: "sse"`` whatever the client wants and the audio is
re-assembled from the events (for an ``audio`` client, still streamed chunk by chunk).  A channel whose
OpenAI-compatible server has no SSE mode sets option ``stream_format: audio``; its usage is then input
tokens estimated from the text (marked estimated; no audio tokens are known).  Option ``voices: any``
lets voices beyond OpenAI's names through (for compatible servers with voices of their own).
"""

from __future__ import annotations

import base64
import math
from collections.abc import Mapping
from typing import Any

import orjson

from omnirouter.http.json_body import parse_json_object
from omnirouter.ir import Budget, ErrorKind, GatewayError, Usage, token_count
from omnirouter.ir.media import SpeechRequest, SpeechResult
from omnirouter.protocols.limits import client_json
from omnirouter.protocols.media.audio import AUDIO_CONTENT_TYPES, AudioFormatError, transcode_pcm
from omnirouter.protocols.media.base import (
    Answer,
    Followup,
    Target,
    UpstreamCall,
    estimated_tokens,
    invalid,
    required_model,
)
from omnirouter.protocols.media.speech import MAX_FRAME_BYTES, AudioDecoder, RawAudio, b64_audio, characters
from omnirouter.protocols.media.voices import OPENAI_VOICES, check_voice_name
from omnirouter.protocols.openai_chat.errors import decode_error, encode_error
from omnirouter.protocols.sse import EventTooLarge, SSEParser

__all__ = ["OPENAI_SPEECH_IN", "OPENAI_SPEECH_UP", "OpenAISpeechInbound", "OpenAISpeechUpstream"]

MAX_INPUT = 4096
FORMATS = ("mp3", "opus", "aac", "flac", "wav", "pcm")
SSE_CHUNK = 32 * 1024  # audio bytes per speech.audio.delta event of a whole answer
AUDIO_TOKENS_PER_CHARACTER = 8
"""The most audio output tokens reserved per input character at speed 1 (Gemini makes 25 tokens a second
of audio, OpenAI about 20; slow speech is about 3 characters a second), divided by a slower ``speed``;
plus ``AUDIO_SLACK``."""
AUDIO_SLACK = 256
_VENDOR = "the upstream"


def _voice(value: Any) -> tuple[str, bool]:
    """``voice`` as (name or id, whether it is a custom voice object)."""
    if isinstance(value, str):
        check_voice_name(value)
        return value, False
    if isinstance(value, dict) and isinstance(value.get("id"), str) and value["id"]:
        check_voice_name(value["id"])
        return value["id"], True
    raise invalid("'voice' is required: a voice name or an object {\"id\": ...} of a custom voice.", "voice")


def _event(obj: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(obj) + b"\n\n"


def _done_usage(usage: Usage, text: str) -> dict[str, int]:
    """``speech.audio.done`` usage: the upstream's tokens, else the input estimated."""
    inp = usage.input_tokens or estimated_tokens([text])
    out = usage.output_tokens
    return {"input_tokens": inp, "output_tokens": out, "total_tokens": inp + out}


class _RawFrames:
    __slots__ = ("content_type",)

    def __init__(self, content_type: bytes) -> None:
        self.content_type = content_type

    def chunk(self, audio: bytes) -> bytes:
        return audio

    def end(self, usage: Usage) -> bytes:
        return b""


class _SSEFrames:
    __slots__ = ("_text", "content_type")

    def __init__(self, text: str) -> None:
        self.content_type = b"text/event-stream"
        self._text = text

    def chunk(self, audio: bytes) -> bytes:
        if not audio:
            return b""
        return _event({"type": "speech.audio.delta", "audio": base64.b64encode(audio).decode()})

    def end(self, usage: Usage) -> bytes:
        return _event({"type": "speech.audio.done", "usage": _done_usage(usage, self._text)})


class OpenAISpeechInbound:
    """A client of ``POST /v1/audio/speech``."""

    protocol = "openai"

    def decode(self, body: bytes, content_type: str, model: str | None) -> SpeechRequest:
        parsed = parse_json_object(body)
        name = required_model(parsed)
        text = parsed.get("input")
        if not isinstance(text, str) or not text:
            raise invalid("'input' is required and must be a non-empty string.", "input")
        if len(text) > MAX_INPUT:
            raise invalid(f"'input' is {len(text)} characters long; at most {MAX_INPUT} are allowed.", "input")
        voice, custom = _voice(parsed.get("voice"))
        instructions = parsed.get("instructions")
        if instructions is not None and (not isinstance(instructions, str) or len(instructions) > MAX_INPUT):
            raise invalid(f"'instructions' must be a string of at most {MAX_INPUT} characters.", "instructions")
        fmt = parsed.get("response_format", "mp3")
        if fmt not in FORMATS:
            raise invalid(f"'response_format' must be one of {', '.join(FORMATS)}.", "response_format")
        speed = parsed.get("speed")
        if speed is not None and (type(speed) not in (int, float) or not 0.25 <= speed <= 4.0):
            raise invalid("'speed' must be a number from 0.25 to 4.0.", "speed")
        stream_format = parsed.get("stream_format", "audio")
        if stream_format not in ("audio", "sse"):
            raise invalid("'stream_format' must be 'audio' or 'sse'.", "stream_format")
        return SpeechRequest(
            model=name,
            text=text,
            voice=voice,
            custom_voice=custom,
            format=fmt,
            speed=float(speed) if speed is not None else None,
            instructions=instructions or None,
            sse=stream_format == "sse",
        )

    def budget(self, request: SpeechRequest, body_size: int) -> Budget:
        """The input's size and characters, and the audio output tokens token-billed models (gpt-4o-mini-tts,
        Gemini TTS) can make of them (``AUDIO_TOKENS_PER_CHARACTER``)."""
        count = characters(request.text)
        speed = request.speed if request.speed is not None and 0 < request.speed < 1 else 1.0
        most_out = math.ceil(count * AUDIO_TOKENS_PER_CHARACTER / speed) + AUDIO_SLACK
        return Budget(input_bytes=body_size, max_output=most_out, characters=count)

    def audio_frames(self, request: SpeechRequest) -> _RawFrames | _SSEFrames:
        """How streamed audio goes to this client."""
        if request.sse:
            return _SSEFrames(request.text)
        return _RawFrames(AUDIO_CONTENT_TYPES[request.format].encode())

    def encode(self, result: SpeechResult, request: SpeechRequest, public_model: str) -> tuple[bytes, bytes]:
        audio = result.audio
        if result.pcm_rate is not None:
            try:
                audio = transcode_pcm(audio, result.pcm_rate, result.format)
            except AudioFormatError as exc:
                raise invalid(str(exc), "response_format") from None
        if not request.sse:
            return audio, AUDIO_CONTENT_TYPES[result.format].encode()
        frames = _SSEFrames(request.text)
        events = [frames.chunk(audio[i : i + SSE_CHUNK]) for i in range(0, len(audio), SSE_CHUNK)]
        return b"".join([*events, frames.end(result.usage)]), frames.content_type

    def encode_error(self, error: GatewayError) -> tuple[int, bytes]:
        return encode_error(error)


def _sse_upstream(target: Target) -> bool:
    """Whether to ask the upstream for SSE (its only answer with usage): not for tts-1 models."""
    return not target.upstream_model.startswith("tts-1") and target.options.get("stream_format") != "audio"


def _char_usage(request: SpeechRequest) -> Usage:
    return Usage(characters=characters(request.text))


def _estimated_usage(request: SpeechRequest) -> Usage:
    return Usage(input_tokens=estimated_tokens([request.text]), estimated=True)


class _SSEAudio:
    """OpenAI's ``speech.audio.delta`` … ``speech.audio.done`` events as audio bytes and usage."""

    __slots__ = ("_done", "_parser", "usage")

    def __init__(self) -> None:
        self._parser = SSEParser(MAX_FRAME_BYTES)
        self._done = False
        self.usage = Usage()

    def begin(self, headers: Mapping[str, str]) -> None:
        return None

    def feed(self, chunk: bytes) -> bytes:
        try:
            events = self._parser.feed(chunk)
        except EventTooLarge as exc:
            raise GatewayError(ErrorKind.UPSTREAM, f"the upstream sent a {exc}") from None
        return b"".join([self._event(event.data) for event in events])

    def _event(self, data: bytes) -> bytes:
        if data == b"[DONE]":
            return b""
        try:
            obj = orjson.loads(data)
        except orjson.JSONDecodeError:
            raise GatewayError(ErrorKind.UPSTREAM, "the upstream sent a malformed speech event") from None
        kind = obj.get("type") if isinstance(obj, dict) else None
        if kind == "speech.audio.delta":
            return b64_audio(obj.get("audio"), _VENDOR)
        if kind == "speech.audio.done":
            self._done = True
            usage = obj.get("usage") if isinstance(obj.get("usage"), dict) else {}
            out = token_count(usage.get("output_tokens", 0))
            self.usage = Usage(
                input_tokens=token_count(usage.get("input_tokens", 0)), output_tokens=out, audio_output_tokens=out
            )
            return b""
        if kind == "error" or (isinstance(obj, dict) and "error" in obj):
            error = obj.get("error") if isinstance(obj.get("error"), dict) else obj
            raise GatewayError(ErrorKind.UPSTREAM, str(error.get("message") or "the upstream failed mid-stream"))
        return b""

    def finish(self) -> bytes:
        self.feed(b"\n\n")
        if not self._done:
            raise GatewayError(ErrorKind.UPSTREAM, "the upstream ended the speech stream early")
        return b""


class OpenAISpeechUpstream:
    """OpenAI's ``/audio/speech`` (and every OpenAI-compatible TTS server's) as an upstream."""

    def _call(self, request: SpeechRequest, target: Target, sse: bool) -> UpstreamCall:
        voice: str | dict[str, str] = request.voice
        if request.custom_voice:
            voice = {"id": request.voice}
        elif request.voice.lower() in OPENAI_VOICES:
            voice = request.voice.lower()
        elif target.options.get("voices") != "any":
            raise invalid(
                f"The voice '{request.voice}' is not available for this model: use one of {', '.join(OPENAI_VOICES)}.",
                "voice",
            )
        body: dict[str, Any] = {"model": target.upstream_model, "input": request.text, "voice": voice,
                                "response_format": request.format}  # fmt: skip
        if request.speed is not None:
            body["speed"] = request.speed
        if request.instructions is not None:
            body["instructions"] = request.instructions
        if sse:
            body["stream_format"] = "sse"
        return UpstreamCall("/audio/speech", client_json(body), stream=True)

    def audio_stream(self, request: SpeechRequest, target: Target) -> tuple[UpstreamCall, AudioDecoder]:
        sse = _sse_upstream(target)
        if sse:
            return self._call(request, target, True), _SSEAudio()
        usage = _char_usage(request) if target.upstream_model.startswith("tts-1") else _estimated_usage(request)
        return self._call(request, target, False), RawAudio(usage, _VENDOR)

    def build(self, request: SpeechRequest, target: Target) -> UpstreamCall:
        return self._call(request, target, _sse_upstream(target))

    def parse(self, answer: Answer, request: SpeechRequest, target: Target, step: Followup | None) -> SpeechResult:
        decoder: AudioDecoder
        if _sse_upstream(target):
            decoder = _SSEAudio()
        elif target.upstream_model.startswith("tts-1"):
            decoder = RawAudio(_char_usage(request), _VENDOR)
        else:
            decoder = RawAudio(_estimated_usage(request), _VENDOR)
        audio = decoder.feed(answer.body) + decoder.finish()
        return SpeechResult(audio=audio, format=request.format, usage=decoder.usage)

    def decode_error(self, status: int, body: bytes) -> GatewayError:
        return decode_error(status, body)


OPENAI_SPEECH_IN = OpenAISpeechInbound()
OPENAI_SPEECH_UP = OpenAISpeechUpstream()
