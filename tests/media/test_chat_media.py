"""Image and audio output through chat, end to end with the official SDKs against a Gemini channel on the mock.

OpenAI Chat clients asking a Gemini image model get ``message.images`` (``delta.images`` streamed), or
Markdown in ``content`` on a channel with ``image_output: markdown``; google-genai clients asking IMAGE or
AUDIO are relayed untouched.  Usage rows keep the image / audio output tokens in their own columns
(parts of ``output_tokens``).
"""

from __future__ import annotations

import asyncio
import base64
import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import openai
import pytest
from google import genai
from google.genai import types as gtypes
from PIL import Image

from omnirouter.mock_upstream import MockUpstream
from tests.helpers.gateway_harness import CLIENT_KEY, RunningGateway
from tests.helpers.media_gateway import channel, media_gateway
from tests.helpers.usage_rows import usage_rows

IMAGE_MODEL = "gemini-2.5-flash-image"
MARKDOWN_MODEL = "banana-md"
TTS_MODEL = "gemini-2.5-flash-preview-tts"
MESSAGES: list[Any] = [{"role": "user", "content": "a red fox"}]


@pytest.fixture(scope="module")
def db_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("chatmedia")


@pytest.fixture(scope="module")
async def served(mock_upstream: MockUpstream, db_dir: Path) -> AsyncIterator[RunningGateway]:
    """A Gemini channel serving the image and TTS models, and one answering images as Markdown."""
    channels = [
        channel(mock_upstream.url, "ge", "gemini", [IMAGE_MODEL, TTS_MODEL]),
        channel(
            mock_upstream.url,
            "ge-md",
            "gemini",
            [MARKDOWN_MODEL],
            model_map={MARKDOWN_MODEL: IMAGE_MODEL},
            options={"image_output": "markdown"},
        ),
    ]
    async with media_gateway(db_dir, channels) as running:
        yield running


@pytest.fixture
def gateway(served: RunningGateway, mock_upstream: MockUpstream) -> RunningGateway:
    mock_upstream.requests.clear()
    return served


@pytest.fixture
async def client(gateway: RunningGateway) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(base_url=f"{gateway.url}/v1", api_key=CLIENT_KEY, max_retries=0) as oclient:
        yield oclient


def _png(data_url: str) -> Image.Image:
    header, _, data = data_url.partition(",")
    assert header == "data:image/png;base64"
    image = Image.open(io.BytesIO(base64.b64decode(data)))
    image.load()
    return image


def _upstream(mock: MockUpstream) -> dict[str, Any]:
    calls = [r for r in mock.requests if "generateContent" in r.path or "GenerateContent" in r.path]
    assert len(calls) == 1
    body: dict[str, Any] = calls[0].body
    return body


async def _row(db_dir: Path, key: str, value: str) -> dict[str, Any]:
    """The usage row whose ``key`` is ``value`` (rows are flushed every 50 ms)."""
    for _ in range(100):
        rows = [r for r in await usage_rows(db_dir / "gw.db") if r[key] == value]
        if rows:
            assert len(rows) == 1
            return rows[0]
        await asyncio.sleep(0.05)
    raise AssertionError(f"no usage row with {key} = {value}")


async def test_openai_chat_gets_message_images(
    client: openai.AsyncOpenAI, db_dir: Path, mock_upstream: MockUpstream
) -> None:
    raw = await client.chat.completions.with_raw_response.create(model=IMAGE_MODEL, messages=MESSAGES)
    completion = raw.parse()
    message = completion.choices[0].message
    images = message.to_dict()["images"]
    assert len(images) == 1 and images[0]["type"] == "image_url" and images[0]["index"] == 0
    assert _png(images[0]["image_url"]["url"]).size == (1024, 1024)
    assert message.content and "data:image" not in message.content
    assert completion.model == IMAGE_MODEL
    config = _upstream(mock_upstream)["generationConfig"]
    assert config["responseModalities"] == ["TEXT", "IMAGE"]  # the client named no modalities
    assert "imageConfig" not in config
    assert completion.usage is not None and completion.usage.completion_tokens_details is not None
    details = completion.usage.completion_tokens_details.to_dict()
    assert details["image_tokens"] == 1290  # the mock's tokens for a 1024px image
    # The modality split was reported: the text beside it too (new-api's field), thoughts not included.
    assert details["text_tokens"] == completion.usage.completion_tokens - details["reasoning_tokens"] - 1290 > 0
    row = await _row(db_dir, "request_id", raw.headers["x-request-id"])
    assert row["output_tokens"] == completion.usage.completion_tokens and row["output_tokens"] > 1290
    assert row["image_output_tokens"] == details["image_tokens"] == 1290
    assert row["audio_output_tokens"] == 0 and row["images"] == 0  # tokens, not a per-image count


async def test_openai_chat_streams_delta_images(client: openai.AsyncOpenAI) -> None:
    stream = await client.chat.completions.create(
        model=IMAGE_MODEL, messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    images: list[dict[str, Any]] = []
    text = ""
    usage = None
    async for chunk in stream:
        usage = chunk.usage or usage
        for choice in chunk.choices:
            text += choice.delta.content or ""
            images += choice.delta.to_dict().get("images", [])
    assert len(images) == 1 and _png(images[0]["image_url"]["url"]).size == (1024, 1024)
    assert text and "data:image" not in text
    assert usage is not None and usage.completion_tokens > 1290


@pytest.mark.parametrize(
    "extra_body",
    [
        {"image_config": {"aspect_ratio": "16:9"}},
        {"google": {"image_config": {"aspect_ratio": "16:9"}}},
        {"google": {"image_config": {"aspectRatio": "16:9"}}},
    ],
)
async def test_aspect_ratio_reaches_the_upstream(
    client: openai.AsyncOpenAI, mock_upstream: MockUpstream, extra_body: dict[str, Any]
) -> None:
    completion = await client.chat.completions.create(model=IMAGE_MODEL, messages=MESSAGES, extra_body=extra_body)
    assert _upstream(mock_upstream)["generationConfig"]["imageConfig"] == {"aspectRatio": "16:9"}
    width, height = _png(completion.choices[0].message.to_dict()["images"][0]["image_url"]["url"]).size
    assert width > height and abs(width / height - 16 / 9) < 0.02


async def test_explicit_image_only_modalities_are_honoured(
    client: openai.AsyncOpenAI, mock_upstream: MockUpstream
) -> None:
    completion = await client.chat.completions.create(
        model=IMAGE_MODEL, messages=MESSAGES, extra_body={"modalities": ["image"]}
    )
    assert _upstream(mock_upstream)["generationConfig"]["responseModalities"] == ["IMAGE"]
    assert len(completion.choices[0].message.to_dict()["images"]) == 1


async def test_bad_image_config_is_a_400_before_the_upstream(
    client: openai.AsyncOpenAI, mock_upstream: MockUpstream
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        await client.chat.completions.create(
            model=IMAGE_MODEL, messages=MESSAGES, extra_body={"image_config": {"aspect_ratio": 16}}
        )
    assert "image_config.aspect_ratio" in str(caught.value)
    assert not mock_upstream.requests


async def test_markdown_channel_puts_images_into_content(
    client: openai.AsyncOpenAI, mock_upstream: MockUpstream
) -> None:
    completion = await client.chat.completions.create(model=MARKDOWN_MODEL, messages=MESSAGES)
    message = completion.choices[0].message
    assert "images" not in message.to_dict()
    assert message.content is not None
    text, _, image = message.content.partition("\n\n![image](")
    assert text and image.endswith(")")
    assert _png(image[:-1]).size == (1024, 1024)
    assert completion.model == MARKDOWN_MODEL
    stream = await client.chat.completions.create(model=MARKDOWN_MODEL, messages=MESSAGES, stream=True)
    streamed = ""
    async for chunk in stream:
        for choice in chunk.choices:
            assert "images" not in choice.delta.to_dict()
            streamed += choice.delta.content or ""
    assert "![image](data:image/png;base64," in streamed


def _genai(gateway: RunningGateway) -> genai.Client:
    options = gtypes.HttpOptions(base_url=gateway.url, api_version="v1beta")
    return genai.Client(api_key=CLIENT_KEY, http_options=options)


async def test_google_genai_image_and_audio_pass_through(
    gateway: RunningGateway, db_dir: Path, mock_upstream: MockUpstream
) -> None:
    gclient = _genai(gateway)
    try:
        config = gtypes.GenerateContentConfig(
            response_modalities=["TEXT", "IMAGE"], image_config=gtypes.ImageConfig(aspect_ratio="3:2")
        )
        answer = await gclient.aio.models.generate_content(model=IMAGE_MODEL, contents="a red fox", config=config)
        sent = _upstream(mock_upstream)["generationConfig"]
        assert sent["responseModalities"] == ["TEXT", "IMAGE"] and sent["imageConfig"] == {"aspectRatio": "3:2"}
        parts = answer.candidates[0].content.parts  # type: ignore[index, union-attr]
        blobs = [p.inline_data for p in parts if p.inline_data is not None]  # type: ignore[union-attr]
        assert len(blobs) == 1 and blobs[0].mime_type == "image/png" and blobs[0].data is not None
        image = Image.open(io.BytesIO(blobs[0].data))
        assert image.size[0] > image.size[1]
        assert answer.model_version == IMAGE_MODEL
        meta = answer.usage_metadata
        assert meta is not None and meta.candidates_tokens_details is not None
        assert {d.modality: d.token_count for d in meta.candidates_tokens_details}[gtypes.MediaModality.IMAGE] == 1290

        mock_upstream.requests.clear()
        speech = gtypes.GenerateContentConfig(
            response_modalities=["AUDIO"],
            speech_config=gtypes.SpeechConfig(
                voice_config=gtypes.VoiceConfig(prebuilt_voice_config=gtypes.PrebuiltVoiceConfig(voice_name="Kore"))
            ),
        )
        spoken = await gclient.aio.models.generate_content(model=TTS_MODEL, contents="Say hello there", config=speech)
        sent = _upstream(mock_upstream)["generationConfig"]
        voice = sent["speechConfig"]["voice_config"]["prebuilt_voice_config"]  # as the SDK wrote it, untouched
        assert voice == {"voice_name": "Kore"}
        blob = spoken.candidates[0].content.parts[0].inline_data  # type: ignore[index, union-attr]
        assert blob is not None and blob.data and "rate=24000" in (blob.mime_type or "")
        assert len(blob.data) % 2 == 0 and len(blob.data) > 24000 * 2 * 0.2  # 16-bit mono PCM, > 0.2 s
        meta = spoken.usage_metadata
        assert meta is not None and meta.candidates_tokens_details is not None
        audio_tokens = {d.modality: d.token_count for d in meta.candidates_tokens_details}[gtypes.MediaModality.AUDIO]
        assert audio_tokens and meta.candidates_token_count == audio_tokens

        chunks = [
            c
            async for c in await gclient.aio.models.generate_content_stream(
                model=IMAGE_MODEL,
                contents="a red fox",
                config=gtypes.GenerateContentConfig(response_modalities=["IMAGE"]),
            )
        ]
        streamed = [p.inline_data for c in chunks for p in c.candidates[0].content.parts if p.inline_data]  # type: ignore[index, union-attr]
        assert len(streamed) == 1 and Image.open(io.BytesIO(streamed[0].data or b"")).size == (1024, 1024)
    finally:
        await gclient.aio.aclose()
    row = await _row(db_dir, "model", TTS_MODEL)  # the module's only TTS call
    assert row["inbound_protocol"] == "gemini" and row["output_tokens"] == audio_tokens
    assert row["audio_output_tokens"] == audio_tokens and row["image_output_tokens"] == 0


async def test_a_large_streamed_image_arrives_whole(client: openai.AsyncOpenAI, mock_upstream: MockUpstream) -> None:
    mock_upstream.script({"media_bytes": 6_000_000}, times=1)  # a 4K image's size: one 8 MB SSE event
    stream = await client.chat.completions.create(model=IMAGE_MODEL, messages=MESSAGES, stream=True)
    images = [img async for chunk in stream for ch in chunk.choices for img in ch.delta.to_dict().get("images", [])]
    assert len(images) == 1
    url = images[0]["image_url"]["url"]
    assert len(base64.b64decode(url.partition(",")[2])) >= 6_000_000
    assert _png(url).size == (1024, 1024)
