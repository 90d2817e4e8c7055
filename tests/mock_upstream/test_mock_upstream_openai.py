"""The mock upstream's OpenAI endpoints, driven by the official SDK and validated against the OpenAPI spec."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import openai
import pytest

from omnirouter.mock_upstream import MockUpstream
from tests.helpers.openapi_schema import validate_openai_any_of
from tests.helpers.reference import OPENAPI_SPEC

SPEC = OPENAPI_SPEC
pytestmark = pytest.mark.skipif(not SPEC.exists(), reason="OpenAPI reference not available")

WEATHER_TOOL: Any = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
            "additionalProperties": False,
        },
        "strict": True,
    },
}


def parse_sse(raw: bytes) -> list[tuple[str | None, str]]:
    """(event, data) pairs of an SSE body."""
    events: list[tuple[str | None, str]] = []
    for block in raw.decode().replace("\r\n", "\n").split("\n\n"):
        name, data = None, []
        for line in block.split("\n"):
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].removeprefix(" "))
        if data:
            events.append((name, "\n".join(data)))
    return events


@pytest.fixture
async def mock() -> AsyncIterator[MockUpstream]:
    async with MockUpstream() as m:
        yield m


@pytest.fixture
async def client(mock: MockUpstream) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(base_url=mock.url + "/v1", api_key="sk-x", max_retries=0, timeout=10) as c:
        yield c


async def post_raw(mock: MockUpstream, path: str, body: Any, key: str | None = "sk-x") -> tuple[int, Any, bytes]:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    async with (
        aiohttp.ClientSession() as session,
        session.post(mock.url + path, json=body, headers=headers) as r,
    ):
        return r.status, r.headers, await r.read()


def user(text: str) -> list[Any]:
    return [{"role": "system", "content": "be brief"}, {"role": "user", "content": text}]


# --- Chat Completions ---------------------------------------------------------------------------


async def test_chat_plain_echo_and_usage(client: openai.AsyncOpenAI, mock: MockUpstream) -> None:
    r = await client.chat.completions.create(model="gpt-test-1", messages=user("hello there"))
    assert r.model == "gpt-test-1"
    assert r.choices[0].message.content == "Echo: hello there"
    assert r.choices[0].finish_reason == "stop"
    assert r.usage is not None and r.usage.completion_tokens == 3
    assert r.usage.prompt_tokens_details is not None and r.usage.prompt_tokens_details.cached_tokens == 0
    assert r.usage.completion_tokens_details is not None
    assert r.usage.completion_tokens_details.reasoning_tokens == 0
    status, _, raw = await post_raw(mock, "/v1/chat/completions", {"model": "m", "messages": user("x")})
    assert status == 200
    validate_openai_any_of(json.loads(raw), "CreateChatCompletionResponse")


async def test_chat_usage_is_deterministic_and_overridable(client: openai.AsyncOpenAI) -> None:
    a = await client.chat.completions.create(model="m", messages=user("same prompt"))
    b = await client.chat.completions.create(model="m", messages=user("same prompt"))
    assert a.usage == b.usage
    directive = '[[mock {"text": "ok", "reasoning": "think", "usage": {"input": 50, "cached": 20, "output": 9}}]]'
    c = await client.chat.completions.create(model="m", messages=user(directive))
    assert c.usage is not None and c.usage.prompt_tokens == 50 and c.usage.total_tokens == 59
    assert c.usage.prompt_tokens_details is not None and c.usage.prompt_tokens_details.cached_tokens == 20
    assert c.usage.completion_tokens_details is not None
    assert c.usage.completion_tokens_details.reasoning_tokens == 1


async def test_chat_stream_text_with_usage(client: openai.AsyncOpenAI, mock: MockUpstream) -> None:
    stream = await client.chat.completions.create(
        model="gpt-x",
        messages=user('[[mock {"text": "one two three four"}]]'),
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = [c async for c in stream]
    assert chunks[0].choices[0].delta.role == "assistant" and chunks[0].choices[0].delta.content == ""
    texts = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert texts == ["one", " two", " three", " four"]
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] == "stop" and all(f is None for f in finishes[:-1])
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 4
    assert all(c.usage is None for c in chunks[:-1])

    body = {"model": "m", "messages": user("a b"), "stream": True, "stream_options": {"include_usage": True}}
    status, headers, raw = await post_raw(mock, "/v1/chat/completions", body)
    assert status == 200 and headers["Content-Type"].startswith("text/event-stream")
    events = parse_sse(raw)
    assert events[-1] == (None, "[DONE]") and all(name is None for name, _ in events)
    payloads = [json.loads(d) for _, d in events[:-1]]
    for payload in payloads:
        validate_openai_any_of(payload, "CreateChatCompletionStreamResponse")
    assert all("usage" in p and p["usage"] is None for p in payloads[:-1])


async def test_chat_stream_without_include_usage_has_no_usage(mock: MockUpstream) -> None:
    for directive in ("", '[[mock {"no_usage": true}]]'):
        body: dict[str, Any] = {"model": "m", "messages": user("hi " + directive), "stream": True}
        if directive:
            body["stream_options"] = {"include_usage": True}
        _, _, raw = await post_raw(mock, "/v1/chat/completions", body)
        payloads = [json.loads(d) for _, d in parse_sse(raw)[:-1]]
        assert payloads and all("usage" not in p for p in payloads)
        assert all(p["choices"] for p in payloads)


async def test_chat_stream_tool_calls_with_sdk_helper(client: openai.AsyncOpenAI, mock: MockUpstream) -> None:
    directive = {
        "tool_calls": [
            {"name": "get_weather", "arguments": {"city": "Paris"}},
            {"name": "get_weather", "arguments": {"city": "New York City"}},
        ]
    }
    prompt = f"weather? [[mock {json.dumps(directive)}]]"
    async with client.chat.completions.stream(model="gpt-4o", messages=user(prompt), tools=[WEATHER_TOOL]) as s:
        async for _ in s:
            pass
        final = await s.get_final_completion()
    choice = final.choices[0]
    assert choice.finish_reason == "tool_calls"
    calls = choice.message.tool_calls or []
    assert [c.function.parsed_arguments for c in calls] == [{"city": "Paris"}, {"city": "New York City"}]  # type: ignore[union-attr]
    assert len({c.id for c in calls}) == 2

    body = {"model": "m", "messages": user(prompt), "stream": True, "tools": [WEATHER_TOOL]}
    _, _, raw = await post_raw(mock, "/v1/chat/completions", body)
    payloads = [json.loads(d) for _, d in parse_sse(raw)[:-1]]
    for payload in payloads:
        validate_openai_any_of(payload, "CreateChatCompletionStreamResponse")
    fragments = [tc for p in payloads for tc in p["choices"][0]["delta"].get("tool_calls", [])]
    for index in (0, 1):
        mine = [f for f in fragments if f["index"] == index]
        assert mine[0]["id"] and mine[0]["type"] == "function" and mine[0]["function"]["arguments"] == ""
        assert mine[0]["function"]["name"] == "get_weather"
        assert len(mine) >= 3 and all("id" not in f and "name" not in f["function"] for f in mine[1:])
        joined = "".join(f["function"]["arguments"] for f in mine)
        assert json.loads(joined) == directive["tool_calls"][index]["arguments"]  # type: ignore[index]


async def test_chat_tools_without_directive_reply_text(client: openai.AsyncOpenAI) -> None:
    r = await client.chat.completions.create(model="m", messages=user("hi"), tools=[WEATHER_TOOL])
    assert r.choices[0].message.content == "Echo: hi" and not r.choices[0].message.tool_calls


async def test_chat_tool_loop_uses_trailing_turn(client: openai.AsyncOpenAI) -> None:
    messages: list[Any] = [
        {"role": "user", "content": '[[mock {"tool_calls": [{"name": "f", "arguments": {}}]}]]'},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
    ]
    r = await client.chat.completions.create(model="m", messages=messages)
    assert r.choices[0].message.content == "Echo: sunny"


async def test_chat_rejects_conversations_openai_rejects(client: openai.AsyncOpenAI) -> None:
    unanswered: list[Any] = [
        {"role": "user", "content": "x"},
        {
            "role": "assistant",
            "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}],
        },
        {"role": "user", "content": "y"},
    ]
    with pytest.raises(openai.BadRequestError) as info:
        await client.chat.completions.create(model="m", messages=unanswered)
    assert "call_1" in info.value.message
    object_args: list[Any] = [
        {"role": "user", "content": "x"},
        {
            "role": "assistant",
            "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": {}}}],
        },
        {"role": "tool", "tool_call_id": "c", "content": "r"},
    ]
    with pytest.raises(openai.BadRequestError):
        await client.chat.completions.create(model="m", messages=object_args)


async def test_chat_refusal_length_and_filter(client: openai.AsyncOpenAI) -> None:
    r = await client.chat.completions.create(model="m", messages=user('[[mock {"refusal": "No."}]]'))
    assert r.choices[0].message.refusal == "No." and r.choices[0].message.content is None
    r = await client.chat.completions.create(model="m", messages=user('[[mock {"finish": "length"}]]'))
    assert r.choices[0].finish_reason == "length"
    r = await client.chat.completions.create(model="m", messages=user("one two three four"), max_tokens=2)
    assert r.choices[0].message.content == "Echo: one" and r.choices[0].finish_reason == "length"
    r = await client.chat.completions.create(model="m", messages=user('[[mock {"block": true}]]'))
    assert r.choices[0].finish_reason == "content_filter"


async def test_chat_errors_map_to_sdk_exceptions(mock: MockUpstream, client: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.RateLimitError) as rate:
        await client.chat.completions.create(model="m", messages=user('[[mock {"fail": 429, "retry_after": 3}]]'))
    assert rate.value.status_code == 429 and rate.value.response.headers["retry-after"] == "3"
    assert rate.value.body == {
        "message": "Rate limit exceeded (mock).",
        "type": "requests",
        "param": None,
        "code": "rate_limit_exceeded",
    }
    with pytest.raises(openai.InternalServerError):
        await client.chat.completions.create(model="m", messages=user('[[mock {"fail": 503}]]'))
    async with openai.AsyncOpenAI(base_url=mock.url + "/v1", api_key="bad-key-123456", max_retries=0) as bad:
        with pytest.raises(openai.AuthenticationError) as auth:
            await bad.chat.completions.create(model="m", messages=user("x"))
    assert auth.value.code == "invalid_api_key"
    status, _, raw = await post_raw(mock, "/v1/chat/completions", {"model": "m"}, key=None)
    assert status == 401 and set(json.loads(raw)["error"]) == {"message", "type", "param", "code"}
    async with aiohttp.ClientSession() as session:
        headers = {"Authorization": "Bearer sk-x", "Content-Type": "application/json"}
        async with session.post(mock.url + "/v1/chat/completions", data=b"{nope", headers=headers) as resp:
            assert resp.status == 400 and "error" in await resp.json()


async def test_chat_broken_streams_raise(client: openai.AsyncOpenAI) -> None:
    stream = await client.chat.completions.create(
        model="m", messages=user('[[mock {"text": "a b c d e", "cut_after": 3}]]'), stream=True
    )
    with pytest.raises(openai.APIConnectionError):
        async for _ in stream:
            pass
    stream = await client.chat.completions.create(
        model="m", messages=user('[[mock {"error_after": 2, "message": "boom"}]]'), stream=True
    )
    with pytest.raises(openai.APIError, match="boom"):
        async for _ in stream:
            pass
    with pytest.raises((ValueError, openai.APIResponseValidationError)):
        await client.chat.completions.create(model="m", messages=user('[[mock {"garbage": true}]]'))


async def test_models_list(client: openai.AsyncOpenAI) -> None:
    models = [m.id async for m in client.models.list()]
    assert "gpt-4o" in models
    model = await client.models.retrieve("anything-goes")
    assert model.id == "anything-goes"


# --- Responses ----------------------------------------------------------------------------------


async def test_responses_plain(client: openai.AsyncOpenAI, mock: MockUpstream) -> None:
    r = await client.responses.create(model="gpt-4.1", input="hello", instructions="be nice")
    assert r.output_text == "Echo: hello" and r.status == "completed" and r.model == "gpt-4.1"
    assert r.usage is not None and r.usage.output_tokens == 2
    assert r.usage.total_tokens == r.usage.input_tokens + 2
    status, _, raw = await post_raw(mock, "/v1/responses", {"model": "m", "input": "hi"})
    assert status == 200
    validate_openai_any_of(json.loads(raw), "Response")


async def test_responses_stream_helper_with_function_calls(client: openai.AsyncOpenAI, mock: MockUpstream) -> None:
    directive = {
        "text": "Checking.",
        "reasoning": "need weather",
        "tool_calls": [
            {"name": "get_weather", "arguments": {"city": "Oslo"}},
            {"name": "t", "arguments": {}},
        ],
    }
    items: list[Any] = [
        {"role": "user", "content": [{"type": "input_text", "text": f"go [[mock {json.dumps(directive)}]]"}]}
    ]
    tools: Any = [{"type": "function", "name": "get_weather", "parameters": {"type": "object"}, "strict": False}]
    async with client.responses.stream(model="gpt-5", input=items, tools=tools) as stream:
        kinds = [event.type async for event in stream]
        final = await stream.get_final_response()
    assert kinds[:2] == ["response.created", "response.in_progress"] and kinds[-1] == "response.completed"
    calls = [o for o in final.output if o.type == "function_call"]
    assert [(c.name, json.loads(c.arguments)) for c in calls] == [
        ("get_weather", {"city": "Oslo"}),
        ("t", {}),
    ]
    assert final.output_text == "Checking."
    assert final.usage is not None and final.usage.output_tokens_details.reasoning_tokens == 2

    body = {"model": "m", "input": items, "stream": True}
    _, _, raw = await post_raw(mock, "/v1/responses", body)
    events = parse_sse(raw)
    payloads = [json.loads(d) for _, d in events]
    assert [p["sequence_number"] for p in payloads] == list(range(len(payloads)))
    assert all(name == p["type"] for (name, _), p in zip(events, payloads, strict=True))
    for payload in payloads:
        validate_openai_any_of(payload, "ResponseStreamEvent")
    text_events = [p["type"] for p in payloads if p.get("output_index") == 1]
    assert text_events == [
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
    ]
    call_events = [p["type"] for p in payloads if p.get("output_index") == 2]
    assert call_events[0] == "response.output_item.added" and call_events[-1] == "response.output_item.done"
    assert call_events.count("response.function_call_arguments.delta") >= 2
    validate_openai_any_of(payloads[-1]["response"], "Response")


async def test_responses_incomplete_and_errors(client: openai.AsyncOpenAI) -> None:
    r = await client.responses.create(model="m", input='[[mock {"finish": "length"}]]')
    assert r.status == "incomplete" and r.incomplete_details is not None
    assert r.incomplete_details.reason == "max_output_tokens"
    with pytest.raises(openai.RateLimitError):
        await client.responses.create(model="m", input='[[mock {"fail": 429}]]')
    with pytest.raises(openai.BadRequestError):
        await client.responses.create(
            model="m", input=[{"type": "function_call_output", "call_id": "x", "output": "y"}]
        )
