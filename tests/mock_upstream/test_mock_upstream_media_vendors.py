"""The mock upstream's Gemini media methods and the other media vendors' wire formats."""

from __future__ import annotations

import asyncio
import base64
import io
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import soundfile as sf
from google import genai
from google.genai import errors, types
from PIL import Image

from omnirouter.mock_upstream import MockUpstream
from omnirouter.mock_upstream.media_gemini import PCM_MIME

BEARER = {"Authorization": "Bearer key-1"}
GEMINI = {"x-goog-api-key": "AIza-test"}
VOLC_V3 = {"X-Api-App-Id": "app", "X-Api-Access-Key": "ak", "X-Api-Resource-Id": "seed-tts-1.0"}


@pytest.fixture
async def mock() -> AsyncIterator[MockUpstream]:
    async with MockUpstream() as m:
        yield m


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


@pytest.fixture
async def gclient(mock: MockUpstream) -> AsyncIterator[genai.Client]:
    options = types.HttpOptions(
        base_url=mock.url, api_version="v1beta", retry_options=types.HttpRetryOptions(attempts=1), timeout=10_000
    )
    c = genai.Client(api_key="AIza-test", http_options=options)
    yield c
    await c.aio.aclose()


async def post(
    session: aiohttp.ClientSession, url: str, body: Any, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    async with session.post(url, json=body, headers=headers if headers is not None else BEARER) as r:
        raw = await r.read()
        return r.status, json.loads(raw) if r.content_type == "application/json" else raw


def sse_data(raw: bytes) -> list[Any]:
    out = []
    for block in raw.decode().replace("\r\n", "\n").split("\n\n"):
        lines = [line.partition(":")[2].strip() for line in block.split("\n") if line.startswith("data:")]
        if lines:
            out.append(json.loads("\n".join(lines)))
    return out


# Gemini


async def test_gemini_embeddings(gclient: genai.Client, session: aiohttp.ClientSession, mock: MockUpstream) -> None:
    r = await gclient.aio.models.embed_content(
        model="gemini-embedding-001",
        contents=["hello", "world"],
        config=types.EmbedContentConfig(output_dimensionality=8, task_type="RETRIEVAL_DOCUMENT"),
    )
    assert r.embeddings and [len(e.values or []) for e in r.embeddings] == [8, 8]
    assert mock.requests[-1].path.endswith(":batchEmbedContents")
    base = mock.url + "/v1beta/models/gemini-embedding-001"
    status, body = await post(session, base + ":embedContent", {"content": {"parts": [{"text": "x"}]}}, GEMINI)
    assert status == 200 and len(body["embedding"]["values"]) == 3072
    one = {"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "x"}]}}
    status, body = await post(session, base + ":batchEmbedContents", {"requests": [one] * 101}, GEMINI)
    assert status == 400 and "at most 100 requests" in body["error"]["message"]
    other = {**one, "model": "models/text-embedding-004"}
    status, body = await post(session, base + ":batchEmbedContents", {"requests": [one, other]}, GEMINI)
    assert status == 400 and body["error"]["status"] == "INVALID_ARGUMENT"
    bad = {**one, "encoding_format": "float"}
    status, body = await post(session, base + ":batchEmbedContents", {"requests": [bad]}, GEMINI)
    assert status == 400 and body["error"]["message"].startswith(
        'Invalid JSON payload received. Unknown name "encoding'
    )
    status, body = await post(session, base + ":embedContent", {"content": {"parts": [{"text": "x"}]}}, {})
    assert status == 403 and body["error"]["status"] == "PERMISSION_DENIED"


async def test_gemini_image_and_audio_modalities(
    gclient: genai.Client, session: aiohttp.ClientSession, mock: MockUpstream
) -> None:
    r = await gclient.aio.models.generate_content(
        model="gemini-2.5-flash-image",
        contents="a red fox",
        config=types.GenerateContentConfig(
            response_modalities=["TEXT", "IMAGE"], image_config=types.ImageConfig(aspect_ratio="16:9")
        ),
    )
    parts = r.candidates[0].content.parts if r.candidates and r.candidates[0].content else None
    assert parts and parts[0].text and parts[1].inline_data and parts[1].inline_data.data
    assert Image.open(io.BytesIO(parts[1].inline_data.data)).size == (1024, 576)
    details = r.usage_metadata.candidates_tokens_details if r.usage_metadata else None
    assert details and details[-1].modality == types.MediaModality.IMAGE and details[-1].token_count == 1290
    tts = await gclient.aio.models.generate_content(
        model="gemini-2.5-flash-preview-tts",
        contents="x" * 30,
        config=types.GenerateContentConfig(response_modalities=["AUDIO"]),
    )
    blob = tts.candidates[0].content.parts[0].inline_data if tts.candidates and tts.candidates[0].content else None
    assert blob and blob.mime_type == PCM_MIME and blob.data and len(blob.data) == 2 * 24000 * 2
    url = mock.url + "/v1beta/models/gemini-2.5-flash-preview-tts"
    body = {"contents": [{"parts": [{"text": "y" * 300}]}], "generationConfig": {"responseModalities": ["AUDIO"]}}
    async with session.post(url + ":streamGenerateContent?alt=sse", json=body, headers=GEMINI) as resp:
        chunks = sse_data(await resp.read())
    pcm = b"".join(base64.b64decode(c["candidates"][0]["content"]["parts"][0]["inlineData"]["data"]) for c in chunks)
    assert len(chunks) > 1 and len(pcm) == 20 * 24000 * 2
    assert chunks[-1]["candidates"][0]["finishReason"] == "STOP"
    config = {"responseModalities": ["IMAGE"], "imageConfig": {"outputMimeType": "image/jpeg"}}
    body = {"contents": [{"parts": [{"text": "x"}]}], "generationConfig": config}
    url = mock.url + "/v1beta/models/gemini-2.5-flash-image:generateContent"
    status, answer = await post(session, url, body, GEMINI)
    assert (
        status == 400
        and "Unknown name \"outputMimeType\" at 'generation_config.image_config'" in answer["error"]["message"]
    )
    with pytest.raises(errors.ClientError):
        await gclient.aio.models.generate_content(
            model="gemini-2.5-flash-image",
            contents="x",
            config=types.GenerateContentConfig(
                response_modalities=["IMAGE"], image_config=types.ImageConfig(aspect_ratio="7:3")
            ),
        )


async def test_imagen_predict(session: aiohttp.ClientSession, mock: MockUpstream) -> None:
    url = mock.url + "/v1beta/models/imagen-4.0-generate-001:predict"
    body = {"instances": [{"prompt": "a boat"}], "parameters": {"sampleCount": 2, "aspectRatio": "9:16"}}
    status, answer = await post(session, url, body, GEMINI)
    assert status == 200 and len(answer["predictions"]) == 2
    image = Image.open(io.BytesIO(base64.b64decode(answer["predictions"][0]["bytesBase64Encoded"])))
    assert image.size == (576, 1024) and answer["predictions"][0]["mimeType"] == "image/png"


# Rerank


async def test_rerank_vendors(session: aiohttp.ClientSession, mock: MockUpstream) -> None:
    docs = ["the cat sat", "dogs bark loudly", "a cat and a dog"]
    status, body = await post(session, mock.url + "/v1/rerank", {"query": "cat dog", "documents": docs})
    assert status == 200 and [r["index"] for r in body["results"]] == [2, 0, 1]
    assert body["meta"]["billed_units"]["search_units"] == 1 and "document" not in body["results"][0]
    status, body = await post(session, mock.url + "/cohere/v1/rerank", {"query": "cat", "documents": docs, "top_n": 1})
    assert status == 200 and len(body["results"]) == 1
    status, body = await post(session, mock.url + "/v2/rerank", {"query": "cat", "documents": docs})
    assert status == 400 and "model" in body["message"]
    status, body = await post(
        session, mock.url + "/v2/rerank", {"model": "rerank-v3.5", "query": "q", "documents": docs, "top_k": 2}
    )
    assert status == 422 and body["message"] == "unknown field: parameter 'top_k' is not a valid field"
    status, body = await post(session, mock.url + "/v1/rerank", {"query": "q", "documents": docs}, {})
    assert status == 401 and body["message"] == "no api key supplied"
    jina = {"model": "jina-reranker-v2", "query": "cat", "documents": docs}
    status, body = await post(session, mock.url + "/jina/v1/rerank", jina)
    assert status == 200 and body["results"][0]["document"]["text"] and body["usage"]["total_tokens"] > 0
    scores = [r["relevance_score"] for r in body["results"]]
    assert scores == sorted(scores, reverse=True) and len(scores) == 3
    voyage = {"model": "rerank-2.5", "query": "cat", "documents": docs, "top_k": 2, "return_documents": True}
    status, body = await post(session, mock.url + "/voyage/v1/rerank", voyage)
    assert (
        status == 200
        and body["object"] == "list"
        and len(body["data"]) == 2
        and isinstance(body["data"][0]["document"], str)
    )
    ds = {
        "model": "gte-rerank-v2",
        "input": {"query": "cat", "documents": docs},
        "parameters": {"return_documents": True},
    }
    url = mock.url + "/api/v1/services/rerank/text-rerank/text-rerank"
    status, body = await post(session, url, ds)
    assert status == 200 and body["output"]["results"][0]["document"]["text"] and body["request_id"]
    mock.script({"body_error": True})
    status, body = await post(session, url, ds)
    assert status == 200 and body["code"] == "InvalidParameter" and "output" not in body
    status, body = await post(session, url, ds, {"Authorization": "Bearer bad"})
    assert status == 401 and body["code"] == "InvalidApiKey"


# Speech


async def test_minimax(session: aiohttp.ClientSession, mock: MockUpstream) -> None:
    body = {"model": "speech-02-hd", "text": "x" * 15, "audio_setting": {"format": "wav", "sample_rate": 16000}}
    status, answer = await post(session, mock.url + "/v1/t2a_v2", body)
    assert status == 200 and answer["base_resp"] == {"status_code": 0, "status_msg": "success"}
    info = sf.info(io.BytesIO(bytes.fromhex(answer["data"]["audio"])))
    assert info.samplerate == 16000 and abs(info.duration - 1.0) < 0.01
    assert answer["extra_info"]["usage_characters"] == 15 and answer["extra_info"]["audio_format"] == "wav"
    async with session.post(mock.url + "/v1/t2a_v2", json={**body, "stream": True}, headers=BEARER) as r:
        chunks = sse_data(await r.read())
    assert chunks[-1]["data"]["status"] == 2 and all(c["data"]["status"] == 1 for c in chunks[:-1])
    mock.script({"body_error": True})
    status, answer = await post(session, mock.url + "/v1/t2a_v2", body)
    assert status == 200 and answer["base_resp"]["status_code"] == 1004
    status, answer = await post(session, mock.url + "/v1/t2a_v2", body, {})
    assert status == 200 and answer["base_resp"]["status_code"] == 1004


async def test_volcengine(session: aiohttp.ClientSession, mock: MockUpstream) -> None:
    body = {
        "app": {"appid": "a", "token": "t", "cluster": "volcano_tts"},
        "user": {"uid": "u"},
        "audio": {"voice_type": "zh_female_cancan_mars_bigtts", "encoding": "mp3"},
        "request": {"reqid": "r1", "text": "x" * 30, "operation": "query"},
    }
    v1 = {"Authorization": "Bearer;tok"}
    status, answer = await post(session, mock.url + "/api/v1/tts", body, v1)
    assert (
        status == 200
        and answer["code"] == 3000
        and answer["reqid"] == "r1"
        and answer["addition"]["duration"] == "2000"
    )
    assert sf.info(io.BytesIO(base64.b64decode(answer["data"]))).samplerate == 24000
    mock.script({"body_error": True})
    status, answer = await post(session, mock.url + "/api/v1/tts", body, v1)
    assert status == 200 and answer["code"] == 3001 and "data" not in answer
    status, answer = await post(session, mock.url + "/api/v1/tts", body, {})
    assert status == 401 and answer["code"] == 3001
    v3 = {"req_params": {"text": "hello", "speaker": "zh_female_vv_uranus_bigtts", "audio_params": {"format": "pcm"}}}
    headers = {**VOLC_V3, "X-Control-Require-Usage-Tokens-Return": "*"}
    async with session.post(mock.url + "/api/v3/tts/unidirectional", json=v3, headers=headers) as r:
        lines = [json.loads(line) for line in (await r.read()).splitlines()]
        assert r.headers["X-Tt-Logid"]
    assert lines[0]["code"] == 0 and lines[-1]["code"] == 20000000 and lines[-1]["usage"]["text_words"] == 5
    mock.script({"body_error": True})
    async with session.post(mock.url + "/api/v3/tts/unidirectional", json=v3, headers=VOLC_V3) as r:
        lines = [json.loads(line) for line in (await r.read()).splitlines()]
    assert r.status == 200 and lines[-1]["code"] not in (0, 20000000)
    status, answer = await post(session, mock.url + "/api/v3/tts/unidirectional", v3, {"X-Api-App-Id": "a"})
    assert status == 401 and answer["code"] == 45000000


async def test_dashscope_tts_and_elevenlabs(session: aiohttp.ClientSession, mock: MockUpstream) -> None:
    url = mock.url + "/api/v1/services/aigc/multimodal-generation/generation"
    body = {"model": "qwen3-tts-flash", "input": {"text": "x" * 15, "voice": "Cherry"}}
    status, answer = await post(session, url, body)
    assert status == 200 and answer["usage"]["characters"] == 15
    async with session.get(answer["output"]["audio"]["url"]) as r:
        assert sf.info(io.BytesIO(await r.read())).samplerate == 24000
    async with session.post(url, json=body, headers={**BEARER, "X-DashScope-SSE": "enable"}) as r:
        events = sse_data(await r.read())
    pcm = b"".join(base64.b64decode(e["output"]["audio"]["data"]) for e in events[:-1])
    assert len(pcm) == 24000 * 2 and events[-1]["output"]["finish_reason"] == "stop"
    eleven = mock.url + "/v1/text-to-speech/voice123?output_format=mp3_44100_128"
    async with session.post(eleven, json={"text": "hello", "model_id": "eleven_v3"}, headers={"xi-api-key": "k"}) as r:
        data = await r.read()
        assert r.headers["character-cost"] == "5" and r.content_type == "audio/mpeg"
    assert sf.info(io.BytesIO(data)).samplerate == 44100
    async with session.post(
        eleven.replace("mp3_44100_128", "pcm_16000"), json={"text": "x" * 15}, headers={"xi-api-key": "k"}
    ) as r:
        assert len(await r.read()) == 16000 * 2
    status, answer = await post(session, eleven, {"text": "x"}, {})
    assert status == 401 and answer["detail"]["status"] == "needs_authorization"


# Images


async def test_ark_seedream(session: aiohttp.ClientSession, mock: MockUpstream) -> None:
    body = {
        "model": "doubao-seedream-4-0-250828",
        "prompt": "mountains",
        "size": "1024x1024",
        "sequential_image_generation": "auto",
        "sequential_image_generation_options": {"max_images": 3},
    }
    status, answer = await post(session, mock.url + "/api/v3/images/generations", body)
    assert status == 200 and len(answer["data"]) == 3 and answer["usage"]["generated_images"] == 3
    async with session.get(answer["data"][0]["url"]) as r:
        assert Image.open(io.BytesIO(await r.read())).format == "JPEG"
    status, answer = await post(
        session, mock.url + "/api/v3/images/generations", {**body, "response_format": "b64_json"}
    )
    assert Image.open(io.BytesIO(base64.b64decode(answer["data"][0]["b64_json"]))).size == (1024, 1024)
    status, answer = await post(session, mock.url + "/api/v3/images/generations", body, {})
    assert status == 401 and answer["error"]["code"] == "AuthenticationError"


async def test_async_image_tasks(session: aiohttp.ClientSession, mock: MockUpstream) -> None:
    key = {"x-key": "k"}
    status, task = await post(
        session, mock.url + "/v1/flux-kontext-pro", {"prompt": "a lake", "aspect_ratio": "16:9"}, key
    )
    assert status == 200 and task["id"] and task["polling_url"]
    statuses = []
    for _ in range(4):
        async with session.get(task["polling_url"], headers=key) as r:
            poll = await r.json()
            statuses.append(poll["status"])
    assert statuses == ["Pending", "Pending", "Ready", "Ready"]
    async with session.get(poll["result"]["sample"]) as r:
        assert Image.open(io.BytesIO(await r.read())).size == (1024, 576)
    status, answer = await post(session, mock.url + "/v1/flux-kontext-pro", {"prompt": "x"}, {})
    assert status == 403 and answer["detail"] == "Not authenticated"
    url = mock.url + "/api/v1/services/aigc/text2image/image-synthesis"
    body = {"model": "wanx2.1-t2i-turbo", "input": {"prompt": "a tree"}, "parameters": {"size": "512*512", "n": 2}}
    status, answer = await post(session, url, body)
    assert status == 403 and answer["code"] == "AccessDenied"  # synchronous calls are refused
    mock.script({"pending_polls": 1})
    status, answer = await post(session, url, body, {**BEARER, "X-DashScope-Async": "enable"})
    task_url = mock.url + "/api/v1/tasks/" + answer["output"]["task_id"]
    assert answer["output"]["task_status"] == "PENDING"
    states = []
    for _ in range(2):
        async with session.get(task_url, headers=BEARER) as r:
            result = await r.json()
            states.append(result["output"]["task_status"])
    assert states == ["RUNNING", "SUCCEEDED"] and result["usage"]["image_count"] == 2
    async with session.get(result["output"]["results"][1]["url"]) as r:
        assert Image.open(io.BytesIO(await r.read())).size == (512, 512)
    mock.script({"body_error": "DataInspectionFailed", "pending_polls": 0})
    status, answer = await post(session, url, body, {**BEARER, "X-DashScope-Async": "enable"})
    async with session.get(mock.url + "/api/v1/tasks/" + answer["output"]["task_id"], headers=BEARER) as r:
        failed = await r.json()
    assert failed["output"]["task_status"] == "FAILED" and failed["output"]["code"] == "DataInspectionFailed"


async def test_scripted_failures_on_vendor_routes(session: aiohttp.ClientSession, mock: MockUpstream) -> None:
    mock.script({"fail": 429, "retry_after": 1})
    status, answer = await post(session, mock.url + "/jina/v1/rerank", {"model": "m", "query": "q", "documents": ["a"]})
    assert status == 429 and "detail" in answer
    mock.script({"garbage": True})
    async with session.post(mock.url + "/v1/t2a_v2", json={"model": "m", "text": "hi"}, headers=BEARER) as r:
        assert r.status == 200 and (await r.read()).startswith(b'{"id": "garbage"')
    mock.script({"delay": 0.2})
    started = asyncio.get_running_loop().time()
    await post(session, mock.url + "/api/v3/images/generations", {"model": "m", "prompt": "p", "size": "64x64"})
    assert asyncio.get_running_loop().time() - started >= 0.2
    mock.script({"cut_after": 1, "media_bytes": 300_000})
    with pytest.raises(aiohttp.ClientPayloadError):
        async with session.post(
            mock.url + "/v1/text-to-speech/v?output_format=pcm_24000", json={"text": "x"}, headers={"xi-api-key": "k"}
        ) as r:
            await r.read()
