"""OpenAI Chat codec: non-streamed answers, usage, and their schema conformance."""

from __future__ import annotations

import random
from typing import Any

import pytest
from openai.types.chat import ChatCompletion

from omnirouter.ir import (
    ChatResponse,
    Choice,
    ErrorKind,
    GatewayError,
    ImagePart,
    ReasoningPart,
    StopReason,
    TextPart,
    ToolCallPart,
    Usage,
)
from omnirouter.protocols.openai_chat import OPENAI_CHAT, usage_from_openai, usage_to_openai
from tests.helpers.openapi_schema import validate_openai


def rich_response(**overrides: Any) -> ChatResponse:
    fields: dict[str, Any] = {
        "id": "chatcmpl-1",
        "model": "gpt-4o",
        "created": 1727346182,
        "choices": [
            Choice(
                index=0,
                content=[
                    ReasoningPart(origin="openai_chat", text="plan", signature="sig"),
                    TextPart(text="Let me check."),
                    ToolCallPart(id="call_a", name="get_weather", arguments='{"city":"Paris"}'),
                    ToolCallPart(
                        id="b", name="get_time", arguments="{}", signature="c2ln", signature_origin="openai_chat"
                    ),
                ],
                stop_reason=StopReason.TOOL_CALLS,
            ),
            Choice(
                index=1,
                content=[ReasoningPart(origin="openai_chat", text="hmm"), TextPart(text="Hello")],
                stop_reason=StopReason.END,
            ),
            Choice(index=2, content=[TextPart(text="I can't help with that.")], stop_reason=StopReason.REFUSAL),
            Choice(index=3, content=[TextPart(text="cut")], stop_reason=StopReason.LENGTH),
            Choice(index=4, content=[], stop_reason=StopReason.CONTENT_FILTER),
        ],
        "usage": Usage(input_tokens=100, output_tokens=50, cached_tokens=20, cache_write_tokens=5, reasoning_tokens=10),
        "extra": {"system_fingerprint": "fp_1", "service_tier": "default"},
        "source_protocol": "openai_chat",
    }
    fields.update(overrides)
    return ChatResponse(**fields)


def test_response_round_trip_and_schema() -> None:
    ir = rich_response()
    body = OPENAI_CHAT.encode_response(ir)
    validate_openai("CreateChatCompletionResponse", body)
    ChatCompletion.model_validate(body)
    assert OPENAI_CHAT.decode_response(body) == ir


def test_encode_response_wire_shape() -> None:
    body = OPENAI_CHAT.encode_response(rich_response())
    assert body["object"] == "chat.completion" and body["system_fingerprint"] == "fp_1"
    first, second, refusal, length, filtered = body["choices"]
    assert first["finish_reason"] == "tool_calls"
    assert first["message"]["tool_calls"][1]["extra_content"] == {"google": {"thought_signature": "c2ln"}}
    assert first["message"]["reasoning_content"] == "plan"
    assert second["message"] == {
        "role": "assistant",
        "content": "Hello",
        "refusal": None,
        "reasoning_content": "hmm",
    }
    assert refusal["message"]["content"] is None and refusal["message"]["refusal"] == "I can't help with that."
    assert refusal["finish_reason"] == "stop"
    assert (length["finish_reason"], filtered["finish_reason"]) == ("length", "content_filter")
    assert filtered["message"]["content"] is None
    assert body["usage"] == {
        "prompt_tokens": 100,
        "completion_tokens": 50,
        "total_tokens": 150,
        "prompt_tokens_details": {"cached_tokens": 20, "cache_write_tokens": 5},
        "completion_tokens_details": {"reasoning_tokens": 10},
        "claude_cache_creation_5_m_tokens": 5,  # new-api's fields: writes without a TTL count as 5-minute
        "claude_cache_creation_1_h_tokens": 0,
    }


@pytest.mark.parametrize(
    ("stop", "has_calls", "finish"),
    [
        (StopReason.END, True, "tool_calls"),  # Gemini / Anthropic said STOP / end_turn after a call
        (StopReason.END, False, "stop"),
        (StopReason.STOP_SEQUENCE, False, "stop"),
        (StopReason.PAUSE, False, "stop"),
        (StopReason.ERROR, False, "stop"),
        (None, False, "stop"),
        (StopReason.TOOL_CALLS, False, "stop"),
        (StopReason.LENGTH, True, "length"),
    ],
)
def test_finish_reason_encoding(stop: StopReason | None, has_calls: bool, finish: str) -> None:
    content: list[Any] = [TextPart(text="x")]
    if has_calls:
        content.append(ToolCallPart(id="c", name="f"))
    body = OPENAI_CHAT.encode_response(rich_response(choices=[Choice(content=content, stop_reason=stop)]))
    assert body["choices"][0]["finish_reason"] == finish
    validate_openai("CreateChatCompletionResponse", body)


def test_cross_protocol_response_drops_foreign_extra_and_parts() -> None:
    ir = rich_response(
        choices=[Choice(content=[TextPart(text="a"), ImagePart(url="https://x"), TextPart(text="b")])],
        extra={"stop_sequence": None},
        source_protocol="anthropic",
        usage=None,
    )
    body = OPENAI_CHAT.encode_response(ir)
    assert "stop_sequence" not in body and "usage" not in body
    assert body["choices"][0]["message"]["content"] == "ab"
    validate_openai("CreateChatCompletionResponse", body)
    ChatCompletion.model_validate(body)


def test_decode_llama_cpp_response() -> None:
    body = {
        "choices": [
            {
                "finish_reason": "length",
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "",
                    "reasoning_content": "thinking...",
                    "tool_calls": [
                        {
                            "type": "function",
                            "function": {"name": "f", "arguments": '{"x": 1}'},
                            "id": "abcDEF123",
                        }
                    ],
                },
            }
        ],
        "created": 1,
        "model": "local-alias",
        "system_fingerprint": "b1-abc",
        "object": "chat.completion",
        "usage": {
            "completion_tokens": 5,
            "prompt_tokens": 10,
            "total_tokens": 15,
            "prompt_tokens_details": None,
        },
        "id": "chatcmpl-x",
        "timings": {"prompt_n": 10},
    }
    ir = OPENAI_CHAT.decode_response(body)
    assert ir.choices[0].content == [
        ReasoningPart(origin="openai_chat", text="thinking..."),
        ToolCallPart(id="abcDEF123", name="f", arguments='{"x": 1}'),
    ]
    assert ir.choices[0].stop_reason is StopReason.TOOL_CALLS  # complete call after "length"
    assert ir.usage == Usage(input_tokens=10, output_tokens=5)
    assert ir.extra == {"system_fingerprint": "b1-abc", "timings": {"prompt_n": 10}}


def test_decode_response_stop_reasons() -> None:
    def reason(finish: Any, message: dict[str, Any]) -> StopReason | None:
        body = {
            "id": "x",
            "created": 1,
            "model": "m",
            "choices": [{"index": 0, "finish_reason": finish, "message": message}],
        }
        return OPENAI_CHAT.decode_response(body).choices[0].stop_reason

    call = {"tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": '{"a'}}]}
    assert reason("stop", {"content": "hi"}) is StopReason.END
    assert reason("stop", call) is StopReason.TOOL_CALLS
    assert reason("length", call) is StopReason.LENGTH  # truncated arguments
    assert reason("function_call", {"function_call": {"name": "f", "arguments": "{}"}}) is StopReason.TOOL_CALLS
    assert reason("stop", {"content": None, "refusal": "no"}) is StopReason.REFUSAL
    assert reason("content_filter", {"content": None, "refusal": "no"}) is StopReason.CONTENT_FILTER
    assert reason(None, {"content": "hi"}) is None
    assert reason("eos", {"content": "hi"}) is StopReason.END


@pytest.mark.parametrize(
    "body",
    [
        [],
        {},
        {"choices": "x"},
        {"choices": [1]},
        {"choices": [{"message": {"content": 5}}]},
        {"choices": [{"message": {"tool_calls": [{"function": {"name": None}}]}}]},
    ],
)
def test_decode_response_rejects_malformed(body: Any) -> None:
    with pytest.raises(GatewayError) as info:
        OPENAI_CHAT.decode_response(body)
    assert info.value.kind is ErrorKind.UPSTREAM


def test_decode_response_error_body_with_200() -> None:
    with pytest.raises(GatewayError) as info:
        OPENAI_CHAT.decode_response(
            {"error": {"message": "quota", "type": "insufficient_quota", "code": "insufficient_quota"}}
        )
    assert info.value.kind is ErrorKind.INSUFFICIENT_QUOTA and info.value.message == "quota"


def test_decode_response_fuzz_only_gateway_errors() -> None:
    seed = OPENAI_CHAT.encode_response(rich_response())
    rng = random.Random(99)
    odd: list[Any] = [None, 1, "x", [], {}, True, [{"a": 1}]]

    def mutate(value: Any) -> Any:
        if rng.random() < 0.05:
            return rng.choice(odd)
        if isinstance(value, dict):
            return {k: mutate(v) for k, v in value.items() if rng.random() > 0.05}
        if isinstance(value, list):
            return [mutate(v) for v in value]
        return value

    for _ in range(2000):
        try:
            ir = OPENAI_CHAT.decode_response(mutate(seed))
        except GatewayError:
            continue
        ir.extra = {}  # upstream extras are relayed verbatim, right or wrong
        validate_openai("CreateChatCompletionResponse", OPENAI_CHAT.encode_response(ir))


def test_usage_helpers() -> None:
    assert usage_from_openai({}) == Usage()
    assert usage_from_openai(
        {
            "prompt_tokens": 9,
            "completion_tokens": "x",
            "prompt_tokens_details": [],
            "completion_tokens_details": None,
        }
    ) == Usage(input_tokens=9)
    deepseek = {
        "prompt_tokens": 10,
        "completion_tokens": 2,
        "prompt_cache_hit_tokens": 6,
        "prompt_cache_miss_tokens": 4,
    }
    assert usage_from_openai(deepseek).cached_tokens == 6
    usage = Usage(input_tokens=3, output_tokens=4, cached_tokens=1, reasoning_tokens=2)
    assert usage_from_openai(usage_to_openai(usage)) == usage
    assert "cache_write_tokens" not in usage_to_openai(usage)["prompt_tokens_details"]
