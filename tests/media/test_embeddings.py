"""Embeddings through the gateway with the official SDKs: OpenAI's ``/v1/embeddings`` and Gemini's
``:embedContent`` / ``:batchEmbedContents``, each against an OpenAI and a Gemini upstream.

Every vector is compared with what the mock upstream itself answers for the same text (asked directly),
so a vector that is cut, reordered, mis-encoded or widened wrongly fails.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import numpy as np
import openai
import pytest
from google import genai
from google.genai import types

from omnirouter.mock_upstream import MockUpstream
from tests.helpers.gateway_harness import CLIENT_KEY, RunningGateway
from tests.helpers.media_gateway import channel, media_gateway
from tests.helpers.usage_rows import usage_rows

OPENAI_MODEL = "text-embedding-3-small"
ADA = "text-embedding-ada-002"
GEMINI_MODEL = "gemini-embedding-001"
BOTH = "embed-anywhere"  # served by a failing-first OpenAI channel and a Gemini one
NOT_EMBEDDING = "speaks-only"


@pytest.fixture(scope="module")
async def served(mock_upstream: MockUpstream, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Any]:
    url = mock_upstream.url
    db_dir = tmp_path_factory.mktemp("embeddings")
    channels = [
        channel(url, "oa", "openai", [OPENAI_MODEL, ADA, BOTH], priority=10),
        channel(url, "ge", "gemini", [GEMINI_MODEL, BOTH]),
        channel(url, "voice", "elevenlabs", [NOT_EMBEDDING]),
    ]
    async with media_gateway(db_dir, channels) as running:
        yield running, db_dir


@pytest.fixture
def gateway(served: Any, mock_upstream: MockUpstream) -> RunningGateway:
    mock_upstream.clear_requests()
    mock_upstream.clear_script()
    running: RunningGateway = served[0]
    return running


def openai_client(base: str, key: str = CLIENT_KEY) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=f"{base}/v1", api_key=key, max_retries=0)


def gemini_client(base: str, http: httpx.AsyncClient) -> genai.Client:
    options = types.HttpOptions(
        base_url=base,
        api_version="v1beta",
        retry_options=types.HttpRetryOptions(attempts=1),
        httpx_async_client=http,
    )
    return genai.Client(api_key=CLIENT_KEY, http_options=options)


async def mock_openai_vectors(mock: MockUpstream, model: str, texts: list[str], **extra: Any) -> list[list[float]]:
    """What the mock's OpenAI endpoint answers for ``texts`` (floats)."""
    async with openai_client(mock.url, "sk-direct") as direct:
        answer = await direct.embeddings.create(model=model, input=texts, encoding_format="float", **extra)
    return [item.embedding for item in answer.data]


async def mock_gemini_vectors(mock: MockUpstream, model: str, texts: list[str], dims: int | None = None) -> Any:
    """What the mock's Gemini endpoint answers for ``texts``."""
    item: dict[str, Any] = {"model": f"models/{model}"}
    if dims is not None:
        item["outputDimensionality"] = dims
    body = {"requests": [{**item, "content": {"parts": [{"text": text}]}} for text in texts]}
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{mock.url}/v1beta/models/{model}:batchEmbedContents", json=body, headers={"x-goog-api-key": "direct"}
        ) as response,
    ):
        assert response.status == 200
        return [e["values"] for e in (await response.json())["embeddings"]]


def as_floats(value: Any) -> list[float]:
    """OpenAI's base64 embedding: little-endian float32."""
    assert isinstance(value, str)
    floats: list[float] = np.frombuffer(base64.b64decode(value), dtype="<f4").tolist()
    return floats


def assert_close(got: Any, want: Any) -> None:
    np.testing.assert_allclose(np.asarray(got, dtype=np.float32), np.asarray(want, dtype=np.float32), rtol=0, atol=0)


TEXTS = ["the first text", "a second, longer text about embeddings", "三番目"]


@pytest.mark.parametrize("encoding", ["float", "base64", None])
async def test_openai_sdk_to_openai_upstream_in_every_encoding(
    gateway: RunningGateway, mock_upstream: MockUpstream, encoding: str | None
) -> None:
    extra = {} if encoding is None else {"encoding_format": encoding}
    async with openai_client(gateway.url) as client:
        answer = await client.embeddings.create(model=OPENAI_MODEL, input=TEXTS, **extra)  # type: ignore[arg-type]
    assert answer.model == OPENAI_MODEL
    sent = [r for r in mock_upstream.requests if r.path == "/v1/embeddings"]
    assert len(sent) == 1
    assert sent[0].body["encoding_format"] == (encoding or "base64")  # the SDK's default is base64, kept
    assert sent[0].headers["authorization"].startswith("Bearer sk-upstream")
    want = await mock_openai_vectors(mock_upstream, OPENAI_MODEL, TEXTS)
    assert len(answer.data) == 3
    for item, vector in zip(answer.data, want, strict=True):
        # The SDK decodes base64 itself only when it chose it (encoding None); asked for, it is the caller's.
        got = as_floats(item.embedding) if encoding == "base64" else item.embedding
        assert len(got) == 1536
        assert_close(got, vector)
    assert answer.usage.prompt_tokens == answer.usage.total_tokens > 0


async def test_base64_is_little_endian_float32_exactly_as_the_upstream_sent(
    gateway: RunningGateway, mock_upstream: MockUpstream
) -> None:
    async with aiohttp.ClientSession() as session:
        headers = {"authorization": f"Bearer {CLIENT_KEY}"}
        body = {"model": OPENAI_MODEL, "input": "bytes", "encoding_format": "base64", "dimensions": 8}
        async with session.post(f"{gateway.url}/v1/embeddings", json=body, headers=headers) as response:
            ours = (await response.json())["data"][0]["embedding"]
        async with session.post(
            f"{mock_upstream.url}/v1/embeddings", json={**body}, headers={"authorization": "Bearer direct"}
        ) as response:
            theirs = (await response.json())["data"][0]["embedding"]
    assert isinstance(ours, str) and ours == theirs


async def test_openai_sdk_to_gemini_upstream(gateway: RunningGateway, mock_upstream: MockUpstream) -> None:
    async with openai_client(gateway.url) as client:
        answer = await client.embeddings.create(model=GEMINI_MODEL, input=TEXTS, dimensions=768)
    assert answer.model == GEMINI_MODEL
    sent = [r for r in mock_upstream.requests if r.path.endswith(":batchEmbedContents")]
    assert len(sent) == 1
    assert sent[0].path == f"/v1beta/models/{GEMINI_MODEL}:batchEmbedContents"
    assert sent[0].headers["x-goog-api-key"].startswith("sk-upstream")
    assert [r["outputDimensionality"] for r in sent[0].body["requests"]] == [768] * 3
    assert "encoding_format" not in str(sent[0].body)  # Gemini refuses fields it does not know
    want = await mock_gemini_vectors(mock_upstream, GEMINI_MODEL, TEXTS, 768)
    for item, vector in zip(answer.data, want, strict=True):
        assert len(item.embedding) == 768
        assert_close(item.embedding, vector)  # asked as base64 by the SDK: packed as float32 by the gateway


async def test_gemini_batches_of_more_than_100_are_split_and_rejoined_in_order(
    gateway: RunningGateway, mock_upstream: MockUpstream
) -> None:
    texts = [f"text number {i}" for i in range(150)]
    body = {"model": GEMINI_MODEL, "input": texts, "encoding_format": "float", "dimensions": 16}
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{gateway.url}/v1/embeddings", json=body, headers={"authorization": f"Bearer {CLIENT_KEY}"}
        ) as response,
    ):
        data = (await response.json())["data"]
    sent = [r for r in mock_upstream.requests if r.path.endswith(":batchEmbedContents")]
    assert [len(r.body["requests"]) for r in sent] == [100, 50]
    want = await mock_gemini_vectors(mock_upstream, GEMINI_MODEL, texts[95:105], 16)
    assert_close([item["embedding"] for item in data[95:105]], want)
    assert [item["index"] for item in data] == list(range(150))


async def test_google_genai_to_gemini_and_to_openai_upstreams(
    gateway: RunningGateway, mock_upstream: MockUpstream
) -> None:
    async with httpx.AsyncClient() as http:
        await _genai_both_ways(gemini_client(gateway.url, http), mock_upstream)


async def _genai_both_ways(client: genai.Client, mock_upstream: MockUpstream) -> None:
    to_gemini = await client.aio.models.embed_content(model=GEMINI_MODEL, contents=TEXTS[:2])
    want = await mock_gemini_vectors(mock_upstream, GEMINI_MODEL, TEXTS[:2])
    assert to_gemini.embeddings is not None
    assert_close([e.values for e in to_gemini.embeddings], want)

    mock_upstream.clear_requests()
    config = types.EmbedContentConfig(output_dimensionality=256)
    to_openai = await client.aio.models.embed_content(model=OPENAI_MODEL, contents=TEXTS, config=config)
    sent = [r for r in mock_upstream.requests if r.path == "/v1/embeddings"]
    assert sent[0].body["input"] == TEXTS and sent[0].body["dimensions"] == 256
    want = await mock_openai_vectors(mock_upstream, OPENAI_MODEL, TEXTS, dimensions=256)
    assert to_openai.embeddings is not None
    assert_close([e.values for e in to_openai.embeddings], want)


async def test_gemini_embed_content_single(gateway: RunningGateway, mock_upstream: MockUpstream) -> None:
    async with aiohttp.ClientSession() as session:
        body = {"content": {"parts": [{"text": "one"}, {"text": "two"}]}, "taskType": "RETRIEVAL_QUERY"}
        headers = {"x-goog-api-key": CLIENT_KEY}
        async with session.post(
            f"{gateway.url}/v1beta/models/{OPENAI_MODEL}:embedContent", json=body, headers=headers
        ) as response:
            assert response.status == 200
            answer = await response.json()
    assert set(answer) == {"embedding"}
    want = await mock_openai_vectors(mock_upstream, OPENAI_MODEL, ["one\ntwo"])
    assert_close(answer["embedding"]["values"], want[0])


async def test_token_arrays_reach_openai_but_never_gemini(gateway: RunningGateway, mock_upstream: MockUpstream) -> None:
    async with openai_client(gateway.url) as client:
        answer = await client.embeddings.create(model=OPENAI_MODEL, input=[[1, 2, 3], [4, 5]])
        assert len(answer.data) == 2
        assert mock_upstream.requests[-1].body["input"] == [[1, 2, 3], [4, 5]]
        mock_upstream.clear_requests()
        with pytest.raises(openai.BadRequestError) as caught:
            await client.embeddings.create(model=GEMINI_MODEL, input=[[1, 2, 3]])
    assert caught.value.body["param"] == "input"  # type: ignore[index]
    assert "token arrays" in caught.value.message
    assert not [r for r in mock_upstream.requests if "embed" in r.path.lower()]


async def test_ada_gets_no_dimensions(gateway: RunningGateway, mock_upstream: MockUpstream) -> None:
    async with openai_client(gateway.url) as client:
        await client.embeddings.create(model=ADA, input="x", dimensions=64)
    assert "dimensions" not in mock_upstream.requests[-1].body


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": OPENAI_MODEL}, "input"),
        ({"model": OPENAI_MODEL, "input": ""}, "input"),
        ({"model": OPENAI_MODEL, "input": ["ok", ""]}, "input[1]"),
        ({"model": OPENAI_MODEL, "input": [1, "mixed"]}, "input"),
        ({"model": OPENAI_MODEL, "input": {"text": "x"}}, "input"),
        ({"model": OPENAI_MODEL, "input": "x", "encoding_format": "hex"}, "encoding_format"),
        ({"model": OPENAI_MODEL, "input": "x", "dimensions": 0}, "dimensions"),
        ({"model": OPENAI_MODEL, "input": "x", "dimensions": "8"}, "dimensions"),
        ({"input": "x"}, "model"),
        ({"model": NOT_EMBEDDING, "input": "x"}, "model"),
    ],
)
async def test_bad_openai_requests_are_400_naming_the_field_and_reach_no_upstream(
    gateway: RunningGateway, mock_upstream: MockUpstream, body: dict[str, Any], param: str
) -> None:
    async with aiohttp.ClientSession() as session:
        headers = {"authorization": f"Bearer {CLIENT_KEY}"}
        async with session.post(f"{gateway.url}/v1/embeddings", json=body, headers=headers) as response:
            assert response.status == 400
            error = (await response.json())["error"]
    assert error["param"] == param
    assert error["type"] == "invalid_request_error"
    assert not mock_upstream.requests


@pytest.mark.parametrize(
    ("path", "body", "param"),
    [
        (f"{GEMINI_MODEL}:batchEmbedContents", {"requests": []}, "requests"),
        (f"{GEMINI_MODEL}:batchEmbedContents", {"requests": [{"content": {"parts": [{"text": "x"}]}}] * 101},
         "requests"),
        (f"{GEMINI_MODEL}:batchEmbedContents",
         {"requests": [{"model": "models/other", "content": {"parts": [{"text": "x"}]}}]}, "requests[0].model"),
        (f"{GEMINI_MODEL}:embedContent", {"content": {"parts": []}}, "content.parts"),
        (f"{GEMINI_MODEL}:embedContent", {"content": {"parts": [{"inlineData": {}}]}}, "content.parts[0].text"),
    ],
)  # fmt: skip
async def test_bad_gemini_requests_are_400_in_gemini_shape(
    gateway: RunningGateway, mock_upstream: MockUpstream, path: str, body: dict[str, Any], param: str
) -> None:
    async with aiohttp.ClientSession() as session:
        headers = {"x-goog-api-key": CLIENT_KEY}
        async with session.post(f"{gateway.url}/v1beta/models/{path}", json=body, headers=headers) as response:
            assert response.status == 400
            error = (await response.json())["error"]
    assert error["status"] == "INVALID_ARGUMENT"
    assert param in error["message"]
    assert not mock_upstream.requests


async def test_a_failing_channel_falls_over_and_the_row_keeps_the_attempts(
    gateway: RunningGateway, served: Any, mock_upstream: MockUpstream
) -> None:
    mock_upstream.script({"fail": 503}, times=1)
    async with openai_client(gateway.url) as client:
        answer = await client.embeddings.create(model=BOTH, input=["fall", "over"])
    assert answer.model == BOTH
    paths = [r.path for r in mock_upstream.requests]
    assert paths == ["/v1/embeddings", f"/v1beta/models/{BOTH}:batchEmbedContents"]
    db_dir: Path = served[1]
    await gateway.app.gateway.recorder.flush()
    rows = [row for row in await usage_rows(db_dir / "gw.db") if row["model"] == BOTH]
    assert rows[-1]["attempts"] == 2 and rows[-1]["channel"] == "ge"
    assert rows[-1]["usage_estimated"]  # Gemini reports no usage: counted by the gateway, and marked so
    assert rows[-1]["input_tokens"] > 0 and rows[-1]["output_tokens"] == 0 and rows[-1]["calls"] == 0


async def test_chat_to_a_model_no_chat_channel_serves_is_400(
    gateway: RunningGateway, mock_upstream: MockUpstream
) -> None:
    async with openai_client(gateway.url) as client:
        with pytest.raises(openai.BadRequestError) as caught:
            await client.chat.completions.create(model=NOT_EMBEDDING, messages=[{"role": "user", "content": "hi"}])
    assert caught.value.body["param"] == "model"  # type: ignore[index]
    assert not mock_upstream.requests
