"""google-genai clients asking ``generateContent`` for images or speech of models served by non-Gemini
upstreams (OpenAI images and TTS, Imagen, Ark Seedream, MiniMax): the media machinery serves them and
answers in Gemini's shape.  What the upstream received is read from the mock's request log."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from google import genai
from google.genai import errors, types
from PIL import Image

from omnirouter.mock_upstream import MockUpstream
from omnirouter.protocols.media.voices import VOICE_TABLE
from tests.helpers.gateway_harness import CLIENT_KEY
from tests.helpers.media_gateway import channel, media_gateway
from tests.helpers.usage_rows import usage_rows

PROMPT = "a red fox"
TEXT = "Hello from the Gemini speech tests."
PCM_MIME = "audio/L16;codec=pcm;rate=24000"
VOICE_PATH = "generationConfig.speechConfig.voiceConfig.prebuiltVoiceConfig.voiceName"


@pytest.fixture(scope="module")
async def served(mock_upstream: MockUpstream, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Any]:
    url = mock_upstream.url
    db_dir = tmp_path_factory.mktemp("gemini-media")
    channels = [
        channel(url, "oa", "openai", ["gpt-image-1", "dall-e-3", "tts-1", "gpt-4o-mini-tts", "gpt-4o-mini"]),
        channel(url, "ge", "gemini", ["imagen-4.0-generate-001", "gemini-2.5-flash-preview-tts"]),
        channel(url, "ark", "ark", ["seedream"], model_map={"seedream": "doubao-seedream-4-0-250828"}),
        channel(url, "mm", "minimax", ["speech-02-hd"]),
        channel(url, "mix-oa", "openai", ["mix-image"], model_map={"mix-image": "gpt-image-1"}, priority=10),
        channel(url, "mix-ge", "gemini", ["mix-image"], model_map={"mix-image": "gemini-2.5-flash-image"}),
    ]
    async with media_gateway(db_dir, channels) as running:
        yield running, db_dir / "gw.db"


@pytest.fixture
async def client(served: Any, mock_upstream: MockUpstream) -> AsyncIterator[genai.Client]:
    mock_upstream.clear_requests()
    mock_upstream.clear_script()
    async with httpx.AsyncClient(timeout=30) as http:
        options = types.HttpOptions(
            base_url=served[0].url,
            api_version="v1beta",
            retry_options=types.HttpRetryOptions(attempts=1),
            httpx_async_client=http,
        )
        yield genai.Client(api_key=CLIENT_KEY, http_options=options)


def png(width: int = 32, height: int = 32) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 10, 10)).save(out, "PNG")
    return out.getvalue()


def upstream_calls(mock: MockUpstream) -> list[Any]:
    """What the upstreams received, without downloads of result URLs."""
    return [r for r in mock.requests if not r.path.startswith("/media/") and r.provider != "media"]


def inline_parts(response: types.GenerateContentResponse) -> list[types.Blob]:
    assert response.candidates
    blobs = []
    for candidate in response.candidates:
        assert candidate.finish_reason == types.FinishReason.STOP
        assert candidate.content is not None and candidate.content.parts
        blobs += [part.inline_data for part in candidate.content.parts if part.inline_data is not None]
    return blobs


def image_of(blob: types.Blob) -> Image.Image:
    assert blob.data is not None and blob.mime_type is not None and blob.mime_type.startswith("image/")
    image = Image.open(io.BytesIO(blob.data))
    assert image.format is not None and blob.mime_type == f"image/{image.format.lower()}"
    return image


def pcm_seconds(blob: types.Blob) -> float:
    """Seconds of 24 kHz 16-bit mono PCM (whole samples, some sound)."""
    assert blob.mime_type == PCM_MIME and blob.data is not None
    assert len(blob.data) % 2 == 0 and any(blob.data)
    return len(blob.data) / 2 / 24000


def image_config(**kwargs: Any) -> types.GenerateContentConfig:
    return types.GenerateContentConfig(response_modalities=["IMAGE"], image_config=types.ImageConfig(**kwargs))


def speech_config(voice: str) -> types.GenerateContentConfig:
    voice_config = types.VoiceConfig(prebuilt_voice_config=types.PrebuiltVoiceConfig(voice_name=voice))
    return types.GenerateContentConfig(
        response_modalities=["AUDIO"], speech_config=types.SpeechConfig(voice_config=voice_config)
    )


async def usage_row(db: Path, model: str, before: int) -> dict[str, Any]:
    for _ in range(100):
        rows = [r for r in await usage_rows(db) if r["id"] > before and r["model"] == model]
        if rows:
            return rows[-1]
        await asyncio.sleep(0.05)
    raise AssertionError(f"no usage row for {model}")


async def last_row_id(db: Path) -> int:
    rows = await usage_rows(db)
    return rows[-1]["id"] if rows else 0


# ---------------------------------------------------------------- images


async def test_gpt_image_generation_at_the_ratio_asked(client: genai.Client, mock_upstream: MockUpstream) -> None:
    response = await client.aio.models.generate_content(
        model="gpt-image-1", contents=PROMPT, config=image_config(aspect_ratio="16:9")
    )
    [sent] = upstream_calls(mock_upstream)
    assert sent.path == "/v1/images/generations"
    assert sent.body == {"model": "gpt-image-1", "prompt": PROMPT, "n": 1, "size": "1536x1024"}
    [blob] = inline_parts(response)
    assert image_of(blob).size == (1536, 1024)
    assert response.model_version == "gpt-image-1"
    usage = response.usage_metadata
    assert usage is not None and usage.candidates_token_count and usage.prompt_token_count
    assert usage.candidates_tokens_details is not None
    image_tokens = [d.token_count for d in usage.candidates_tokens_details if d.modality == types.MediaModality.IMAGE]
    assert image_tokens == [usage.candidates_token_count]


async def test_dalle_answers_bytes_not_urls(client: genai.Client, mock_upstream: MockUpstream) -> None:
    response = await client.aio.models.generate_content(
        model="dall-e-3",
        contents=PROMPT,
        config=types.GenerateContentConfig(response_modalities=["TEXT", "IMAGE"]),
    )
    [sent] = upstream_calls(mock_upstream)
    assert sent.body == {"model": "dall-e-3", "prompt": PROMPT, "n": 1, "response_format": "b64_json"}
    [blob] = inline_parts(response)
    assert image_of(blob).format == "PNG"
    assert response.text  # dall-e-3's revised prompt, as a text part before the image


async def test_an_input_image_makes_an_edit_with_a_real_file_part(
    client: genai.Client, mock_upstream: MockUpstream
) -> None:
    picture = png(48, 48)
    contents = [types.Part.from_text(text="add a hat"), types.Part.from_bytes(data=picture, mime_type="image/png")]
    response = await client.aio.models.generate_content(model="gpt-image-1", contents=contents, config=image_config())
    [sent] = upstream_calls(mock_upstream)
    assert sent.path == "/v1/images/edits" and sent.body["multipart"] is True
    assert sent.body["fields"] == {"model": "gpt-image-1", "prompt": "add a hat", "n": "1"}
    assert [(f["field"], f["content_type"], f["size"], f["sha256"]) for f in sent.body["files"]] == [
        ("image", "image/png", len(picture), hashlib.sha256(picture).hexdigest())
    ]
    [blob] = inline_parts(response)
    assert image_of(blob).format == "PNG"


async def test_imagen_is_asked_by_predict(client: genai.Client, mock_upstream: MockUpstream) -> None:
    response = await client.aio.models.generate_content(
        model="imagen-4.0-generate-001", contents=PROMPT, config=image_config(aspect_ratio="3:4")
    )
    [sent] = upstream_calls(mock_upstream)
    assert sent.path == "/v1beta/models/imagen-4.0-generate-001:predict"
    assert sent.body == {"instances": [{"prompt": PROMPT}], "parameters": {"sampleCount": 1, "aspectRatio": "3:4"}}
    [blob] = inline_parts(response)
    width, height = image_of(blob).size
    assert width * 4 == height * 3


async def test_seedream_url_is_downloaded_and_two_candidates(
    client: genai.Client, mock_upstream: MockUpstream, served: Any
) -> None:
    before = await last_row_id(served[1])
    config = image_config(aspect_ratio="1:1", image_size="2K")
    config.candidate_count = 2
    response = await client.aio.models.generate_content(model="seedream", contents=PROMPT, config=config)
    [sent] = upstream_calls(mock_upstream)
    assert sent.path == "/api/v3/images/generations"
    assert sent.body["model"] == "doubao-seedream-4-0-250828" and sent.body["prompt"] == PROMPT
    blobs = inline_parts(response)
    assert len(blobs) == 2 and all(image_of(blob).size == (2048, 2048) for blob in blobs)
    row = await usage_row(served[1], "seedream", before)
    assert row["images"] == 2 and row["inbound_protocol"] == "gemini" and row["channel"] == "ark"


async def test_streamed_image_is_one_event(client: genai.Client, mock_upstream: MockUpstream) -> None:
    chunks = [
        chunk
        async for chunk in await client.aio.models.generate_content_stream(
            model="gpt-image-1", contents=PROMPT, config=image_config(aspect_ratio="2:3")
        )
    ]
    assert len(chunks) == 1
    [blob] = inline_parts(chunks[0])
    assert image_of(blob).size == (1024, 1536)
    assert upstream_calls(mock_upstream)[0].body["size"] == "1024x1536"


async def test_json_array_stream(served: Any, mock_upstream: MockUpstream) -> None:
    mock_upstream.clear_requests()
    body = {"contents": [{"parts": [{"text": PROMPT}]}], "generationConfig": {"responseModalities": ["IMAGE"]}}
    async with httpx.AsyncClient(timeout=30) as http:
        answer = await http.post(
            f"{served[0].url}/v1beta/models/gpt-image-1:streamGenerateContent",
            json=body,
            headers={"x-goog-api-key": CLIENT_KEY},
        )
    assert answer.status_code == 200, answer.text
    [element] = orjson.loads(answer.content)
    inline = element["candidates"][0]["content"]["parts"][0]["inlineData"]
    assert Image.open(io.BytesIO(base64.b64decode(inline["data"]))).format == "PNG"


# ---------------------------------------------------------------- speech


@pytest.mark.parametrize(("voice", "sent_voice"), [("Kore", "nova"), ("alloy", "alloy")])
async def test_openai_tts_speaks_24khz_pcm(
    client: genai.Client, mock_upstream: MockUpstream, served: Any, voice: str, sent_voice: str
) -> None:
    before = await last_row_id(served[1])
    response = await client.aio.models.generate_content(model="tts-1", contents=TEXT, config=speech_config(voice))
    [sent] = upstream_calls(mock_upstream)
    assert sent.path == "/v1/audio/speech"
    assert sent.body == {"model": "tts-1", "input": TEXT, "voice": sent_voice, "response_format": "pcm"}
    [blob] = inline_parts(response)
    assert pcm_seconds(blob) > 0
    row = await usage_row(served[1], "tts-1", before)
    assert row["characters"] == len(TEXT) and row["inbound_protocol"] == "gemini" and row["status_code"] == 200


async def test_token_billed_tts_reports_audio_tokens(
    client: genai.Client, mock_upstream: MockUpstream, served: Any
) -> None:
    before = await last_row_id(served[1])
    response = await client.aio.models.generate_content(
        model="gpt-4o-mini-tts", contents=TEXT, config=speech_config("Puck")
    )
    [blob] = inline_parts(response)
    assert pcm_seconds(blob) > 0
    usage = response.usage_metadata
    assert usage is not None and usage.candidates_token_count
    assert usage.candidates_tokens_details is not None
    assert [(d.modality, d.token_count) for d in usage.candidates_tokens_details] == [
        (types.MediaModality.AUDIO, usage.candidates_token_count)
    ]
    row = await usage_row(served[1], "gpt-4o-mini-tts", before)
    assert (row["input_tokens"], row["output_tokens"]) == (usage.prompt_token_count, usage.candidates_token_count)
    assert not row["usage_estimated"]
    assert upstream_calls(mock_upstream)[0].body["voice"] == "ash"


async def test_minimax_speaks_pcm_with_the_mapped_voice(
    client: genai.Client, mock_upstream: MockUpstream, served: Any
) -> None:
    before = await last_row_id(served[1])
    response = await client.aio.models.generate_content(
        model="speech-02-hd", contents=TEXT, config=speech_config("Kore")
    )
    [sent] = upstream_calls(mock_upstream)
    assert sent.path == "/v1/t2a_v2"
    assert sent.body["voice_setting"]["voice_id"] == VOICE_TABLE["minimax"]["nova"]
    assert sent.body["audio_setting"]["format"] == "pcm" and sent.body["audio_setting"]["sample_rate"] == 24000
    [blob] = inline_parts(response)
    assert pcm_seconds(blob) > 0
    row = await usage_row(served[1], "speech-02-hd", before)
    assert row["characters"] > 0 and row["channel"] == "mm"


async def test_streamed_speech_is_one_sse_event(client: genai.Client) -> None:
    chunks = [
        chunk
        async for chunk in await client.aio.models.generate_content_stream(
            model="speech-02-hd", contents=TEXT, config=speech_config("alloy")
        )
    ]
    assert len(chunks) == 1
    [blob] = inline_parts(chunks[0])
    assert pcm_seconds(blob) > 0


# ---------------------------------------------------------------- bad input, and what stays chat


def multi_speaker() -> types.GenerateContentConfig:
    speakers = [
        types.SpeakerVoiceConfig(
            speaker=name,
            voice_config=types.VoiceConfig(prebuilt_voice_config=types.PrebuiltVoiceConfig(voice_name=voice)),
        )
        for name, voice in (("Joe", "Kore"), ("Jane", "Puck"))
    ]
    config = types.SpeechConfig(
        multi_speaker_voice_config=types.MultiSpeakerVoiceConfig(speaker_voice_configs=speakers)
    )
    return types.GenerateContentConfig(response_modalities=["AUDIO"], speech_config=config)


BAD_CASES = [
    ("tts-1", TEXT, speech_config("Achernar"), VOICE_PATH),  # a Gemini voice without an equivalent
    ("tts-1", TEXT, speech_config("no such voice"), VOICE_PATH),  # not a voice name at all
    ("speech-02-hd", TEXT, multi_speaker(), "multiSpeakerVoiceConfig"),
    ("tts-1", " ", speech_config("Kore"), "contents"),
    ("gpt-image-1", PROMPT, image_config(image_size="8K"), "imageConfig.imageSize"),
    ("imagen-4.0-generate-001", [types.Part.from_text(text="x"), types.Part.from_bytes(data=png(),
     mime_type="image/png")], image_config(), "contents.inlineData"),  # Imagen does not edit
]  # fmt: skip


@pytest.mark.parametrize(("model", "contents", "config", "named"), BAD_CASES)
async def test_bad_requests_are_400_naming_the_field(
    client: genai.Client, mock_upstream: MockUpstream, model: str, contents: Any, config: Any, named: str
) -> None:
    with pytest.raises(errors.ClientError) as caught:
        await client.aio.models.generate_content(model=model, contents=contents, config=config)
    assert caught.value.code == 400 and caught.value.status == "INVALID_ARGUMENT"
    assert named in (caught.value.message or "")
    assert upstream_calls(mock_upstream) == []


async def test_gemini_tts_on_a_gemini_channel_is_passed_through(
    client: genai.Client, mock_upstream: MockUpstream
) -> None:
    response = await client.aio.models.generate_content(
        model="gemini-2.5-flash-preview-tts", contents=TEXT, config=multi_speaker()
    )
    [sent] = upstream_calls(mock_upstream)
    assert sent.path == "/v1beta/models/gemini-2.5-flash-preview-tts:generateContent"
    speech = sent.body["generationConfig"]["speechConfig"]  # relayed as the SDK wrote it (snake_case inside)
    assert speech.get("multiSpeakerVoiceConfig", speech.get("multi_speaker_voice_config"))["speaker_voice_configs"]
    [blob] = inline_parts(response)
    assert blob.mime_type is not None and blob.mime_type.startswith("audio/")


async def test_text_chat_on_an_openai_channel_stays_chat(client: genai.Client, mock_upstream: MockUpstream) -> None:
    response = await client.aio.models.generate_content(model="gpt-4o-mini", contents="Say hi")
    [sent] = upstream_calls(mock_upstream)
    assert sent.path == "/v1/chat/completions" and sent.body["model"] == "gpt-4o-mini"
    assert response.text


async def test_a_plan_mixing_media_and_pass_through_fails_over(
    client: genai.Client, mock_upstream: MockUpstream
) -> None:
    mock_upstream.script({"fail": 503}, times=1)
    response = await client.aio.models.generate_content(
        model="mix-image", contents=PROMPT, config=image_config(aspect_ratio="16:9")
    )
    first, second = upstream_calls(mock_upstream)
    assert first.path == "/v1/images/generations" and first.body["size"] == "1536x1024"
    assert second.path == "/v1beta/models/gemini-2.5-flash-image:generateContent"
    assert second.body["generationConfig"]["imageConfig"] == {"aspectRatio": "16:9"}  # relayed as sent
    [blob] = inline_parts(response)
    assert image_of(blob).format == "PNG"
