"""The OpenAI transcription codec on its own: the form read and rebuilt (file part, fields as sent, model
replaced), usage in both of OpenAI's shapes, answers in every format, and the SSE relay filter."""

from __future__ import annotations

import io
import math

import numpy as np
import orjson
import pytest
import soundfile as sf

from omnirouter.http.multipart import FilePart, build_form, parse_form
from omnirouter.ir import ErrorKind, GatewayError, Usage
from omnirouter.ir.media import TranscriptionRequest
from omnirouter.protocols.media.base import Answer, Target
from omnirouter.protocols.media.openai_transcription import (
    AUDIO_TOKENS_PER_SECOND,
    BYTES_PER_SECOND,
    MIN_BYTES_PER_SECOND,
    OPENAI_TRANSCRIPTION_UP,
    OPENAI_TRANSCRIPTIONS_IN,
    OPENAI_TRANSLATIONS_IN,
    OUTPUT_SLACK,
    OUTPUT_TOKENS_PER_SECOND,
    TranscriptStream,
    usage_from_wire,
)
from omnirouter.protocols.sse import SSEParser


def wav(seconds: float, rate: int = 8000) -> bytes:
    buffer = io.BytesIO()
    samples = (np.sin(np.arange(int(seconds * rate)) / 5) * 0.3).astype("float32")
    sf.write(buffer, samples, rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


AUDIO = wav(2.5)
TARGET = Target("upstream-model", {}, "key")


def form(*fields: tuple[str, str], file: bytes = AUDIO) -> tuple[bytes, str]:
    return build_form(list(fields), [FilePart("file", "talk.wav", "audio/wav", file)])


def decoded(*fields: tuple[str, str], translate: bool = False) -> TranscriptionRequest:
    body, content_type = form(*fields)
    inbound = OPENAI_TRANSLATIONS_IN if translate else OPENAI_TRANSCRIPTIONS_IN
    return inbound.decode(body, content_type, None)


def test_decode_keeps_every_field_but_model_in_order_and_measures_the_upload() -> None:
    body, content_type = build_form(
        [("language", "de"), ("model", "whisper-1"), ("chunking_strategy[type]", "server_vad"), ("x", "1")],
        [FilePart("file", "talk.wav", "audio/wav", AUDIO), FilePart("extra", "e.bin", "application/x-thing", b"zz")],
    )
    request = OPENAI_TRANSCRIPTIONS_IN.decode(body, content_type, None)
    assert request.model == "whisper-1" and request.language == "de"
    assert request.fields == [("language", "de"), ("chunking_strategy[type]", "server_vad"), ("x", "1")]
    assert request.file.data == AUDIO and request.file.filename == "talk.wav"
    assert [(name, f.filename, f.data) for name, f in request.other_files] == [("extra", "e.bin", b"zz")]
    assert request.response_format == "json" and not request.stream
    assert request.seconds == pytest.approx(2.5)
    budget = OPENAI_TRANSCRIPTIONS_IN.budget(request, len(body))
    assert budget.seconds == 4.0 and budget.input_bytes == len(body)  # 2.5 s rounded up, plus one
    assert budget.max_output is not None and budget.max_output >= 2.5 * 6


def test_budget_of_an_unreadable_upload_reserves_seconds_from_its_size() -> None:
    """Without a duration the seconds are still reserved (a whisper model priced per second would
    otherwise reserve nothing and be charged nothing for a quota key)."""
    blob = bytes(range(256)) * 20  # 5,120 bytes of nothing the audio readers know
    body, content_type = build_form([("model", "whisper-1")], [FilePart("file", "a.webm", "audio/webm", blob)])
    request = OPENAI_TRANSCRIPTIONS_IN.decode(body, content_type, None)
    assert request.seconds is None
    budget = OPENAI_TRANSCRIPTIONS_IN.budget(request, len(body))
    assert budget.seconds == math.ceil(len(blob) / MIN_BYTES_PER_SECOND) + 1
    assert budget.seconds >= len(blob) / BYTES_PER_SECOND  # above what is charged when the vendor says nothing
    assert budget.max_output == budget.seconds * OUTPUT_TOKENS_PER_SECOND + OUTPUT_SLACK


def test_build_rebuilds_a_real_form_with_the_upstream_model_and_nothing_invented() -> None:
    request = OPENAI_TRANSCRIPTIONS_IN.decode(*form(("model", "public"), ("prompt", "hi")), None)
    call = OPENAI_TRANSCRIPTION_UP.build(request, TARGET)
    assert call.path == "/audio/transcriptions" and not call.stream
    sent = parse_form(call.body, call.content_type)
    assert sent.pairs == (("model", "upstream-model"), ("prompt", "hi"))  # no response_format forced
    (part,) = sent.files
    assert (part.field, part.filename, part.content_type, part.data) == ("file", "talk.wav", "audio/wav", AUDIO)
    translation = OPENAI_TRANSLATIONS_IN.decode(*form(("model", "m"), ("stream", "true")), None)
    assert OPENAI_TRANSCRIPTION_UP.build(translation, TARGET).path == "/audio/translations"


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ((("response_format", "xml"),), "response_format"),
        ((("temperature", "2"),), "temperature"),
        ((("temperature", "nan"),), "temperature"),
        ((("stream", "yes"),), "stream"),
        ((("timestamp_granularities[]", "char"),), "timestamp_granularities[]"),
    ],
)
def test_bad_fields_name_themselves(fields: tuple[tuple[str, str], ...], param: str) -> None:
    with pytest.raises(GatewayError) as caught:
        decoded(("model", "whisper-1"), *fields)
    assert caught.value.status == 400 and caught.value.param == param


def test_file_must_be_a_non_empty_file_part() -> None:
    for body, content_type in (
        build_form([("model", "m"), ("file", "not a file")], []),
        build_form([("model", "m")], []),
        form(("model", "m"), file=b""),
    ):
        with pytest.raises(GatewayError) as caught:
            OPENAI_TRANSCRIPTIONS_IN.decode(body, content_type, None)
        assert caught.value.param == "file"


def test_translations_know_no_diarized_json() -> None:
    with pytest.raises(GatewayError) as caught:
        decoded(("model", "whisper-1"), ("response_format", "diarized_json"), translate=True)
    assert caught.value.param == "response_format"


def test_usage_in_both_shapes() -> None:
    assert usage_from_wire({"type": "duration", "seconds": 7}) == Usage(seconds=7.0)
    tokens = {
        "type": "tokens",
        "input_tokens": 30,
        "input_token_details": {"text_tokens": 4, "audio_tokens": 26},
        "output_tokens": 9,
        "total_tokens": 39,
    }
    assert usage_from_wire(tokens) == Usage(input_tokens=30, output_tokens=9, audio_input_tokens=26)
    # without details (LiteLLM #33764's servers): the input is audio but for the text tokens named
    assert usage_from_wire({"input_tokens": 30, "output_tokens": 9}) == Usage(
        input_tokens=30, output_tokens=9, audio_input_tokens=30
    )
    assert usage_from_wire({"input_tokens": 30, "input_token_details": {"text_tokens": 5}}) == Usage(
        input_tokens=30, audio_input_tokens=25
    )
    for nothing in (None, "x", {}, {"type": "duration", "seconds": -1}, {"type": "duration", "seconds": "9"}):
        assert usage_from_wire(nothing) is None


def answer(body: bytes, content_type: str = "application/json") -> Answer:
    return Answer(200, {"content-type": content_type}, body)


def test_plain_text_answers_are_kept_as_sent_and_billed_by_measure() -> None:
    request = OPENAI_TRANSCRIPTIONS_IN.decode(*form(("model", "whisper-1"), ("response_format", "srt")), None)
    srt = "1\n00:00:00,000 --> 00:00:02,500\nhello\n\n"
    result = OPENAI_TRANSCRIPTION_UP.parse(answer(srt.encode(), "text/plain; charset=utf-8"), request,
                                           Target("whisper-1", {}, "k"), None)  # fmt: skip
    assert result.plain == srt and result.usage == Usage(seconds=pytest.approx(2.5), estimated=True)
    body, content_type = OPENAI_TRANSCRIPTIONS_IN.encode(result, request, "whisper-1")
    assert (body.decode(), content_type) == (srt, b"text/plain; charset=utf-8")


def test_json_answers_are_relayed_and_billed_by_their_usage() -> None:
    request = OPENAI_TRANSCRIPTIONS_IN.decode(*form(("model", "m"), ("response_format", "verbose_json")), None)
    upstream = {"task": "transcribe", "language": "english", "duration": 2.5, "text": "hi", "segments": []}
    result = OPENAI_TRANSCRIPTION_UP.parse(answer(orjson.dumps(upstream)), request, Target("whisper-1", {}, "k"), None)
    assert result.usage == Usage(seconds=2.5)  # the upstream's own duration: not an estimate
    assert orjson.loads(OPENAI_TRANSCRIPTIONS_IN.encode(result, request, "m")[0]) == upstream
    tokens = {"text": "hi", "usage": {"type": "tokens", "input_tokens": 5, "output_tokens": 1}}
    result = OPENAI_TRANSCRIPTION_UP.parse(answer(orjson.dumps(tokens)), request, TARGET, None)
    assert result.usage == Usage(input_tokens=5, output_tokens=1, audio_input_tokens=5)


def test_token_models_without_usage_are_estimated_from_the_duration() -> None:
    request = OPENAI_TRANSCRIPTIONS_IN.decode(*form(("model", "m"), ("response_format", "text")), None)
    result = OPENAI_TRANSCRIPTION_UP.parse(answer(b"four words right here\n", "text/plain"), request, TARGET, None)
    audio = math.ceil(2.5 * AUDIO_TOKENS_PER_SECOND)
    assert result.usage.estimated and result.usage.audio_input_tokens == audio == result.usage.input_tokens
    assert result.usage.output_tokens > 0 and result.usage.seconds == 0


@pytest.mark.parametrize("body", [b"not json", b"[1]", b'{"error": {"message": "quota", "type": "x"}}'])
def test_bad_upstream_answers_fail_the_attempt(body: bytes) -> None:
    request = OPENAI_TRANSCRIPTIONS_IN.decode(*form(("model", "m")), None)
    with pytest.raises(GatewayError):
        OPENAI_TRANSCRIPTION_UP.parse(answer(body), request, TARGET, None)


def test_stream_filter_relays_events_as_sent_and_reads_usage_from_done() -> None:
    request = OPENAI_TRANSCRIPTIONS_IN.decode(*form(("model", "m"), ("stream", "true")), None)
    assert OPENAI_TRANSCRIPTION_UP.build(request, TARGET).stream
    usage = {"type": "tokens", "input_tokens": 12, "output_tokens": 2, "input_token_details": {"audio_tokens": 12}}
    wire = (
        b'event: transcript.text.delta\ndata: {"type":"transcript.text.delta","delta":"hi"}\n\n'
        b"data: not json\n\n"
        b"event: transcript.text.done\ndata: "
        + orjson.dumps({"type": "transcript.text.done", "text": "hi there", "usage": usage})
        + b"\n\n"
    )
    relay = TranscriptStream(request, "m")
    out = b"".join(relay.process(event) for event in SSEParser().feed(wire))
    assert out == wire.replace(b"data: not json\n\n", b"")
    assert relay.completed and relay.failure is None
    assert relay.usage == Usage(input_tokens=12, output_tokens=2, audio_input_tokens=12)


def test_stream_filter_without_usage_estimates_and_marks_errors() -> None:
    request = OPENAI_TRANSCRIPTIONS_IN.decode(*form(("model", "m"), ("stream", "true")), None)
    relay = TranscriptStream(request, "m")
    relay.process(SSEParser().feed(b'data: {"type":"transcript.text.done","text":"a b c"}\n\n')[0])
    assert relay.usage is not None and relay.usage.estimated and relay.usage.output_tokens > 0
    failing = TranscriptStream(request, "m")
    sent = failing.process(SSEParser().feed(b'data: {"error":{"message":"boom"}}\n\n')[0])
    assert failing.failure == "boom" and sent.startswith(b"data: ")
    ending = failing.error(GatewayError(ErrorKind.UPSTREAM, "cut"))
    assert ending.startswith(b"event: error\ndata: ") and b'"message":"cut"' in ending
