"""OpenAI ``POST /v1/audio/speech``, ``/v1/audio/transcriptions`` and ``/v1/audio/translations``."""

from __future__ import annotations

import base64
import math
from typing import Any

import msgspec
from aiohttp import web

from omnirouter.mock_upstream import media_bytes
from omnirouter.mock_upstream.core import Exchange, begin, json_response, sse
from omnirouter.mock_upstream.directives import Directive
from omnirouter.mock_upstream.media_common import FormExchange, Part, begin_media, directive
from omnirouter.mock_upstream.openai_chat import WIRE
from omnirouter.mock_upstream.tokens import count_input

CHUNK = 32 * 1024  # bytes per streamed audio chunk (binary and SSE)
AUDIO_TOKENS_PER_SECOND = 20
_NO_SSE = ("tts-1", "tts-1-hd")


def chunked(data: bytes, size: int = CHUNK) -> list[bytes]:
    """``data`` in slices of ``size`` bytes (at least one slice)."""
    return [data[i : i + size] for i in range(0, len(data), size)] or [b""]


def binary_directive(d: Directive) -> Directive:
    """A binary body cannot carry an error event: ``error_after`` cuts the connection instead."""
    if d.error_after is None:
        return d
    return msgspec.structs.replace(d, error_after=None, cut_after=d.error_after)


async def speech(request: web.Request) -> web.StreamResponse:
    """``POST /v1/audio/speech``: real audio bytes in the asked format, chunked; or SSE with ``stream_format``."""
    ex = await begin(request, WIRE)
    if not isinstance(ex, Exchange):
        return ex
    body = ex.body
    model, text, voice = body.get("model"), body.get("input"), body.get("voice")
    if not isinstance(model, str) or not model:
        return WIRE.error(400, "you must provide a model parameter")
    if not isinstance(text, str) or not text:
        return WIRE.error(400, "Missing required parameter: 'input'.")
    if len(text) > 4096:
        return WIRE.error(
            400,
            "[{'type': 'string_too_long', 'loc': ('body', 'input'), "
            "'msg': 'String should have at most 4096 characters'}]",
        )
    if not (isinstance(voice, str) and voice) and not (isinstance(voice, dict) and isinstance(voice.get("id"), str)):
        return WIRE.error(400, "Missing required parameter: 'voice'.")
    fmt = body.get("response_format") or "mp3"
    if fmt not in ("mp3", "opus", "aac", "flac", "wav", "pcm"):
        return WIRE.error(
            400, f"Invalid value: '{fmt}'. Supported values are: 'mp3', 'opus', 'aac', 'flac', 'wav', and 'pcm'."
        )
    if fmt == "aac":
        return WIRE.error(400, "The mock upstream cannot encode aac; ask for mp3, opus, flac, wav or pcm.")
    stream_format = body.get("stream_format") or "audio"
    if stream_format not in ("audio", "sse") or (stream_format == "sse" and model in _NO_SSE):
        return WIRE.error(400, f"stream_format '{stream_format}' is not supported for model {model}.")
    speed = body.get("speed", 1.0)
    if not isinstance(speed, int | float) or not 0.25 <= speed <= 4.0:
        return WIRE.error(400, f"Invalid 'speed': number must be between 0.25 and 4.0, got {speed}.")
    got = await directive(ex, text, stream_format == "sse")
    if not isinstance(got, tuple):
        return got
    d, clean = got
    seconds = d.media_seconds or media_bytes.speech_seconds(clean, float(speed))
    data = media_bytes.padded(media_bytes.audio(fmt, seconds), fmt, d.media_bytes)
    serial = ex.state.next_serial()
    if stream_format == "audio":
        return await ex.stream(
            chunked(data), binary_directive(d), serial=serial, content_type=media_bytes.AUDIO_TYPES[fmt]
        )
    frames = [sse({"type": "speech.audio.delta", "audio": base64.b64encode(c).decode()}) for c in chunked(data)]
    inp, out = count_input(clean), math.ceil(seconds * AUDIO_TOKENS_PER_SECOND)
    usage = {"input_tokens": inp, "output_tokens": out, "total_tokens": inp + out}
    frames.append(sse({"type": "speech.audio.done", "usage": usage}))
    return await ex.stream(frames, d, serial=serial)


_EXTENSIONS = ("flac", "m4a", "mp3", "mp4", "mpeg", "mpga", "oga", "ogg", "wav", "webm")
_DECODABLE = ("flac", "mp3", "oga", "ogg", "wav")
_FORMATS = {
    "whisper-1": ("json", "text", "srt", "verbose_json", "vtt"),
    "gpt-4o-transcribe-diarize": ("json", "text", "diarized_json"),
}


def _audio_file(ex: Exchange) -> tuple[Part, float] | str:
    """The uploaded file and its duration, or OpenAI's 400 message."""
    if not isinstance(ex, FormExchange):
        return "Could not parse multipart form"
    texts = ex.form.texts("file")
    files = ex.form.files("file")
    if not files:
        return (
            "Invalid type for 'file': expected a file, but got a string instead."
            if texts
            else "Missing required parameter: 'file'."
        )
    part = files[0]
    ext = (part.filename or "").rpartition(".")[2].lower()
    if ext not in _EXTENSIONS:
        return f"Invalid file format. Supported formats: {list(_EXTENSIONS)}"
    seconds = media_bytes.measure_seconds(part.data)
    if seconds is None:
        if ext in _DECODABLE:
            return "Audio file might be corrupted or unsupported"
        seconds = len(part.data) / 16_000  # containers the mock cannot decode: about 128 kbit/s
    return part, seconds


def _words(text: str, seconds: float) -> list[dict[str, Any]]:
    words = text.split()
    step = seconds / max(1, len(words))
    return [
        {"word": w.strip(".,!?"), "start": round(i * step, 2), "end": round((i + 1) * step, 2)}
        for i, w in enumerate(words)
    ]


def _segments(text: str, seconds: float, diarized: bool = False) -> list[dict[str, Any]]:
    words = text.split()
    groups = [" ".join(words[i : i + 8]) for i in range(0, len(words), 8)] or [""]
    step = seconds / len(groups)
    out: list[dict[str, Any]] = []
    for i, group in enumerate(groups):
        start, end = round(i * step, 2), round((i + 1) * step, 2)
        if diarized:
            speaker = "AB"[i % 2]
            out.append(
                {
                    "type": "transcript.text.segment",
                    "id": f"seg_{i}",
                    "start": start,
                    "end": end,
                    "text": group,
                    "speaker": speaker,
                }
            )
            continue
        out.append(
            {
                "id": i,
                "seek": 0,
                "start": start,
                "end": end,
                "text": " " + group,
                "tokens": list(range(50364, 50364 + len(group.split()))),
                "temperature": 0.0,
                "avg_logprob": -0.2,
                "compression_ratio": 1.1,
                "no_speech_prob": 0.01,
            }
        )
    return out


def _timestamp(seconds: float, comma: bool) -> str:
    ms = round(seconds * 1000)
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{',' if comma else '.'}{ms:03d}"


def _subtitles(text: str, seconds: float, vtt: bool) -> str:
    lines = ["WEBVTT", ""] if vtt else []
    for i, seg in enumerate(_segments(text, seconds)):
        if not vtt:
            lines.append(str(i + 1))
        lines.append(f"{_timestamp(seg['start'], not vtt)} --> {_timestamp(seg['end'], not vtt)}")
        lines.extend([seg["text"].strip(), ""])
    return "\n".join(lines) + "\n"


def _usage(model: str, text: str, seconds: float, prompt: str) -> dict[str, Any]:
    if model == "whisper-1":
        return {"type": "duration", "seconds": math.ceil(seconds)}
    audio = math.ceil(seconds * 10)
    text_in = count_input(prompt) if prompt else 0
    out = len(text.split())
    return {
        "type": "tokens",
        "input_tokens": audio + text_in,
        "input_token_details": {"text_tokens": text_in, "audio_tokens": audio},
        "output_tokens": out,
        "total_tokens": audio + text_in + out,
    }


async def _speech_to_text(request: web.Request, translate: bool) -> web.StreamResponse:
    ex = await begin_media(request, WIRE)
    if not isinstance(ex, Exchange):
        return ex
    found = _audio_file(ex)
    if isinstance(found, str):
        return WIRE.error(400, found)
    part, seconds = found
    body = ex.body
    model = body.get("model")
    if not isinstance(model, str) or not model:
        return WIRE.error(400, "you must provide a model parameter")
    if translate and model != "whisper-1":
        return WIRE.error(400, f"Model {model} is not supported for translations; use whisper-1.")
    fmt = body.get("response_format") or "json"
    allowed = _FORMATS.get(model, ("json", "text"))
    if translate:
        allowed = _FORMATS["whisper-1"]
    if fmt not in allowed:
        return WIRE.error(
            400, f"response_format '{fmt}' is not compatible with model '{model}'. Use one of: {', '.join(allowed)}."
        )
    stream = body.get("stream") == "true" and model != "whisper-1" and not translate
    prompt = body.get("prompt") or ""
    got = await directive(ex, prompt, stream)
    if not isinstance(got, tuple):
        return got
    d, clean_prompt = got
    seconds = d.media_seconds or seconds
    text = d.text if d.text is not None else f"Mock transcript of {part.filename} ({seconds:.1f} seconds)."
    usage = _usage(model, text, seconds, clean_prompt)
    serial = ex.state.next_serial()
    if stream:
        frames = [sse({"type": "transcript.text.delta", "delta": w}, "transcript.text.delta") for w in _pieces(text)]
        if fmt == "diarized_json":
            frames += [
                sse({"type": "transcript.text.segment", **s}, "transcript.text.segment")
                for s in _segments(text, seconds, True)
            ]
        frames.append(sse({"type": "transcript.text.done", "text": text, "usage": usage}, "transcript.text.done"))
        return await ex.stream(frames, d, serial=serial)
    headers = WIRE.headers(serial)
    if fmt in ("text", "srt", "vtt"):
        out = text + "\n" if fmt == "text" else _subtitles(text, seconds, fmt == "vtt")
        return web.Response(text=out, content_type="text/plain", charset="utf-8", headers=headers)
    answer: dict[str, Any] = {"text": text}
    if fmt == "verbose_json":
        language = "english" if translate else str(body.get("language") or "english")
        answer = {
            "task": "translate" if translate else "transcribe",
            "language": language,
            "duration": round(seconds, 3),
            "text": text,
        }
        granularities = ex.form.texts("timestamp_granularities[]") if isinstance(ex, FormExchange) else []
        if "word" in granularities:
            answer["words"] = _words(text, seconds)
        if "segment" in granularities or not granularities:
            answer["segments"] = _segments(text, seconds)
    elif fmt == "diarized_json":
        answer = {
            "task": "transcribe",
            "duration": round(seconds, 3),
            "text": text,
            "segments": _segments(text, seconds, True),
        }
    if not translate:
        answer["usage"] = usage
    return json_response(answer, headers=headers)


def _pieces(text: str) -> list[str]:
    words = text.split(" ")
    return [w if i == 0 else " " + w for i, w in enumerate(words)]


async def transcriptions(request: web.Request) -> web.StreamResponse:
    """``POST /v1/audio/transcriptions`` (multipart ``file``; json/text/srt/vtt/verbose_json/diarized_json; SSE)."""
    return await _speech_to_text(request, translate=False)


async def translations(request: web.Request) -> web.StreamResponse:
    """``POST /v1/audio/translations`` (whisper-1; json/text/srt/vtt/verbose_json)."""
    return await _speech_to_text(request, translate=True)
