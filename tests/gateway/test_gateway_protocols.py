"""Protocol-specific routes and what the coding-agent CLIs send."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import anthropic
import msgspec
import openai
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types as gtypes

from omnirouter.config import GatewayConfig
from omnirouter.mock_upstream import MockUpstream
from omnirouter.protocols.sse import SSEParser
from tests.helpers.gateway_harness import CLIENT_KEY, RunningGateway, running_gateway
from tests.helpers.openapi_schema import validate_openai

OTHER_KEY = "sk-test-client-0002"


def gateway_config(mock_url: str, db: Path, **extra: Any) -> GatewayConfig:
    raw = {
        "database_url": f"sqlite:///{db}",
        "channels": [
            {
                "name": "oa",
                "provider": "openai",
                "base_url": f"{mock_url}/v1",
                "api_keys": ["sk-up-oa"],
                "models": ["gpt-4o-mini"],
            },
            {
                "name": "an",
                "provider": "anthropic",
                "base_url": mock_url,
                "api_keys": ["sk-up-an"],
                "models": ["claude-sonnet-4-5"],
            },
            {
                "name": "ge",
                "provider": "gemini",
                "base_url": mock_url,
                "api_keys": ["sk-up-ge"],
                "models": ["gemini-2.5-flash"],
            },
        ],
        "keys": [{"name": "one", "key": CLIENT_KEY}, {"name": "two", "key": OTHER_KEY}],
        "breaker": {"failures": 1_000_000},
        **extra,
    }
    return msgspec.convert(raw, GatewayConfig)


@pytest.fixture(scope="module")
async def gw(mock_upstream: MockUpstream, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[RunningGateway]:
    async with running_gateway(gateway_config(mock_upstream.url, tmp_path_factory.mktemp("p") / "gw.db")) as gateway:
        yield gateway


def upstream_body(mock: MockUpstream, path_part: str) -> dict[str, Any]:
    for logged in reversed(mock.requests):
        if path_part in logged.path:
            body: dict[str, Any] = logged.body
            return body
    raise AssertionError(f"no upstream request to {path_part}")


async def sse_events(response: aiohttp.ClientResponse) -> list[tuple[str | None, Any]]:
    parser = SSEParser()
    events = []
    async for chunk in response.content.iter_any():
        events += parser.feed(chunk)
    events += parser.finish()
    return [(e.event, json.loads(e.data) if e.data != b"[DONE]" else "[DONE]") for e in events]


# ------------------------------------------------------------------ Claude Code


CLAUDE_CODE_TOOL = {
    "name": "Read",
    "description": "Read a file",
    "input_schema": {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "properties": {
            "file_path": {"type": "string"},
            "offset": {"type": "number", "exclusiveMinimum": 0},
            "mode": {"anyOf": [{"const": "text"}, {"const": "binary"}]},
            "meta": {"type": "object", "propertyNames": {"pattern": "^[a-z]+$"}},
        },
        "required": ["file_path"],
        "additionalProperties": False,
    },
}


@pytest.mark.parametrize("model", ["gpt-4o-mini", "claude-sonnet-4-5", "gemini-2.5-flash"])
async def test_claude_code_shaped_request(gw: RunningGateway, mock_upstream: MockUpstream, model: str) -> None:
    async with aiohttp.ClientSession() as session:
        head = await session.head(f"{gw.url}/")
        assert head.status == 200
        body = {
            "model": model,
            "max_tokens": 32000,
            "stream": True,
            "system": [
                {"type": "text", "text": "You are Claude Code.", "cache_control": {"type": "ephemeral"}},
                {"type": "text", "text": "Be careful."},
            ],
            "tools": [CLAUDE_CODE_TOOL],
            "thinking": {"type": "enabled", "budget_tokens": 31999},
            "metadata": {"user_id": "user_abc"},
            "context_management": {"edits": []},
            "messages": [{"role": "user", "content": [{"type": "text", "text": "say hi"}]}],
        }
        headers = {
            "x-api-key": CLIENT_KEY,
            "anthropic-version": "2023-06-01",
            "anthropic-beta": ",".join(
                ["claude-code-20250219", "interleaved-thinking-2025-05-14", "fine-grained-tool-streaming-2025-05-14"]
            ),
        }
        async with session.post(f"{gw.url}/v1/messages?beta=true", json=body, headers=headers) as response:
            assert response.status == 200
            events = await sse_events(response)
    names = [name for name, _ in events]
    assert names[0] == "message_start" and names[-1] == "message_stop"
    assert names.count("content_block_start") == names.count("content_block_stop") >= 1
    text = "".join(d["delta"].get("text", "") for n, d in events if n == "content_block_delta")
    assert "Echo: say hi" in text
    if model == "gpt-4o-mini":
        sent = upstream_body(mock_upstream, "/chat/completions")
        assert sent["max_completion_tokens"] <= 16384  # clamped to the model's output cap
    elif model == "gemini-2.5-flash":
        sent = upstream_body(mock_upstream, ":streamGenerateContent")
        declaration = sent["tools"][0]["functionDeclarations"][0]
        assert declaration["parametersJsonSchema"]["properties"]["mode"]["anyOf"]


# ------------------------------------------------------------------ Codex CLI


@pytest.mark.parametrize("model", ["gpt-4o-mini", "claude-sonnet-4-5", "gemini-2.5-flash"])
async def test_codex_shaped_request(gw: RunningGateway, model: str) -> None:
    body = {
        "model": model,
        "instructions": None,
        "input": [
            {
                "type": "message",
                "role": "developer",
                "id": "msg_1",
                "content": [{"type": "input_text", "text": "dev one"}],
            },
            {
                "type": "message",
                "role": "developer",
                "id": "msg_2",
                "content": [{"type": "input_text", "text": "dev two"}],
            },
            {
                "type": "message",
                "role": "user",
                "id": "msg_3",
                "content": [{"type": "input_text", "text": "list files"}],
            },
        ],
        "tools": [
            {
                "type": "function",
                "name": "shell",
                "description": "run",
                "strict": False,
                "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}}},
            },
            {"type": "web_search"},
        ],
        "tool_choice": "auto",
        "parallel_tool_calls": False,
        "reasoning": {"effort": "medium", "summary": "auto"},
        "store": False,
        "stream": True,
        "include": ["reasoning.encrypted_content"],
    }
    body = {k: v for k, v in body.items() if v is not None}
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{gw.url}/v1/responses", json=body, headers={"authorization": f"Bearer {CLIENT_KEY}"}
        ) as response,
    ):
        assert response.status == 200
        events = await sse_events(response)
    types = [data["type"] for _, data in events]
    assert types[0] == "response.created" and types[-1] == "response.completed"
    assert [d["sequence_number"] for _, d in events] == list(range(len(events)))
    done_texts = [
        part["text"]
        for _, d in events
        if d["type"] == "response.output_item.done" and d["item"]["type"] == "message"
        for part in d["item"]["content"]
    ]
    assert done_texts == ["Echo: list files"]


# ------------------------------------------------------------------ Gemini CLI


@pytest.mark.parametrize("model", ["gpt-4o-mini", "claude-sonnet-4-5", "gemini-2.5-flash"])
async def test_gemini_cli_shaped_request(gw: RunningGateway, model: str) -> None:
    body = {
        "contents": [{"role": "user", "parts": [{"text": "context here"}, {"text": "what now"}]}],
        "tools": [
            {
                "functionDeclarations": [
                    {
                        "name": "ls",
                        "description": "list",
                        "parametersJsonSchema": {"type": "object", "properties": {"path": {"type": "string"}}},
                    }
                ]
            }
        ],
        "generationConfig": {
            "topK": 64,
            "temperature": 0,
            "thinkingConfig": {"includeThoughts": True, "thinkingBudget": 1024},
        },
    }
    url = f"{gw.url}/v1beta/models/{model}:streamGenerateContent?alt=sse"
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, json=body, headers={"x-goog-api-key": CLIENT_KEY}) as response,
    ):
        assert response.status == 200
        events = await sse_events(response)
    text = "".join(
        part.get("text", "")
        for _, chunk in events
        for candidate in chunk.get("candidates", [])
        for part in candidate.get("content", {}).get("parts", [])
        if not part.get("thought")
    )
    assert text == "Echo: context here\nwhat now"
    assert events[-1][1]["candidates"][0]["finishReason"] == "STOP"


async def test_gemini_stream_without_alt_sse_is_one_json_array(gw: RunningGateway) -> None:
    url = f"{gw.url}/v1beta/models/gpt-4o-mini:streamGenerateContent"
    body = {"contents": [{"role": "user", "parts": [{"text": "array please"}]}]}
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, json=body, headers={"x-goog-api-key": CLIENT_KEY}) as response,
    ):
        assert response.status == 200
        assert response.headers["content-type"].startswith("application/json")
        chunks = json.loads(await response.read())
    assert isinstance(chunks, list) and len(chunks) > 1
    text = "".join(
        p.get("text", "") for c in chunks for cand in c.get("candidates", []) for p in cand["content"]["parts"]
    )
    assert text == "Echo: array please"


# ------------------------------------------------------------------ models, count tokens, auth


async def test_model_listings_in_each_protocol(gw: RunningGateway) -> None:
    expected = {"gpt-4o-mini", "claude-sonnet-4-5", "gemini-2.5-flash"}
    async with anthropic.AsyncAnthropic(base_url=gw.url, api_key=CLIENT_KEY, max_retries=0) as client:
        assert {m.id async for m in client.models.list()} == expected
    async with openai.AsyncOpenAI(base_url=f"{gw.url}/v1", api_key=CLIENT_KEY, max_retries=0) as oclient:
        assert {m.id for m in (await oclient.models.list()).data} == expected
        assert (await oclient.models.retrieve("gpt-4o-mini")).id == "gpt-4o-mini"
    gclient = genai.Client(api_key=CLIENT_KEY, http_options=gtypes.HttpOptions(base_url=gw.url, api_version="v1beta"))
    try:
        names = {m.name async for m in await gclient.aio.models.list()}
        assert names == {f"models/{n}" for n in expected}
        one = await gclient.aio.models.get(model="gemini-2.5-flash")
        assert one.name == "models/gemini-2.5-flash"
    finally:
        await gclient.aio.aclose()


async def test_count_tokens_in_anthropic_and_gemini(gw: RunningGateway) -> None:
    async with anthropic.AsyncAnthropic(base_url=gw.url, api_key=CLIENT_KEY, max_retries=0) as client:
        short = await client.messages.count_tokens(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
        long = await client.messages.count_tokens(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hello there " * 200}]
        )
    assert 0 < short.input_tokens < long.input_tokens
    gclient = genai.Client(api_key=CLIENT_KEY, http_options=gtypes.HttpOptions(base_url=gw.url, api_version="v1beta"))
    try:
        counted = await gclient.aio.models.count_tokens(model="gpt-4o-mini", contents="hello there " * 50)
    finally:
        await gclient.aio.aclose()
    assert counted.total_tokens and counted.total_tokens > 50


async def test_bad_keys_answered_in_each_protocol(gw: RunningGateway) -> None:
    async with anthropic.AsyncAnthropic(base_url=gw.url, api_key="sk-nope-nope", max_retries=0) as client:
        with pytest.raises(anthropic.AuthenticationError):
            await client.messages.create(
                model="gpt-4o-mini", max_tokens=10, messages=[{"role": "user", "content": "x"}]
            )
    gclient = genai.Client(
        api_key="sk-nope-nope", http_options=gtypes.HttpOptions(base_url=gw.url, api_version="v1beta")
    )
    try:
        with pytest.raises(genai_errors.ClientError) as caught:
            await gclient.aio.models.generate_content(model="gpt-4o-mini", contents="x")
    finally:
        await gclient.aio.aclose()
    assert caught.value.code == 400 and caught.value.status == "INVALID_ARGUMENT"
    async with openai.AsyncOpenAI(base_url=f"{gw.url}/v1", api_key="sk-nope-nope", max_retries=0) as oclient:
        with pytest.raises(openai.AuthenticationError):
            await oclient.responses.create(model="gpt-4o-mini", input="x")


# ------------------------------------------------------------------ previous_response_id


@pytest.mark.parametrize("model", ["claude-sonnet-4-5", "gemini-2.5-flash", "gpt-4o-mini"])
@pytest.mark.parametrize("stream", [False, True])
async def test_previous_response_id_on_any_upstream(
    gw: RunningGateway, mock_upstream: MockUpstream, model: str, stream: bool
) -> None:
    async with openai.AsyncOpenAI(base_url=f"{gw.url}/v1", api_key=CLIENT_KEY, max_retries=0) as client:
        if stream:
            async with client.responses.stream(model=model, input="my name is Ada") as events:
                first = await events.get_final_response()
        else:
            first = await client.responses.create(model=model, input="my name is Ada")
        second = await client.responses.create(model=model, input="what is my name", previous_response_id=first.id)
        assert second.output_text == "Echo: what is my name"
        sent = json.dumps(mock_upstream.requests[-1].body)
        assert "my name is Ada" in sent and "Echo: my name is Ada" in sent
        third = await client.responses.create(model=model, input="and again", previous_response_id=second.id)
        sent = json.dumps(mock_upstream.requests[-1].body)
        assert "my name is Ada" in sent and "what is my name" in sent and third.output_text == "Echo: and again"
        with pytest.raises(openai.BadRequestError):
            await client.responses.create(model=model, input="x", previous_response_id="resp_unknown")
    async with openai.AsyncOpenAI(base_url=f"{gw.url}/v1", api_key=OTHER_KEY, max_retries=0) as other:
        with pytest.raises(openai.BadRequestError):  # another key cannot continue this conversation
            await other.responses.create(model=model, input="x", previous_response_id=first.id)


# ------------------------------------------------------------------ images and the fetch policy


async def test_image_url_to_private_address_is_refused_by_default(gw: RunningGateway) -> None:
    async with openai.AsyncOpenAI(base_url=f"{gw.url}/v1", api_key=CLIENT_KEY, max_retries=0) as client:
        with pytest.raises(openai.BadRequestError) as caught:
            await client.chat.completions.create(
                model="gemini-2.5-flash",
                messages=[
                    {
                        "role": "user",
                        "content": [
                            {"type": "text", "text": "see"},
                            {"type": "image_url", "image_url": {"url": "http://127.0.0.1:9/secret.png"}},
                        ],
                    }
                ],
            )
    assert "private or reserved address" in caught.value.message


# ------------------------------------------------------------------ OpenAI output validates against the spec


@pytest.mark.parametrize("model", ["claude-sonnet-4-5", "gemini-2.5-flash"])
async def test_translated_openai_output_validates_against_the_spec(gw: RunningGateway, model: str) -> None:
    body = {
        "model": model,
        "messages": [
            {
                "role": "user",
                "content": 'go [[mock {"reasoning": "hmm", "tool_calls": [{"name": "f", "arguments": {"a": 1}}]}]]',
            }
        ],
        "tools": [
            {
                "type": "function",
                "function": {"name": "f", "parameters": {"type": "object", "properties": {"a": {"type": "integer"}}}},
            }
        ],
        "reasoning_effort": "low",
    }
    headers = {"authorization": f"Bearer {CLIENT_KEY}"}
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{gw.url}/v1/chat/completions", json=body, headers=headers) as response:
            validate_openai("CreateChatCompletionResponse", await response.json())
        stream_body = {**body, "stream": True, "stream_options": {"include_usage": True}}
        async with session.post(f"{gw.url}/v1/chat/completions", json=stream_body, headers=headers) as response:
            events = await sse_events(response)
        async with session.post(
            f"{gw.url}/v1/responses", json={"model": model, "input": "hi"}, headers=headers
        ) as response:
            validate_openai("Response", await response.json())
    chunks = [data for _, data in events if data != "[DONE]"]
    assert events[-1][1] == "[DONE]" and chunks
    for chunk in chunks:
        validate_openai("CreateChatCompletionStreamResponse", chunk)
    assert any(c["choices"] and c["choices"][0]["finish_reason"] == "tool_calls" for c in chunks)
