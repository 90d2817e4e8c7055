"""Speech to text through the gateway with the official openai SDK: ``audio.transcriptions.create`` in every
response format, ``audio.translations.create`` and streamed transcription, against an OpenAI channel on the
mock.  The upstream must get a real multipart file part (same bytes, filename, content type) and every field
as sent; text formats come back as plain strings; usage rows carry seconds (whisper-1) or tokens."""

from __future__ import annotations

import base64
import hashlib
import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import openai
import pytest
import soundfile as sf
from openai.types.audio import (
    Transcription,
    TranscriptionTextDeltaEvent,
    TranscriptionTextDoneEvent,
    TranscriptionVerbose,
)

from omnirouter.mock_upstream import MockUpstream
from tests.helpers.gateway_harness import CLIENT_KEY, RunningGateway
from tests.helpers.media_gateway import channel, media_gateway
from tests.helpers.usage_rows import usage_rows

MODELS = ["whisper-1", "gpt-4o-transcribe", "gpt-4o-mini-transcribe", "gpt-4o-transcribe-diarize", "stt-fast"]
MODEL_MAP = {"stt-fast": "gpt-4o-mini-transcribe"}
PER_SECOND = 0.001  # USD: a second of whisper-1 costs 1,000,000 nano-USD
PRICES = {
    "whisper-1": {"per_second": PER_SECOND},
    "gpt-4o-mini-transcribe": {"input": 1.0, "output": 2.0},
}


def tone(seconds: float, rate: int = 16000) -> np.ndarray[Any, Any]:
    t = np.arange(int(seconds * rate)) / rate
    return (np.sin(2 * np.pi * 440 * t) * 0.4).astype("float32")


def encoded(seconds: float, fmt: str, rate: int = 16000) -> bytes:
    buffer = io.BytesIO()
    if fmt == "MP3":
        sf.write(buffer, tone(seconds, rate), rate, format="MP3", subtype="MPEG_LAYER_III")
    else:
        sf.write(buffer, tone(seconds, rate), rate, format=fmt, subtype="PCM_16")
    return buffer.getvalue()


WAV = encoded(1.5, "WAV")
MP3 = encoded(2.25, "MP3", 24000)
WAV_SECONDS = sf.info(io.BytesIO(WAV)).duration
MP3_SECONDS = sf.info(io.BytesIO(MP3)).duration


def configured(mock_url: str, db_dir: Path, **extra: Any) -> Any:
    return media_gateway(
        db_dir,
        [channel(mock_url, "oa", "openai", MODELS, model_map=MODEL_MAP)],
        prices=PRICES,
        **extra,
    )


@pytest.fixture(scope="module")
async def served(
    mock_upstream: MockUpstream, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RunningGateway]:
    async with configured(mock_upstream.url, tmp_path_factory.mktemp("stt")) as running:
        yield running


@pytest.fixture
def gateway(served: RunningGateway, mock_upstream: MockUpstream) -> RunningGateway:
    mock_upstream.clear_script()
    mock_upstream.clear_requests()
    return served


@pytest.fixture
async def client(gateway: RunningGateway) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(base_url=f"{gateway.url}/v1", api_key=CLIENT_KEY, max_retries=0) as sdk:
        yield sdk


def upstream_form(mock: MockUpstream) -> dict[str, Any]:
    """The one multipart request the upstream received."""
    assert len(mock.requests) == 1
    body: dict[str, Any] = mock.requests[0].body
    assert body["multipart"] is True
    return body


def assert_file_sent(body: dict[str, Any], data: bytes, filename: str, content_type: str) -> None:
    (part,) = body["files"]
    assert part["field"] == "file" and part["filename"] == filename and part["content_type"] == content_type
    assert part["size"] == len(data) and part["sha256"] == hashlib.sha256(data).hexdigest()


def mock_text(filename: str, seconds: float) -> str:
    """The mock's default transcript of a file."""
    return f"Mock transcript of {filename} ({seconds:.1f} seconds)."


async def test_json_wav_whisper(client: openai.AsyncOpenAI, mock_upstream: MockUpstream) -> None:
    result = await client.audio.transcriptions.create(
        model="whisper-1", file=("speech.wav", WAV, "audio/wav"), response_format="json", language="en"
    )
    assert result.text == mock_text("speech.wav", WAV_SECONDS)
    body = upstream_form(mock_upstream)
    assert mock_upstream.requests[0].path == "/v1/audio/transcriptions"
    assert_file_sent(body, WAV, "speech.wav", "audio/wav")
    assert body["fields"] == {"model": "whisper-1", "response_format": "json", "language": "en"}
    usage = result.model_dump()["usage"]
    assert usage["type"] == "duration" and usage["seconds"] >= WAV_SECONDS


async def test_response_format_is_not_invented(client: openai.AsyncOpenAI, mock_upstream: MockUpstream) -> None:
    """Without ``response_format`` none is sent on (never ``verbose_json``), and unknown fields go as sent."""
    result = await client.audio.transcriptions.create(
        model="stt-fast",
        file=("speech.mp3", MP3, "audio/mpeg"),
        prompt="names: Ada",
        temperature=0.2,
        extra_body={"custom_flag": "yes"},
    )
    assert result.text == mock_text("speech.mp3", MP3_SECONDS)
    body = upstream_form(mock_upstream)
    assert_file_sent(body, MP3, "speech.mp3", "audio/mpeg")
    assert body["fields"] == {
        "model": "gpt-4o-mini-transcribe",
        "prompt": "names: Ada",
        "temperature": "0.2",
        "custom_flag": "yes",
    }


@pytest.mark.parametrize("fmt", ["text", "srt", "vtt"])
async def test_text_formats_are_plain_strings(
    client: openai.AsyncOpenAI, mock_upstream: MockUpstream, fmt: str
) -> None:
    async with aiohttp.ClientSession() as session:  # what the mock itself answers, to compare with
        form = aiohttp.FormData()
        form.add_field("model", "whisper-1")
        form.add_field("response_format", fmt)
        form.add_field("file", MP3, filename="a.mp3", content_type="audio/mpeg")
        async with session.post(
            f"{mock_upstream.url}/v1/audio/transcriptions", data=form, headers={"Authorization": "Bearer k"}
        ) as direct:
            expected = await direct.text()
    mock_upstream.clear_requests()
    result = await client.audio.transcriptions.create(
        model="whisper-1", file=("a.mp3", MP3, "audio/mpeg"), response_format=fmt
    )
    assert isinstance(result, str)
    assert result == expected
    if fmt == "srt":
        assert result.startswith("1\n00:00:00,000 --> ")
    if fmt == "vtt":
        assert result.startswith("WEBVTT\n")
    assert upstream_form(mock_upstream)["fields"]["response_format"] == fmt


async def test_text_format_content_type(gateway: RunningGateway) -> None:
    async with aiohttp.ClientSession() as session:
        form = aiohttp.FormData()
        form.add_field("model", "whisper-1")
        form.add_field("response_format", "text")
        form.add_field("file", WAV, filename="s.wav", content_type="audio/wav")
        async with session.post(
            f"{gateway.url}/v1/audio/transcriptions", data=form, headers={"Authorization": f"Bearer {CLIENT_KEY}"}
        ) as response:
            assert response.status == 200
            assert response.headers["content-type"] == "text/plain; charset=utf-8"
            assert await response.text() == mock_text("s.wav", WAV_SECONDS) + "\n"


async def test_verbose_json_with_words_and_segments(client: openai.AsyncOpenAI, mock_upstream: MockUpstream) -> None:
    result = await client.audio.transcriptions.create(
        model="whisper-1",
        file=("speech.wav", WAV, "audio/wav"),
        response_format="verbose_json",
        timestamp_granularities=["word", "segment"],
    )
    assert result.duration == pytest.approx(WAV_SECONDS, abs=0.001)
    assert result.words and result.segments
    assert [w.word for w in result.words] == [w.strip(".,!?") for w in result.text.split()]
    assert result.words[-1].end == pytest.approx(WAV_SECONDS, abs=0.01)
    assert result.segments[0].start == 0
    fields = upstream_form(mock_upstream)["fields"]
    assert fields["response_format"] == "verbose_json"
    assert fields["timestamp_granularities[]"] == ["word", "segment"]


async def test_diarized_json(client: openai.AsyncOpenAI, mock_upstream: MockUpstream) -> None:
    result = await client.audio.transcriptions.create(
        model="gpt-4o-transcribe-diarize",
        file=("meeting.mp3", MP3, "audio/mpeg"),
        response_format="diarized_json",
        chunking_strategy="auto",
        known_speaker_names=["ann", "bob"],
    )
    dumped = result.model_dump()
    assert dumped["text"] == mock_text("meeting.mp3", MP3_SECONDS)
    assert dumped["segments"] and {s["speaker"] for s in dumped["segments"]} <= {"A", "B"}
    assert dumped["usage"]["type"] == "tokens"
    body = upstream_form(mock_upstream)
    assert_file_sent(body, MP3, "meeting.mp3", "audio/mpeg")
    assert body["fields"]["chunking_strategy"] == "auto"
    assert body["fields"]["known_speaker_names[]"] == ["ann", "bob"]


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the SDK marks translations deprecated; still served
async def test_translation(client: openai.AsyncOpenAI, mock_upstream: MockUpstream) -> None:
    result = await client.audio.translations.create(model="whisper-1", file=("fr.wav", WAV, "audio/wav"))
    assert result.text == mock_text("fr.wav", WAV_SECONDS)
    assert mock_upstream.requests[0].path == "/v1/audio/translations"
    assert_file_sent(upstream_form(mock_upstream), WAV, "fr.wav", "audio/wav")
    mock_upstream.clear_requests()
    plain = await client.audio.translations.create(
        model="whisper-1", file=("fr.wav", WAV, "audio/wav"), response_format="text"
    )
    assert isinstance(plain, str) and plain == result.text + "\n"


async def test_streamed_transcription(client: openai.AsyncOpenAI, mock_upstream: MockUpstream) -> None:
    stream = await client.audio.transcriptions.create(
        model="gpt-4o-mini-transcribe", file=("speech.wav", WAV, "audio/wav"), stream=True
    )
    events = [event async for event in stream]
    types = [event.type for event in events]
    assert types[-1] == "transcript.text.done" and set(types[:-1]) == {"transcript.text.delta"}
    deltas = "".join(event.delta for event in events if isinstance(event, TranscriptionTextDeltaEvent))
    done = events[-1]
    assert isinstance(done, TranscriptionTextDoneEvent)
    assert deltas == done.text == mock_text("speech.wav", WAV_SECONDS)
    assert done.usage is not None and done.usage.input_tokens > 0
    assert done.usage.output_tokens == len(done.text.split())
    body = upstream_form(mock_upstream)
    assert body["fields"]["stream"] == "true"
    assert_file_sent(body, WAV, "speech.wav", "audio/wav")


async def test_stream_broken_midway_ends_with_an_error_event(
    client: openai.AsyncOpenAI, mock_upstream: MockUpstream
) -> None:
    """Events already relayed stay with the client; the upstream's in-stream error (or a cut) then ends the
    stream with an error event the SDK raises on."""
    for directive in ({"error_after": 2, "chunk_delay": 0.05}, {"cut_after": 2, "chunk_delay": 0.05}):
        mock_upstream.script(directive)
        stream = await client.audio.transcriptions.create(
            model="gpt-4o-mini-transcribe", file=("s.wav", WAV, "audio/wav"), stream=True
        )
        seen: list[str] = []
        with pytest.raises(openai.APIError):
            async for event in stream:
                seen.append(event.type)
        assert seen == ["transcript.text.delta", "transcript.text.delta"]


async def test_stream_failing_before_any_event_is_an_error_answer(
    client: openai.AsyncOpenAI, mock_upstream: MockUpstream
) -> None:
    mock_upstream.script({"fail": 503})
    with pytest.raises(openai.APIStatusError) as caught:
        await client.audio.transcriptions.create(
            model="gpt-4o-mini-transcribe", file=("s.wav", WAV, "audio/wav"), stream=True
        )
    assert caught.value.status_code >= 500
    assert len(mock_upstream.requests) == 1


async def test_whisper_ignores_stream_and_answers_json(gateway: RunningGateway, mock_upstream: MockUpstream) -> None:
    """OpenAI ignores ``stream`` for whisper-1: its JSON answer is relayed as JSON."""
    body = multipart([("model", b"whisper-1", None, None), ("stream", b"true", None, None),
                      ("file", WAV, "a.wav", "audio/wav")])  # fmt: skip
    status, answer = await post_raw(gateway.url, body, "multipart/form-data; boundary=b0undary")
    assert status == 200 and answer["text"] == mock_text("a.wav", WAV_SECONDS)
    assert upstream_form(mock_upstream)["fields"]["stream"] == "true"


async def test_upstream_refusal_is_relayed(client: openai.AsyncOpenAI, mock_upstream: MockUpstream) -> None:
    """gpt-4o-mini-transcribe has no srt: the upstream's 400 reaches the client in OpenAI's shape."""
    with pytest.raises(openai.BadRequestError) as caught:
        await client.audio.transcriptions.create(
            model="gpt-4o-mini-transcribe", file=("s.wav", WAV, "audio/wav"), response_format="srt"
        )
    assert "response_format 'srt' is not compatible" in caught.value.message
    assert len(mock_upstream.requests) == 1


# ---------------------------------------------------------------- bad input: 4xx naming the field, upstream untouched


def multipart(parts: list[tuple[str, bytes, str | None, str | None]], boundary: str = "b0undary") -> bytes:
    """A hand-written form: ``(name, data, filename, content type)`` parts."""
    out = b""
    for name, data, filename, content_type in parts:
        head = f'Content-Disposition: form-data; name="{name}"'
        if filename is not None:
            head += f'; filename="{filename}"'
        if content_type is not None:
            head += f"\r\nContent-Type: {content_type}"
        out += f"--{boundary}\r\n{head}\r\n\r\n".encode() + data + b"\r\n"
    return out + f"--{boundary}--\r\n".encode()


async def post_raw(url: str, body: bytes, content_type: str, path: str = "/v1/audio/transcriptions") -> tuple[int, Any]:
    async with aiohttp.ClientSession() as session:
        headers = {"Authorization": f"Bearer {CLIENT_KEY}", "Content-Type": content_type}
        async with session.post(url + path, data=body, headers=headers) as response:
            return response.status, await response.json(content_type=None)


BAD = [
    pytest.param(multipart([("model", b"whisper-1", None, None)]), "multipart/form-data; boundary=b0undary", "file",
                 id="missing-file"),
    pytest.param(multipart([("model", b"whisper-1", None, None), ("file", b"RIFF....", None, None)]),
                 "multipart/form-data; boundary=b0undary", "file", id="file-as-text"),
    pytest.param(multipart([("file", WAV, "a.wav", "audio/wav")]), "multipart/form-data; boundary=b0undary", "model",
                 id="missing-model"),
    pytest.param(multipart([("model", b"whisper-1", None, None), ("response_format", b"xml", None, None),
                            ("file", WAV, "a.wav", "audio/wav")]),
                 "multipart/form-data; boundary=b0undary", "response_format", id="bad-format"),
    pytest.param(multipart([("model", b"whisper-1", None, None), ("temperature", b"hot", None, None),
                            ("file", WAV, "a.wav", "audio/wav")]),
                 "multipart/form-data; boundary=b0undary", "temperature", id="bad-temperature"),
    pytest.param(multipart([("model", b"whisper-1", None, None), ("stream", b"maybe", None, None),
                            ("file", WAV, "a.wav", "audio/wav")]),
                 "multipart/form-data; boundary=b0undary", "stream", id="bad-stream"),
    pytest.param(multipart([("model", b"whisper-1", None, None), ("timestamp_granularities[]", b"char", None, None),
                            ("file", WAV, "a.wav", "audio/wav")]),
                 "multipart/form-data; boundary=b0undary", "timestamp_granularities[]", id="bad-granularity"),
    pytest.param(multipart([("model", b"whisper-1", None, None), ("file", WAV, "a.wav", "audio/wav")])[:-20],
                 "multipart/form-data; boundary=b0undary", None, id="truncated-body"),
    pytest.param(b"--b0undary\r\ngarbage without headers\r\n\r\n--b0undary--\r\n",
                 "multipart/form-data; boundary=b0undary", None, id="malformed-body"),
    pytest.param(multipart([("model", b"whisper-1", None, None), ("file", WAV, "a.wav", "audio/wav")]),
                 "multipart/form-data", None, id="missing-boundary"),
    pytest.param(b'{"model": "whisper-1"}', "application/json", None, id="json-body"),
]  # fmt: skip


@pytest.mark.parametrize(("body", "content_type", "param"), BAD)
async def test_bad_input_is_a_400_naming_the_field(
    gateway: RunningGateway, mock_upstream: MockUpstream, body: bytes, content_type: str, param: str | None
) -> None:
    status, answer = await post_raw(gateway.url, body, content_type)
    assert status == 400
    assert answer["error"]["type"] == "invalid_request_error" and answer["error"]["message"]
    assert answer["error"]["param"] == param
    assert mock_upstream.requests == []


async def test_translation_refuses_diarized_json(gateway: RunningGateway, mock_upstream: MockUpstream) -> None:
    body = multipart([("model", b"whisper-1", None, None), ("response_format", b"diarized_json", None, None),
                      ("file", WAV, "a.wav", "audio/wav")])  # fmt: skip
    status, answer = await post_raw(
        gateway.url, body, "multipart/form-data; boundary=b0undary", "/v1/audio/translations"
    )
    assert status == 400 and answer["error"]["param"] == "response_format"
    assert mock_upstream.requests == []


async def test_oversized_upload_is_413(mock_upstream: MockUpstream, tmp_path: Path) -> None:
    mock_upstream.clear_requests()
    async with (
        configured(mock_upstream.url, tmp_path, max_upload_bytes=len(WAV) // 2) as running,
        openai.AsyncOpenAI(base_url=f"{running.url}/v1", api_key=CLIENT_KEY, max_retries=0) as sdk,
    ):
        with pytest.raises(openai.APIStatusError) as caught:
            await sdk.audio.transcriptions.create(model="whisper-1", file=("big.wav", WAV, "audio/wav"))
        assert caught.value.status_code == 413
        assert isinstance(caught.value.body, dict) and caught.value.body.get("message")
        small = encoded(0.1, "WAV")
        assert len(small) < len(WAV) // 2
        ok = await sdk.audio.transcriptions.create(model="whisper-1", file=("small.wav", small, "audio/wav"))
        assert ok.text.startswith("Mock transcript of small.wav")
    assert [r.body["files"][0]["filename"] for r in mock_upstream.requests] == ["small.wav"]


# ---------------------------------------------------------------- billing


async def test_usage_rows_bill_seconds_and_tokens(mock_upstream: MockUpstream, tmp_path: Path) -> None:
    mock_upstream.clear_script()
    mock_upstream.clear_requests()
    async with (
        configured(mock_upstream.url, tmp_path) as running,
        openai.AsyncOpenAI(base_url=f"{running.url}/v1", api_key=CLIENT_KEY, max_retries=0) as sdk,
    ):
        whisper = await sdk.audio.transcriptions.create(model="whisper-1", file=("a.wav", WAV, "audio/wav"))
        verbose = await sdk.audio.transcriptions.create(
            model="whisper-1", file=("b.mp3", MP3, "audio/mpeg"), response_format="verbose_json"
        )
        await sdk.audio.transcriptions.create(
            model="whisper-1", file=("c.wav", WAV, "audio/wav"), response_format="text"
        )
        tokens = await sdk.audio.transcriptions.create(model="gpt-4o-mini-transcribe", file=("d.wav", WAV, "audio/wav"))
        stream = await sdk.audio.transcriptions.create(
            model="gpt-4o-mini-transcribe", file=("e.mp3", MP3, "audio/mpeg"), stream=True
        )
        done = [event async for event in stream][-1]
    assert isinstance(done, TranscriptionTextDoneEvent) and done.usage is not None
    rows = await usage_rows(tmp_path / "gw.db")
    assert [r["status_code"] for r in rows] == [200] * 5
    per_second_nano = PER_SECOND * 1e9
    # whisper-1 json: the upstream's usage {type: duration, seconds}
    whisper_seconds = whisper.model_dump()["usage"]["seconds"]
    assert rows[0]["seconds"] == whisper_seconds and rows[0]["input_tokens"] == rows[0]["output_tokens"] == 0
    assert rows[0]["cost_nano"] == round(rows[0]["seconds"] * per_second_nano) and not rows[0]["usage_estimated"]
    # verbose_json of a translation-less whisper: its usage seconds again; the duration is the file's
    assert verbose.duration == pytest.approx(MP3_SECONDS, abs=0.001)
    assert rows[1]["seconds"] == verbose.model_dump()["usage"]["seconds"] >= verbose.duration
    assert rows[1]["cost_nano"] == round(rows[1]["seconds"] * per_second_nano)
    # text format: no usage in the answer: the measured duration, not rounded, marked estimated
    assert rows[2]["seconds"] == pytest.approx(WAV_SECONDS, abs=1e-6)
    assert rows[2]["cost_nano"] == round(WAV_SECONDS * per_second_nano) and rows[2]["usage_estimated"]
    # token models: the upstream's tokens
    usage = tokens.model_dump()["usage"]
    assert (rows[3]["input_tokens"], rows[3]["output_tokens"]) == (usage["input_tokens"], usage["output_tokens"])
    assert rows[3]["audio_input_tokens"] == usage["input_token_details"]["audio_tokens"] > 0
    assert rows[3]["seconds"] == 0 and not rows[3]["usage_estimated"]
    assert rows[3]["cost_nano"] == usage["input_tokens"] * 1000 + usage["output_tokens"] * 2000
    assert rows[4]["stream"] is True
    assert (rows[4]["input_tokens"], rows[4]["output_tokens"]) == (done.usage.input_tokens, done.usage.output_tokens)
    assert done.usage.input_token_details is not None
    assert rows[4]["audio_input_tokens"] == done.usage.input_token_details.audio_tokens > 0
    assert all(r["model"] in ("whisper-1", "gpt-4o-mini-transcribe") for r in rows)


# ---------------------------------------------------------------- Gemini as the upstream


@pytest.fixture(scope="module")
async def gemini_served(
    mock_upstream: MockUpstream, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RunningGateway]:
    channels = [channel(mock_upstream.url, "ge", "gemini", ["gem-stt"], model_map={"gem-stt": "gemini-2.5-flash"})]
    async with media_gateway(tmp_path_factory.mktemp("stt-ge"), channels) as running:
        yield running


@pytest.fixture
async def gemini_client(
    gemini_served: RunningGateway, mock_upstream: MockUpstream
) -> AsyncIterator[openai.AsyncOpenAI]:
    mock_upstream.clear_script()
    mock_upstream.clear_requests()
    async with openai.AsyncOpenAI(base_url=f"{gemini_served.url}/v1", api_key=CLIENT_KEY, max_retries=0) as sdk:
        yield sdk


@pytest.mark.parametrize("fmt", ["json", "text", "verbose_json"])
async def test_gemini_transcribes_inline_audio(
    gemini_client: openai.AsyncOpenAI, mock_upstream: MockUpstream, fmt: str
) -> None:
    mock_upstream.script({"text": "hello from gemini"})
    result = await gemini_client.audio.transcriptions.create(
        model="gem-stt", file=("speech.mp3", MP3, "audio/mpeg"), response_format=fmt, language="fr"
    )
    (sent,) = mock_upstream.requests
    assert sent.path == "/v1beta/models/gemini-2.5-flash:generateContent"
    text_part, audio_part = sent.body["contents"][0]["parts"]
    assert "Transcribe" in text_part["text"] and "'fr'" in text_part["text"]
    assert audio_part["inlineData"]["mimeType"] == "audio/mp3"
    assert base64.b64decode(audio_part["inlineData"]["data"]) == MP3
    if fmt == "text":
        assert result == "hello from gemini\n"
    elif fmt == "json":
        assert isinstance(result, Transcription) and result.text == "hello from gemini"
    else:
        assert isinstance(result, TranscriptionVerbose)
        assert result.text == "hello from gemini" and result.duration == pytest.approx(MP3_SECONDS)
        assert result.language == "fr"


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"response_format": "srt"}, "response_format"),
        ({"response_format": "vtt"}, "response_format"),
        ({"response_format": "verbose_json", "timestamp_granularities": ["word"]}, "timestamp_granularities[]"),
        ({"stream": True}, "stream"),
    ],
)
async def test_gemini_refuses_what_needs_timings(
    gemini_client: openai.AsyncOpenAI, mock_upstream: MockUpstream, extra: dict[str, Any], param: str
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        await gemini_client.audio.transcriptions.create(model="gem-stt", file=("s.wav", WAV, "audio/wav"), **extra)
    assert caught.value.param == param
    assert mock_upstream.requests == []
