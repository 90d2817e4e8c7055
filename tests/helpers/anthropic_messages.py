"""Anthropic Messages in the tests: a request shaped like Claude Code's, and checks of an encoded
stream (its framing, and what the official SDK makes of it)."""

from __future__ import annotations

from typing import Any

import anthropic
import httpx2
import orjson

from omnirouter.protocols.sse import SSEParser

CLAUDE_CODE_BODY: dict[str, Any] = {
    "model": "claude-sonnet-4-5",
    "max_tokens": 32000,
    "stream": True,
    "temperature": 1,
    "system": [
        {"type": "text", "text": "You are Claude Code.", "cache_control": {"type": "ephemeral"}},
        {"type": "text", "text": "Env: linux", "cache_control": {"type": "ephemeral", "ttl": "1h"}},
    ],
    "messages": [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "<system-reminder>ctx</system-reminder>"},
                {"type": "text", "text": "read a", "cache_control": {"type": "ephemeral"}},
            ],
        },
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "Read it.", "signature": "EqQBCkYIBxgC"},
                {"type": "redacted_thinking", "data": "RED"},
                {"type": "text", "text": "Reading.", "citations": None},
                {
                    "type": "tool_use",
                    "id": "toolu_01",
                    "name": "Read",
                    "input": {"file_path": "/a"},
                    "caller": {"type": "direct"},
                },
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_01",
                    "content": [
                        {"type": "text", "text": "file body"},
                        {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "doc"}},
                    ],
                    "cache_control": {"type": "ephemeral"},
                },
                {"type": "image", "source": {"type": "file", "file_id": "file_9"}},
            ],
        },
    ],
    "tools": [
        {
            "name": "Read",
            "description": "Read a file",
            "input_schema": {
                "$schema": "http://json-schema.org/draft-07/schema#",
                "type": "object",
                "properties": {"file_path": {"type": "string"}, "limit": {"type": "number", "exclusiveMinimum": 0}},
                "required": ["file_path"],
                "additionalProperties": False,
            },
            "cache_control": {"type": "ephemeral"},
        },
        {"type": "web_search_20250305", "name": "web_search", "max_uses": 5},
        {"name": "Bash", "input_schema": {"type": "object"}, "defer_loading": True, "type": "custom"},
    ],
    "tool_choice": {"type": "auto"},
    "thinking": {"type": "enabled", "budget_tokens": 31999},
    "metadata": {"user_id": "user_abc_account__session_123"},
    "context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
    "service_tier": "auto",
    "cache_control": {"type": "ephemeral"},
}


def frames(raw: bytes) -> list[dict[str, Any]]:
    """The events of an encoded stream, checking the framing and block rules on the way."""
    out: list[dict[str, Any]] = []
    open_index: int | None = None
    next_index = 0
    for sse in SSEParser().feed(raw):
        data = orjson.loads(sse.data)
        assert sse.event == data["type"]
        kind = data["type"]
        if kind == "content_block_start":
            assert open_index is None and data["index"] == next_index
            open_index, next_index = data["index"], next_index + 1
        elif kind == "content_block_stop":
            assert data["index"] == open_index
            open_index = None
        elif kind == "content_block_delta":
            assert data["index"] == open_index
        elif kind in ("message_delta", "message_stop"):
            assert open_index is None
        out.append(data)
    return out


def _client(raw: bytes) -> anthropic.AsyncAnthropic:
    def handler(_: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=raw)

    http = httpx2.AsyncClient(transport=httpx2.MockTransport(handler))
    return anthropic.AsyncAnthropic(api_key="k", base_url="http://gw", http_client=http, max_retries=0)


PARAMS: dict[str, Any] = {"model": "public-model", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]}


async def final_message(raw: bytes) -> anthropic.types.Message:
    """The SDK's accumulated message for a stream."""
    async with _client(raw) as client, client.messages.stream(**PARAMS) as stream:
        return await stream.get_final_message()


async def raw_events(raw: bytes) -> list[Any]:
    """The SDK's raw stream events (``create(stream=True)``)."""
    async with _client(raw) as client:
        stream = await client.messages.create(**PARAMS, stream=True)
        return [event async for event in stream]
