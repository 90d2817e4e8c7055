"""MiniMax T2A v2 (``POST /v1/t2a_v2``) as a speech upstream.

Formats: ``mp3``, ``flac`` and ``pcm`` (asked at 24 kHz) are made by MiniMax and streamed (SSE, hex audio
per event; ``exclude_aggregated_audio`` so the last event does not repeat the whole audio, which is
ignored anyway when chunks came); ``wav`` is streamed as 24 kHz PCM behind a WAV stream header; ``opus``
is 24 kHz PCM read whole and transcoded; ``aac`` is a 400.  Errors come inside HTTP 200 bodies as
``base_resp.status_code`` ≠ 0 (checked first, plain or streamed: the attempt fails over, nothing is
charged).  Usage: ``extra_info.usage_characters`` → characters.  Channel option ``group_id`` is sent as
``?GroupId=`` (older accounts).  ``speed`` is clamped to MiniMax's 0.5–2; ``instructions`` are dropped.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import orjson

from omnirouter.ir import ErrorKind, GatewayError, Usage
from omnirouter.ir.media import SpeechRequest, SpeechResult
from omnirouter.protocols.limits import client_json
from omnirouter.protocols.media.audio import SPEECH_RATE, wav_stream_header
from omnirouter.protocols.media.base import Answer, Followup, Target, UpstreamCall, json_object
from omnirouter.protocols.media.speech import (
    MAX_FRAME_BYTES,
    AudioDecoder,
    characters,
    format_error,
    pcm_result,
    vendor_error,
)
from omnirouter.protocols.media.voices import vendor_voice
from omnirouter.protocols.sse import EventTooLarge, SSEParser

__all__ = ["MINIMAX_SPEECH_UP", "MiniMaxSpeechUpstream"]

_VENDOR = "MiniMax"
_NATIVE = ("mp3", "flac", "pcm")
_KINDS = {1002: ErrorKind.RATE_LIMIT, 1039: ErrorKind.RATE_LIMIT}  # rate limits; anything else: upstream


def _check(obj: dict[str, Any]) -> None:
    """Raise the error ``base_resp`` reports (status_code ≠ 0)."""
    base = obj.get("base_resp")
    if not isinstance(base, dict):
        return
    code = base.get("status_code", 0)
    if code not in (0, None):
        kind = _KINDS.get(code, ErrorKind.UPSTREAM) if isinstance(code, int) else ErrorKind.UPSTREAM
        raise GatewayError(kind, f"MiniMax error {code}: {base.get('status_msg') or 'failed'}", code=str(code))


def _hex(value: Any) -> bytes:
    if not isinstance(value, str):
        raise GatewayError(ErrorKind.UPSTREAM, "MiniMax returned audio that is not a string")
    if value.startswith("http"):
        raise GatewayError(ErrorKind.UPSTREAM, "MiniMax returned an audio URL where hex audio was asked")
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise GatewayError(ErrorKind.UPSTREAM, "MiniMax returned audio that is not hex") from None


def _usage(obj: dict[str, Any], request: SpeechRequest) -> Usage:
    extra = obj.get("extra_info")
    count = extra.get("usage_characters") if isinstance(extra, dict) else None
    if type(count) is int and count >= 0:
        return Usage(characters=count)
    return Usage(characters=characters(request.text), estimated=True)


def _wire_format(fmt: str) -> str:
    if fmt in _NATIVE:
        return fmt
    if fmt in ("wav", "opus"):
        return "pcm"
    raise format_error(fmt, _VENDOR, "mp3, flac, wav, pcm, opus")


class _MiniMaxStream:
    """MiniMax's SSE answer as audio; a JSON body instead of SSE is its error (HTTP 200)."""

    __slots__ = ("_emitted", "_final", "_json", "_parser", "_prefix", "_request", "_sniffed", "usage")

    def __init__(self, request: SpeechRequest, wav: bool) -> None:
        self._parser = SSEParser(MAX_FRAME_BYTES)
        self._request = request
        self._prefix = wav_stream_header() if wav else b""
        self._json: bytearray | None = None
        self._emitted = False
        self._final = False
        self._sniffed = False  # the first bytes were looked at: SSE, or a JSON (error) body
        self.usage = Usage(characters=characters(request.text), estimated=True)

    def begin(self, headers: Mapping[str, str]) -> None:
        if headers.get("content-type", "").startswith("application/json"):
            self._json = bytearray()

    def feed(self, chunk: bytes) -> bytes:
        if not self._sniffed and chunk.strip():
            self._sniffed = True
            if chunk.lstrip()[:1] == b"{":
                self._json = bytearray()
        if self._json is not None:
            self._json += chunk
            if len(self._json) > MAX_FRAME_BYTES:
                raise GatewayError(ErrorKind.UPSTREAM, "MiniMax sent a JSON answer too large for a stream")
            return b""
        try:
            events = self._parser.feed(chunk)
        except EventTooLarge as exc:
            raise GatewayError(ErrorKind.UPSTREAM, f"MiniMax sent a {exc}") from None
        return b"".join([self._event(event.data) for event in events])

    def _event(self, data: bytes) -> bytes:
        try:
            obj = orjson.loads(data)
        except orjson.JSONDecodeError:
            raise GatewayError(ErrorKind.UPSTREAM, "MiniMax sent a malformed stream event") from None
        if not isinstance(obj, dict):
            raise GatewayError(ErrorKind.UPSTREAM, "MiniMax sent an unexpected stream event")
        _check(obj)
        payload = obj.get("data")
        body: dict[str, Any] = payload if isinstance(payload, dict) else {}
        final = body.get("status") == 2
        if final:
            self._final = True
            self.usage = _usage(obj, self._request)
            if self._emitted:  # the aggregated audio repeats what was sent
                return b""
        audio = _hex(body.get("audio", ""))
        if not audio:
            return b""
        if not self._emitted:
            self._emitted = True
            return self._prefix + audio
        return audio

    def finish(self) -> bytes:
        if self._json is not None:
            _check(json_object(bytes(self._json), _VENDOR))
            raise GatewayError(ErrorKind.UPSTREAM, "MiniMax answered a stream with a JSON body")
        tail = b"".join([self._event(event.data) for event in self._parser.finish()])
        if not self._final or not (self._emitted or tail):
            raise GatewayError(ErrorKind.UPSTREAM, "MiniMax ended the speech stream without its final event")
        return tail


class MiniMaxSpeechUpstream:
    """``POST /v1/t2a_v2`` (hex audio)."""

    def _call(self, request: SpeechRequest, target: Target, stream: bool) -> UpstreamCall:
        wire = _wire_format(request.format)
        voice: dict[str, Any] = {"voice_id": vendor_voice(request.voice, "minimax")}
        if request.speed is not None:
            voice["speed"] = min(2.0, max(0.5, request.speed))
        audio: dict[str, Any] = {"format": wire}
        if wire == "pcm":
            audio["sample_rate"] = SPEECH_RATE
        body: dict[str, Any] = {"model": target.upstream_model, "text": request.text, "stream": stream,
                                "voice_setting": voice, "audio_setting": audio, "output_format": "hex"}  # fmt: skip
        if stream:
            body["stream_options"] = {"exclude_aggregated_audio": True}
        path = "/v1/t2a_v2"
        group = target.options.get("group_id")
        if group:
            path += f"?GroupId={quote(group, safe='')}"
        return UpstreamCall(path, client_json(body), stream=stream)

    def audio_stream(self, request: SpeechRequest, target: Target) -> tuple[UpstreamCall, AudioDecoder] | None:
        if request.format == "opus" or _wire_format(request.format) not in ("mp3", "flac", "pcm"):
            return None
        return self._call(request, target, True), _MiniMaxStream(request, request.format == "wav")

    def build(self, request: SpeechRequest, target: Target) -> UpstreamCall:
        return self._call(request, target, False)

    def parse(self, answer: Answer, request: SpeechRequest, target: Target, step: Followup | None) -> SpeechResult:
        parsed = json_object(answer.body, _VENDOR)
        _check(parsed)
        data = parsed.get("data")
        audio = _hex(data.get("audio") if isinstance(data, dict) else None)
        if not audio:
            raise GatewayError(ErrorKind.UPSTREAM, "MiniMax returned no audio")
        usage = _usage(parsed, request)
        if request.format in _NATIVE:
            return SpeechResult(audio=audio, format=request.format, usage=usage)
        return pcm_result(audio, SPEECH_RATE, request.format, usage, _VENDOR)

    def decode_error(self, status: int, body: bytes) -> GatewayError:
        return vendor_error(status, body, _VENDOR)


MINIMAX_SPEECH_UP = MiniMaxSpeechUpstream()
