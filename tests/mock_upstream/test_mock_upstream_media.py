"""The mock upstream's OpenAI media endpoints: embeddings, moderations, speech, transcription, images."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import numpy as np
import openai
import pytest
import soundfile as sf
from PIL import Image

from omnirouter.mock_upstream import MockUpstream
from omnirouter.mock_upstream import media_bytes as mb

OPENAI = {"Authorization": "Bearer sk-x"}


@pytest.fixture
async def mock() -> AsyncIterator[MockUpstream]:
    async with MockUpstream() as m:
        yield m


@pytest.fixture
async def client(mock: MockUpstream) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(base_url=mock.url + "/v1", api_key="sk-x", max_retries=0, timeout=10) as c:
        yield c


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


def sse_events(raw: bytes) -> list[dict[str, Any]]:
    """The JSON payloads of an SSE body."""
    out = []
    for block in raw.decode().replace("\r\n", "\n").split("\n\n"):
        data = [line[5:].strip() for line in block.split("\n") if line.startswith("data:")]
        if data and data[0] != "[DONE]":
            out.append(json.loads("\n".join(data)))
    return out


async def test_embeddings_float_base64_and_dimensions(client: openai.AsyncOpenAI, mock: MockUpstream) -> None:
    r = await client.embeddings.create(model="text-embedding-3-small", input=["hello", "world"])
    assert [len(d.embedding) for d in r.data] == [1536, 1536]
    assert r.usage.prompt_tokens == r.usage.total_tokens == 4
    assert mock.requests[-1].body["encoding_format"] == "base64"  # the SDK's default, decoded back
    again = await client.embeddings.create(
        model="text-embedding-3-small", input="hello", encoding_format="float", dimensions=8
    )
    assert len(again.data[0].embedding) == 8 and abs(float(np.linalg.norm(again.data[0].embedding)) - 1) < 1e-5
    large = await client.embeddings.create(model="text-embedding-3-large", input=[[1, 2, 3]], encoding_format="float")
    assert len(large.data[0].embedding) == 3072 and large.usage.prompt_tokens == 3
    # base64 decodes to the same float32 values as the float answer
    same = await client.embeddings.create(model="text-embedding-3-small", input="hello", encoding_format="float")
    assert same.data[0].embedding == r.data[0].embedding
    with pytest.raises(openai.BadRequestError, match="does not support specifying dimensions"):
        await client.embeddings.create(model="text-embedding-ada-002", input="x", dimensions=8)


async def test_auth_errors_on_media_routes(session: aiohttp.ClientSession, mock: MockUpstream) -> None:
    async with session.post(mock.url + "/v1/embeddings", json={"model": "m", "input": "x"}) as r:
        assert r.status == 401 and "You didn't provide an API key" in (await r.json())["error"]["message"]
    headers = {"Authorization": "Bearer bad-key-123456"}
    async with session.post(mock.url + "/v1/audio/speech", json={}, headers=headers) as r:
        assert r.status == 401 and (await r.json())["error"]["code"] == "invalid_api_key"


async def test_moderations(client: openai.AsyncOpenAI) -> None:
    r = await client.moderations.create(input=["I will kill it", "a nice day"])
    assert len(r.results) == 2 and r.results[0].flagged and not r.results[1].flagged
    first = r.results[0].model_dump(by_alias=True)
    assert first["categories"]["violence"] is True and len(first["categories"]) == 13
    assert len(first["category_scores"]) == 13 and len(first["category_applied_input_types"]) == 13
    parts = await client.moderations.create(
        model="omni-moderation-latest",
        input=[{"type": "text", "text": "hi"}, {"type": "image_url", "image_url": {"url": "https://x/y.png"}}],
    )
    applied = parts.results[0].model_dump(by_alias=True)["category_applied_input_types"]
    assert applied["violence"] == ["text", "image"] and applied["hate"] == ["text"]


@pytest.mark.parametrize("fmt", ["mp3", "wav", "flac", "opus", "pcm"])
async def test_speech_formats(client: openai.AsyncOpenAI, fmt: str) -> None:
    r = await client.audio.speech.create(model="tts-1", voice="alloy", input="x" * 30, response_format=fmt)  # type: ignore[arg-type]
    data = r.read()
    if fmt == "pcm":
        assert len(data) == 2 * 24000 * 2  # 30 characters: 2 s of 24 kHz 16-bit mono
        return
    info = sf.info(io.BytesIO(data))
    assert info.samplerate == 24000 and abs(info.duration - 2.0) < 0.05
    assert r.response.headers["content-type"] == mb.AUDIO_TYPES[fmt]
    assert r.response.headers.get("transfer-encoding") == "chunked"


async def test_speech_sse_and_aac(session: aiohttp.ClientSession, mock: MockUpstream) -> None:
    body = {"model": "gpt-4o-mini-tts", "voice": "coral", "input": "hello there", "stream_format": "sse"}
    async with session.post(
        mock.url + "/v1/audio/speech", json={**body, "response_format": "wav"}, headers=OPENAI
    ) as r:
        events = sse_events(await r.read())
    audio = b"".join(base64.b64decode(e["audio"]) for e in events if e["type"] == "speech.audio.delta")
    assert events[-1]["type"] == "speech.audio.done" and events[-1]["usage"]["total_tokens"] > 0
    assert sf.info(io.BytesIO(audio)).samplerate == 24000
    async with session.post(
        mock.url + "/v1/audio/speech", json={**body, "response_format": "aac"}, headers=OPENAI
    ) as r:
        assert r.status == 400 and r.content_type == "application/json"


async def test_speech_large_and_cut(session: aiohttp.ClientSession, mock: MockUpstream) -> None:
    body = {"model": "tts-1", "voice": "alloy", "input": "hi", "response_format": "mp3"}
    mock.script({"media_bytes": 5_000_000})
    async with session.post(mock.url + "/v1/audio/speech", json=body, headers=OPENAI) as r:
        data = await r.read()
    assert len(data) == 5_000_000 and sf.info(io.BytesIO(data)).samplerate == 24000
    mock.script({"cut_after": 1, "media_bytes": 200_000})
    with pytest.raises(aiohttp.ClientPayloadError):
        async with session.post(mock.url + "/v1/audio/speech", json=body, headers=OPENAI) as r:
            await r.read()
    mock.script({"fail": 429, "retry_after": 2})
    async with session.post(mock.url + "/v1/audio/speech", json=body, headers=OPENAI) as r:
        assert r.status == 429 and r.headers["retry-after"] == "2"


async def test_transcriptions(client: openai.AsyncOpenAI, mock: MockUpstream) -> None:
    wav = mb.audio("wav", 3.0)
    r = await client.audio.transcriptions.create(model="whisper-1", file=("clip.wav", wav, "audio/wav"))
    assert r.text == "Mock transcript of clip.wav (3.0 seconds)."
    assert r.model_dump()["usage"] == {"type": "duration", "seconds": 3}
    logged = mock.requests[-1].body
    assert logged["multipart"] and logged["fields"]["model"] == "whisper-1"
    assert logged["files"][0] | {"sha256": None} == {
        "field": "file",
        "filename": "clip.wav",
        "content_type": "audio/wav",
        "size": len(wav),
        "sha256": None,
    }
    verbose = await client.audio.transcriptions.create(
        model="whisper-1",
        file=("clip.mp3", mb.audio("mp3", 2.0), "audio/mpeg"),
        response_format="verbose_json",
        timestamp_granularities=["word", "segment"],
    )
    assert verbose.duration == 2.0 and verbose.words and verbose.segments
    srt = await client.audio.transcriptions.create(
        model="whisper-1", file=("a.flac", mb.audio("flac", 1.0), "audio/flac"), response_format="srt"
    )
    assert isinstance(srt, str) and srt.startswith("1\n00:00:00,000 --> 00:00:01,000")
    tokens = await client.audio.transcriptions.create(model="gpt-4o-mini-transcribe", file=("a.wav", wav, "audio/wav"))
    assert tokens.model_dump()["usage"]["type"] == "tokens"
    with pytest.raises(openai.BadRequestError, match="corrupted"):
        await client.audio.transcriptions.create(model="whisper-1", file=("bad.wav", b"nope", "audio/wav"))


async def test_transcription_without_file_and_stream(session: aiohttp.ClientSession, mock: MockUpstream) -> None:
    form = aiohttp.FormData(default_to_multipart=True)
    form.add_field("model", "whisper-1")
    form.add_field("file", "not a file")
    async with session.post(mock.url + "/v1/audio/transcriptions", data=form, headers=OPENAI) as r:
        assert r.status == 400 and "Invalid type for 'file'" in (await r.json())["error"]["message"]
    form = aiohttp.FormData(default_to_multipart=True)
    form.add_field("model", "gpt-4o-transcribe")
    form.add_field("stream", "true")
    form.add_field("file", mb.audio("wav", 1.0), filename="a.wav", content_type="audio/wav")
    async with session.post(mock.url + "/v1/audio/transcriptions", data=form, headers=OPENAI) as r:
        events = sse_events(await r.read())
    assert events[0]["type"] == "transcript.text.delta" and events[-1]["type"] == "transcript.text.done"
    assert "".join(e["delta"] for e in events[:-1]) == events[-1]["text"]
    assert events[-1]["usage"]["type"] == "tokens"
    form = aiohttp.FormData(default_to_multipart=True)
    form.add_field("model", "whisper-1")
    form.add_field("response_format", "vtt")
    form.add_field("file", mb.audio("wav", 1.0), filename="a.wav", content_type="audio/wav")
    async with session.post(mock.url + "/v1/audio/translations", data=form, headers=OPENAI) as r:
        assert r.content_type == "text/plain" and (await r.text()).startswith("WEBVTT\n\n00:00:00.000 --> ")


async def test_image_generations(client: openai.AsyncOpenAI, session: aiohttp.ClientSession) -> None:
    r = await client.images.generate(model="gpt-image-1", prompt="a cat", n=2, size="1024x1536", quality="low")
    assert r.data and len(r.data) == 2 and r.usage and r.usage.input_tokens_details.text_tokens > 0
    img = Image.open(io.BytesIO(base64.b64decode(r.data[0].b64_json or "")))
    assert img.size == (1024, 1536) and img.format == "PNG"
    dalle = await client.images.generate(model="dall-e-3", prompt="a dog", response_format="url")
    assert dalle.data and dalle.data[0].url and dalle.data[0].revised_prompt
    async with session.get(dalle.data[0].url) as resp:
        assert resp.content_type == "image/png"
        assert Image.open(io.BytesIO(await resp.read())).size == (1024, 1024)
    with pytest.raises(openai.BadRequestError, match="response_format"):
        await client.images.generate(model="gpt-image-1", prompt="x", response_format="url")
    stream = await client.images.generate(model="gpt-image-1", prompt="x", stream=True, partial_images=2)
    kinds = [event.type async for event in stream]
    assert kinds == ["image_generation.partial_image"] * 2 + ["image_generation.completed"]


async def test_image_edits(client: openai.AsyncOpenAI, session: aiohttp.ClientSession, mock: MockUpstream) -> None:
    png = mb.image("png", 64, 64, 1)
    r = await client.images.edit(
        model="gpt-image-1", image=[("a.png", png, "image/png"), ("b.png", png, "image/png")], prompt="merge"
    )
    assert r.usage and r.usage.input_tokens_details.image_tokens > 0
    files = mock.requests[-1].body["files"]
    assert [f["field"] for f in files] == ["image[]", "image[]"] and files[0]["content_type"] == "image/png"
    form = aiohttp.FormData(default_to_multipart=True)
    form.add_field("prompt", "x")
    form.add_field("image[]", "a string, not a file")
    async with session.post(mock.url + "/v1/images/edits", data=form, headers=OPENAI) as resp:
        assert resp.status == 400
        assert (await resp.json())["error"]["message"].startswith("Invalid type for 'image[0]'")
    data_url = "data:image/png;base64," + base64.b64encode(png).decode()
    body = {"model": "gpt-image-1", "prompt": "x", "images": [{"image_url": data_url}]}
    async with session.post(mock.url + "/v1/images/edits", json=body, headers=OPENAI) as resp:
        answer = await resp.json()
    assert resp.status == 200 and Image.open(io.BytesIO(base64.b64decode(answer["data"][0]["b64_json"])))
