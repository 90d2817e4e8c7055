"""OpenAI Chat codec: requests, both directions, and validation of client input."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from omnirouter.ir import (
    ChatRequest,
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
)
from omnirouter.protocols.base import ProtocolName
from omnirouter.protocols.openai_chat import OPENAI_CHAT, OpenAIChatCodec
from tests.helpers.openai_chat import PNG_B64, rich_request


def test_codec_identity() -> None:
    assert isinstance(OPENAI_CHAT, OpenAIChatCodec)
    assert OPENAI_CHAT.name is ProtocolName.OPENAI_CHAT


def test_round_trip_rich_request() -> None:
    ir = rich_request()
    body = OPENAI_CHAT.encode_request(ir)
    assert OPENAI_CHAT.decode_request(orjson.loads(orjson.dumps(body))) == ir


@pytest.mark.parametrize(
    "overrides",
    [
        {"stream": False, "include_usage": False, "extra": {}},
        {"tool_choice": ToolChoice(mode="required"), "reasoning": None, "response_format": ResponseFormat()},
        {"tool_choice": ToolChoice(mode="none"), "response_format": ResponseFormat(type="json_object")},
        {"tools": None, "tool_choice": None, "parallel_tool_calls": None, "stop": None, "metadata": None},
    ],
)
def test_round_trip_variants(overrides: dict[str, Any]) -> None:
    ir = rich_request(**overrides)
    assert OPENAI_CHAT.decode_request(OPENAI_CHAT.encode_request(ir)) == ir


def test_encode_request_wire_shape() -> None:
    body = OPENAI_CHAT.encode_request(rich_request())
    assert body["stream_options"] == {"include_obfuscation": False, "include_usage": True}
    assert body["max_completion_tokens"] == 512 and "max_tokens" not in body
    assert body["reasoning_effort"] == "high"
    assert body["logprobs"] is True and body["top_logprobs"] == 2
    assert body["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    user = body["messages"][2]
    assert user["content"][2] == {
        "type": "image_url",
        "image_url": {"url": f"data:image/png;base64,{PNG_B64}"},
    }
    assert user["content"][4]["file"] == {
        "file_data": "data:application/pdf;base64,JVBERi0xLjQ=",
        "filename": "a.pdf",
    }
    assistant = body["messages"][3]
    assert assistant["reasoning_content"] == "The user wants two cities."
    assert "thinking_blocks" not in assistant
    assert assistant["tool_calls"][1] == {
        "id": "2",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city": "Oslo"'},
        "extra_content": {"google": {"thought_signature": "c2ln"}},
    }
    assert body["messages"][4] == {"role": "tool", "tool_call_id": "call_1", "content": "18C"}
    signed = body["messages"][6]
    assert signed["thinking_blocks"] == [
        {"type": "thinking", "thinking": "thinking", "signature": "sig-a"},
        {"type": "redacted_thinking", "data": "ENCRYPTED"},
    ]


def test_encode_request_streaming_always_asks_usage_and_extra_only_for_same_protocol() -> None:
    ir = rich_request(include_usage=False, source_protocol="anthropic", extra={"thinking": {"type": "enabled"}})
    body = OPENAI_CHAT.encode_request(ir)
    assert body["stream_options"] == {"include_usage": True}
    assert "thinking" not in body
    assert "stream_options" not in OPENAI_CHAT.encode_request(rich_request(stream=False))


def test_encode_request_cross_protocol_shapes() -> None:
    """Anthropic-style IR: tool results inside a user turn, budgets, empty assistant content."""
    ir = ChatRequest(
        model="m",
        messages=[
            Message(role="user", content=[TextPart(text="hi")]),
            Message(role="assistant", content=[ToolCallPart(id="t1", name="f", arguments="{}")]),
            Message(
                role="user",
                content=[
                    ToolResultPart(call_id="t1", content=[TextPart(text="ok"), ImagePart(url="https://x/y.png")]),
                    TextPart(text="and now?"),
                ],
            ),
        ],
        reasoning=ReasoningConfig(budget_tokens=10000),
        tools=[ToolDef(name="f")],
        tool_choice=ToolChoice(mode="tool"),
        top_k=5,
        metadata={"user_id": "u"},
        response_format=ResponseFormat(type="json_schema", schema={"type": "object"}),
    )
    body = OPENAI_CHAT.encode_request(ir)
    assert body["messages"][1] == {
        "role": "assistant",
        "content": None,
        "tool_calls": [{"id": "t1", "type": "function", "function": {"name": "f", "arguments": "{}"}}],
    }
    assert body["messages"][2] == {"role": "tool", "tool_call_id": "t1", "content": "ok"}
    assert body["messages"][3] == {
        "role": "user",
        "content": [{"type": "image_url", "image_url": {"url": "https://x/y.png"}}],
    }
    assert body["messages"][4] == {"role": "user", "content": "and now?"}
    assert body["reasoning_effort"] == "medium"
    assert body["tool_choice"] == "required"
    assert "top_k" not in body and "metadata" not in body  # OpenAI rejects top_k; foreign metadata
    assert body["response_format"]["json_schema"]["name"] == "response"
    assert "stream" not in body


def test_tool_choice_and_parallel_calls_need_tools() -> None:
    body = OPENAI_CHAT.encode_request(
        rich_request(tools=None, tool_choice=ToolChoice(mode="none"), parallel_tool_calls=True)
    )
    assert "tool_choice" not in body and "parallel_tool_calls" not in body and "tools" not in body


def test_decode_request_forms() -> None:
    body = {
        "model": "gpt-4o",
        "messages": [
            {"role": "system", "content": [{"type": "text", "text": "sys"}]},
            {
                "role": "user",
                "content": [{"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/AA=="}}],
            },
            {
                "role": "assistant",
                "content": "",
                "reasoning": "vllm style",
                "refusal": "I can't.",
                "tool_calls": [{"id": "abc", "type": "function", "function": {"name": "f", "arguments": {"a": 1}}}],
            },
            {"role": "tool", "tool_call_id": "abc", "content": [{"type": "text", "text": "r"}]},
        ],
        "max_tokens": 5,
        "stop": "x",
        "temperature": 1,
        "seed": 3.0,
        "stream": True,
        "stream_options": {"include_usage": True},
        "tools": [],
        "functions": [{"name": "legacy"}],
        "chat_template_kwargs": {"enable_thinking": False},
        "service_tier": None,
    }
    ir = OPENAI_CHAT.decode_request(body)
    assert ir.messages[1].content == [ImagePart(data="/9j/AA==", media_type="image/jpeg")]
    assert ir.messages[2].content == [
        ReasoningPart(origin="openai_chat", text="vllm style"),
        TextPart(text="I can't."),
        ToolCallPart(id="abc", name="f", arguments='{"a":1}'),
    ]
    assert ir.messages[3].content == [ToolResultPart(call_id="abc", name="f", content=[TextPart(text="r")])]
    assert (ir.max_tokens, ir.stop, ir.temperature, ir.seed) == (5, ["x"], 1.0, 3)
    assert ir.stream and ir.include_usage and ir.tools is None
    assert ir.source_protocol == "openai_chat"
    assert ir.extra == {
        "functions": [{"name": "legacy"}],
        "chat_template_kwargs": {"enable_thinking": False},
        "service_tier": None,
    }
    assert OPENAI_CHAT.encode_request(ir)["chat_template_kwargs"] == {"enable_thinking": False}


def test_max_completion_tokens_wins_over_max_tokens() -> None:
    body = {
        "model": "m",
        "messages": [{"role": "user", "content": "x"}],
        "max_tokens": 1,
        "max_completion_tokens": 9,
    }
    assert OPENAI_CHAT.decode_request(body).max_tokens == 9
