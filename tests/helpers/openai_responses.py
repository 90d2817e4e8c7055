"""OpenAI Responses in the tests: a request using every field the codec maps, a request shaped like
Codex CLI's, and checks of an encoded stream (the spec, the SDK's event types and final response)."""

from __future__ import annotations

from typing import Any

import httpx2
import openai
import orjson
import pydantic
from openai.types.responses import Response, ResponseStreamEvent

from omnirouter.ir import (
    ChatRequest,
    FilePart,
    ImagePart,
    Message,
    ReasoningConfig,
    ReasoningPart,
    ResponseFormat,
    TextPart,
    ToolCallPart,
    ToolChoice,
    ToolDef,
    ToolResultPart,
    UnknownPart,
)
from omnirouter.protocols.sse import SSEParser
from tests.helpers.openapi_schema import validate_openai

PNG_B64 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"city": {"type": "string"}},
    "required": ["city"],
    "additionalProperties": False,
}
R = "openai_responses"
WEB_SEARCH: dict[str, Any] = {"type": "web_search"}
NAMESPACE: dict[str, Any] = {
    "type": "namespace",
    "name": "mcp__docs__",
    "description": "Docs server",
    "tools": [
        {"type": "function", "name": "search", "description": "Search docs", "parameters": SCHEMA, "strict": False},
        {"type": "function", "name": "fetch", "parameters": {"type": "object"}, "strict": None},
    ],
}
EVENT_ADAPTER: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(ResponseStreamEvent)
SPECIAL_SCHEMAS = {
    "error": "ResponseErrorEvent",
    "response.output_text.delta": "ResponseTextDeltaEvent",
    "response.output_text.done": "ResponseTextDoneEvent",
}


def schema_for(kind: str) -> str:
    """The spec schema of one event type (``response.output_item.added`` → ``ResponseOutputItemAddedEvent``)."""
    if kind in SPECIAL_SCHEMAS:
        return SPECIAL_SCHEMAS[kind]
    words = kind.removeprefix("response.").replace(".", "_").split("_")
    return "Response" + "".join(w.capitalize() for w in words) + "Event"


def rich_request(**overrides: Any) -> ChatRequest:
    """A multi-turn request using every field the Responses codec maps."""
    messages = [
        Message(role="system", content=[TextPart(text="You are terse.")]),
        Message(role="developer", content=[TextPart(text="Rule one."), TextPart(text="Rule two.")]),
        Message(
            role="user",
            content=[
                TextPart(text="What is in these, and the weather?"),
                ImagePart(url="https://example.com/cat.png", detail="high"),
                ImagePart(data=PNG_B64, media_type="image/png"),
                FilePart(data="JVBERi0xLjQ=", media_type="application/pdf", filename="a.pdf"),
                FilePart(file_id="file-123"),
                FilePart(url="https://example.com/doc.pdf"),
                UnknownPart(protocol=R, data={"type": "input_image", "file_id": "file-9", "detail": "low"}),
            ],
        ),
        Message(
            role="assistant",
            content=[
                ReasoningPart(text="The user wants two cities.", signature="gAAAA-enc", origin=R),
                TextPart(text="Checking."),
                ToolCallPart(id="call_1", name="get_weather", arguments='{"city":"Paris"}'),
                ToolCallPart(id="call_2", name="get_weather", arguments='{"city": "Oslo"'),
                ToolCallPart(id="call_3", name="mcp__docs__search", arguments='{"city":"x"}'),
                UnknownPart(
                    protocol=R,
                    data={
                        "type": "web_search_call",
                        "id": "ws_1",
                        "status": "completed",
                        "action": {"type": "search", "query": "weather"},
                    },
                ),
            ],
        ),
        Message(
            role="tool", content=[ToolResultPart(call_id="call_1", name="get_weather", content=[TextPart(text="18C")])]
        ),
        Message(
            role="tool",
            content=[
                ToolResultPart(
                    call_id="call_2", name="get_weather", content=[TextPart(text="bad args"), TextPart(text="retry")]
                )
            ],
        ),
        Message(
            role="tool",
            content=[
                ToolResultPart(
                    call_id="call_3",
                    name="mcp__docs__search",
                    content=[TextPart(text="see"), ImagePart(url="https://example.com/p.png")],
                )
            ],
        ),
        Message(role="tool", content=[ToolResultPart(call_id="call_1", name="get_weather")]),
        Message(role="assistant", content=[TextPart(text="Paris 18C."), TextPart(text="Oslo unknown.")]),
        Message(role="user", content=[UnknownPart(protocol=R, data={"type": "item_reference", "id": "msg_old"})]),
        Message(role="user", content=[TextPart(text="Thanks. JSON please.")]),
    ]
    fields: dict[str, Any] = {
        "model": "gpt-5",
        "messages": messages,
        "stream": True,
        "max_tokens": 512,
        "temperature": 0.5,
        "top_p": 0.9,
        "tools": [
            ToolDef(name="get_weather", description="Weather for a city", parameters=SCHEMA, strict=True),
            ToolDef(name="noop"),
            ToolDef(name="mcp__docs__search", description="Search docs", parameters=SCHEMA, strict=False),
            ToolDef(name="mcp__docs__fetch", parameters={"type": "object"}),
        ],
        "tool_choice": ToolChoice(mode="tool", name="get_weather"),
        "parallel_tool_calls": False,
        "reasoning": ReasoningConfig(effort="high", summary="auto", include_thoughts=True),
        "response_format": ResponseFormat(
            type="json_schema", name="answer", schema=SCHEMA, strict=True, description="d"
        ),
        "include_usage": True,
        "user": "user-1",
        "metadata": {"trace": "abc"},
        "source_protocol": R,
        "extra": {
            "store": False,
            "include": ["reasoning.encrypted_content"],
            "truncation": "auto",
            "prompt_cache_key": "pck",
            "tools": [WEB_SEARCH, NAMESPACE],
            "text": {"verbosity": "low"},
            "reasoning": {"context": "all_turns"},
        },
    }
    fields.update(overrides)
    return ChatRequest(**fields)


def codex_body() -> dict[str, Any]:
    """A request shaped like Codex CLI's (PROTOCOLS §6)."""
    function_tools = [
        {"type": "function", "name": name, "description": f"{name} tool", "strict": False, "parameters": SCHEMA}
        for name in ("shell", "apply_patch", "update_plan", "view_image", "read_file", "list_dir", "grep_files")
    ]
    return {
        "model": "gpt-5-codex",
        "instructions": "You are Codex.",
        "input": [
            {
                "id": "msg_d1",
                "type": "message",
                "role": "developer",
                "content": [{"type": "input_text", "text": "A" * 9000}],
            },
            {
                "id": "msg_d2",
                "type": "message",
                "role": "developer",
                "content": [{"type": "input_text", "text": "B" * 9000}],
            },
            {
                "id": "msg_u1",
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "list files"}],
            },
            {
                "id": "rs_abc",
                "type": "reasoning",
                "summary": [
                    {"type": "summary_text", "text": "**Listing**"},
                    {"type": "summary_text", "text": "Use ls."},
                ],
                "encrypted_content": "gAAAAABenc",
            },
            {
                "id": "fc_1",
                "type": "function_call",
                "status": "completed",
                "call_id": "call_1",
                "name": "shell",
                "arguments": '{"command":["ls"]}',
            },
            {"id": "fco_1", "type": "function_call_output", "call_id": "call_1", "output": "a.txt\nb.txt"},
            {
                "id": "msg_a1",
                "type": "message",
                "role": "assistant",
                "status": "completed",
                "content": [{"type": "output_text", "text": "Two files.", "annotations": []}],
            },
            {"id": "msg_u2", "type": "message", "role": "user", "content": [{"type": "input_text", "text": "thanks"}]},
        ],
        "tools": [*function_tools, NAMESPACE, WEB_SEARCH],
        "tool_choice": "auto",
        "parallel_tool_calls": False,
        "reasoning": {"effort": "medium", "summary": "auto"},
        "store": False,
        "stream": True,
        "include": ["reasoning.encrypted_content"],
        "prompt_cache_key": "0198-session",
    }


def check_stream(raw: bytes) -> list[dict[str, Any]]:
    """Every event valid (spec + SDK), numbered from 0, named by its type; items added → done → final, same ids."""
    parser = SSEParser()
    events = parser.feed(raw) + parser.finish()
    payloads = [orjson.loads(e.data) for e in events]
    assert [p["sequence_number"] for p in payloads] == list(range(len(payloads)))
    assert [e.event for e in events] == [p["type"] for p in payloads]
    for payload in payloads:
        validate_openai(schema_for(payload["type"]), payload)
        EVENT_ADAPTER.validate_python(payload)
    kinds = [p["type"] for p in payloads]
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds[-1] in ("response.completed", "response.incomplete", "response.failed")
    ids = {p["response"]["id"] for p in payloads if "response" in p}
    assert len(ids) == 1
    added = {p["output_index"]: p["item"] for p in payloads if p["type"] == "response.output_item.added"}
    done = {p["output_index"]: p["item"] for p in payloads if p["type"] == "response.output_item.done"}
    for p in payloads:
        if "item_id" in p:
            assert added[p["output_index"]]["id"] == p["item_id"]
    final = payloads[-1]["response"]
    validate_openai("Response", final)
    Response.model_validate(final)
    if kinds[-1] != "response.failed":
        assert sorted(added) == sorted(done) == list(range(len(added)))
        assert all(added[i]["id"] == done[i]["id"] for i in added)
        assert final["output"] == [done[i] for i in sorted(done)]
    return payloads


async def sdk_stream(raw: bytes, kinds: list[str]) -> Response:
    """Run the bytes through ``client.responses.stream(...)``: collect the event types, return the final response."""

    def handler(_: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=raw)

    async with (
        httpx2.AsyncClient(transport=httpx2.MockTransport(handler)) as http,
        openai.AsyncOpenAI(api_key="k", base_url="http://gw/v1", http_client=http, max_retries=0) as client,
        client.responses.stream(model="public-model", input="hi") as stream,
    ):
        async for event in stream:
            kinds.append(event.type)
        return await stream.get_final_response()


async def sdk_final(raw: bytes) -> tuple[list[str], Response]:
    kinds: list[str] = []
    final = await sdk_stream(raw, kinds)
    return kinds, final
