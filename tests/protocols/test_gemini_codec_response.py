"""Gemini codec: response decoding and encoding, finish reasons, usage, carried signatures."""

from __future__ import annotations

import base64
from typing import Any

import msgspec
import pytest
from google.genai import types

from omnirouter.ir import (
    ChatResponse,
    Choice,
    ErrorKind,
    GatewayError,
    Message,
    ReasoningPart,
    StopReason,
    TextPart,
    ToolCallPart,
    UnknownPart,
    Usage,
)
from omnirouter.protocols.gemini import GEMINI, usage_from_gemini, usage_to_gemini

SIG = base64.b64encode(b"\x00gemini\xff").decode()


def rich_response() -> ChatResponse:
    return ChatResponse(
        id="resp-1",
        model="gemini-2.5-pro",
        created=0,
        choices=[
            Choice(
                index=0,
                content=[
                    ReasoningPart(text="hmm", signature="c2ln", origin="gemini"),
                    TextPart(text="Calling."),
                    ToolCallPart(id="call_a", name="f", arguments='{"x":1}', signature=SIG, signature_origin="gemini"),
                    ToolCallPart(id="call_b", name="g", arguments='{"y":[true,null]}'),
                ],
                stop_reason=StopReason.TOOL_CALLS,
            ),
            Choice(index=1, content=[TextPart(text="cut")], stop_reason=StopReason.LENGTH),
            Choice(
                index=2,
                content=[
                    ReasoningPart(signature="c2lnMg==", origin="gemini"),
                    TextPart(text="ok"),
                    UnknownPart(
                        protocol="gemini", data={"codeExecutionResult": {"outcome": "OUTCOME_OK", "output": "1"}}
                    ),
                ],
                stop_reason=StopReason.END,
            ),
            Choice(index=3, content=[], stop_reason=StopReason.CONTENT_FILTER),
            Choice(index=4, content=[TextPart(text="?")], stop_reason=StopReason.ERROR),
        ],
        usage=Usage(input_tokens=100, output_tokens=50, cached_tokens=20, reasoning_tokens=10),
        extra={"candidates": [{"safetyRatings": []}, {}, {"citationMetadata": {"citationSources": []}}, {}, {}]},
        source_protocol="gemini",
    )


def sdk_validate(body: dict[str, Any]) -> types.GenerateContentResponse:
    return types.GenerateContentResponse.model_validate(body)


def test_round_trip_rich_response() -> None:
    ir = rich_response()
    body = GEMINI.encode_response(ir)
    sdk_validate(body)
    back = GEMINI.decode_response(body)
    assert msgspec.structs.replace(back, created=0) == ir


def test_encoded_shape() -> None:
    body = GEMINI.encode_response(rich_response())
    first = body["candidates"][0]
    assert first["finishReason"] == "STOP" and first["index"] == 0 and first["safetyRatings"] == []
    assert first["content"]["parts"][2] == {
        "functionCall": {"id": "call_a", "name": "f", "args": {"x": 1}},
        "thoughtSignature": SIG,
    }
    assert [c["finishReason"] for c in body["candidates"]] == ["STOP", "MAX_TOKENS", "STOP", "SAFETY", "OTHER"]
    assert "content" not in body["candidates"][3]
    assert body["usageMetadata"] == {
        "promptTokenCount": 100,
        "candidatesTokenCount": 40,
        "totalTokenCount": 150,
        "cachedContentTokenCount": 20,
        "thoughtsTokenCount": 10,
    }
    assert (body["modelVersion"], body["responseId"]) == ("gemini-2.5-pro", "resp-1")


def test_decode_real_shapes() -> None:
    body = {
        "candidates": [
            {
                "content": {
                    "role": "model",
                    "parts": [
                        {"text": "**Planning**", "thought": True},
                        {"text": "The answer", "thoughtSignature": SIG},
                        {"functionCall": {"name": "lookup", "args": {"q": "x"}}},
                    ],
                },
                "finishReason": "STOP",
                "index": 0,
                "finishMessage": "Model generated function call(s).",
            }
        ],
        "usageMetadata": {
            "promptTokenCount": 83,
            "candidatesTokenCount": 14,
            "totalTokenCount": 210,
            "thoughtsTokenCount": 104,
            "toolUsePromptTokenCount": 9,
            "cachedContentTokenCount": 50,
        },
        "modelVersion": "gemini-2.5-flash",
        "responseId": "qpc2afWV",
    }
    ir = GEMINI.decode_response(body)
    assert (ir.id, ir.model, ir.source_protocol) == ("qpc2afWV", "gemini-2.5-flash", "gemini")
    content = ir.choices[0].content
    assert content[:3] == [
        ReasoningPart(text="**Planning**", origin="gemini"),
        ReasoningPart(signature=SIG, origin="gemini"),
        TextPart(text="The answer"),
    ]
    call = content[3]
    assert isinstance(call, ToolCallPart) and call.name == "lookup" and call.arguments == '{"q":"x"}'
    assert call.id.startswith("call_") and len(call.id) == 29
    assert ir.choices[0].stop_reason is StopReason.TOOL_CALLS
    assert ir.usage == Usage(input_tokens=92, output_tokens=118, cached_tokens=50, reasoning_tokens=104)
    assert ir.extra == {"candidates": [{"finishMessage": "Model generated function call(s)."}]}
    again = GEMINI.decode_response(body).choices[0].content[3]
    assert isinstance(again, ToolCallPart) and again.id != call.id


@pytest.mark.parametrize(
    ("finish", "stop"),
    [
        ("STOP", StopReason.END),
        ("MAX_TOKENS", StopReason.LENGTH),
        ("SAFETY", StopReason.CONTENT_FILTER),
        ("RECITATION", StopReason.CONTENT_FILTER),
        ("PROHIBITED_CONTENT", StopReason.CONTENT_FILTER),
        ("SPII", StopReason.CONTENT_FILTER),
        ("BLOCKLIST", StopReason.CONTENT_FILTER),
        ("MALFORMED_FUNCTION_CALL", StopReason.ERROR),
        ("OTHER", StopReason.ERROR),
        ("LANGUAGE", StopReason.ERROR),
        ("SOMETHING_NEW", StopReason.END),
        (None, StopReason.END),
    ],
)
def test_finish_reasons(finish: str | None, stop: StopReason) -> None:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": [{"text": "x"}]}}
    if finish is not None:
        candidate["finishReason"] = finish
    assert GEMINI.decode_response({"candidates": [candidate]}).choices[0].stop_reason is stop


def test_blocked_prompt() -> None:
    body = {
        "promptFeedback": {"blockReason": "SAFETY", "safetyRatings": []},
        "usageMetadata": {"promptTokenCount": 7, "totalTokenCount": 7},
        "modelVersion": "gemini-2.5-flash",
        "responseId": "blk",
    }
    ir = GEMINI.decode_response(body)
    assert ir.choices == [Choice(index=0, content=[], stop_reason=StopReason.CONTENT_FILTER)]
    assert ir.usage == Usage(input_tokens=7)
    again = GEMINI.encode_response(ir)
    assert "candidates" not in again and again["promptFeedback"] == body["promptFeedback"]
    sdk_validate(again)
    foreign = msgspec.structs.replace(ir, source_protocol="anthropic")
    assert GEMINI.encode_response(foreign)["candidates"] == [{"finishReason": "SAFETY", "index": 0}]


def test_cross_origin_reasoning_round_trips_through_a_gemini_client() -> None:
    """Anthropic thinking → a Gemini client's answer → its next request → Anthropic origin and value again."""
    answer = ChatResponse(
        id="msg_1",
        model="claude-as-gemini",
        created=0,
        choices=[
            Choice(
                content=[
                    ReasoningPart(text="Think first.", signature="EqQBCkYIBxgCKkDa+/x==", origin="anthropic"),
                    ReasoningPart(redacted="EmwKAhgBEgy+/==", origin="anthropic"),
                    TextPart(text="Let me check."),
                    ToolCallPart(id="toolu_01", name="get_weather", arguments='{"city":"Rome"}'),
                ],
                stop_reason=StopReason.TOOL_CALLS,
            )
        ],
        source_protocol="anthropic",
        extra={"stop_sequence": None},
    )
    body = GEMINI.encode_response(answer)
    assert "stop_sequence" not in body
    parsed = sdk_validate(body)
    assert parsed.candidates and parsed.candidates[0].content and parsed.candidates[0].content.parts
    assert parsed.candidates[0].content.parts[0].thought_signature == b"omr1.anthropic.EqQBCkYIBxgCKkDa+/x=="
    replay = {
        "contents": [
            {"role": "user", "parts": [{"text": "weather?"}]},
            body["candidates"][0]["content"],
            {"role": "user", "parts": [{"functionResponse": {"name": "get_weather", "response": {"result": "sunny"}}}]},
        ]
    }
    ir = GEMINI.decode_request(replay)
    assert ir.messages[1] == Message(role="assistant", content=answer.choices[0].content)
    assert ir.messages[2].content[0].call_id == "toolu_01"  # type: ignore[union-attr]
    ir.model = "gemini-2.5-flash"
    upstream = GEMINI.encode_request(ir)["contents"][1]["parts"]
    assert upstream == [
        {"text": "Let me check."},
        {"functionCall": {"id": "toolu_01", "name": "get_weather", "args": {"city": "Rome"}}},
    ]


def test_usage_conversion() -> None:
    meta = {
        "promptTokenCount": 1000,
        "cachedContentTokenCount": 600,
        "candidatesTokenCount": 40,
        "thoughtsTokenCount": 60,
        "toolUsePromptTokenCount": 5,
        "totalTokenCount": 1105,
    }
    usage = usage_from_gemini(meta)
    assert usage == Usage(input_tokens=1005, output_tokens=100, cached_tokens=600, reasoning_tokens=60)
    assert usage.total_tokens == meta["totalTokenCount"]
    assert usage_to_gemini(usage) == {
        "promptTokenCount": 1005,
        "candidatesTokenCount": 40,
        "totalTokenCount": 1105,
        "cachedContentTokenCount": 600,
        "thoughtsTokenCount": 60,
    }
    assert usage_from_gemini({"promptTokenCount": "12", "candidatesTokenCount": None}) == Usage(input_tokens=12)


@pytest.mark.parametrize(
    "body",
    [
        [],
        {},
        {"candidates": "nope"},
        {"candidates": [1]},
        {"candidates": [{"content": {"parts": [{"functionCall": {"args": {}}}]}}]},
        {"candidates": [{"content": {"parts": [{"functionCall": {"name": "f", "args": "x"}}]}}]},
        {"error": {"code": 500, "message": "boom", "status": "INTERNAL"}},
    ],
)
def test_malformed_upstream_answers(body: Any) -> None:
    with pytest.raises(GatewayError) as raised:
        GEMINI.decode_response(body)
    assert raised.value.kind is ErrorKind.UPSTREAM


def test_thought_with_metadata_stays_reasoning_and_empty_candidates_can_be_blocked() -> None:
    part = {"text": "secret plan", "thought": True, "partMetadata": {"k": "v"}}
    ir = GEMINI.decode_response({"candidates": [{"content": {"parts": [part]}, "finishReason": "STOP"}]})
    assert ir.choices[0].content == [ReasoningPart(text="secret plan", origin="gemini")]
    blocked = GEMINI.decode_response({"candidates": [], "promptFeedback": {"blockReason": "OTHER"}})
    assert blocked.choices == [Choice(index=0, content=[], stop_reason=StopReason.CONTENT_FILTER)]


def test_empty_ids_are_left_out() -> None:
    answer = ChatResponse(
        id="r",
        model="m",
        created=0,
        choices=[Choice(content=[ToolCallPart(id="", name="f", arguments="[1]")], stop_reason=StopReason.TOOL_CALLS)],
    )
    parts = GEMINI.encode_response(answer)["candidates"][0]["content"]["parts"]
    assert parts == [{"functionCall": {"name": "f", "args": {}}}]


def test_signed_image_part_keeps_its_signature_in_place() -> None:
    """Image models sign ``inlineData`` parts; a replay puts the signature back on the image."""
    parts = [{"text": "Here:"}, {"inlineData": {"mimeType": "image/png", "data": "iVBOR"}, "thoughtSignature": SIG}]
    ir = GEMINI.decode_response(
        {"candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP"}]}
    )
    assert GEMINI.encode_response(ir)["candidates"][0]["content"]["parts"] == parts
