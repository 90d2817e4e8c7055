"""The mock upstream's Gemini endpoints, driven by the official google-genai SDK."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from google import genai
from google.genai import errors, types

from omnirouter.mock_upstream import MockUpstream

WEATHER = types.Tool(
    function_declarations=[
        types.FunctionDeclaration(
            name="get_weather",
            parameters_json_schema={"type": "object", "properties": {"city": {"type": "string"}}},
        )
    ]
)


@pytest.fixture
async def mock() -> AsyncIterator[MockUpstream]:
    async with MockUpstream() as m:
        yield m


def make_client(mock: MockUpstream, key: str = "AIza-test") -> genai.Client:
    options = types.HttpOptions(
        base_url=mock.url,
        api_version="v1beta",
        retry_options=types.HttpRetryOptions(attempts=1),
        timeout=10_000,
    )
    return genai.Client(api_key=key, http_options=options)


@pytest.fixture
async def client(mock: MockUpstream) -> AsyncIterator[genai.Client]:
    c = make_client(mock)
    yield c
    await c.aio.aclose()


def mocked(prompt: str, **directive: Any) -> str:
    return f"{prompt} [[mock {json.dumps(directive)}]]"


async def test_generate_content_plain(client: genai.Client, mock: MockUpstream) -> None:
    r = await client.aio.models.generate_content(
        model="gemini-2.0-flash",
        contents="hello there",
        config=types.GenerateContentConfig(system_instruction="be brief"),
    )
    assert r.text == "Echo: hello there" and r.model_version == "gemini-2.0-flash"
    assert r.candidates and r.candidates[0].finish_reason == types.FinishReason.STOP
    usage = r.usage_metadata
    assert usage is not None and usage.candidates_token_count == 3 and not usage.thoughts_token_count
    assert usage.total_token_count == (usage.prompt_token_count or 0) + 3
    count = await client.aio.models.count_tokens(model="gemini-2.0-flash", contents="hello there")
    assert count.total_tokens and count.total_tokens <= (usage.prompt_token_count or 0)
    assert mock.requests[0]["headers"]["x-goog-api-key"] == "AIza-test"
    assert mock.requests[0]["path"] == "/v1beta/models/gemini-2.0-flash:generateContent"


async def test_function_calls_with_thoughts_and_signatures(client: genai.Client) -> None:
    calls = [
        {"name": "get_weather", "arguments": {"city": "Rome"}},
        {"name": "get_weather", "arguments": {"city": "Oslo"}},
    ]
    config = types.GenerateContentConfig(
        tools=[WEATHER], thinking_config=types.ThinkingConfig(include_thoughts=True, thinking_budget=512)
    )
    r = await client.aio.models.generate_content(
        model="gemini-2.5-flash",
        contents=mocked("weather", tool_calls=calls, reasoning="need two calls"),
        config=config,
    )
    assert r.candidates and r.candidates[0].content and r.candidates[0].content.parts
    parts = r.candidates[0].content.parts
    assert parts[0].thought is True and parts[0].text == "need two calls"
    assert [(fc.name, fc.args) for fc in r.function_calls or []] == [
        ("get_weather", {"city": "Rome"}),
        ("get_weather", {"city": "Oslo"}),
    ]
    assert parts[1].thought_signature and not parts[2].thought_signature
    assert all(fc.id is None for fc in r.function_calls or [])
    assert r.candidates[0].finish_reason == types.FinishReason.STOP
    usage = r.usage_metadata
    assert usage is not None and usage.thoughts_token_count == 3
    assert usage.total_token_count == (usage.prompt_token_count or 0) + (usage.candidates_token_count or 0) + 3


async def test_generate_content_stream(client: genai.Client) -> None:
    chunks = [
        c
        async for c in await client.aio.models.generate_content_stream(
            model="gemini-2.5-flash",
            contents=mocked(
                "x", text="one two three", tool_calls=[{"name": "get_weather", "arguments": {"city": "Rome"}}]
            ),
            config=types.GenerateContentConfig(tools=[WEATHER]),
        )
    ]
    assert len(chunks) == 4
    assert "".join(c.text or "" for c in chunks[:3]) == "one two three"
    assert chunks[-1].function_calls and chunks[-1].function_calls[0].args == {"city": "Rome"}
    last_parts = chunks[-1].candidates[0].content.parts  # type: ignore[index,union-attr]
    assert last_parts and last_parts[0].thought_signature
    finishes = [c.candidates[0].finish_reason for c in chunks]  # type: ignore[index]
    assert finishes == [None, None, None, types.FinishReason.STOP]
    counts = [c.usage_metadata.candidates_token_count for c in chunks]  # type: ignore[union-attr]
    assert counts == sorted(counts) and counts[:3] == [1, 2, 3]


async def test_raw_wire_formats(mock: MockUpstream) -> None:
    body = {"contents": [{"role": "user", "parts": [{"text": "a b"}]}], "generationConfig": {}}
    url = mock.url + "/v1beta/models/gemini-2.0-flash:streamGenerateContent"
    async with aiohttp.ClientSession() as session:
        async with session.post(url + "?alt=sse&key=k", json=body) as r:
            raw = await r.read()
            assert r.headers["Content-Type"].startswith("text/event-stream")
        frames = raw.split(b"\r\n\r\n")
        assert frames[-1] == b"" and all(f.startswith(b"data: {") for f in frames[:-1])
        async with session.post(url, json=body, headers={"x-goog-api-key": "k"}) as r:
            array = json.loads(await r.read())
        assert isinstance(array, list) and len(array) == len(frames) - 1
        assert array[-1]["candidates"][0]["finishReason"] == "STOP"
        v1 = mock.url + "/v1/models/gemini-2.0-flash:generateContent"
        async with session.post(v1, json=body, headers={"x-goog-api-key": "k"}) as r:
            assert (await r.json())["candidates"][0]["content"]["role"] == "model"
        async with session.post(url + "?alt=sse", json=body) as r:
            error = await r.json()
            assert r.status == 403 and error["error"]["status"] == "PERMISSION_DENIED"


async def test_blocked_prompt_and_safety(client: genai.Client) -> None:
    r = await client.aio.models.generate_content(
        model="gemini-2.0-flash", contents=mocked("x", block="PROHIBITED_CONTENT")
    )
    assert not r.candidates and r.prompt_feedback is not None
    assert r.prompt_feedback.block_reason == types.BlockedReason.PROHIBITED_CONTENT
    r = await client.aio.models.generate_content(model="gemini-2.0-flash", contents=mocked("x", refusal=True))
    assert r.candidates and r.candidates[0].finish_reason == types.FinishReason.SAFETY
    r = await client.aio.models.generate_content(
        model="gemini-2.0-flash",
        contents="one two three",
        config=types.GenerateContentConfig(max_output_tokens=2),
    )
    assert r.text == "Echo: one" and r.candidates and r.candidates[0].finish_reason == types.FinishReason.MAX_TOKENS


async def test_gemini3_requires_thought_signature_on_replay(client: genai.Client) -> None:
    call = types.Part(function_call=types.FunctionCall(name="get_weather", args={"city": "Rome"}))
    contents: Any = [
        types.Content(role="user", parts=[types.Part(text="weather?")]),
        types.Content(role="model", parts=[call]),
        types.Content(
            role="user",
            parts=[
                types.Part(function_response=types.FunctionResponse(name="get_weather", response={"output": "sunny"}))
            ],
        ),
    ]
    with pytest.raises(errors.ClientError, match="thought_signature") as info:
        await client.aio.models.generate_content(model="gemini-3-pro-preview", contents=contents)
    assert info.value.code == 400
    contents[1].parts[0].thought_signature = b"sig"
    r = await client.aio.models.generate_content(model="gemini-3-pro-preview", contents=contents)
    assert r.text == "Echo: sunny"


async def test_errors_map_to_sdk_exceptions(client: genai.Client, mock: MockUpstream) -> None:
    bad = make_client(mock, key="bad-key")
    with pytest.raises(errors.ClientError) as info:
        await bad.aio.models.generate_content(model="gemini-2.0-flash", contents="x")
    await bad.aio.aclose()
    assert info.value.code == 400 and info.value.status == "INVALID_ARGUMENT"
    assert info.value.details["error"]["details"][0]["reason"] == "API_KEY_INVALID"
    with pytest.raises(errors.ClientError) as rate:
        await client.aio.models.generate_content(model="g", contents=mocked("x", fail=429, retry_after=5))
    assert rate.value.code == 429 and rate.value.status == "RESOURCE_EXHAUSTED"
    with pytest.raises(errors.ServerError) as server:
        await client.aio.models.generate_content(model="g", contents=mocked("x", fail=503))
    assert server.value.code == 503 and server.value.status == "UNAVAILABLE"


async def test_broken_streams_raise(client: genai.Client) -> None:
    with pytest.raises(aiohttp.ClientPayloadError):
        async for _ in await client.aio.models.generate_content_stream(model="g", contents=mocked("x", cut_after=2)):
            pass
    with pytest.raises(errors.APIError):
        async for _ in await client.aio.models.generate_content_stream(model="g", contents=mocked("x", error_after=1)):
            pass
    with pytest.raises(errors.UnknownApiResponseError):
        async for _ in await client.aio.models.generate_content_stream(model="g", contents=mocked("x", garbage=True)):
            pass


async def test_models_list(client: genai.Client) -> None:
    names = [m.name async for m in await client.aio.models.list()]
    assert "models/gemini-2.5-flash" in names
    model = await client.aio.models.get(model="gemini-any")
    assert model.name == "models/gemini-any"
