"""OpenAI ``POST /v1/audio/transcriptions`` and ``/v1/audio/translations``, both ways: the multipart form
clients send the gateway, and what OpenAI and every OpenAI-compatible upstream take and answer.

The form goes on as it came: the same file bytes, filename and content type as a real file part, every
text field as sent except ``model`` (the upstream's name).  ``response_format`` is never forced (a vLLM
upstream knows only ``json``/``text``): the upstream answers in the client's format and that answer is
relayed, JSON as JSON, ``text``/``srt``/``vtt`` as plain text.  ``stream=true`` answers are SSE events
relayed as they come (``TranscriptStream``).

Usage: the upstream's own (``{type: duration, seconds}`` for whisper-1, ``{type: tokens, input_tokens,
input_token_details{audio_tokens, text_tokens}, output_tokens}`` for the gpt-4o models), else verbose_json's
``duration``, else estimated from the upload's measured duration (marked estimated): whisper models by the
second, the others at about ``AUDIO_TOKENS_PER_SECOND`` audio tokens and the transcript's tokens out.
"""

from __future__ import annotations

import math
from typing import Any

import orjson

from omnirouter.http.multipart import FilePart, Form, build_form, parse_form
from omnirouter.ir import Budget, ErrorKind, GatewayError, Usage, token_count
from omnirouter.ir.media import MediaFile, TranscriptionRequest, TranscriptionResult
from omnirouter.protocols.media.audio import audio_duration
from omnirouter.protocols.media.base import (
    Answer,
    Followup,
    Target,
    UpstreamCall,
    estimated_tokens,
    invalid,
    json_object,
)
from omnirouter.protocols.openai_chat.errors import decode_error, encode_error
from omnirouter.protocols.sse import SSEEvent, frame

__all__ = [
    "JSON_FORMATS",
    "OPENAI_TRANSCRIPTIONS_IN",
    "OPENAI_TRANSCRIPTION_UP",
    "OPENAI_TRANSLATIONS_IN",
    "TEXT_FORMATS",
    "OpenAITranscriptionInbound",
    "OpenAITranscriptionUpstream",
    "TranscriptStream",
    "fallback_usage",
    "upload_seconds",
    "usage_from_wire",
]

JSON_FORMATS = ("json", "verbose_json", "diarized_json")
TEXT_FORMATS = ("text", "srt", "vtt")
_TRANSLATION_FORMATS = ("json", "text", "srt", "verbose_json", "vtt")
_GRANULARITIES = ("word", "segment")
PLAIN_TEXT = b"text/plain; charset=utf-8"

AUDIO_TOKENS_PER_SECOND = 10
"""Audio tokens a second of input when the upstream reports none (an estimate: OpenAI's gpt-4o audio
input counts about one token per 100 ms)."""
BYTES_PER_SECOND = 16_000
"""Bytes a second of a compressed upload (128 kbit/s) when its duration cannot be read (WebM, say)."""
OUTPUT_TOKENS_PER_SECOND = 16
"""The most transcript tokens a second of audio is bounded by when reserving (fast speech is about 4
words, 6 tokens, a second), plus ``OUTPUT_SLACK`` for short clips."""
OUTPUT_SLACK = 256
MIN_BYTES_PER_SECOND = 500
"""The fewest bytes a second of audio takes (4 kbit/s; Opus speech goes down to 6): an upload whose
duration cannot be read is reserved for its size / this many seconds."""


def _audio_file(form: Form) -> FilePart:
    part = form.file("file")
    if part is None:
        if form.has("file"):
            raise invalid("Invalid type for 'file': expected a file, but got a string instead.", "file")
        raise invalid("Missing required parameter: 'file'.", "file")
    if not part.data:
        raise invalid("The uploaded 'file' is empty.", "file")
    return part


def _temperature(form: Form) -> float | None:
    raw = form.text("temperature")
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not 0.0 <= value <= 1.0:
        raise invalid(f"Invalid 'temperature': expected a number from 0 to 1, got '{raw}'.", "temperature")
    return value


def _stream(form: Form) -> bool:
    raw = form.text("stream")
    if raw is None:
        return False
    lowered = raw.lower()
    if lowered not in ("true", "false"):
        raise invalid(f"Invalid 'stream': expected true or false, got '{raw}'.", "stream")
    return lowered == "true"


def upload_seconds(file: MediaFile) -> float | None:
    """The measured duration of an upload (``None`` when neither libsndfile nor mutagen can read it)."""
    return audio_duration(file.data, file.filename, file.content_type)


def decode_form(body: bytes, content_type: str, translate: bool) -> TranscriptionRequest:
    """A transcription (or translation) form as a request; 400 naming the field when it is not one."""
    form = parse_form(body, content_type)
    part = _audio_file(form)
    model = form.text("model")
    if not model:
        raise invalid("you must provide a model parameter", "model")
    fmt = form.text("response_format")
    allowed = _TRANSLATION_FORMATS if translate else JSON_FORMATS + TEXT_FORMATS
    if fmt is not None and fmt not in allowed:
        raise invalid(
            f"Invalid value for 'response_format': '{fmt}'. Supported values are: {', '.join(allowed)}.",
            "response_format",
        )
    for value in form.texts("timestamp_granularities"):
        if value not in _GRANULARITIES:
            raise invalid(
                f"Invalid value for 'timestamp_granularities[]': '{value}'. Supported values are: word, segment.",
                "timestamp_granularities[]",
            )
    file = MediaFile(part.data, part.filename, part.content_type)
    return TranscriptionRequest(
        model=model,
        file=file,
        response_format=fmt or "json",
        language=form.text("language"),
        prompt=form.text("prompt"),
        temperature=_temperature(form),
        stream=_stream(form),
        translate=translate,
        fields=[(name, value) for name, value in form.pairs if name != "model"],
        other_files=[
            (other.field, MediaFile(other.data, other.filename, other.content_type))
            for other in form.files
            if other is not part
        ],
        seconds=upload_seconds(file),
    )


def _seconds(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < math.inf:
        return None
    return float(value)


def usage_from_wire(usage: Any) -> Usage | None:
    """OpenAI's transcription ``usage`` (duration or tokens) as a ``Usage``; ``None`` when it says nothing.

    Without ``input_token_details`` (some compatible servers) all input counts as audio: a transcription's
    only other input is the short ``prompt``.
    """
    if not isinstance(usage, dict):
        return None
    if usage.get("type") == "duration" or ("seconds" in usage and "input_tokens" not in usage):
        seconds = _seconds(usage.get("seconds"))
        return None if seconds is None else Usage(seconds=seconds)
    if not any(key in usage for key in ("input_tokens", "output_tokens", "total_tokens")):
        return None
    output = token_count(usage.get("output_tokens"))
    if "input_tokens" in usage:
        total_in = token_count(usage.get("input_tokens"))
    else:
        total_in = max(token_count(usage.get("total_tokens")) - output, 0)
    details = usage.get("input_token_details")
    if isinstance(details, dict) and "audio_tokens" in details:
        audio = min(token_count(details.get("audio_tokens")), total_in)
    elif isinstance(details, dict):
        audio = max(total_in - token_count(details.get("text_tokens")), 0)
    else:
        audio = total_in
    return Usage(input_tokens=total_in, output_tokens=output, audio_input_tokens=audio)


def _bills_seconds(request: TranscriptionRequest, upstream_model: str) -> bool:
    return request.translate or upstream_model.lower().startswith("whisper")


def fallback_usage(
    request: TranscriptionRequest, upstream_model: str, text: str, duration: float | None = None
) -> Usage:
    """Usage when the upstream reports none: whisper models by the second (verbose_json's ``duration``,
    else the upload's measured duration, estimated); token models estimated from the audio's duration
    (``AUDIO_TOKENS_PER_SECOND``), the prompt and the transcript."""
    if _bills_seconds(request, upstream_model) and duration is not None:
        return Usage(seconds=duration)
    seconds = duration if duration is not None else request.seconds
    if seconds is None:
        seconds = len(request.file.data) / BYTES_PER_SECOND
    if _bills_seconds(request, upstream_model):
        return Usage(seconds=seconds, estimated=True)
    audio = math.ceil(seconds * AUDIO_TOKENS_PER_SECOND)
    prompt = estimated_tokens([request.prompt]) if request.prompt else 0
    return Usage(
        input_tokens=audio + prompt,
        audio_input_tokens=audio,
        output_tokens=estimated_tokens([text]),
        estimated=True,
    )


def _wire_usage(usage: Usage) -> dict[str, Any]:
    if usage.seconds and not usage.input_tokens:
        return {"type": "duration", "seconds": usage.seconds}
    text_in = usage.input_tokens - usage.audio_input_tokens
    return {
        "type": "tokens",
        "input_tokens": usage.input_tokens,
        "input_token_details": {"text_tokens": text_in, "audio_tokens": usage.audio_input_tokens},
        "output_tokens": usage.output_tokens,
        "total_tokens": usage.total_tokens,
    }


class OpenAITranscriptionInbound:
    """A client of ``POST /v1/audio/transcriptions`` (or, ``translate``, ``/v1/audio/translations``)."""

    protocol = "openai"

    def __init__(self, translate: bool) -> None:
        self.translate = translate

    def decode(self, body: bytes, content_type: str, model: str | None) -> TranscriptionRequest:
        return decode_form(body, content_type, self.translate)

    def budget(self, request: TranscriptionRequest, body_size: int) -> Budget:
        """Input bounded by the body's size; the upload's seconds rounded up plus one (vendors bill whole
        seconds and measure a container a little differently; ``MIN_BYTES_PER_SECOND`` of the file when its
        duration cannot be read), and the transcript by ``OUTPUT_TOKENS_PER_SECOND`` of them."""
        seconds = request.seconds
        if seconds is None:
            seconds = len(request.file.data) / MIN_BYTES_PER_SECOND
        most_seconds = math.ceil(seconds) + 1
        most_out = most_seconds * OUTPUT_TOKENS_PER_SECOND + OUTPUT_SLACK
        return Budget(input_bytes=body_size, max_output=most_out, seconds=float(most_seconds))

    def encode(
        self, result: TranscriptionResult, request: TranscriptionRequest, public_model: str
    ) -> tuple[bytes, bytes]:
        fmt = request.response_format
        if fmt in TEXT_FORMATS:
            plain = result.plain if result.plain is not None else result.text + "\n"
            return plain.encode(), PLAIN_TEXT
        if result.body is not None:
            return orjson.dumps(result.body), b"application/json"
        answer: dict[str, Any] = {"text": result.text}
        if fmt != "json":
            answer = {"task": "translate" if request.translate else "transcribe"}
            if fmt == "verbose_json":
                answer["language"] = result.language or ("english" if request.translate else request.language)
            answer["duration"] = result.duration if result.duration is not None else request.seconds
            answer["text"] = result.text
            if result.segments is not None:
                answer["segments"] = result.segments
            if result.words is not None:
                answer["words"] = result.words
        if not request.translate:
            answer["usage"] = _wire_usage(result.usage)
        return orjson.dumps(answer), b"application/json"

    def encode_error(self, error: GatewayError) -> tuple[int, bytes]:
        return encode_error(error)


class TranscriptStream:
    """A ``StreamFilter`` relaying an OpenAI transcription stream (``transcript.text.delta`` …
    ``transcript.text.done``) to an OpenAI client event by event as sent; usage from the done event."""

    __slots__ = ("_model", "_request", "completed", "failure", "usage")

    def __init__(self, request: TranscriptionRequest, upstream_model: str) -> None:
        self._request = request
        self._model = upstream_model
        self.usage: Usage | None = None
        self.failure: str | None = None
        self.completed = False

    @property
    def answer(self) -> dict[str, Any] | None:
        return None

    def process(self, event: SSEEvent) -> bytes:
        raw = event.raw or _reframed(event)
        if event.data == b"[DONE]":
            self.completed = True
            return raw
        try:
            data = orjson.loads(event.data)
        except orjson.JSONDecodeError:
            return b""  # not an event of this stream: dropped rather than relayed to the SDK's JSON parser
        if not isinstance(data, dict):
            return b""
        error = data.get("error")
        if error is not None or data.get("type") == "error":
            message = error.get("message") if isinstance(error, dict) else None
            self.failure = message if isinstance(message, str) and message else "the upstream's stream failed"
            self.completed = True
            return raw
        if data.get("type") == "transcript.text.done":
            self.completed = True
            text = data.get("text")
            self.usage = usage_from_wire(data.get("usage")) or fallback_usage(
                self._request, self._model, text if isinstance(text, str) else ""
            )
        return raw

    def finish(self) -> bytes:
        return b""

    def error(self, error: GatewayError) -> bytes:
        return frame(encode_error(error)[1], "error")


def _reframed(event: SSEEvent) -> bytes:
    lines = [b"event: " + event.event.encode()] if event.event else []
    lines += [b"data: " + line for line in event.data.split(b"\n")]
    return b"\n".join(lines) + b"\n\n"


class OpenAITranscriptionUpstream:
    """OpenAI's ``/audio/transcriptions`` and ``/audio/translations`` (and every compatible server's)."""

    vendor = "the upstream"

    def build(self, request: TranscriptionRequest, target: Target) -> UpstreamCall:
        fields = [("model", target.upstream_model), *request.fields]
        files = [FilePart("file", request.file.filename, request.file.content_type, request.file.data)]
        files += [FilePart(name, f.filename, f.content_type, f.data) for name, f in request.other_files]
        body, content_type = build_form(fields, files)
        path = "/audio/translations" if request.translate else "/audio/transcriptions"
        return UpstreamCall(path, body, content_type, stream=request.stream)

    def stream_filter(self, request: TranscriptionRequest, target: Target) -> TranscriptStream:
        """The relay of a ``stream=true`` answer that came as SSE."""
        return TranscriptStream(request, target.upstream_model)

    def parse(
        self, answer: Answer, request: TranscriptionRequest, target: Target, step: Followup | None
    ) -> TranscriptionResult:
        model = target.upstream_model
        content_type = answer.headers.get("content-type", "")
        if request.response_format in TEXT_FORMATS and not content_type.startswith("application/json"):
            try:
                plain = answer.body.decode()
            except UnicodeDecodeError:
                raise GatewayError(ErrorKind.UPSTREAM, "the upstream returned a transcript that is not UTF-8") from None
            return TranscriptionResult(text=plain, plain=plain, usage=fallback_usage(request, model, plain))
        parsed = json_object(answer.body, self.vendor)
        text = parsed.get("text")
        if not isinstance(text, str):
            error = parsed.get("error")
            if isinstance(error, dict):
                raise decode_error(502, answer.body)
            raise GatewayError(ErrorKind.UPSTREAM, "the upstream returned a transcription without text")
        duration = _seconds(parsed.get("duration"))
        usage = usage_from_wire(parsed.get("usage")) or fallback_usage(request, model, text, duration)
        language = parsed.get("language")
        if request.response_format in TEXT_FORMATS:  # a server that answers text formats as {"text": ...}
            plain = text + "\n" if request.response_format == "text" else text
            return TranscriptionResult(text=text, plain=plain, usage=usage)
        return TranscriptionResult(
            text=text,
            usage=usage,
            language=language if isinstance(language, str) else None,
            duration=duration,
            body=parsed,
        )

    def decode_error(self, status: int, body: bytes) -> GatewayError:
        return decode_error(status, body)


OPENAI_TRANSCRIPTIONS_IN = OpenAITranscriptionInbound(translate=False)
OPENAI_TRANSLATIONS_IN = OpenAITranscriptionInbound(translate=True)
OPENAI_TRANSCRIPTION_UP = OpenAITranscriptionUpstream()
