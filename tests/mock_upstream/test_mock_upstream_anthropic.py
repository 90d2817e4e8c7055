"""The mock upstream's Anthropic endpoints, driven by the official SDK."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import anthropic
import httpx2
import pytest

from omnirouter.mock_upstream import MockUpstream
from tests.helpers.reference import FIXTURES


@pytest.fixture
async def mock() -> AsyncIterator[MockUpstream]:
    async with MockUpstream() as m:
        yield m


@pytest.fixture
async def client(mock: MockUpstream) -> AsyncIterator[anthropic.AsyncAnthropic]:
    async with anthropic.AsyncAnthropic(base_url=mock.url, api_key="sk-ant-x", max_retries=0, timeout=10) as c:
        yield c


def user(text: str) -> list[Any]:
    return [{"role": "user", "content": text}]


async def raw_stream(mock: MockUpstream, body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    headers = {"x-api-key": "k", "anthropic-version": "2023-06-01"}
    async with (
        aiohttp.ClientSession() as session,
        session.post(mock.url + "/v1/messages", json={**body, "stream": True}, headers=headers) as r,
    ):
        assert r.status == 200
        raw = (await r.read()).decode()
    events = []
    for block in raw.strip().split("\n\n"):
        lines = block.split("\n")
        assert lines[0].startswith("event: ") and lines[1].startswith("data: ")
        events.append((lines[0][7:], json.loads(lines[1][6:])))
    return events


async def test_plain_message(client: anthropic.AsyncAnthropic, mock: MockUpstream) -> None:
    m = await client.messages.create(model="claude-x", max_tokens=100, system="be brief", messages=user("hello there"))
    assert m.model == "claude-x" and m.stop_reason == "end_turn"
    assert [b.type for b in m.content] == ["text"] and m.content[0].text == "Echo: hello there"  # type: ignore[union-attr]
    assert m.usage.output_tokens == 3 and m.usage.cache_read_input_tokens == 0
    count = await client.messages.count_tokens(model="claude-x", system="be brief", messages=user("hello there"))
    assert count.input_tokens == m.usage.input_tokens
    logged = mock.requests[0]
    assert logged["provider"] == "anthropic" and logged["body"]["max_tokens"] == 100
    assert logged["headers"]["anthropic-version"]


async def test_stream_thinking_and_tool_use(client: anthropic.AsyncAnthropic, mock: MockUpstream) -> None:
    directive = {
        "text": "Let me check.",
        "tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}],
    }
    body: dict[str, Any] = {
        "model": "claude-mock-1",
        "max_tokens": 2048,
        "thinking": {"type": "enabled", "budget_tokens": 1024},
        "messages": user(f"weather [[mock {json.dumps(directive)}]]"),
        "tools": [{"name": "get_weather", "input_schema": {"type": "object"}}],
    }
    async with client.messages.stream(**body) as stream:
        final = await stream.get_final_message()
    assert [b.type for b in final.content] == ["thinking", "text", "tool_use"]
    thinking, text, tool = final.content
    assert thinking.type == "thinking" and thinking.thinking and thinking.signature
    assert text.type == "text" and text.text == "Let me check."
    assert tool.type == "tool_use" and tool.input == {"city": "Paris"} and tool.id.startswith("toolu_")
    assert final.stop_reason == "tool_use"
    assert final.usage.output_tokens > 0

    events = await raw_stream(mock, body)
    names = [name for name, _ in events]
    assert names[:3] == ["message_start", "content_block_start", "ping"]
    assert names[-2:] == ["message_delta", "message_stop"]
    assert all(name == data["type"] for name, data in events)
    starts = [data["index"] for name, data in events if name == "content_block_start"]
    stops = [data["index"] for name, data in events if name == "content_block_stop"]
    assert starts == stops == [0, 1, 2]
    deltas = [data["delta"] for name, data in events if name == "content_block_delta"]
    kinds = [d["type"] for d in deltas]
    assert kinds.index("signature_delta") == len([k for k in kinds if k == "thinking_delta"])
    json_parts = [d["partial_json"] for d in deltas if d["type"] == "input_json_delta"]
    assert len(json_parts) >= 3 and json.loads("".join(json_parts)) == {"city": "Paris"}
    assert events[0][1]["message"]["usage"]["output_tokens"] == 1
    assert events[-2][1]["usage"]["output_tokens"] == final.usage.output_tokens


async def test_stream_shape_matches_recorded_fixture(mock: MockUpstream) -> None:
    with open(f"{FIXTURES}/anthropic_stream_text.sse") as f:
        recorded = [b.split("\n")[0][7:] for b in f.read().strip().split("\n\n")]
    events = await raw_stream(mock, {"model": "c", "max_tokens": 50, "messages": user("hi there")})
    mine = [name for name, _ in events]
    squash = lambda names: [n for i, n in enumerate(names) if i == 0 or names[i - 1] != n]  # noqa: E731
    assert squash(mine) == squash(recorded)


async def test_stop_reasons(client: anthropic.AsyncAnthropic) -> None:
    m = await client.messages.create(model="c", max_tokens=100, messages=user('[[mock {"refusal": true}]]'))
    assert m.stop_reason == "refusal"
    m = await client.messages.create(model="c", max_tokens=2, messages=user("one two three"))
    assert m.stop_reason == "max_tokens" and m.content[0].text == "Echo: one"  # type: ignore[union-attr]
    m = await client.messages.create(model="c", max_tokens=9, messages=user('[[mock {"finish": "length"}]]'))
    assert m.stop_reason == "max_tokens"


async def test_usage_semantics(client: anthropic.AsyncAnthropic) -> None:
    directive = '[[mock {"usage": {"input": 100, "cached": 30, "cache_write": 10, "output": 7}}]]'
    async with client.messages.stream(model="c", max_tokens=100, messages=user(directive)) as stream:
        m = await stream.get_final_message()
    assert m.usage.input_tokens == 60 and m.usage.cache_read_input_tokens == 30
    assert m.usage.cache_creation_input_tokens == 10 and m.usage.output_tokens == 7


async def test_validation_errors(client: anthropic.AsyncAnthropic, mock: MockUpstream) -> None:
    with pytest.raises(anthropic.BadRequestError) as info:
        await client.messages.create(model="c", messages=user("x"), max_tokens=None)  # type: ignore[arg-type]
    assert info.value.body["error"]["type"] == "invalid_request_error"  # type: ignore[index]
    assert "max_tokens" in info.value.message
    dangling: list[Any] = [
        {"role": "user", "content": "x"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}}]},
        {"role": "user", "content": "y"},
    ]
    with pytest.raises(anthropic.BadRequestError, match="toolu_1"):
        await client.messages.create(model="c", max_tokens=10, messages=dangling)
    with pytest.raises(anthropic.BadRequestError, match="non-empty"):
        await client.messages.create(
            model="c", max_tokens=10, messages=[{"role": "user", "content": [{"type": "text", "text": ""}]}]
        )
    async with aiohttp.ClientSession() as session:
        body = {"model": "c", "max_tokens": 5, "messages": user("x")}
        async with session.post(mock.url + "/v1/messages", json=body, headers={"x-api-key": "k"}) as r:
            assert r.status == 400 and "anthropic-version" in (await r.json())["error"]["message"]
        async with session.post(mock.url + "/v1/messages", json=body, headers={"anthropic-version": "1"}) as r:
            error = await r.json()
            assert r.status == 401 and error["type"] == "error"
            assert error["error"]["type"] == "authentication_error" and error["request_id"]


async def test_errors_map_to_sdk_exceptions(client: anthropic.AsyncAnthropic, mock: MockUpstream) -> None:
    with pytest.raises(anthropic.APIStatusError) as over:
        await client.messages.create(model="c", max_tokens=10, messages=user('[[mock {"fail": 529}]]'))
    assert over.value.status_code == 529 and isinstance(over.value, anthropic.InternalServerError)
    assert over.value.body["error"] == {"type": "overloaded_error", "message": "Overloaded"}  # type: ignore[index]
    with pytest.raises(anthropic.RateLimitError) as rate:
        await client.messages.create(
            model="c", max_tokens=10, messages=user('[[mock {"fail": 429, "retry_after": 2}]]')
        )
    assert rate.value.response.headers["retry-after"] == "2"
    async with anthropic.AsyncAnthropic(base_url=mock.url, api_key="invalid-k", max_retries=0) as bad:
        with pytest.raises(anthropic.AuthenticationError):
            await bad.messages.create(model="c", max_tokens=10, messages=user("x"))


async def test_broken_streams_raise(client: anthropic.AsyncAnthropic) -> None:
    with pytest.raises((httpx2.HTTPError, anthropic.APIError)):
        async with client.messages.stream(model="c", max_tokens=99, messages=user('[[mock {"cut_after": 4}]]')) as s:
            await s.get_final_message()
    with pytest.raises(anthropic.APIStatusError, match="overloaded_error"):
        async with client.messages.stream(
            model="c", max_tokens=99, messages=user('[[mock {"error_after": 3, "fail": 529}]]')
        ) as s:
            await s.get_final_message()
    with pytest.raises(ValueError):
        async with client.messages.stream(model="c", max_tokens=99, messages=user('[[mock {"garbage": true}]]')) as s:
            await s.get_final_message()


async def test_models_list_dispatches_on_headers(client: anthropic.AsyncAnthropic) -> None:
    models = [m async for m in client.models.list()]
    assert models and all(m.type == "model" for m in models)
