"""Signatures of other providers survive a round trip through an OpenAI Chat client, and never reach
an OpenAI-compatible upstream."""

from __future__ import annotations

import orjson

from omnirouter.ir import ChatRequest, ChatResponse, Choice, Message, ReasoningPart, StopReason, TextPart, ToolCallPart
from omnirouter.protocols.openai_chat import OPENAI_CHAT

FOREIGN_REASONING = ReasoningPart(text="let me think", signature="ANTHROPIC-SIG", origin="anthropic")
FOREIGN_CALL = ToolCallPart(
    id="call_1", name="get_weather", arguments='{"city":"Oslo"}', signature="R0VNSU5J", signature_origin="gemini"
)


def test_foreign_signatures_round_trip_through_a_client() -> None:
    answer = ChatResponse(
        id="x",
        model="m",
        created=1,
        choices=[Choice(content=[FOREIGN_REASONING, FOREIGN_CALL], stop_reason=StopReason.TOOL_CALLS)],
    )
    message = OPENAI_CHAT.encode_response(answer)["choices"][0]["message"]
    assert message["thinking_blocks"][0]["signature"] != "ANTHROPIC-SIG"  # wrapped, not passed as OpenAI's own
    # The client sends the assistant message back as it got it, with the tool's answer.
    replay = orjson.loads(orjson.dumps({"model": "m", "messages": [{"role": "user", "content": "hi"}, message]}))
    decoded = OPENAI_CHAT.decode_request(replay)
    parts = decoded.messages[1].content
    reasoning = next(p for p in parts if isinstance(p, ReasoningPart))
    call = next(p for p in parts if isinstance(p, ToolCallPart))
    assert (reasoning.origin, reasoning.signature, reasoning.text) == ("anthropic", "ANTHROPIC-SIG", "let me think")
    assert (call.signature_origin, call.signature) == ("gemini", "R0VNSU5J")


def test_foreign_reasoning_and_signatures_are_dropped_towards_an_openai_upstream() -> None:
    own = ReasoningPart(text="own thoughts", origin="openai_chat")
    request = ChatRequest(
        model="m",
        messages=[
            Message(role="user", content=[TextPart(text="hi")]),
            Message(role="assistant", content=[FOREIGN_REASONING, own, FOREIGN_CALL]),
        ],
    )
    body = OPENAI_CHAT.encode_request(request)
    assistant = body["messages"][1]
    assert assistant["reasoning_content"] == "own thoughts"
    assert "thinking_blocks" not in assistant
    assert "extra_content" not in assistant["tool_calls"][0]
