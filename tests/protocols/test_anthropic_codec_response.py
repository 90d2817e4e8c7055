"""Anthropic codec: responses both directions, cross-origin signature carrying, errors."""

from __future__ import annotations

import copy
from typing import Any

import anthropic
import orjson
import pytest

from omnirouter.ir import (
    ChatRequest,
    ChatResponse,
    Choice,
    ErrorKind,
    FilePart,
    GatewayError,
    ImagePart,
    Message,
    ReasoningConfig,
    ReasoningPart,
    StopReason,
    TextPart,
    ToolCallPart,
    ToolResultPart,
    UnknownPart,
    Usage,
)
from omnirouter.protocols import carry
from omnirouter.protocols.anthropic import ANTHROPIC

MESSAGE: dict[str, Any] = {
    "id": "msg_01",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-5",
    "content": [
        {"type": "thinking", "thinking": "Hmm.", "signature": "SIG"},
        {"type": "redacted_thinking", "data": "RED"},
        {
            "type": "text",
            "text": "Calling.",
            "citations": [
                {
                    "type": "char_location",
                    "cited_text": "x",
                    "document_index": 0,
                    "document_title": None,
                    "start_char_index": 0,
                    "end_char_index": 1,
                }
            ],
        },
        {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {"query": "q"}},
        {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
    ],
    "stop_reason": "tool_use",
    "stop_sequence": None,
    "stop_details": None,
    "container": None,
    "usage": {
        "input_tokens": 10,
        "cache_creation_input_tokens": 5,
        "cache_read_input_tokens": 100,
        "output_tokens": 42,
        "service_tier": "standard",
        "cache_creation": {"ephemeral_5m_input_tokens": 5, "ephemeral_1h_input_tokens": 0},
    },
}


def test_decode_response() -> None:
    response = ANTHROPIC.decode_response(copy.deepcopy(MESSAGE))
    assert (response.id, response.model, response.source_protocol) == ("msg_01", "claude-sonnet-4-5", "anthropic")
    assert response.usage == Usage(input_tokens=115, output_tokens=42, cached_tokens=100, cache_write_tokens=5)
    choice = response.choices[0]
    assert choice.stop_reason is StopReason.TOOL_CALLS
    assert choice.content == [
        ReasoningPart(text="Hmm.", signature="SIG", origin="anthropic"),
        ReasoningPart(redacted="RED", origin="anthropic"),
        TextPart(text="Calling."),
        UnknownPart(protocol="anthropic", data=MESSAGE["content"][3]),
        ToolCallPart(id="toolu_1", name="get_weather", arguments='{"city":"Paris"}'),
    ]


def test_response_is_lossless_same_protocol() -> None:
    body = ANTHROPIC.encode_response(ANTHROPIC.decode_response(copy.deepcopy(MESSAGE)))
    assert body == MESSAGE
    anthropic.types.Message.model_validate(body)


def rich_response(**overrides: Any) -> ChatResponse:
    fields: dict[str, Any] = {
        "id": "msg_x",
        "model": "claude-x",
        "created": 5,
        "choices": [
            Choice(
                content=[
                    ReasoningPart(text="Think.", signature="S1", origin="anthropic"),
                    ReasoningPart(redacted="R", origin="anthropic"),
                    TextPart(text="Two calls."),
                    ToolCallPart(id="toolu_a", name="f", arguments='{"a":1}'),
                    ToolCallPart(id="toolu_b", name="g", arguments="{}"),
                ],
                stop_reason=StopReason.TOOL_CALLS,
            )
        ],
        "usage": Usage(input_tokens=30, output_tokens=7, cached_tokens=20, cache_write_tokens=4),
        "source_protocol": "anthropic",
        "extra": {"stop_sequence": None},
    }
    fields.update(overrides)
    return ChatResponse(**fields)


def test_rich_response_round_trip() -> None:
    ir = rich_response()
    body = ANTHROPIC.encode_response(ir)
    anthropic.types.Message.model_validate(body)
    assert body["usage"] == {
        "input_tokens": 6,
        "cache_creation_input_tokens": 4,
        "cache_read_input_tokens": 20,
        "output_tokens": 7,
        "cache_creation": {"ephemeral_5m_input_tokens": 4, "ephemeral_1h_input_tokens": 0},
    }
    decoded = ANTHROPIC.decode_response(orjson.loads(orjson.dumps(body)))
    assert decoded.choices == ir.choices and decoded.usage == ir.usage and decoded.extra == ir.extra
    assert (decoded.id, decoded.model) == (ir.id, ir.model)


@pytest.mark.parametrize(
    ("wire", "has_calls", "stop"),
    [
        ("end_turn", False, StopReason.END),
        ("end_turn", True, StopReason.TOOL_CALLS),
        ("stop_sequence", False, StopReason.STOP_SEQUENCE),
        ("max_tokens", True, StopReason.LENGTH),
        ("model_context_window_exceeded", False, StopReason.LENGTH),
        ("tool_use", True, StopReason.TOOL_CALLS),
        ("refusal", False, StopReason.REFUSAL),
        ("pause_turn", False, StopReason.PAUSE),
        ("something_new", False, StopReason.END),
    ],
)
def test_stop_reasons_decode(wire: str, has_calls: bool, stop: StopReason) -> None:
    content: list[dict[str, Any]] = [{"type": "text", "text": "x"}]
    if has_calls:
        content.append({"type": "tool_use", "id": "t", "name": "f", "input": {}})
    body = {"id": "msg_1", "model": "m", "content": content, "stop_reason": wire, "usage": {}}
    assert ANTHROPIC.decode_response(body).choices[0].stop_reason is stop


@pytest.mark.parametrize(
    ("stop", "has_calls", "wire"),
    [
        (StopReason.END, True, "tool_use"),
        (StopReason.END, False, "end_turn"),
        (None, False, "end_turn"),
        (StopReason.LENGTH, True, "max_tokens"),
        (StopReason.STOP_SEQUENCE, False, "stop_sequence"),
        (StopReason.REFUSAL, False, "refusal"),
        (StopReason.CONTENT_FILTER, False, "refusal"),
        (StopReason.PAUSE, False, "pause_turn"),
        (StopReason.ERROR, False, "end_turn"),
    ],
)
def test_stop_reasons_encode(stop: StopReason | None, has_calls: bool, wire: str) -> None:
    content: list[Any] = [TextPart(text="x")]
    if has_calls:
        content.append(ToolCallPart(id="t", name="f"))
    response = ChatResponse(id="c", model="m", created=1, choices=[Choice(content=content, stop_reason=stop)])
    assert ANTHROPIC.encode_response(response)["stop_reason"] == wire


def test_foreign_answer_encodes_for_an_anthropic_client() -> None:
    response = ChatResponse(
        id="chatcmpl-9",
        model="public",
        created=1,
        choices=[
            Choice(
                content=[
                    TextPart(text=""),
                    TextPart(text="Hi"),
                    ImagePart(url="https://x/y.png"),
                    ToolResultPart(call_id="x"),
                    FilePart(url="https://x/doc.pdf"),
                    ToolCallPart(id="call_1", name="f", arguments='{"broken'),
                ],
                stop_reason=StopReason.END,
            ),
            Choice(index=1, content=[TextPart(text="second choice is dropped")]),
        ],
        usage=Usage(input_tokens=3, output_tokens=1, cached_tokens=5),
        extra={"system_fingerprint": "fp"},
        source_protocol="openai_chat",
    )
    body = ANTHROPIC.encode_response(response)
    message = anthropic.types.Message.model_validate(body)
    assert message.id == "msg_chatcmpl-9" and message.stop_reason == "tool_use" and message.stop_sequence is None
    assert [b.type for b in message.content] == ["text", "tool_use"]  # images and files have no answer block
    assert body["content"][1]["input"] == {}
    assert body["usage"]["input_tokens"] == 0 and "system_fingerprint" not in body
    empty = ANTHROPIC.encode_response(ChatResponse(id="", model="m", created=1, choices=[]))
    anthropic.types.Message.model_validate(empty)
    assert empty["id"].startswith("msg_") and empty["content"] == []


def test_cross_origin_signatures_survive_an_anthropic_client() -> None:
    """Gemini/Responses reasoning and a Gemini call signature → Anthropic client → its next turn → back."""
    gemini_thought = ReasoningPart(text="Gemini thinks.", signature="R0VNSU5JLXNpZw==", origin="gemini")
    responses_item = ReasoningPart(text="", signature="ENCRYPTED", origin="openai_responses", id="rs_1")
    redacted = ReasoningPart(redacted="OPAQUE", origin="openai_responses")
    unsigned = ReasoningPart(text="DeepSeek thinks.", origin="openai_chat")
    call = ToolCallPart(id="call_g", name="f", arguments='{"x":1}', signature="VFNJRw==", signature_origin="gemini")
    anonymous = ToolCallPart(id="call_h", name="f", arguments="{}", signature="QU5PTg==")
    answer = ChatResponse(
        id="r1",
        model="m",
        created=1,
        choices=[
            Choice(
                content=[gemini_thought, responses_item, redacted, unsigned, TextPart(text="Ok."), call, anonymous],
                stop_reason=StopReason.TOOL_CALLS,
            )
        ],
        source_protocol="gemini",
    )
    body = ANTHROPIC.encode_response(answer)
    message = anthropic.types.Message.model_validate(body)
    signatures = [b["signature"] for b in body["content"] if b["type"] == "thinking"]
    assert signatures[0] == carry.wrap("gemini", "R0VNSU5JLXNpZw==") and "" in signatures
    assert body["content"][2]["data"] != "OPAQUE"
    replay = {
        "model": "m",
        "max_tokens": 100,
        "messages": [
            {"role": "user", "content": "q"},
            message.to_param(),
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "call_g", "content": "1"}]},
        ],
    }
    decoded = ANTHROPIC.decode_request(
        orjson.loads(orjson.dumps(replay, default=lambda m: m.model_dump(exclude_unset=True)))
    )
    assert decoded.messages[1].content == [
        gemini_thought,
        responses_item,
        redacted,
        ReasoningPart(text="DeepSeek thinks."),  # unsigned: no signature, so no origin
        TextPart(text="Ok."),
        call,
        ToolCallPart(id="call_h", name="f", arguments="{}", signature="QU5PTg=="),
    ]
    # Towards an Anthropic upstream, none of it is sent: only the visible text and the calls.
    upstream = ANTHROPIC.encode_request(decoded)
    assert upstream["messages"][1]["content"] == [
        {"type": "text", "text": "Ok."},
        {"type": "tool_use", "id": "call_g", "name": "f", "input": {"x": 1}},
        {"type": "tool_use", "id": "call_h", "name": "f", "input": {}},
    ]


def test_decode_response_rejects_malformed_upstream_answers() -> None:
    body: Any
    for body in ([], {"content": "x"}, {"content": [{"type": 3}]}, {"content": [{"type": "text"}]}):
        with pytest.raises(GatewayError) as info:
            ANTHROPIC.decode_response(body)
        assert info.value.kind is ErrorKind.UPSTREAM
    with pytest.raises(GatewayError) as error:
        ANTHROPIC.decode_response({"type": "error", "error": {"type": "overloaded_error", "message": "busy"}})
    assert error.value.message == "busy"


@pytest.mark.parametrize(
    ("kind", "status", "wire_type", "wire_status"),
    [
        (ErrorKind.INVALID_REQUEST, None, "invalid_request_error", 400),
        (ErrorKind.AUTHENTICATION, None, "authentication_error", 401),
        (ErrorKind.PERMISSION, None, "permission_error", 403),
        (ErrorKind.NOT_FOUND, None, "not_found_error", 404),
        (ErrorKind.REQUEST_TOO_LARGE, None, "request_too_large", 413),
        (ErrorKind.RATE_LIMIT, None, "rate_limit_error", 429),
        (ErrorKind.INSUFFICIENT_QUOTA, None, "billing_error", 429),
        (ErrorKind.UPSTREAM, None, "api_error", 502),
        (ErrorKind.UPSTREAM_TIMEOUT, None, "timeout_error", 504),
        (ErrorKind.OVERLOADED, 503, "overloaded_error", 529),
        (ErrorKind.INTERNAL, None, "api_error", 500),
    ],
)
def test_encode_error(kind: ErrorKind, status: int | None, wire_type: str, wire_status: int) -> None:
    got_status, body = ANTHROPIC.encode_error(GatewayError(kind, "boom", status=status))
    assert got_status == wire_status
    assert orjson.loads(body) == {"type": "error", "error": {"type": wire_type, "message": "boom"}}
    if wire_type != "request_too_large":  # a real Anthropic type (413) the SDK's models do not list
        anthropic.types.ErrorResponse.model_validate(orjson.loads(body))


@pytest.mark.parametrize(
    ("status", "body", "kind", "message"),
    [
        (
            400,
            b'{"type":"error","error":{"type":"invalid_request_error","message":"max_tokens: Field required"},'
            b'"request_id":"r"}',
            ErrorKind.INVALID_REQUEST,
            "max_tokens: Field required",
        ),
        (
            529,
            b'{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}',
            ErrorKind.OVERLOADED,
            "Overloaded",
        ),
        (500, b'{"type":"error","error":{"type":"overloaded_error","message":"busy"}}', ErrorKind.OVERLOADED, "busy"),
        (
            402,
            b'{"type":"error","error":{"type":"billing_error","message":"pay"}}',
            ErrorKind.INSUFFICIENT_QUOTA,
            "pay",
        ),
        (429, b'{"error":{"message":"slow"}}', ErrorKind.RATE_LIMIT, "slow"),
        (502, b"<html>Bad Gateway</html>", ErrorKind.UPSTREAM, "<html>Bad Gateway</html>"),
        (404, b'{"detail": "nope"}', ErrorKind.NOT_FOUND, "nope"),
        (500, b"", ErrorKind.UPSTREAM, "upstream returned HTTP 500"),
        (401, b'["odd"]', ErrorKind.AUTHENTICATION, "upstream returned HTTP 401"),
    ],
)
def test_decode_error(status: int, body: bytes, kind: ErrorKind, message: str) -> None:
    error = ANTHROPIC.decode_error(status, body)
    assert (error.kind, error.status, error.message) == (kind, status, message)


def test_usage_never_negative_and_reasoning_tokens_read() -> None:
    body = ANTHROPIC.encode_response(rich_response(usage=Usage(input_tokens=1, cached_tokens=5, output_tokens=2)))
    assert body["usage"]["input_tokens"] == 0
    decoded = ANTHROPIC.decode_response(
        {
            "content": [],
            "usage": {"input_tokens": "x", "output_tokens": 9, "output_tokens_details": {"thinking_tokens": 4}},
        }
    )
    assert decoded.usage == Usage(input_tokens=0, output_tokens=9, reasoning_tokens=4)


def test_request_reasoning_unused_by_responses() -> None:
    """Sanity: a request's reasoning config does not leak into how answers are encoded."""
    request = ChatRequest(model="m", messages=[Message(role="user")], reasoning=ReasoningConfig(effort="high"))
    assert ANTHROPIC.new_stream_encoder(request) is not None
