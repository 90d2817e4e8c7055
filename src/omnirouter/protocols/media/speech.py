"""What streamed speech needs beside the whole-answer codec contract (``base.py``), and pieces the speech
codecs share.

An upstream codec that can relay audio as it arrives offers ``audio_stream(request, target)``: the call
to make and an ``AudioDecoder`` that turns the vendor's wire (raw bytes, SSE, NDJSON) into audio bytes
in the format the client asked for; ``None`` when this request needs the whole answer first (a format
made by transcoding).  The client codec offers ``audio_frames(request)``: an ``AudioFrames`` that writes
audio bytes in the client's wire (raw chunks, or SSE events).  The relay (``relay/byte_pump.py``)
pumps one into the other.
"""

from __future__ import annotations

import base64
import binascii
import io
import wave
from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

import orjson

from omnirouter.ir import ErrorKind, GatewayError, Usage, kind_for_status
from omnirouter.ir.media import SpeechRequest, SpeechResult
from omnirouter.protocols.media.audio import SPEECH_RATE, wav_from_pcm, wav_stream_header
from omnirouter.protocols.media.base import Target, UpstreamCall

__all__ = [
    "MAX_FRAME_BYTES",
    "AudioDecoder",
    "AudioFrames",
    "AudioFraming",
    "AudioStreamer",
    "LineBuffer",
    "RawAudio",
    "b64_audio",
    "characters",
    "format_error",
    "pcm_of_wav",
    "pcm_result",
    "vendor_error",
]

MAX_FRAME_BYTES = 16 * 1024 * 1024
"""The most one vendor frame (an SSE event, an NDJSON line) of audio may be: more is an upstream error."""


class AudioDecoder(Protocol):
    """A vendor's streamed answer as audio bytes.  ``feed``/``finish`` raise ``GatewayError`` for an error
    the vendor reports in the stream (or a stream that ends without its end marker); ``usage`` is final
    after ``finish``."""

    usage: Usage

    def begin(self, headers: Mapping[str, str]) -> None:
        """The answer's headers (lower-case names), before any body byte."""
        ...

    def feed(self, chunk: bytes) -> bytes: ...

    def finish(self) -> bytes: ...


@runtime_checkable
class AudioStreamer(Protocol):
    """The optional streaming side of a speech upstream codec."""

    def audio_stream(self, request: SpeechRequest, target: Target) -> tuple[UpstreamCall, AudioDecoder] | None: ...


@runtime_checkable
class AudioFraming(Protocol):
    """The optional streaming side of a speech client codec."""

    def audio_frames(self, request: SpeechRequest) -> AudioFrames: ...


class AudioFrames(Protocol):
    """Audio bytes in the client's wire: ``chunk`` per piece of audio, ``end`` once with the usage."""

    content_type: bytes

    def chunk(self, audio: bytes) -> bytes: ...

    def end(self, usage: Usage) -> bytes: ...


def characters(text: str) -> int:
    """Characters a character-billed vendor counts: Unicode code points (a CJK character is one)."""
    return len(text)


def format_error(fmt: str, vendor: str, possible: str) -> GatewayError:
    """A 400 naming ``response_format``: ``vendor`` cannot make ``fmt`` and it cannot be transcoded to."""
    return GatewayError(
        ErrorKind.INVALID_REQUEST,
        f"response_format '{fmt}' cannot be produced for this model ({vendor}); possible: {possible}.",
        param="response_format",
    )


def b64_audio(value: object, vendor: str) -> bytes:
    """Base64 audio from a vendor's JSON, else an upstream error."""
    if not isinstance(value, str):
        raise GatewayError(ErrorKind.UPSTREAM, f"{vendor} returned audio that is not a string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise GatewayError(ErrorKind.UPSTREAM, f"{vendor} returned audio that is not base64") from None


class RawAudio:
    """An answer whose body is the audio itself (OpenAI binary, ElevenLabs); ``wav_header``: the body is
    24 kHz PCM to be relayed as a WAV stream (the header goes out with the first audio bytes)."""

    __slots__ = ("_got", "_prefix", "usage", "vendor")

    def __init__(self, usage: Usage, vendor: str, *, wav_header: bool = False) -> None:
        self.usage = usage
        self.vendor = vendor
        self._prefix = wav_stream_header() if wav_header else b""
        self._got = False

    def begin(self, headers: Mapping[str, str]) -> None:
        return None

    def feed(self, chunk: bytes) -> bytes:
        if not chunk:
            return b""
        if not self._got:
            self._got = True
            return self._prefix + chunk
        return chunk

    def finish(self) -> bytes:
        if not self._got:
            raise GatewayError(ErrorKind.UPSTREAM, f"{self.vendor} returned no audio")
        return b""


class LineBuffer:
    """Complete lines of a byte stream (NDJSON), each at most ``MAX_FRAME_BYTES``."""

    __slots__ = ("_pending", "vendor")

    def __init__(self, vendor: str) -> None:
        self._pending = b""
        self.vendor = vendor

    def feed(self, chunk: bytes) -> list[bytes]:
        data = self._pending + chunk
        *lines, self._pending = data.split(b"\n")
        if len(self._pending) > MAX_FRAME_BYTES:
            raise GatewayError(ErrorKind.UPSTREAM, f"{self.vendor} sent a line longer than {MAX_FRAME_BYTES} bytes")
        return [line for line in lines if line.strip()]

    def finish(self) -> list[bytes]:
        rest, self._pending = self._pending, b""
        return [rest] if rest.strip() else []


def pcm_result(pcm: bytes, rate: int, fmt: str, usage: Usage, vendor: str) -> SpeechResult:
    """Speech a vendor gave as 16-bit mono PCM at ``rate``, for a client that asked ``fmt``: ``pcm`` as is
    (OpenAI's is 24 kHz), ``wav`` framed, other formats left to the client codec to transcode."""
    if fmt == "pcm":
        if rate != SPEECH_RATE:
            raise GatewayError(ErrorKind.UPSTREAM, f"{vendor} returned {rate} Hz audio where 24 kHz PCM was asked")
        return SpeechResult(audio=pcm, format="pcm", usage=usage)
    if len(pcm) % 2:
        raise GatewayError(ErrorKind.UPSTREAM, f"{vendor} returned PCM that is not whole 16-bit samples")
    if fmt == "wav":
        return SpeechResult(audio=wav_from_pcm(pcm, rate), format="wav", usage=usage)
    return SpeechResult(audio=pcm, format=fmt, usage=usage, pcm_rate=rate)


def pcm_of_wav(data: bytes, vendor: str) -> tuple[bytes, int]:
    """The 16-bit mono samples and rate of a WAV file a vendor gave (another layout is an upstream error)."""
    try:
        with wave.open(io.BytesIO(data), "rb") as reader:
            if reader.getsampwidth() != 2 or reader.getnchannels() != 1:
                raise GatewayError(ErrorKind.UPSTREAM, f"{vendor} returned WAV audio that is not 16-bit mono")
            return reader.readframes(reader.getnframes()), reader.getframerate()
    except (wave.Error, EOFError):
        raise GatewayError(ErrorKind.UPSTREAM, f"{vendor} returned audio that is not a WAV file") from None


def vendor_error(status: int, body: bytes, vendor: str) -> GatewayError:
    """A vendor's error answer (whatever its JSON shape: ``message``, ``detail``, ``base_resp``…) as an error."""
    message = ""
    try:
        parsed: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        parsed = body.decode("utf-8", "replace").strip()[:500]
    if isinstance(parsed, dict):
        for key in ("message", "detail", "error", "base_resp"):
            value = parsed.get(key)
            if isinstance(value, dict):
                value = value.get("message") or value.get("status_msg")
            if isinstance(value, str) and value:
                message = value
                break
    elif isinstance(parsed, str):
        message = parsed
    text = f"{vendor}: {message[:500]}" if message else f"{vendor} returned HTTP {status}"
    return GatewayError(kind_for_status(status), text, status=status)
