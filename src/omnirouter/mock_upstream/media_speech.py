"""Vendor text-to-speech: MiniMax T2A v2, Volcengine v1 and v3, DashScope qwen-tts, ElevenLabs."""

from __future__ import annotations

import base64
import time
from typing import Any

import orjson
from aiohttp import web

from omnirouter.mock_upstream import media_bytes
from omnirouter.mock_upstream.core import Exchange, begin, json_response
from omnirouter.mock_upstream.directives import Directive
from omnirouter.mock_upstream.media_common import audio_url, directive
from omnirouter.mock_upstream.media_openai_audio import binary_directive, chunked
from omnirouter.mock_upstream.media_wires import (
    DASHSCOPE,
    ELEVENLABS,
    MINIMAX,
    VOLC_V1,
    VOLC_V3,
    VendorWire,
    body_error,
)
from omnirouter.mock_upstream.tokens import count_input


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _rate(value: Any, default: int) -> int:
    return value if isinstance(value, int) and 8000 <= value <= 48000 else default


def _speed(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and value > 0 else 1.0


def _audio(d: Directive, fmt: str, text: str, rate: int, speed: float = 1.0) -> tuple[bytes, float]:
    """Encoded audio for ``text`` (``fmt`` a media_bytes format) and its length in seconds."""
    seconds = d.media_seconds or media_bytes.speech_seconds(text, speed)
    return media_bytes.padded(media_bytes.audio(fmt, seconds, rate), fmt, d.media_bytes), seconds


def _in_body_error(wire: VendorWire, status: int, message: str) -> web.Response:
    """A vendor that reports request errors inside HTTP 200 bodies (MiniMax)."""
    return json_response(wire.shape(status, message, None, None))


async def minimax(request: web.Request) -> web.StreamResponse:
    """``POST /v1/t2a_v2``: hex audio in ``data.audio`` (or a URL), ``extra_info``, ``base_resp``; SSE when streamed."""
    ex = await begin(request, MINIMAX)
    if not isinstance(ex, Exchange):
        return ex
    body = ex.body
    text = body.get("text")
    if not isinstance(body.get("model"), str) or not isinstance(text, str) or not text:
        return _in_body_error(MINIMAX, 400, "invalid params, model and text are required")
    setting = _obj(body.get("audio_setting"))
    fmt = setting.get("format", "mp3")
    if fmt not in ("mp3", "pcm", "flac", "wav"):
        return _in_body_error(MINIMAX, 400, f"invalid params, audio_setting.format {fmt} is not supported")
    rate = _rate(setting.get("sample_rate"), 32000)
    stream = body.get("stream") is True
    got = await directive(ex, text, stream)
    if not isinstance(got, tuple):
        return got
    d, clean = got
    serial = ex.state.next_serial()
    trace = f"mock-trace-{serial:012d}"
    failed = body_error(MINIMAX, d, serial)
    if failed is not None:
        return failed
    data, seconds = _audio(d, fmt, clean, rate, _speed(_obj(body.get("voice_setting")).get("speed")))
    extra = {
        "audio_length": round(seconds * 1000),
        "audio_sample_rate": rate,
        "audio_size": len(data),
        "bitrate": setting.get("bitrate", 128000),
        "word_count": len(clean.split()),
        "invisible_character_ratio": 0,
        "usage_characters": len(clean),
        "audio_format": fmt,
        "audio_channel": setting.get("channel", 1),
    }
    ok = {"status_code": 0, "status_msg": "success"}
    if not stream:
        if body.get("output_format") == "url":
            audio = audio_url(request, fmt, seconds, rate, d.media_bytes)
        else:
            audio = data.hex()
        answer = {
            "data": {"audio": audio, "status": 2, "ced": ""},
            "extra_info": extra,
            "trace_id": trace,
            "base_resp": ok,
        }
        return json_response(answer)
    frames = [
        b"data: "
        + orjson.dumps({"data": {"audio": c.hex(), "status": 1, "ced": ""}, "trace_id": trace, "base_resp": ok})
        + b"\n\n"
        for c in chunked(data)
    ]
    exclude = _obj(body.get("stream_options")).get("exclude_aggregated_audio") is True
    last = {"data": {"audio": "" if exclude else data.hex(), "status": 2, "ced": ""}, "extra_info": extra}
    frames.append(b"data: " + orjson.dumps({**last, "trace_id": trace, "base_resp": ok}) + b"\n\n")
    return await ex.stream(frames, d, serial=serial, content_type="text/event-stream")


_VOLC_FORMATS = {"mp3": "mp3", "wav": "wav", "pcm": "pcm", "ogg_opus": "ogg_opus"}


async def volcengine_v1(request: web.Request) -> web.StreamResponse:
    """``POST /api/v1/tts``: ``{reqid, code: 3000, message, sequence, data: base64, addition: {duration}}``."""
    ex = await begin(request, VOLC_V1)
    if not isinstance(ex, Exchange):
        return ex
    body = ex.body
    app, audio, req = _obj(body.get("app")), _obj(body.get("audio")), _obj(body.get("request"))
    text = req.get("text")
    if not app.get("appid") or not app.get("cluster"):
        return VOLC_V1.error(400, "invalid request: app.appid and app.cluster are required")
    if not isinstance(text, str) or not text or not audio.get("voice_type"):
        return VOLC_V1.error(400, "invalid request: request.text and audio.voice_type are required")
    fmt = _VOLC_FORMATS.get(str(audio.get("encoding") or "pcm"))
    if fmt is None:
        return VOLC_V1.error(400, f"invalid request: unsupported encoding {audio.get('encoding')}")
    got = await directive(ex, text)
    if not isinstance(got, tuple):
        return got
    d, clean = got
    serial = ex.state.next_serial()
    reqid = str(req.get("reqid") or f"mock-{serial}")
    if d.body_error not in (None, False):
        code = 3001 if d.body_error is True else d.body_error
        return json_response({"reqid": reqid, "code": code, "message": d.message or "invalid request", "sequence": 0})
    data, seconds = _audio(d, fmt, clean, _rate(audio.get("rate"), 24000), _speed(audio.get("speed_ratio")))
    answer = {
        "reqid": reqid,
        "code": 3000,
        "operation": str(req.get("operation") or "query"),
        "message": "Success",
        "sequence": -1,
        "data": base64.b64encode(data).decode(),
        "addition": {"duration": str(round(seconds * 1000))},
    }
    return json_response(answer)


async def volcengine_v3(request: web.Request) -> web.StreamResponse:
    """``POST /api/v3/tts/unidirectional``: NDJSON ``{code: 0, data: base64}`` chunks, then ``{code: 20000000}``."""
    ex = await begin(request, VOLC_V3)
    if not isinstance(ex, Exchange):
        return ex
    body = ex.body
    params = _obj(body.get("req_params"))
    audio = _obj(params.get("audio_params"))
    text = params.get("text") or params.get("ssml")
    if not isinstance(text, str) or not text or not params.get("speaker"):
        return VOLC_V3.error(400, "invalid request: req_params.text and req_params.speaker are required")
    fmt = _VOLC_FORMATS.get(str(audio.get("format") or "mp3"))
    if fmt is None:
        return VOLC_V3.error(400, f"invalid request: unsupported format {audio.get('format')}")
    got = await directive(ex, text, True)
    if not isinstance(got, tuple):
        return got
    d, clean = got
    serial = ex.state.next_serial()
    data, _ = _audio(d, fmt, clean, _rate(audio.get("sample_rate"), 24000))
    frames = [
        orjson.dumps({"code": 0, "message": "", "data": base64.b64encode(c).decode()}) + b"\n" for c in chunked(data)
    ]
    if d.body_error not in (None, False):
        code = int(VOLC_V3.body_code or 0) if d.body_error is True else d.body_error
        frames = [
            *frames[:1],
            orjson.dumps({"code": code, "message": d.message or "synthesis failed", "data": None}) + b"\n",
        ]
    else:
        end: dict[str, Any] = {"code": 20000000, "message": "OK", "data": None}
        if "X-Control-Require-Usage-Tokens-Return" in request.headers:
            end["usage"] = {"text_words": len(clean)}
        frames.append(orjson.dumps(end) + b"\n")
    logid = {"X-Tt-Logid": request.headers.get("X-Api-Request-Id", f"mock-{serial}")}
    return await ex.stream(frames, d, serial=serial, content_type="application/json", headers=logid)


def _dashscope_frame(seq: int, obj: dict[str, Any]) -> bytes:
    return b"id:%d\nevent:result\n:HTTP_STATUS/200\ndata:%s\n\n" % (seq, orjson.dumps(obj))


async def dashscope_tts(request: web.Request) -> web.StreamResponse:
    """``POST /api/v1/services/aigc/multimodal-generation/generation`` for qwen-tts models.

    Plain: ``output.audio.url`` (a WAV served by this mock); ``X-DashScope-SSE: enable``: base64 PCM in
    ``output.audio.data`` chunk by chunk, the last one with the URL and ``finish_reason: stop``.
    """
    ex = await begin(request, DASHSCOPE)
    if not isinstance(ex, Exchange):
        return ex
    body = ex.body
    model, inp = body.get("model"), _obj(body.get("input"))
    text = inp.get("text")
    if not isinstance(model, str) or "tts" not in model:
        return DASHSCOPE.error(400, f"Model {model} is not served by the mock on this path; use a qwen-tts model.")
    if not isinstance(text, str) or not text:
        return DASHSCOPE.error(400, "Required parameter(s) missing or invalid: input.text")
    stream = request.headers.get("X-DashScope-SSE", "").lower() == "enable"
    got = await directive(ex, text, stream)
    if not isinstance(got, tuple):
        return got
    d, clean = got
    serial = ex.state.next_serial()
    failed = body_error(DASHSCOPE, d, serial)
    if failed is not None:
        return failed
    seconds = d.media_seconds or media_bytes.speech_seconds(clean)
    rid = f"mock-{serial:012d}"
    audio = {
        "url": audio_url(request, "wav", seconds, 24000, d.media_bytes),
        "data": "",
        "id": f"audio_{rid}",
        "expires_at": int(time.time()) + 86400,
    }
    usage = {"input_tokens": count_input(clean), "output_tokens": round(seconds * 50), "characters": len(clean)}
    final = {"output": {"audio": audio, "finish_reason": "stop"}, "usage": usage, "request_id": rid}
    if not stream:
        return json_response(final)
    pcm = media_bytes.padded(media_bytes.pcm(seconds), "pcm", d.media_bytes)
    frames = [
        _dashscope_frame(
            i + 1,
            {
                "output": {"audio": {"data": base64.b64encode(c).decode(), "id": audio["id"]}, "finish_reason": "null"},
                "usage": usage,
                "request_id": rid,
            },
        )
        for i, c in enumerate(chunked(pcm))
    ]
    frames.append(_dashscope_frame(len(frames) + 1, final))
    return await ex.stream(frames, d, serial=serial)


def _eleven_format(value: str) -> tuple[str, int] | None:
    """(media_bytes format, sample rate) for an ElevenLabs ``output_format`` such as ``mp3_44100_128``."""
    codec, _, rest = value.partition("_")
    rate = rest.partition("_")[0]
    if not rate.isdigit() or codec not in ("mp3", "pcm", "opus", "wav"):
        return None
    return codec, int(rate)


async def elevenlabs(request: web.Request) -> web.StreamResponse:
    """``POST /v1/text-to-speech/{voice_id}[/stream]?output_format=``: raw audio, ``character-cost`` header."""
    ex = await begin(request, ELEVENLABS)
    if not isinstance(ex, Exchange):
        return ex
    text = ex.body.get("text")
    if not isinstance(text, str) or not text:
        return ELEVENLABS.error(422, "Field required: text", "invalid_request")
    output = request.query.get("output_format", "mp3_44100_128")
    parsed = _eleven_format(output)
    if parsed is None:
        return ELEVENLABS.error(422, f"Invalid output_format: {output}", "invalid_output_format")
    fmt, rate = parsed
    got = await directive(ex, text)
    if not isinstance(got, tuple):
        return got
    d, clean = got
    serial = ex.state.next_serial()
    data, _ = _audio(d, fmt, clean, rate, _speed(_obj(ex.body.get("voice_settings")).get("speed")))
    content_type = "audio/ogg" if fmt == "opus" else media_bytes.AUDIO_TYPES[fmt]
    headers = {"character-cost": str(len(clean)), "request-id": f"mock{serial:012d}"}
    return await ex.stream(
        chunked(data), binary_directive(d), serial=serial, content_type=content_type, headers=headers
    )
