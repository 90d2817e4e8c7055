"""The official openai SDK against a running gateway in front of the mock upstream (OpenAI channel)."""

from __future__ import annotations

import json
import time
from typing import Any

import openai
import pytest

from omnirouter.mock_upstream import MockUpstream, directive
from tests.helpers.gateway_harness import CLIENT_KEY, UPSTREAM_KEY, RunningGateway

WEATHER_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


@pytest.fixture
def gateway(shared_gateway: RunningGateway, mock_upstream: MockUpstream) -> RunningGateway:
    """One gateway per backend for the whole module: every test here is answered by the upstream and
    reads only its own answer and its own upstream request (no usage rows, no failures for the breaker)."""
    mock_upstream.requests.clear()
    return shared_gateway


async def test_plain_chat_answers_with_public_model_and_usage(client: openai.AsyncOpenAI) -> None:
    response = await client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hello there"}],
    )
    assert response.choices[0].message.content == "Echo: hello there"
    assert response.choices[0].finish_reason == "stop"
    assert response.model == "gpt-4o-mini"
    assert response.usage is not None and response.usage.prompt_tokens > 0
    assert response.usage.completion_tokens > 0


async def test_upstream_gets_channel_key_and_mapped_model_never_client_key(
    client: openai.AsyncOpenAI, mock_upstream: MockUpstream
) -> None:
    await client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}])
    seen = mock_upstream.requests[-1]
    assert seen.headers["authorization"] == f"Bearer {UPSTREAM_KEY}"
    assert seen.body["model"] == "gpt-4o-mini-2024-07-18"
    assert CLIENT_KEY not in json.dumps(seen.headers) + json.dumps(seen.body)


async def test_pattern_model_is_served_under_its_own_name(client: openai.AsyncOpenAI) -> None:
    response = await client.chat.completions.create(model="gpt-test-1", messages=[{"role": "user", "content": "a"}])
    assert response.model == "gpt-test-1"


async def test_streamed_chat_relays_text_without_usage_unless_asked(client: openai.AsyncOpenAI) -> None:
    stream = await client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "one two three four"}],
        stream=True,
    )
    chunks = [chunk async for chunk in stream]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Echo: one two three four"
    assert all(c.usage is None for c in chunks)
    assert all(c.model == "gpt-4o-mini" for c in chunks)
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["stop"]


async def test_streamed_chat_keeps_usage_chunk_when_client_asks(client: openai.AsyncOpenAI) -> None:
    stream = await client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "count me"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = [chunk async for chunk in stream]
    usage_chunks = [c for c in chunks if c.usage is not None]
    assert len(usage_chunks) == 1
    assert usage_chunks[0].choices == []
    assert usage_chunks[0].usage is not None and usage_chunks[0].usage.completion_tokens > 0
    assert chunks[-1] is usage_chunks[0]


async def test_tool_calls_plain(client: openai.AsyncOpenAI) -> None:
    calls = [{"name": "get_weather", "arguments": {"city": "Paris"}}]
    response = await client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "weather? " + directive(tool_calls=calls)}],
        tools=[WEATHER_TOOL],  # type: ignore[list-item]
        tool_choice="auto",
    )
    choice = response.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.tool_calls is not None
    call = choice.message.tool_calls[0]
    assert call.type == "function" and call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris"}


async def test_parallel_tool_calls_streamed_as_fragments(client: openai.AsyncOpenAI) -> None:
    calls = [
        {"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}},
        {"name": "get_weather", "arguments": {"city": "Tokyo", "unit": "kelvin"}},
    ]
    stream = await client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "two cities " + directive(tool_calls=calls)}],
        tools=[WEATHER_TOOL],  # type: ignore[list-item]
        stream=True,
    )
    arguments: dict[int, str] = {}
    names: dict[int, str] = {}
    ids: dict[int, str] = {}
    fragments = 0
    finish = None
    async for chunk in stream:
        if not chunk.choices:
            continue
        choice = chunk.choices[0]
        for delta in choice.delta.tool_calls or []:
            fragments += 1
            if delta.id:
                ids[delta.index] = delta.id
            if delta.function and delta.function.name:
                names[delta.index] = delta.function.name
            if delta.function and delta.function.arguments:
                arguments[delta.index] = arguments.get(delta.index, "") + delta.function.arguments
        finish = choice.finish_reason or finish
    assert finish == "tool_calls"
    assert sorted(arguments) == [0, 1] and len(set(ids.values())) == 2
    assert names == {0: "get_weather", 1: "get_weather"}
    assert json.loads(arguments[0]) == {"city": "Paris", "unit": "celsius"}
    assert json.loads(arguments[1]) == {"city": "Tokyo", "unit": "kelvin"}
    assert fragments > 4  # the arguments really arrived in pieces


async def test_tool_result_turn_reaches_upstream(client: openai.AsyncOpenAI, mock_upstream: MockUpstream) -> None:
    await client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[
            {"role": "user", "content": "weather in Paris?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
            {"role": "user", "content": "thanks"},
        ],
        tools=[WEATHER_TOOL],  # type: ignore[list-item]
    )
    sent = mock_upstream.requests[-1].body
    assert sent["messages"][2] == {"role": "tool", "tool_call_id": "call_1", "content": "sunny"}
    assert sent["tools"] == [WEATHER_TOOL]


async def test_stream_chunks_arrive_as_the_upstream_sends_them(client: openai.AsyncOpenAI) -> None:
    delay = 0.25
    stream = await client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": directive(text="a b c d e", chunk_delay=delay)}],
        stream=True,
    )
    arrivals: list[float] = []
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            arrivals.append(time.monotonic())
    assert len(arrivals) >= 5
    # Buffering would deliver every chunk at once; relayed live they are spread over the upstream's pauses.
    assert arrivals[-1] - arrivals[0] >= 3 * delay


@pytest.mark.parametrize("header", ["x-api-key", "api-key", "x-goog-api-key"])
async def test_client_key_accepted_from_each_header(gateway: RunningGateway, header: str) -> None:
    # No Authorization header at all: the key travels only in ``header``.
    async with openai.AsyncOpenAI(
        base_url=f"{gateway.url}/v1", api_key="unused", default_headers={header: CLIENT_KEY}, max_retries=0
    ) as client:
        response = await client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "k"}],
            extra_headers={"Authorization": openai.Omit()},  # type: ignore[dict-item]
        )
    assert response.choices[0].message.content == "Echo: k"


async def test_client_key_accepted_from_query(gateway: RunningGateway) -> None:
    async with openai.AsyncOpenAI(
        base_url=f"{gateway.url}/v1", api_key="unused", default_query={"key": CLIENT_KEY}, max_retries=0
    ) as client:
        models = await client.models.list(extra_headers={"Authorization": openai.Omit()})  # type: ignore[dict-item]
    assert "gpt-4o-mini" in [m.id for m in models.data]


async def test_models_lists_public_names(client: openai.AsyncOpenAI) -> None:
    models = await client.models.list()
    assert [m.id for m in models.data] == ["gpt-4o-mini"]
    assert all(m.object == "model" for m in models.data)
