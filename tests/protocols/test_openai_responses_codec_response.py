"""OpenAI Responses codec: Response objects both directions, status and usage mapping, signature carrying."""

from __future__ import annotations

from typing import Any

import msgspec
import orjson
import pytest
from openai.types.responses import Response

from omnirouter.ir import (
    ChatResponse,
    Choice,
    ErrorKind,
    GatewayError,
    ImagePart,
    Message,
    ReasoningPart,
    StopReason,
    TextPart,
    ToolCallPart,
    Usage,
)
from omnirouter.protocols.openai_responses import OPENAI_RESPONSES, OPENAI_RESPONSES_PASSTHROUGH
from omnirouter.protocols.openai_responses.usage import usage_from_responses, usage_to_responses
from tests.helpers.openapi_schema import validate_openai

R = "openai_responses"
USAGE = Usage(input_tokens=120, output_tokens=40, cached_tokens=100, cache_write_tokens=5, reasoning_tokens=12)


def answer(content: list[Any], stop: StopReason | None = StopReason.END, **overrides: Any) -> ChatResponse:
    fields: dict[str, Any] = {
        "id": "resp_abc123",
        "model": "public-model",
        "created": 1_700_000_000,
        "choices": [Choice(index=0, content=content, stop_reason=stop)],
        "usage": USAGE,
        "source_protocol": R,
    }
    fields.update(overrides)
    return ChatResponse(**fields)


RICH = [
    ReasoningPart(text="Two cities.", signature="gAAAA-enc", origin=R, id="rs_up1"),
    TextPart(text="Checking "),
    TextPart(text="both."),
    ToolCallPart(id="call_1", name="get_weather", arguments='{"city":"Paris"}'),
    ToolCallPart(id="call_2", name="get_weather", arguments='{"city":"Oslo"}'),
]


def check_client_body(body: dict[str, Any]) -> Response:
    """Spec + SDK validation of a Response body (after a JSON round trip)."""
    body = orjson.loads(orjson.dumps(body))
    validate_openai("Response", body)
    return Response.model_validate(body)


def without_extra(response: ChatResponse) -> ChatResponse:
    return msgspec.structs.replace(response, extra={})


def test_encode_rich_response_fits_spec_and_sdk() -> None:
    body = OPENAI_RESPONSES.encode_response(answer(RICH, StopReason.TOOL_CALLS))
    parsed = check_client_body(body)
    assert body["id"] == "resp_abc123" and body["object"] == "response" and body["model"] == "public-model"
    assert body["status"] == "completed" and body["incomplete_details"] is None
    assert [o["type"] for o in body["output"]] == ["reasoning", "message", "function_call", "function_call"]
    assert body["output"][0] == {
        "id": "rs_up1",
        "type": "reasoning",
        "summary": [{"type": "summary_text", "text": "Two cities."}],
        "encrypted_content": "gAAAA-enc",
    }
    assert [p["text"] for p in body["output"][1]["content"]] == ["Checking ", "both."]
    call = body["output"][2]
    assert call["id"].startswith("fc_") and call["call_id"] == "call_1" and call["status"] == "completed"
    assert body["usage"] == {
        "input_tokens": 120,
        "input_tokens_details": {"cached_tokens": 100, "cache_write_tokens": 5},
        "output_tokens": 40,
        "output_tokens_details": {"reasoning_tokens": 12},
        "total_tokens": 160,
        "claude_cache_creation_5_m_tokens": 5,  # new-api's TTL split: writes without a TTL are 5-minute ones
        "claude_cache_creation_1_h_tokens": 0,
    }
    assert parsed.output_text == "Checking both."


@pytest.mark.parametrize(
    ("stop", "content"),
    [
        (StopReason.TOOL_CALLS, RICH),
        (StopReason.END, [TextPart(text="hi")]),
        (StopReason.LENGTH, [TextPart(text="cut")]),
        (StopReason.CONTENT_FILTER, []),
        (StopReason.REFUSAL, [TextPart(text="I can't help with that.")]),
    ],
)
def test_response_round_trip(stop: StopReason, content: list[Any]) -> None:
    original = answer(content, stop)
    body = OPENAI_RESPONSES.encode_response(original)
    check_client_body(body)
    decoded = OPENAI_RESPONSES.decode_response(orjson.loads(orjson.dumps(body)))
    assert without_extra(decoded) == original


def test_status_mapping() -> None:
    length = OPENAI_RESPONSES.encode_response(answer([TextPart(text="cut")], StopReason.LENGTH))
    assert length["status"] == "incomplete" and length["incomplete_details"] == {"reason": "max_output_tokens"}
    assert length["output"][0]["status"] == "incomplete"
    blocked = OPENAI_RESPONSES.encode_response(answer([], StopReason.CONTENT_FILTER))
    assert blocked["incomplete_details"] == {"reason": "content_filter"} and blocked["output"] == []
    refusal = OPENAI_RESPONSES.encode_response(answer([TextPart(text="no")], StopReason.REFUSAL))
    assert refusal["output"][0]["content"] == [{"type": "refusal", "refusal": "no"}]
    for stop in (StopReason.END, StopReason.STOP_SEQUENCE, StopReason.PAUSE, None):
        assert OPENAI_RESPONSES.encode_response(answer([TextPart(text="x")], stop))["status"] == "completed"


def test_response_id_derivation_and_foreign_answers() -> None:
    foreign = answer(
        [TextPart(text="hi"), ImagePart(url="https://x/y.png")], id="chatcmpl-1", source_protocol="openai_chat"
    )
    foreign.extra = {"system_fingerprint": "fp"}
    body = OPENAI_RESPONSES.encode_response(foreign)
    check_client_body(body)
    assert body["id"].startswith("resp_") and len(body["id"]) > 20 and "system_fingerprint" not in body
    assert [o["type"] for o in body["output"]] == ["message"]
    no_usage = OPENAI_RESPONSES.encode_response(answer([TextPart(text="x")], usage=None))
    check_client_body(no_usage)
    assert "usage" not in no_usage


def test_encode_response_echoes_the_request() -> None:
    request = OPENAI_RESPONSES.decode_request(
        {
            "model": "public-model",
            "input": "hi",
            "max_output_tokens": 99,
            "parallel_tool_calls": False,
            "tool_choice": "required",
            "metadata": {"k": "v"},
            "tools": [
                {
                    "type": "namespace",
                    "name": "mcp__docs__",
                    "description": "d",
                    "tools": [
                        {"type": "function", "name": "search", "parameters": {"type": "object"}, "strict": False}
                    ],
                }
            ],
        }
    )
    calls = [ToolCallPart(id="call_9", name="mcp__docs__search", arguments="{}")]
    body = OPENAI_RESPONSES.encode_response(answer(calls, StopReason.TOOL_CALLS, source_protocol="gemini"), request)
    check_client_body(body)
    assert body["max_output_tokens"] == 99 and body["parallel_tool_calls"] is False
    assert body["tool_choice"] == "required" and body["metadata"] == {"k": "v"}
    assert body["output"][0]["namespace"] == "mcp__docs__" and body["output"][0]["name"] == "search"
    replay = OPENAI_RESPONSES.decode_request({"model": "m", "input": body["output"]})
    assert replay.messages[0].content == calls


def upstream_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": "resp_up",
        "object": "response",
        "created_at": 1_700_000_001,
        "status": "completed",
        "model": "gpt-5-2025-08-07",
        "output": [
            {
                "id": "rs_1",
                "type": "reasoning",
                "summary": [{"type": "summary_text", "text": "a"}, {"type": "summary_text", "text": "b"}],
            },
            {
                "id": "msg_1",
                "type": "message",
                "status": "completed",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "Hello", "annotations": []}],
            },
            {"id": "ws_1", "type": "web_search_call", "status": "completed", "action": {"type": "search"}},
        ],
        "usage": {"input_tokens": 10, "output_tokens": 3, "total_tokens": 13},
        "service_tier": "default",
    }
    body.update(overrides)
    return body


def test_decode_upstream_response() -> None:
    decoded = OPENAI_RESPONSES.decode_response(upstream_body())
    assert decoded.id == "resp_up" and decoded.model == "gpt-5-2025-08-07" and decoded.created == 1_700_000_001
    content = decoded.choices[0].content
    assert content[0] == ReasoningPart(text="a\n\nb", origin=R, id="rs_1")
    assert content[1] == TextPart(text="Hello")
    assert decoded.choices[0].stop_reason is StopReason.END
    assert decoded.usage == Usage(input_tokens=10, output_tokens=3)
    assert decoded.extra == {"service_tier": "default"}
    # The hosted tool item comes back verbatim to a Responses client.
    body = OPENAI_RESPONSES.encode_response(decoded)
    assert body["output"][2] == upstream_body()["output"][2] and body["service_tier"] == "default"


def test_decode_incomplete_with_complete_calls_is_tool_calls() -> None:
    call = {"id": "fc_1", "type": "function_call", "call_id": "c1", "name": "f", "arguments": '{"a":1}'}
    body = upstream_body(status="incomplete", incomplete_details={"reason": "max_output_tokens"}, output=[call])
    assert OPENAI_RESPONSES.decode_response(body).choices[0].stop_reason is StopReason.TOOL_CALLS
    call["arguments"] = '{"a":'
    assert OPENAI_RESPONSES.decode_response(body).choices[0].stop_reason is StopReason.LENGTH
    body["incomplete_details"] = {"reason": "content_filter"}
    assert OPENAI_RESPONSES.decode_response(body).choices[0].stop_reason is StopReason.CONTENT_FILTER


@pytest.mark.parametrize(
    "body",
    [
        [],
        {"id": "x"},
        {"output": "nope"},
        {"status": "failed", "error": {"code": "server_error", "message": "model crashed"}},
        {"error": {"message": "bad", "type": "invalid_request_error"}},
        upstream_body(output=[{"type": "function_call", "name": "f"}]),
    ],
)
def test_bad_upstream_response_is_upstream_error(body: Any) -> None:
    with pytest.raises(GatewayError) as info:
        OPENAI_RESPONSES.decode_response(body)
    assert info.value.kind is ErrorKind.UPSTREAM and info.value.message
    if isinstance(body, dict) and body.get("status") == "failed":
        assert info.value.message == "model crashed" and info.value.code == "server_error"


def test_cross_origin_carrying_through_a_responses_client() -> None:
    """Anthropic thinking (signed and redacted) and a Gemini-signed call survive a Codex-style replay."""
    original = [
        ReasoningPart(text="Let me think.", signature="anthropic-sig==", origin="anthropic"),
        ReasoningPart(redacted="REDACTED-BLOB", origin="anthropic"),
        ReasoningPart(text="plain deepseek thoughts"),
        TextPart(text="Calling."),
        ToolCallPart(
            id="call_g1",
            name="get_weather",
            arguments='{"city":"Rome"}',
            signature="Z2VtaW5p",
            signature_origin="gemini",
        ),
        ToolCallPart(id="call_g2", name="get_time", arguments="{}"),
    ]
    body = OPENAI_RESPONSES.encode_response(answer(original, StopReason.TOOL_CALLS, source_protocol="gemini"))
    check_client_body(body)
    encrypted = [o.get("encrypted_content") for o in body["output"] if o["type"] == "reasoning"]
    assert encrypted[0] == "omr1.anthropic.anthropic-sig=="
    assert encrypted[1] == "omr1.anthropic-redacted.REDACTED-BLOB"
    replay = {
        "model": "m",
        "input": [
            {"role": "user", "content": "weather in Rome?"},
            *body["output"],
            {"type": "function_call_output", "call_id": "call_g1", "output": "20C"},
        ],
    }
    decoded = OPENAI_RESPONSES.decode_request(orjson.loads(orjson.dumps(replay)))
    assert decoded.messages[1] == Message(role="assistant", content=original)
    # A Responses upstream gets none of the foreign values.
    upstream = OPENAI_RESPONSES.encode_request(decoded)
    assert not [i for i in upstream["input"] if i["type"] == "reasoning"]
    assert "omr1" not in orjson.dumps(upstream).decode()


def test_usage_conversion() -> None:
    assert usage_from_responses(usage_to_responses(USAGE)) == USAGE
    assert usage_from_responses({"input_tokens": None, "output_tokens": "x"}) == Usage()
    assert usage_from_responses({"prompt_tokens": 5, "completion_tokens": 2}) == Usage(input_tokens=5, output_tokens=2)


def test_errors_use_the_openai_shape() -> None:
    status, raw = OPENAI_RESPONSES.encode_error(GatewayError(ErrorKind.RATE_LIMIT, "slow down"))
    assert status == 429
    assert orjson.loads(raw) == {
        "error": {"message": "slow down", "type": "rate_limit_error", "param": None, "code": "rate_limit_exceeded"}
    }
    error = OPENAI_RESPONSES.decode_error(400, b'{"error": {"message": "bad input", "type": "invalid_request_error"}}')
    assert error.kind is ErrorKind.INVALID_REQUEST and error.status == 400 and error.message == "bad input"
    assert OPENAI_RESPONSES.decode_error(503, b"<html>").kind is ErrorKind.OVERLOADED


def test_passthrough_rewrites_model_and_reads_usage() -> None:
    raw, usage = OPENAI_RESPONSES_PASSTHROUGH.rewrite_response(orjson.dumps(upstream_body()), "public")
    assert orjson.loads(raw)["model"] == "public" and usage == Usage(input_tokens=10, output_tokens=3)
    prepared = OPENAI_RESPONSES_PASSTHROUGH.prepare({"model": "public", "input": "x", "stream": True}, "up", True)
    assert orjson.loads(prepared.data) == {"model": "up", "input": "x", "stream": True}
    reasoning = {
        "model": "public",
        "input": "x",
        "reasoning": {"effort": "low"},
        "include": ["file_search_call.results"],
    }
    prepared = OPENAI_RESPONSES_PASSTHROUGH.prepare(reasoning, "up", False)
    assert orjson.loads(prepared.data)["include"] == ["file_search_call.results", "reasoning.encrypted_content"]
    assert reasoning["include"] == ["file_search_call.results"], "the client's body is not modified"
    off = OPENAI_RESPONSES_PASSTHROUGH.prepare(
        {"model": "p", "input": "x", "reasoning": {"effort": "none"}}, "up", False
    )
    assert "include" not in orjson.loads(off.data)
    with pytest.raises(GatewayError) as info:
        OPENAI_RESPONSES_PASSTHROUGH.rewrite_response(b'{"choices": []}', "public")
    assert info.value.kind is ErrorKind.UPSTREAM
