"""ByteDance Volcengine speech (Doubao Seed-TTS) as a speech upstream: the v1 HTTP API and the v3
unidirectional (chunked NDJSON) API.

Channel options: ``app_id`` (required), ``cluster`` (v1, default ``volcano_tts``), ``resource_id`` (v3,
e.g. ``seed-tts-1.0``); v3 is used when ``api: v3`` or ``resource_id`` is set.  The channel's key is the
access token: v1 sends ``Authorization: Bearer;<token>`` and repeats it in ``app.token``; v3 sends
``X-Api-App-Id`` / ``X-Api-Access-Key`` / ``X-Api-Resource-Id`` (and not the channel's Bearer header).

v1 answers the whole audio (base64 ``data``; ``code`` 3000 = success, anything else is an error inside
the 200 body); v3 streams ``{code: 0, data: <base64>}`` lines and ends with ``code`` 20000000 (any other
code is an error).  Formats: ``mp3``, ``pcm`` (24 kHz), ``opus`` (``ogg_opus``), ``wav`` (v1 natively;
v3 streams 24 kHz PCM behind a WAV header); ``flac`` is 24 kHz PCM transcoded; ``aac`` is a 400.
Usage: characters of the input (code points), estimated — unless v3 reports ``usage.text_words``.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import orjson

from omnirouter.ir import ErrorKind, GatewayError, Usage
from omnirouter.ir.media import SpeechRequest, SpeechResult
from omnirouter.protocols.limits import client_json
from omnirouter.protocols.media.audio import SPEECH_RATE, wav_stream_header
from omnirouter.protocols.media.base import Answer, Followup, Target, UpstreamCall, json_object
from omnirouter.protocols.media.speech import (
    AudioDecoder,
    LineBuffer,
    b64_audio,
    characters,
    format_error,
    pcm_result,
    vendor_error,
)
from omnirouter.protocols.media.voices import vendor_voice

__all__ = ["VOLCENGINE_SPEECH_UP", "VolcengineSpeechUpstream"]

_VENDOR = "Volcengine"
_V1_OK = 3000
_V3_END = 20000000
_WIRE = {"mp3": "mp3", "pcm": "pcm", "opus": "ogg_opus", "flac": "pcm"}
_UID = "omnirouter"


def _option(target: Target, name: str) -> str:
    value = target.options.get(name)
    if not value:
        raise GatewayError(ErrorKind.INTERNAL, f"the Volcengine channel lacks its '{name}' option")
    return value


def _estimated(request: SpeechRequest) -> Usage:
    return Usage(characters=characters(request.text), estimated=True)


def _v3(target: Target) -> bool:
    return target.options.get("api") == "v3" or bool(target.options.get("resource_id"))


def _wire_format(fmt: str, v3: bool) -> str:
    if fmt == "wav":
        return "pcm" if v3 else "wav"
    if fmt not in _WIRE:
        raise format_error(fmt, _VENDOR, "mp3, opus, wav, pcm, flac")
    return _WIRE[fmt]


class _V3Stream:
    """v3's NDJSON lines as audio; ``code`` 20000000 ends it (with ``usage`` when asked)."""

    __slots__ = ("_ended", "_got", "_lines", "_prefix", "usage")

    def __init__(self, request: SpeechRequest, wav: bool) -> None:
        self._lines = LineBuffer(_VENDOR)
        self._prefix = wav_stream_header() if wav else b""
        self._ended = False
        self._got = False
        self.usage = _estimated(request)

    def begin(self, headers: Mapping[str, str]) -> None:
        return None

    def feed(self, chunk: bytes) -> bytes:
        return b"".join([self._line(line) for line in self._lines.feed(chunk)])

    def _line(self, line: bytes) -> bytes:
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError:
            raise GatewayError(ErrorKind.UPSTREAM, "Volcengine sent a malformed stream line") from None
        if not isinstance(obj, dict):
            raise GatewayError(ErrorKind.UPSTREAM, "Volcengine sent an unexpected stream line")
        code = obj.get("code", 0)
        if code == _V3_END:
            self._ended = True
            usage = obj.get("usage")
            words = usage.get("text_words") if isinstance(usage, dict) else None
            if type(words) is int and words >= 0:
                self.usage = Usage(characters=words)
            return b""
        if code != 0:
            raise GatewayError(ErrorKind.UPSTREAM, f"Volcengine error {code}: {obj.get('message') or 'failed'}")
        data = obj.get("data")
        if not data:
            return b""
        audio = b64_audio(data, _VENDOR)
        if not self._got and audio:
            self._got = True
            return self._prefix + audio
        return audio

    def finish(self) -> bytes:
        tail = b"".join([self._line(line) for line in self._lines.finish()])
        if not self._ended:
            raise GatewayError(ErrorKind.UPSTREAM, "Volcengine ended the speech stream without its end code")
        if not (self._got or tail):
            raise GatewayError(ErrorKind.UPSTREAM, "Volcengine returned no audio")
        return tail


class VolcengineSpeechUpstream:
    """Volcengine ``/api/v1/tts`` or ``/api/v3/tts/unidirectional``."""

    def _v1_call(self, request: SpeechRequest, target: Target) -> UpstreamCall:
        wire = _wire_format(request.format, False)
        audio: dict[str, Any] = {"voice_type": vendor_voice(request.voice, "volcengine"), "encoding": wire}
        if request.speed is not None:
            audio["speed_ratio"] = min(3.0, max(0.2, request.speed))
        if wire in ("pcm", "wav"):
            audio["rate"] = SPEECH_RATE
        body = {
            "app": {"appid": _option(target, "app_id"), "token": target.upstream_key,
                    "cluster": target.options.get("cluster") or "volcano_tts"},
            "user": {"uid": _UID},
            "audio": audio,
            "request": {"reqid": str(uuid.uuid4()), "text": request.text, "operation": "query"},
        }  # fmt: skip
        headers = {"Authorization": f"Bearer;{target.upstream_key}"}
        return UpstreamCall("/api/v1/tts", client_json(body), headers=headers)

    def _v3_call(self, request: SpeechRequest, target: Target, stream: bool) -> UpstreamCall:
        wire = _wire_format(request.format, True)
        audio: dict[str, Any] = {"format": wire}
        if wire == "pcm":
            audio["sample_rate"] = SPEECH_RATE
        if request.speed is not None:  # v3 speech_rate: -50 (half speed) … 100 (double), 0 normal
            audio["speech_rate"] = round(min(100.0, max(-50.0, (request.speed - 1.0) * 100)))
        params = {"text": request.text, "speaker": vendor_voice(request.voice, "volcengine"), "audio_params": audio}
        body = {"user": {"uid": _UID}, "req_params": params}
        headers = {
            "X-Api-App-Id": _option(target, "app_id"),
            "X-Api-Access-Key": target.upstream_key,
            "X-Api-Resource-Id": target.options.get("resource_id") or "seed-tts-1.0",
            "X-Api-Request-Id": str(uuid.uuid4()),
            "X-Control-Require-Usage-Tokens-Return": "text_words",
        }
        return UpstreamCall("/api/v3/tts/unidirectional", client_json(body), headers=headers, auth=False,
                            stream=stream)  # fmt: skip

    def audio_stream(self, request: SpeechRequest, target: Target) -> tuple[UpstreamCall, AudioDecoder] | None:
        if not _v3(target) or request.format == "flac":
            _wire_format(request.format, _v3(target))  # an impossible format is a 400 either way
            return None
        return self._v3_call(request, target, True), _V3Stream(request, request.format == "wav")

    def build(self, request: SpeechRequest, target: Target) -> UpstreamCall:
        if _v3(target):
            return self._v3_call(request, target, False)
        return self._v1_call(request, target)

    def parse(self, answer: Answer, request: SpeechRequest, target: Target, step: Followup | None) -> SpeechResult:
        if _v3(target):
            decoder = _V3Stream(request, False)
            audio = decoder.feed(answer.body) + decoder.finish()
            usage = decoder.usage
        else:
            parsed = json_object(answer.body, _VENDOR)
            code = parsed.get("code")
            if code != _V1_OK:
                raise GatewayError(ErrorKind.UPSTREAM, f"Volcengine error {code}: {parsed.get('message') or 'failed'}")
            audio = b64_audio(parsed.get("data"), _VENDOR)
            if not audio:
                raise GatewayError(ErrorKind.UPSTREAM, "Volcengine returned no audio")
            usage = _estimated(request)
        if request.format == "flac" or (request.format == "wav" and _v3(target)):
            return pcm_result(audio, SPEECH_RATE, request.format, usage, _VENDOR)
        return SpeechResult(audio=audio, format=request.format, usage=usage)

    def decode_error(self, status: int, body: bytes) -> GatewayError:
        return vendor_error(status, body, _VENDOR)


VOLCENGINE_SPEECH_UP = VolcengineSpeechUpstream()
