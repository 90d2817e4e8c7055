"""``POST /v1/audio/speech`` through the gateway with the official openai SDK, against every speech vendor
on the mock: plain and streamed reads, each format decoded, SSE mode, refused requests, fail-over on a
vendor error inside a 200 body, and the usage rows.
"""

from __future__ import annotations

import asyncio
import base64
import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import openai
import orjson
import pytest
import soundfile as sf

from omnirouter.mock_upstream import MockUpstream
from omnirouter.protocols.media.voices import VOICE_TABLE
from tests.helpers.gateway_harness import CLIENT_KEY, RunningGateway
from tests.helpers.media_gateway import channel, media_gateway
from tests.helpers.usage_rows import usage_rows

# public model → (provider, options); each channel serves one model.
VENDORS: dict[str, tuple[str, dict[str, str]]] = {
    "tts-1": ("openai", {}),
    "gpt-4o-mini-tts": ("openai", {}),
    "gemini-2.5-flash-preview-tts": ("gemini", {}),
    "speech-02-hd": ("minimax", {}),
    "seed-tts-v1": ("volcengine", {"app_id": "app-1"}),
    "seed-tts-v3": ("volcengine", {"app_id": "app-1", "resource_id": "seed-tts-1.0"}),
    "qwen3-tts-flash": ("dashscope", {}),
    "eleven_multilingual_v2": ("elevenlabs", {}),
}
TEXT = "Hello from the speech tests, spoken once."


@pytest.fixture(scope="module")
async def served(mock_upstream: MockUpstream, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Any]:
    """One channel per model, plus a second MiniMax channel (lower priority) behind ``speech-fo``."""
    db_dir = tmp_path_factory.mktemp("speech")
    channels = [
        channel(mock_upstream.url, f"ch-{model}", provider, [model], options=options)
        for model, (provider, options) in VENDORS.items()
    ]
    channels += [
        channel(mock_upstream.url, "fo-first", "minimax", ["speech-fo"], priority=10),
        channel(mock_upstream.url, "fo-second", "dashscope", ["speech-fo"], model_map={"speech-fo": "qwen3-tts-flash"}),
    ]
    async with media_gateway(db_dir, channels) as running:
        yield running, db_dir / "gw.db"


@pytest.fixture
def gateway(served: Any, mock_upstream: MockUpstream) -> RunningGateway:
    mock_upstream.clear_requests()
    mock_upstream.clear_script()
    running: RunningGateway = served[0]
    return running


@pytest.fixture
async def client(gateway: RunningGateway) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(base_url=f"{gateway.url}/v1", api_key=CLIENT_KEY, max_retries=0) as sdk:
        yield sdk


def speech_requests(mock: MockUpstream) -> list[Any]:
    return [r for r in mock.requests if r.provider != "media"]


def decoded(data: bytes, fmt: str) -> tuple[int, float]:
    """(sample rate, seconds) of the audio; pcm is 24 kHz 16-bit mono."""
    if fmt == "pcm":
        assert len(data) % 2 == 0
        return 24000, len(data) / 2 / 24000
    info = sf.info(io.BytesIO(data))
    return info.samplerate, info.frames / info.samplerate


FORMAT_CASES = [
    ("tts-1", "mp3"), ("tts-1", "wav"), ("tts-1", "opus"), ("gpt-4o-mini-tts", "flac"), ("gpt-4o-mini-tts", "pcm"),
    ("gemini-2.5-flash-preview-tts", "wav"), ("gemini-2.5-flash-preview-tts", "pcm"),
    ("gemini-2.5-flash-preview-tts", "mp3"), ("gemini-2.5-flash-preview-tts", "flac"),
    ("gemini-2.5-flash-preview-tts", "opus"),
    ("speech-02-hd", "mp3"), ("speech-02-hd", "wav"), ("speech-02-hd", "pcm"), ("speech-02-hd", "flac"),
    ("speech-02-hd", "opus"),
    ("seed-tts-v1", "mp3"), ("seed-tts-v1", "wav"), ("seed-tts-v1", "opus"), ("seed-tts-v1", "flac"),
    ("seed-tts-v3", "mp3"), ("seed-tts-v3", "pcm"), ("seed-tts-v3", "wav"), ("seed-tts-v3", "flac"),
    ("qwen3-tts-flash", "wav"), ("qwen3-tts-flash", "pcm"), ("qwen3-tts-flash", "mp3"),
    ("eleven_multilingual_v2", "mp3"), ("eleven_multilingual_v2", "pcm"), ("eleven_multilingual_v2", "wav"),
    ("eleven_multilingual_v2", "flac"),
]  # fmt: skip
CONTENT_TYPES = {"mp3": "audio/mpeg", "opus": "audio/opus", "aac": "audio/aac", "flac": "audio/flac",
                 "wav": "audio/wav", "pcm": "audio/pcm"}  # fmt: skip


@pytest.mark.parametrize(("model", "fmt"), FORMAT_CASES)
async def test_plain_speech_decodes_in_the_asked_format(
    client: openai.AsyncOpenAI, mock_upstream: MockUpstream, model: str, fmt: Any
) -> None:
    raw = await client.audio.speech.with_raw_response.create(
        model=model, input=TEXT, voice="alloy", response_format=fmt
    )
    data = raw.content
    assert raw.headers["content-type"] == CONTENT_TYPES[fmt]
    rate, seconds = decoded(data, fmt)
    assert seconds > 0.1
    if fmt in ("wav", "pcm"):
        assert rate == 24000
    if fmt == "mp3":
        assert data[:3] == b"ID3" or data[0] == 0xFF
    if fmt == "opus":
        assert data[:4] == b"OggS"
    sent = speech_requests(mock_upstream)
    assert len(sent) == 1
    provider = VENDORS[model][0]
    if provider in VOICE_TABLE:  # the OpenAI name went out as the vendor's voice
        assert VOICE_TABLE[provider]["alloy"] in orjson.dumps(sent[0].body).decode() + sent[0].path


@pytest.mark.parametrize("model", list(VENDORS))
async def test_streamed_speech_read_chunk_by_chunk(client: openai.AsyncOpenAI, model: str) -> None:
    fmt = "wav" if model != "tts-1" else "mp3"
    chunks: list[bytes] = []
    async with client.audio.speech.with_streaming_response.create(
        model=model, input=TEXT, voice="nova", response_format=fmt
    ) as response:
        assert response.headers["content-type"] == CONTENT_TYPES[fmt]
        async for chunk in response.iter_bytes(4096):
            chunks.append(chunk)
    data = b"".join(chunks)
    _, seconds = decoded(data, fmt)
    assert seconds > 0.1


@pytest.mark.parametrize("model", ["gpt-4o-mini-tts", "speech-02-hd", "seed-tts-v3", "gemini-2.5-flash-preview-tts"])
async def test_sse_mode_carries_base64_audio_then_usage(gateway: RunningGateway, model: str) -> None:
    body = {"model": model, "input": TEXT, "voice": "coral", "response_format": "pcm", "stream_format": "sse"}
    async with httpx.AsyncClient(timeout=30) as http:
        answer = await http.post(
            f"{gateway.url}/v1/audio/speech", json=body, headers={"authorization": f"Bearer {CLIENT_KEY}"}
        )
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/event-stream")
    events = [orjson.loads(line[6:]) for line in answer.text.split("\n") if line.startswith("data: ")]
    assert [e["type"] for e in events[:-1]] == ["speech.audio.delta"] * (len(events) - 1)
    assert events[-1]["type"] == "speech.audio.done"
    usage = events[-1]["usage"]
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
    pcm = b"".join(base64.b64decode(e["audio"]) for e in events[:-1])
    assert len(pcm) > 4800 and len(pcm) % 2 == 0


async def rows_after(db: Path, before: int, count: int) -> list[dict[str, Any]]:
    """The usage rows written after row id ``before``, once there are ``count`` of them (flushes are async)."""
    rows: list[dict[str, Any]] = []
    for _ in range(100):
        rows = [row for row in await usage_rows(db) if row["id"] > before]
        if len(rows) >= count:
            break
        await asyncio.sleep(0.05)
    return rows


async def last_row_id(db: Path) -> int:
    await asyncio.sleep(0.2)  # let earlier tests' rows land
    return max((row["id"] for row in await usage_rows(db)), default=0)


def bad_request(exc: openai.BadRequestError) -> str | None:
    """The ``param`` of an OpenAI-shaped 400."""
    body = exc.body if isinstance(exc.body, dict) else {}
    error = body.get("error", body)
    param: str | None = error.get("param") if isinstance(error, dict) else None
    return param


REFUSED = [
    ({"model": "gemini-2.5-flash-preview-tts", "voice": "Nosuchvoice"}, "voice"),
    ({"model": "tts-1", "voice": "nosuchvoice"}, "voice"),
    ({"model": "speech-02-hd", "voice": "two words"}, "voice"),
    ({"model": "tts-1", "response_format": "ogg"}, "response_format"),
    ({"model": "gemini-2.5-flash-preview-tts", "response_format": "aac"}, "response_format"),
    ({"model": "speech-02-hd", "response_format": "aac"}, "response_format"),
    ({"model": "seed-tts-v3", "response_format": "aac"}, "response_format"),
    ({"model": "qwen3-tts-flash", "response_format": "aac"}, "response_format"),
    ({"model": "eleven_multilingual_v2", "response_format": "aac"}, "response_format"),
    ({"model": "tts-1", "input": "x" * 4097}, "input"),
    ({"model": "tts-1", "speed": 5}, "speed"),
    ({"model": "tts-1", "stream_format": "chunks"}, "stream_format"),
]


@pytest.mark.parametrize(("override", "param"), REFUSED)
async def test_bad_requests_are_400_naming_the_field_and_reach_no_upstream(
    client: openai.AsyncOpenAI, mock_upstream: MockUpstream, override: dict[str, Any], param: str
) -> None:
    args: dict[str, Any] = {"model": "tts-1", "input": TEXT, "voice": "alloy", **override}
    with pytest.raises(openai.BadRequestError) as caught:
        await client.audio.speech.create(**args)
    assert bad_request(caught.value) == param
    assert speech_requests(mock_upstream) == []


async def test_aac_passes_to_openai_which_makes_it(client: openai.AsyncOpenAI, mock_upstream: MockUpstream) -> None:
    """OpenAI makes aac itself: the gateway asks for it (the mock, which cannot encode aac, says so)."""
    with pytest.raises(openai.BadRequestError) as caught:
        await client.audio.speech.create(model="tts-1", input=TEXT, voice="alloy", response_format="aac")
    assert "aac" in str(caught.value)
    assert [r.body["response_format"] for r in speech_requests(mock_upstream)] == ["aac"]


@pytest.mark.parametrize("fmt", ["wav", "opus"])  # wav streams, opus is read whole then transcoded
async def test_vendor_error_inside_a_200_body_fails_over(
    client: openai.AsyncOpenAI, mock_upstream: MockUpstream, served: Any, fmt: Any
) -> None:
    mock_upstream.script({"body_error": True, "message": "voice quota exhausted"}, times=1)
    raw = await client.audio.speech.with_raw_response.create(
        model="speech-fo", input=TEXT, voice="shimmer", response_format=fmt
    )
    assert raw.headers["content-type"] == CONTENT_TYPES[fmt]
    assert raw.headers["x-omnirouter-attempts"] == "2"
    rate, seconds = decoded(raw.content, fmt)
    assert seconds > 0.1 and rate == 24000
    paths = [r.path for r in speech_requests(mock_upstream)]
    assert paths == ["/v1/t2a_v2", "/api/v1/services/aigc/multimodal-generation/generation"]
    assert speech_requests(mock_upstream)[1].body["input"]["voice"] == VOICE_TABLE["dashscope"]["shimmer"]


async def test_usage_rows_record_the_serving_channel_and_tokens(
    client: openai.AsyncOpenAI, gateway: RunningGateway, served: Any
) -> None:
    before = await last_row_id(served[1])
    body = {"model": "gpt-4o-mini-tts", "input": TEXT, "voice": "ash", "stream_format": "sse"}
    async with httpx.AsyncClient(timeout=30) as http:
        answer = await http.post(
            f"{gateway.url}/v1/audio/speech", json=body, headers={"authorization": f"Bearer {CLIENT_KEY}"}
        )
    done = orjson.loads(answer.text.strip().split("\n")[-1][6:])
    await client.audio.speech.create(model="speech-02-hd", input=TEXT, voice="ash", response_format="mp3")
    await client.audio.speech.create(model="seed-tts-v1", input=TEXT, voice="ash", response_format="mp3")
    cjk = "你好，世界！这是语音测试。"
    await client.audio.speech.create(model="tts-1", input=cjk, voice="ash", response_format="mp3")
    gemini_pcm = await client.audio.speech.create(
        model="gemini-2.5-flash-preview-tts", input=TEXT, voice="ash", response_format="pcm"
    )
    by_model = {r["model"]: r for r in await rows_after(served[1], before, 5)}
    tokens = by_model["gpt-4o-mini-tts"]
    assert (tokens["input_tokens"], tokens["output_tokens"]) == (
        done["usage"]["input_tokens"],
        done["usage"]["output_tokens"],
    )
    assert tokens["output_tokens"] > 0 and not tokens["usage_estimated"] and tokens["stream"]
    assert tokens["audio_output_tokens"] == tokens["output_tokens"]  # all of gpt-4o-mini-tts's output is audio
    assert tokens["characters"] == 0  # billed by tokens
    # tts-1 is billed by characters: Unicode code points of the input, not its UTF-8 bytes
    assert by_model["tts-1"]["characters"] == len(cjk) == 13 and len(cjk.encode()) == 39
    assert by_model["tts-1"]["input_tokens"] == by_model["tts-1"]["output_tokens"] == 0
    # Gemini: AUDIO output tokens, 25 a second of the 24 kHz 16-bit PCM returned
    gemini = by_model["gemini-2.5-flash-preview-tts"]
    audio_seconds = len(gemini_pcm.content) / 2 / 24000
    assert gemini["audio_output_tokens"] == gemini["output_tokens"] == round(audio_seconds * 25) > 0
    assert gemini["input_tokens"] > 0 and not gemini["usage_estimated"] and gemini["characters"] == 0
    assert by_model["speech-02-hd"]["channel"] == "ch-speech-02-hd" and by_model["speech-02-hd"]["status_code"] == 200
    assert by_model["seed-tts-v1"]["usage_estimated"]  # Volcengine reports no usage: characters estimated


async def test_a_20_mb_streamed_answer_arrives_whole(client: openai.AsyncOpenAI, mock_upstream: MockUpstream) -> None:
    size = 20 * 1024 * 1024
    mock_upstream.script({"media_bytes": size}, times=1)
    received = 0
    chunks = 0
    head = b""
    async with client.audio.speech.with_streaming_response.create(
        model="tts-1", input=TEXT, voice="echo", response_format="wav"
    ) as response:
        async for chunk in response.iter_bytes():
            if len(head) < 64:
                head += chunk[:64]
            received += len(chunk)
            chunks += 1
    assert received >= size and chunks > 1
    assert head[:4] == b"RIFF"


async def test_first_bytes_reach_the_client_before_the_upstream_ends(
    client: openai.AsyncOpenAI, mock_upstream: MockUpstream, served: Any
) -> None:
    """The upstream sends three chunks and then breaks the connection: a buffering relay would have
    nothing to give (it would fail the attempt over); a streaming one has already sent those chunks,
    and the answer simply ends there, the usage row recording the error."""
    before = await last_row_id(served[1])
    mock_upstream.script({"media_bytes": 1024 * 1024, "cut_after": 3, "chunk_delay": 0.05}, times=1)
    got = b""
    async with client.audio.speech.with_streaming_response.create(
        model="tts-1", input="cut short " + TEXT, voice="echo", response_format="pcm"
    ) as response:
        assert response.status_code == 200
        async for chunk in response.iter_bytes():
            got += chunk
    assert 0 < len(got) < 1024 * 1024
    assert len(speech_requests(mock_upstream)) == 1  # no second attempt once bytes went out
    [row] = await rows_after(served[1], before, 1)
    assert row["status_code"] == 502 and row["stream"] and row["ttfb_ms"] is not None
