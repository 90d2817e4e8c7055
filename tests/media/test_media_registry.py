"""The media registry is complete and true: every (provider, media capability) the registry declares is
served end to end through one gateway — a client request of that capability, in OpenAI's shape, reaches
the provider's endpoint on the mock with the channel's upstream key and comes back 200.

The sample upstream model for each pair lives in ``UPSTREAM_MODELS``: a capability added to a provider
without a sample here fails ``test_every_declared_pair_has_a_sample`` (the registry and this test move
together).
"""

from __future__ import annotations

import io
import wave
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson
import pytest
from PIL import Image

from omnirouter.mock_upstream import MockUpstream
from omnirouter.providers import PROVIDERS, Capability, ProviderKind
from tests.helpers.gateway_harness import CLIENT_KEY, UPSTREAM_KEY, RunningGateway
from tests.helpers.media_gateway import channel, media_gateway

UPSTREAM_MODELS: dict[tuple[ProviderKind, Capability], str] = {
    (ProviderKind.OPENAI, Capability.EMBEDDINGS): "text-embedding-3-small",
    (ProviderKind.OPENAI, Capability.MODERATION): "omni-moderation-latest",
    (ProviderKind.OPENAI, Capability.SPEECH): "tts-1",
    (ProviderKind.OPENAI, Capability.TRANSCRIPTION): "whisper-1",
    (ProviderKind.OPENAI, Capability.IMAGE_GENERATION): "gpt-image-1",
    (ProviderKind.OPENAI, Capability.IMAGE_EDIT): "gpt-image-1",
    (ProviderKind.GEMINI, Capability.EMBEDDINGS): "gemini-embedding-001",
    (ProviderKind.GEMINI, Capability.SPEECH): "gemini-2.5-flash-preview-tts",
    (ProviderKind.GEMINI, Capability.TRANSCRIPTION): "gemini-2.5-flash",
    (ProviderKind.GEMINI, Capability.IMAGE_GENERATION): "gemini-2.5-flash-image",
    (ProviderKind.GEMINI, Capability.IMAGE_EDIT): "gemini-2.5-flash-image",
    (ProviderKind.COHERE, Capability.RERANK): "rerank-v3.5",
    (ProviderKind.JINA, Capability.RERANK): "jina-reranker-v2-base-multilingual",
    (ProviderKind.VOYAGE, Capability.RERANK): "rerank-2.5",
    (ProviderKind.DASHSCOPE, Capability.RERANK): "gte-rerank-v2",
    (ProviderKind.DASHSCOPE, Capability.SPEECH): "qwen3-tts-flash",
    (ProviderKind.DASHSCOPE, Capability.IMAGE_GENERATION): "wanx2.1-t2i-turbo",
    (ProviderKind.MINIMAX, Capability.SPEECH): "speech-02-hd",
    (ProviderKind.VOLCENGINE, Capability.SPEECH): "seed-tts-1.0",
    (ProviderKind.ELEVENLABS, Capability.SPEECH): "eleven_multilingual_v2",
    (ProviderKind.ARK, Capability.IMAGE_GENERATION): "doubao-seedream-4-0-250828",
    (ProviderKind.ARK, Capability.IMAGE_EDIT): "doubao-seedream-4-0-250828",
    (ProviderKind.BFL, Capability.IMAGE_GENERATION): "flux-kontext-pro",
    (ProviderKind.BFL, Capability.IMAGE_EDIT): "flux-kontext-pro",
    (ProviderKind.SERPER, Capability.SEARCH): "serper-search",  # the path names the model: /search
}
OPTIONS: dict[ProviderKind, dict[str, str]] = {ProviderKind.VOLCENGINE: {"app_id": "app-1"}}

DECLARED = sorted((kind, capability) for kind, spec in PROVIDERS.items() for capability in spec.media)


def public_model(kind: ProviderKind, capability: Capability) -> str:
    return f"{kind.value}-{capability.value}"


def test_every_declared_pair_has_a_sample() -> None:
    assert set(UPSTREAM_MODELS) == set(DECLARED)


@pytest.fixture(scope="module")
async def served(mock_upstream: MockUpstream, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Any]:
    channels = []
    for kind in ProviderKind:
        pairs = [(k, c) for k, c in DECLARED if k is kind]
        if not pairs:
            continue
        names = {public_model(k, c): UPSTREAM_MODELS[(k, c)] for k, c in pairs}
        channels.append(
            channel(
                mock_upstream.url,
                kind.value,
                kind.value,
                list(names),
                model_map=names,
                options=OPTIONS.get(kind, {}),
            )
        )
    async with media_gateway(tmp_path_factory.mktemp("registry"), channels) as running:
        yield running


def _wav() -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(16000)
        wav.writeframes(b"\x00\x10" * 16000)
    return out.getvalue()


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


def client_request(capability: Capability, model: str) -> tuple[str, aiohttp.FormData | bytes]:
    """The path and body of a small client request of ``capability`` in OpenAI's shape."""
    if capability is Capability.TRANSCRIPTION:
        form = aiohttp.FormData()
        form.add_field("model", model)
        form.add_field("file", _wav(), filename="hello.wav", content_type="audio/wav")
        return "/v1/audio/transcriptions", form
    if capability is Capability.IMAGE_EDIT:
        form = aiohttp.FormData()
        form.add_field("model", model)
        form.add_field("prompt", "make it blue")
        form.add_field("image", _png(), filename="red.png", content_type="image/png")
        return "/v1/images/edits", form
    if capability is Capability.SEARCH:  # serper's shape: the path picks the model (serper-search)
        return "/search", orjson.dumps({"q": "red fox", "num": 3})
    path, body = {
        Capability.EMBEDDINGS: ("/v1/embeddings", {"input": "hello"}),
        Capability.RERANK: ("/v1/rerank", {"query": "red fox", "documents": ["a red fox", "a blue whale"]}),
        Capability.MODERATION: ("/v1/moderations", {"input": "hello"}),
        Capability.SPEECH: ("/v1/audio/speech", {"input": "hello there", "voice": "alloy", "response_format": "wav"}),
        Capability.IMAGE_GENERATION: ("/v1/images/generations", {"prompt": "a red fox"}),
    }[capability]
    return path, orjson.dumps({"model": model, **body})


@pytest.mark.parametrize(("kind", "capability"), DECLARED)
async def test_every_declared_pair_is_served_through_the_gateway(
    served: RunningGateway, mock_upstream: MockUpstream, kind: ProviderKind, capability: Capability
) -> None:
    mock_upstream.clear_requests()
    path, body = client_request(capability, public_model(kind, capability))
    headers = {"authorization": f"Bearer {CLIENT_KEY}"}
    if isinstance(body, bytes):
        headers["content-type"] = "application/json"
    async with (
        aiohttp.ClientSession() as session,
        session.post(served.url + path, data=body, headers=headers) as response,
    ):
        answer = await response.read()
        assert response.status == 200, answer[:500]
        assert response.headers["x-omnirouter-attempts"] == "1"
    first = next(r for r in mock_upstream.requests if r.provider != "media")
    seen = orjson.dumps([first.headers, first.body]).decode()
    assert UPSTREAM_KEY in seen  # the channel's own key, in the vendor's auth scheme
    assert CLIENT_KEY not in seen  # never the client's
    if kind is ProviderKind.SERPER:  # serper knows no model: the endpoint is the path
        assert first.path == "/search" and first.body == {"q": "red fox", "num": 3}
    elif kind is not ProviderKind.VOLCENGINE:  # Seed-TTS is chosen by the channel's cluster / resource id option
        assert UPSTREAM_MODELS[(kind, capability)] in orjson.dumps([first.path, first.body]).decode()
