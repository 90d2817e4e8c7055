"""The translating stream filter opens the client's stream with the upstream's first event (real codecs,
no sockets; tests/gateway/test_stream_start.py proves the order over HTTP with the official SDKs)."""

from __future__ import annotations

from typing import Any

import orjson

from omnirouter.protocols.anthropic import ANTHROPIC
from omnirouter.protocols.base import Codec
from omnirouter.protocols.gemini import GEMINI
from omnirouter.protocols.openai_chat import OPENAI_CHAT
from omnirouter.protocols.openai_responses import OPENAI_RESPONSES
from omnirouter.protocols.sse import SSEEvent, SSEParser
from omnirouter.relay.translated import TranslatingStreamFilter
from tests.helpers.anthropic_messages import final_message, frames

_HEAD = {"id": "chatcmpl-up1", "object": "chat.completion.chunk", "created": 1700000000, "model": "gpt-x"}


def _chat(delta: dict[str, Any], finish: str | None = None) -> SSEEvent:
    choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
    return SSEEvent(data=orjson.dumps({**_HEAD, "choices": [choice]}))


ROLE = _chat({"role": "assistant", "content": ""})


def _filter(upstream: Codec, client: Codec) -> TranslatingStreamFilter:
    body = {"model": "public-model", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]}
    request = ANTHROPIC.decode_request(body)
    return TranslatingStreamFilter(upstream.new_stream_decoder(), client.new_stream_encoder(request))


async def test_an_anthropic_client_gets_message_start_from_a_role_only_first_chunk() -> None:
    relay = _filter(OPENAI_CHAT, ANTHROPIC)
    first = relay.process(ROLE)
    [start] = frames(first)
    assert start["type"] == "message_start" and relay.failure is None
    message = start["message"]
    assert message["id"].startswith("msg_") and message["model"] == "public-model" and message["content"] == []
    assert message["usage"]["input_tokens"] == 0 and message["usage"]["output_tokens"] == 0
    rest = relay.process(_chat({"content": "Hello"})) + relay.process(_chat({}, "stop"))
    rest += relay.process(SSEEvent(data=b"[DONE]")) + relay.finish()
    assert b"message_start" not in rest  # sent once
    assert [f["type"] for f in frames(rest)][:2] == ["content_block_start", "content_block_delta"]
    final = await final_message(first + rest)
    assert final.id == message["id"] and final.content[0].type == "text" and final.content[0].text == "Hello"


def test_a_first_event_that_is_an_error_opens_nothing() -> None:
    relay = _filter(OPENAI_CHAT, ANTHROPIC)
    out = relay.process(SSEEvent(data=b'{"error": {"message": "overloaded", "type": "server_error"}}'))
    assert relay.failure is not None and b"message_start" not in out  # the pump falls back on ``failure``


def test_message_start_carries_the_input_tokens_of_the_upstreams_first_event() -> None:
    relay = _filter(ANTHROPIC, ANTHROPIC)
    upstream = {
        "type": "message_start",
        "message": {
            "id": "msg_up",
            "type": "message",
            "role": "assistant",
            "model": "claude-x",
            "content": [],
            "stop_reason": None,
            "usage": {"input_tokens": 12, "cache_read_input_tokens": 30, "output_tokens": 1},
        },
    }
    [start] = frames(relay.process(SSEEvent(data=orjson.dumps(upstream), event="message_start")))
    usage = start["message"]["usage"]
    assert start["type"] == "message_start" and usage["input_tokens"] == 12 and usage["cache_read_input_tokens"] == 30


def test_responses_and_chat_clients_open_and_gemini_has_no_opening_frame() -> None:
    responses = [e.event for e in SSEParser().feed(_filter(OPENAI_CHAT, OPENAI_RESPONSES).process(ROLE))]
    assert responses == ["response.created", "response.in_progress"]
    upstream = {
        "type": "message_start",
        "message": {"id": "msg_up", "type": "message", "role": "assistant", "model": "claude-x", "content": []},
    }
    chat = SSEParser().feed(_filter(ANTHROPIC, OPENAI_CHAT).process(SSEEvent(data=orjson.dumps(upstream))))
    assert [orjson.loads(e.data)["choices"][0]["delta"]["role"] for e in chat] == ["assistant"]
    assert _filter(OPENAI_CHAT, GEMINI).process(ROLE) == b""
