"""Anthropic codec: requests, both directions (round trips, same-protocol fidelity, other protocols' IR)."""

from __future__ import annotations

import base64
import copy
from typing import Any

import httpx2
import orjson
import pytest

from omnirouter.ir import (
    AudioPart,
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
from omnirouter.mock_upstream import MockUpstream
from omnirouter.mock_upstream.anthropic_messages import validate
from omnirouter.protocols.anthropic import ANTHROPIC, AnthropicCodec
from omnirouter.protocols.anthropic.request_encode import JSON_MODE_INSTRUCTION
from omnirouter.protocols.base import ProtocolName
from omnirouter.protocols.openai_chat import OPENAI_CHAT
from tests.helpers.anthropic_messages import CLAUDE_CODE_BODY

PNG_B64 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
WEATHER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"city": {"type": "string"}},
    "required": ["city"],
    "additionalProperties": False,
}
SEARCH_USE = {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {"query": "oslo"}}
SEARCH_RESULT = {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1", "content": []}


def rich_request(**overrides: Any) -> ChatRequest:
    """A multi-turn request using every field the Anthropic codec maps, in the form decoding produces."""
    messages = [
        Message(role="system", content=[TextPart(text="You are terse."), TextPart(text="Rule two.")]),
        Message(
            role="user",
            content=[
                TextPart(text="What is in these, and the weather?"),
                ImagePart(url="https://example.com/cat.png"),
                ImagePart(data=PNG_B64, media_type="image/png"),
                FilePart(data="JVBERi0xLjQ=", media_type="application/pdf", filename="a.pdf"),
                FilePart(url="https://example.com/b.pdf"),
                FilePart(file_id="file_123"),
                FilePart(data=base64.b64encode(b"plain notes").decode(), media_type="text/plain"),
            ],
        ),
        Message(
            role="assistant",
            content=[
                ReasoningPart(text="Two cities.", signature="SIG1", origin="anthropic"),
                ReasoningPart(redacted="ENC", origin="anthropic"),
                TextPart(text="Checking."),
                ToolCallPart(id="toolu_1", name="get_weather", arguments='{"city":"Paris"}'),
                ToolCallPart(id="toolu_2", name="get_weather", arguments='{"city":"Oslo"}'),
            ],
        ),
        Message(
            role="user",
            content=[
                ToolResultPart(call_id="toolu_1", name="get_weather", content=[TextPart(text="18C")]),
                ToolResultPart(
                    call_id="toolu_2",
                    name="get_weather",
                    content=[TextPart(text="cold"), ImagePart(data=PNG_B64, media_type="image/png")],
                    is_error=True,
                ),
                TextPart(text="And tomorrow?"),
            ],
        ),
        Message(
            role="assistant",
            content=[
                UnknownPart(protocol="anthropic", data=SEARCH_USE),
                UnknownPart(protocol="anthropic", data=SEARCH_RESULT),
                TextPart(text="Sunny."),
            ],
        ),
        Message(role="user", content=[TextPart(text="Thanks")]),
    ]
    fields: dict[str, Any] = {
        "model": "claude-x",
        "messages": messages,
        "stream": True,
        "max_tokens": 4096,
        "temperature": 0.5,
        "top_p": 0.9,
        "top_k": 40,
        "stop": ["END"],
        "tools": [ToolDef(name="get_weather", description="Weather now", parameters=WEATHER_SCHEMA, strict=True)],
        "tool_choice": ToolChoice(mode="auto"),
        "parallel_tool_calls": False,
        "reasoning": ReasoningConfig(budget_tokens=2048, effort="high"),
        "response_format": ResponseFormat(type="json_schema", schema=WEATHER_SCHEMA),
        "include_usage": True,
        "user": "user-1",
        "source_protocol": "anthropic",
    }
    fields.update(overrides)
    return ChatRequest(**fields)


def test_codec_identity() -> None:
    assert isinstance(ANTHROPIC, AnthropicCodec)
    assert ANTHROPIC.name is ProtocolName.ANTHROPIC
    assert ANTHROPIC.passthrough is not None


def test_rich_request_round_trip() -> None:
    ir = rich_request()
    body = ANTHROPIC.encode_request(ir)
    assert validate(orjson.loads(orjson.dumps(body))) is None
    assert ANTHROPIC.decode_request(orjson.loads(orjson.dumps(body))) == ir
    assert body["system"] == [{"type": "text", "text": "You are terse."}, {"type": "text", "text": "Rule two."}]
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert body["output_config"] == {"format": {"type": "json_schema", "schema": WEATHER_SCHEMA}, "effort": "high"}
    assert body["tool_choice"] == {"type": "auto", "disable_parallel_tool_use": True}
    assert body["metadata"] == {"user_id": "user-1"}
    user = body["messages"][0]["content"]
    assert user[5] == {"type": "document", "source": {"type": "file", "file_id": "file_123"}}
    assert user[6] == {
        "type": "document",
        "source": {"type": "text", "media_type": "text/plain", "data": "plain notes"},
    }
    assert body["messages"][2]["content"][1] == {
        "type": "tool_result",
        "tool_use_id": "toolu_2",
        "content": [
            {"type": "text", "text": "cold"},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG_B64}},
        ],
        "is_error": True,
    }


def test_claude_code_request_is_lossless_same_protocol() -> None:
    body = copy.deepcopy(CLAUDE_CODE_BODY)
    ir = ANTHROPIC.decode_request(body)
    assert body == CLAUDE_CODE_BODY  # decoding does not touch its input
    assert ir.reasoning == ReasoningConfig(budget_tokens=31999)
    assert ir.user == "user_abc_account__session_123" and ir.max_tokens == 32000
    assert [t.name for t in ir.tools or []] == ["Read", "Bash"]
    assert ir.messages[0] == Message(
        role="system", content=[TextPart(text="You are Claude Code."), TextPart(text="Env: linux")]
    )
    assert ir.extra["context_management"] == CLAUDE_CODE_BODY["context_management"]
    assert ir.messages[2].content[0] == ReasoningPart(text="Read it.", signature="EqQBCkYIBxgC", origin="anthropic")
    result = ir.messages[3].content[0]
    assert result == ToolResultPart(call_id="toolu_01", name="Read", content=[TextPart(text="file body")])
    assert isinstance(ir.messages[3].content[1], UnknownPart)
    assert ANTHROPIC.encode_request(ir) == CLAUDE_CODE_BODY
    assert validate(ANTHROPIC.encode_request(ir)) is None


@pytest.mark.parametrize(
    "fields",
    [
        {"thinking": {"type": "adaptive"}, "output_config": {"effort": "medium"}},
        {"thinking": {"type": "adaptive", "display": "omitted"}},
        {"output_config": {"effort": "low", "format": {"type": "json_schema", "schema": WEATHER_SCHEMA}}},
        {"thinking": {"type": "disabled"}, "output_config": {"effort": "max"}},
        {"thinking": {"type": "between_tools"}, "output_config": {"effort": "high"}},
        {"tool_choice": {"type": "tool", "name": "f", "disable_parallel_tool_use": False}},
        {"tool_choice": {"type": "none"}},
        {"tool_choice": {"type": "any"}, "stop_sequences": ["x"], "top_k": 3, "top_p": 0.5},
        {"system": "plain"},
    ],
)
def test_same_protocol_fields_survive(fields: dict[str, Any]) -> None:
    body = {"model": "m", "max_tokens": 100, "messages": [{"role": "user", "content": [{"type": "text", "text": "x"}]}]}
    if "tool_choice" in fields:
        body["tools"] = [{"name": "f", "input_schema": {"type": "object"}}]
    body.update(fields)
    assert ANTHROPIC.encode_request(ANTHROPIC.decode_request(copy.deepcopy(body))) == body


def test_reasoning_mapping_from_anthropic() -> None:
    def reasoning(**fields: Any) -> ReasoningConfig | None:
        body = {"model": "m", "max_tokens": 9, "messages": [{"role": "user", "content": "x"}], **fields}
        return ANTHROPIC.decode_request(body).reasoning

    assert reasoning() is None
    assert reasoning(thinking={"type": "adaptive"}) == ReasoningConfig()
    assert reasoning(thinking={"type": "adaptive"}, output_config={"effort": "high"}) == ReasoningConfig(effort="high")
    assert reasoning(thinking={"type": "disabled"}) == ReasoningConfig(effort="none")
    assert reasoning(thinking={"type": "enabled", "budget_tokens": 1024}) == ReasoningConfig(budget_tokens=1024)
    assert reasoning(output_config={"effort": "low"}) == ReasoningConfig(effort="low")


def _foreign(**fields: Any) -> ChatRequest:
    base: dict[str, Any] = {
        "model": "claude-x",
        "messages": [Message(role="user", content=[TextPart(text="hi")])],
        "source_protocol": "openai_chat",
    }
    base.update(fields)
    return ChatRequest(**base)


@pytest.mark.parametrize(
    ("reasoning", "max_tokens", "thinking", "sent_max"),
    [
        (None, None, None, 8192),
        (ReasoningConfig(effort="low"), None, {"type": "enabled", "budget_tokens": 2048}, 8192),
        (ReasoningConfig(effort="high"), None, {"type": "enabled", "budget_tokens": 24576}, 28672),
        (ReasoningConfig(effort="max"), None, {"type": "enabled", "budget_tokens": 32768}, 36864),
        (ReasoningConfig(effort="high"), 4000, {"type": "enabled", "budget_tokens": 3999}, 4000),
        (ReasoningConfig(budget_tokens=100), None, {"type": "enabled", "budget_tokens": 1024}, 8192),
        (ReasoningConfig(budget_tokens=5000), 1024, None, 1024),
        (ReasoningConfig(effort="none"), None, None, 8192),
        (ReasoningConfig(budget_tokens=0), 50, None, 50),
        (ReasoningConfig(summary="auto"), None, {"type": "enabled", "budget_tokens": 8192}, 12288),
        (ReasoningConfig(include_thoughts=False), None, None, 8192),
    ],
)
def test_reasoning_and_max_tokens_for_other_protocols(
    reasoning: ReasoningConfig | None, max_tokens: int | None, thinking: dict[str, Any] | None, sent_max: int
) -> None:
    body = ANTHROPIC.encode_request(_foreign(reasoning=reasoning, max_tokens=max_tokens))
    assert body.get("thinking") == thinking
    assert body["max_tokens"] == sent_max
    assert "output_config" not in body
    assert validate(body) is None


def test_sampling_and_tool_rules_for_other_protocols() -> None:
    tools = [ToolDef(name="f", parameters=None, strict=True)]
    body = ANTHROPIC.encode_request(
        _foreign(
            temperature=0.3,
            top_p=0.9,
            top_k=5,
            seed=1,
            n=2,
            presence_penalty=0.5,
            tools=tools,
            tool_choice=ToolChoice(mode="required"),
            metadata={"k": "v"},
            reasoning=ReasoningConfig(effort="medium"),
            response_format=ResponseFormat(type="json_object"),
            extra={"logit_bias": {}},
        )
    )
    assert body["temperature"] == 0.3 and "top_p" not in body and body["top_k"] == 5
    assert "thinking" not in body  # a forced tool rules thinking out; the forced call is kept
    assert body["tool_choice"] == {"type": "any"}
    assert body["tools"] == [{"name": "f", "input_schema": {"type": "object", "properties": {}}}]
    assert body["system"] == JSON_MODE_INSTRUCTION
    assert not {"seed", "n", "presence_penalty", "metadata", "logit_bias", "output_config"} & set(body)
    thinking = ANTHROPIC.encode_request(
        _foreign(temperature=0.3, top_p=0.99, top_k=5, reasoning=ReasoningConfig(effort="low"))
    )
    assert thinking["thinking"]["type"] == "enabled"
    assert "temperature" not in thinking and "top_k" not in thinking and thinking["top_p"] == 0.99
    named = ANTHROPIC.encode_request(
        _foreign(tools=tools, tool_choice=ToolChoice(mode="tool"), parallel_tool_calls=True)
    )
    assert named["tool_choice"] == {"type": "any", "disable_parallel_tool_use": False}
    alone = ANTHROPIC.encode_request(_foreign(tool_choice=ToolChoice(mode="none")))
    assert "tool_choice" not in alone and "tools" not in alone


OPENAI_CONVERSATION: dict[str, Any] = {
    "model": "gpt-x",
    "messages": [
        {"role": "system", "content": "Be brief."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Weather?"},
                {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG_B64}"}},
            ],
        },
        {
            "role": "assistant",
            "content": "",
            "reasoning_content": "DeepSeek-style thoughts",
            "tool_calls": [
                {
                    "id": "call_a",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                },
                {"id": "call_b", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Os'}},
            ],
        },
        {"role": "tool", "tool_call_id": "call_b", "content": "cold"},
        {"role": "developer", "content": "Answer in one line."},
        {"role": "tool", "tool_call_id": "call_a", "content": "18C"},
        {"role": "user", "content": '[[mock {"text": "All done."}]] And now?'},
        {"role": "user", "content": "   "},
    ],
    "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": WEATHER_SCHEMA, "strict": True}}],
    "tool_choice": "auto",
    "parallel_tool_calls": False,
    "reasoning_effort": "low",
    "temperature": 0.2,
    "top_p": 0.9,
    "user": "u-1",
    "response_format": {"type": "json_object"},
}


def test_openai_conversation_becomes_a_valid_anthropic_request() -> None:
    body = ANTHROPIC.encode_request(OPENAI_CHAT.decode_request(copy.deepcopy(OPENAI_CONVERSATION)))
    assert validate(body) is None
    assert body["system"] == [
        {"type": "text", "text": "Be brief."},
        {"type": "text", "text": "Answer in one line."},
        {"type": "text", "text": JSON_MODE_INSTRUCTION},
    ]
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]
    assert body["messages"][0]["content"][1] == {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/png", "data": PNG_B64},
    }
    assistant = body["messages"][1]["content"]
    assert assistant == [  # no empty text block, no foreign (unsigned) reasoning
        {"type": "tool_use", "id": "call_a", "name": "get_weather", "input": {"city": "Paris"}},
        {"type": "tool_use", "id": "call_b", "name": "get_weather", "input": {}},
    ]
    results = body["messages"][2]["content"]
    assert [(b["type"], b.get("tool_use_id")) for b in results] == [
        ("tool_result", "call_a"),
        ("tool_result", "call_b"),
        ("text", None),
    ]
    assert results[0]["content"] == "18C"
    assert "thinking" not in body  # the tool-calling turn has no Anthropic thinking block to replay
    assert body["temperature"] == 0.2 and "top_p" not in body
    assert body["tool_choice"] == {"type": "auto", "disable_parallel_tool_use": True}
    assert body["metadata"] == {"user_id": "u-1"} and body["max_tokens"] == 8192


async def test_openai_conversation_accepted_by_the_mock_upstream(mock_upstream: MockUpstream) -> None:
    body = ANTHROPIC.encode_request(OPENAI_CHAT.decode_request(copy.deepcopy(OPENAI_CONVERSATION)))
    headers = {"x-api-key": "sk-ant-test", "anthropic-version": "2023-06-01"}
    async with httpx2.AsyncClient(base_url=mock_upstream.url, timeout=10) as http:
        answer = await http.post("/v1/messages", json=body, headers=headers)
        assert answer.status_code == 200, answer.text
        decoded = ANTHROPIC.decode_response(answer.json())
        assert decoded.choices[0].content == [TextPart(text="All done.")]
        streamed = await http.post("/v1/messages", json={**body, "stream": True}, headers=headers)
        assert streamed.status_code == 200
        bad = await http.post("/v1/messages", json={**body, "max_tokens": None}, headers=headers)
        error = ANTHROPIC.decode_error(bad.status_code, bad.content)
        assert error.status == 400 and "max_tokens" in error.message


def test_messages_are_merged_and_ordered() -> None:
    request = _foreign(
        messages=[
            Message(role="assistant", content=[TextPart(text="Hello")]),
            Message(role="user", content=[TextPart(text="a")]),
            Message(role="user", content=[TextPart(text="b")]),
            Message(
                role="assistant",
                content=[ToolCallPart(id="1", name="f"), TextPart(text=""), ToolResultPart(call_id="1")],
            ),
            Message(role="tool", content=[ToolResultPart(call_id="2", content=[TextPart(text="late")])]),
            Message(role="assistant", content=[ToolCallPart(id="2", name="g", arguments="[1]")]),
            Message(role="tool", content=[ToolResultPart(call_id="2", content=[TextPart(text=" ")])]),
            Message(role="system", content=[TextPart(text="sys"), ImagePart(url="https://x/y.png")]),
            Message(role="assistant", content=[TextPart(text="Prefill  \n"), AudioPart(data="x", format="wav")]),
        ]
    )
    body = ANTHROPIC.encode_request(request)
    assert body["system"] == "sys"
    assert body["messages"] == [
        {"role": "assistant", "content": [{"type": "text", "text": "Hello"}]},
        {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "1", "name": "f", "input": {}}]},
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "1"},
                {"type": "tool_result", "tool_use_id": "2", "content": "late"},
            ],
        },
        {"role": "assistant", "content": [{"type": "tool_use", "id": "2", "name": "g", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "2"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "Prefill"}]},
    ]


def test_only_anthropic_reasoning_reaches_an_anthropic_upstream() -> None:
    own = ReasoningPart(text="mine", signature="SIG", origin="anthropic")
    request = _foreign(
        reasoning=ReasoningConfig(budget_tokens=2000),
        messages=[
            Message(role="user", content=[TextPart(text="q")]),
            Message(
                role="assistant",
                content=[
                    own,
                    ReasoningPart(text="gemini thought", signature="R0VN", origin="gemini"),
                    ReasoningPart(redacted="X", origin="openai_responses"),
                    ReasoningPart(text="unsigned", origin="anthropic"),
                    ReasoningPart(text="no origin", signature="S2"),
                    ToolCallPart(id="c", name="f", arguments="{}", signature="R0VN", signature_origin="gemini"),
                ],
            ),
            Message(role="tool", content=[ToolResultPart(call_id="c", content=[TextPart(text="ok")])]),
        ],
    )
    body = ANTHROPIC.encode_request(request)
    assert body["messages"][1]["content"] == [
        {"type": "thinking", "thinking": "mine", "signature": "SIG"},
        {"type": "tool_use", "id": "c", "name": "f", "input": {}},
    ]
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 2000}
    assert "gemini thought" not in orjson.dumps(body).decode()
