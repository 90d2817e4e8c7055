"""Gemini codec output consumed by the official google-genai SDK (served through ``httpx2.MockTransport``)."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest
from google.genai import errors, types

from omnirouter.ir import (
    ChatRequest,
    ChatResponse,
    Choice,
    ChoiceEnd,
    ErrorKind,
    GatewayError,
    ImagePart,
    Message,
    ReasoningDelta,
    ReasoningPart,
    StopReason,
    StreamEvent,
    StreamStart,
    TextDelta,
    TextPart,
    ToolCallDelta,
    ToolCallPart,
    ToolCallStart,
    ToolResultPart,
    Usage,
    UsageUpdate,
)
from omnirouter.protocols.carry import wrap_b64
from omnirouter.protocols.gemini import GEMINI
from tests.helpers.gemini_sdk import MODEL, Served, sdk_client, stream_through_sdk

GEMINI_SIG = base64.b64encode(b"gemini-signature-bytes\xff\xfe").decode()


def request(model: str = MODEL) -> ChatRequest:
    return ChatRequest(model=model, messages=[Message(role="user", content=[TextPart(text="hi")])], stream=True)


def encode(events: list[StreamEvent], *, close: Callable[[Any], bytes] | None = None) -> bytes:
    encoder = GEMINI.new_stream_encoder(request())
    body = b"".join(encoder.encode(e) for e in events)
    return body + (close(encoder) if close is not None else encoder.finish())


def parts_of(chunks: list[types.GenerateContentResponse]) -> list[types.Part]:
    return [p for c in chunks if c.candidates and c.candidates[0].content for p in c.candidates[0].content.parts or []]


async def test_text_stream() -> None:
    usage = Usage(input_tokens=12, output_tokens=9, reasoning_tokens=4, cached_tokens=2)
    body = encode(
        [
            StreamStart(id="resp-1", model="upstream"),
            TextDelta(text="Hel"),
            TextDelta(text="lo"),
            UsageUpdate(usage=usage),
            ChoiceEnd(stop_reason=StopReason.END),
        ]
    )
    assert body.startswith(b"data: {") and body.endswith(b"\r\n\r\n")
    chunks = await stream_through_sdk(body)
    assert "".join(c.text or "" for c in chunks) == "Hello"
    assert {c.response_id for c in chunks} == {"resp-1"} and {c.model_version for c in chunks} == {MODEL}
    last = chunks[-1]
    assert last.candidates and last.candidates[0].finish_reason == types.FinishReason.STOP
    assert all(c.candidates and c.candidates[0].finish_reason is None for c in chunks[:-1])
    meta = last.usage_metadata
    assert meta is not None
    assert (meta.prompt_token_count, meta.candidates_token_count, meta.thoughts_token_count) == (12, 5, 4)
    assert (meta.cached_content_token_count, meta.total_token_count) == (2, 21)


async def test_thinking_with_signatures() -> None:
    body = encode(
        [
            StreamStart(id="r", model="m"),
            ReasoningDelta(text="Let me ", origin="anthropic"),
            ReasoningDelta(text="think.", origin="anthropic"),
            ReasoningDelta(signature="EqAnthropicSig==", origin="anthropic"),
            TextDelta(text="Answer"),
            ReasoningDelta(signature=GEMINI_SIG, origin="gemini"),
            TextDelta(text="!"),
            ChoiceEnd(stop_reason=StopReason.END),
        ]
    )
    chunks = await stream_through_sdk(body)
    parts = parts_of(chunks)
    thoughts = [p for p in parts if p.thought]
    assert "".join(p.text or "" for p in thoughts) == "Let me think."
    assert thoughts[-1].thought_signature == b"omr1.anthropic.EqAnthropicSig=="
    assert "".join(c.text or "" for c in chunks) == "Answer!"
    signed_text = [p for p in parts if not p.thought and p.thought_signature]
    assert [(p.text, p.thought_signature) for p in signed_text] == [("!", base64.b64decode(GEMINI_SIG))]


async def test_several_tool_calls_with_fragmented_arguments() -> None:
    body = encode(
        [
            StreamStart(id="r", model="m"),
            TextDelta(text="Checking."),
            ToolCallStart(index=0, id="call_a", name="get_weather", signature=GEMINI_SIG, signature_origin="gemini"),
            ToolCallDelta(index=0, arguments='{"ci'),
            ToolCallStart(index=1, id="call_b", name="get_time"),
            ToolCallDelta(index=0, arguments='ty": "Rome"}'),
            ToolCallDelta(index=1, arguments='{"tz": '),
            ToolCallDelta(index=1, arguments='"CET"}'),
            ToolCallStart(index=2, id="call_c", name="broken"),
            ToolCallDelta(index=2, arguments='{"oops'),
            ChoiceEnd(stop_reason=StopReason.TOOL_CALLS),
            UsageUpdate(usage=Usage(input_tokens=30, output_tokens=20)),
        ]
    )
    chunks = await stream_through_sdk(body)
    calls = [fc for c in chunks for fc in c.function_calls or []]
    assert [(fc.id, fc.name, fc.args) for fc in calls] == [
        ("call_a", "get_weather", {"city": "Rome"}),
        ("call_b", "get_time", {"tz": "CET"}),
        ("call_c", "broken", {}),
    ]
    call_parts = [p for p in parts_of(chunks) if p.function_call]
    assert call_parts[0].thought_signature == base64.b64decode(GEMINI_SIG)
    assert call_parts[1].thought_signature is None
    last = chunks[-1]
    assert last.candidates and last.candidates[0].finish_reason == types.FinishReason.STOP
    assert last.usage_metadata is not None and last.usage_metadata.prompt_token_count == 30


async def test_blocked_prompt() -> None:
    body = encode([StreamStart(id="r", model="m"), ChoiceEnd(stop_reason=StopReason.CONTENT_FILTER)])
    chunks = await stream_through_sdk(body)
    assert len(chunks) == 1
    candidate = chunks[0].candidates[0] if chunks[0].candidates else None
    assert candidate is not None and candidate.finish_reason == types.FinishReason.SAFETY
    assert candidate.content is None and chunks[0].text is None


async def test_error_mid_stream_raises_in_sdk() -> None:
    error = GatewayError(ErrorKind.OVERLOADED, "try later", status=529)
    body = encode([TextDelta(text="partial")], close=lambda enc: enc.error(error))
    served = Served(body)
    client = sdk_client(served)
    seen: list[str] = []
    with pytest.raises(errors.ServerError) as raised:
        async for chunk in await client.aio.models.generate_content_stream(model=MODEL, contents="hi"):
            seen.append(chunk.text or "")
    assert seen == ["partial"]
    assert raised.value.code == 503 and raised.value.status == "UNAVAILABLE" and raised.value.message == "try later"


async def test_encoded_response_through_sdk() -> None:
    response = ChatResponse(
        id="resp-9",
        model="upstream-name",
        created=0,
        choices=[
            Choice(
                content=[
                    ReasoningPart(text="hmm", signature="EqSig", origin="anthropic"),
                    TextPart(text="Sure."),
                    ToolCallPart(id="call_x", name="f", arguments='{"a": [1, 2]}'),
                ],
                stop_reason=StopReason.TOOL_CALLS,
            )
        ],
        usage=Usage(input_tokens=5, output_tokens=7),
    )
    response.model = MODEL
    served = Served(json.dumps(GEMINI.encode_response(response)).encode(), content_type="application/json")
    result = await sdk_client(served).aio.models.generate_content(model=MODEL, contents="hi")
    assert result.text == "Sure." and result.model_version == MODEL and result.response_id == "resp-9"
    assert [(c.id, c.name, c.args) for c in result.function_calls or []] == [("call_x", "f", {"a": [1, 2]})]
    assert result.candidates and result.candidates[0].finish_reason == types.FinishReason.STOP


async def test_chat_history_replays_signatures_and_origins() -> None:
    """A Gemini client's chat keeps what the gateway streamed; its next request decodes back to the origins."""
    first = encode(
        [
            StreamStart(id="r1", model="m"),
            ReasoningDelta(text="plan", origin="anthropic"),
            ReasoningDelta(signature="EqAnthropic+/Sig==", origin="anthropic"),
            ReasoningDelta(redacted="REDACTED+/data", origin="anthropic"),
            ToolCallStart(index=0, id="toolu_01", name="get_weather"),
            ToolCallDelta(index=0, arguments='{"city": "Oslo"}'),
            ToolCallStart(index=1, id="call_g", name="get_time", signature=GEMINI_SIG, signature_origin="gemini"),
            ToolCallDelta(index=1, arguments="{}"),
            ChoiceEnd(stop_reason=StopReason.TOOL_CALLS),
        ]
    )
    second = encode(
        [StreamStart(id="r2", model="m"), TextDelta(text="It is sunny."), ChoiceEnd(stop_reason=StopReason.END)]
    )
    served = Served(first, second)
    chat = sdk_client(served).aio.chats.create(model=MODEL)
    calls = [fc async for chunk in await chat.send_message_stream("weather?") for fc in chunk.function_calls or []]
    assert [c.id for c in calls] == ["toolu_01", "call_g"]
    replies = [
        types.Part.from_function_response(name="get_weather", response={"output": "sunny"}),
        types.Part.from_function_response(name="get_time", response={"output": "noon"}),
    ]
    text = "".join([c.text or "" async for c in await chat.send_message_stream(replies)])
    assert text == "It is sunny."

    replayed = GEMINI.decode_request(served.requests[1]["body"])
    assistant = [m for m in replayed.messages if m.role == "assistant"]
    assert len(assistant) == 1
    assert assistant[0].content == [
        ReasoningPart(text="plan", signature="EqAnthropic+/Sig==", origin="anthropic"),
        ReasoningPart(redacted="REDACTED+/data", origin="anthropic"),
        ToolCallPart(id="toolu_01", name="get_weather", arguments='{"city":"Oslo"}'),
        ToolCallPart(
            id="call_g",
            name="get_time",
            arguments="{}",
            signature=base64.urlsafe_b64encode(base64.b64decode(GEMINI_SIG)).decode(),
            signature_origin="gemini",
        ),
    ]
    tool = replayed.messages[-1]
    assert tool.role == "tool"
    assert tool.content == [
        ToolResultPart(call_id="toolu_01", content=[TextPart(text="sunny")], name="get_weather"),
        ToolResultPart(call_id="call_g", content=[TextPart(text="noon")], name="get_time"),
    ]


def test_wrapped_signature_is_valid_base64_for_the_sdk() -> None:
    part = types.Part.model_validate(
        {"text": "", "thought": True, "thoughtSignature": wrap_b64("anthropic", "a+b/c==")}
    )
    assert part.thought_signature == b"omr1.anthropic.a+b/c=="


async def test_sdk_request_media_is_read_in_the_standard_alphabet() -> None:
    """The SDK sends bytes URL-safe base64 (and ``mime_type`` in snake_case); other providers need standard base64."""
    served = Served(encode([TextDelta(text="ok")]))
    data = bytes([0xFB, 0xFF, 0xFE, 0x3E, 0x3F])
    contents = [types.Part.from_bytes(data=data, mime_type="image/png"), "what is this?"]
    async for _ in await sdk_client(served).aio.models.generate_content_stream(model=MODEL, contents=contents):
        pass
    sent = served.requests[0]["body"]["contents"][0]["parts"][0]["inlineData"]["data"]
    assert "-" in sent or "_" in sent
    ir = GEMINI.decode_request(served.requests[0]["body"])
    assert ir.messages[0].content == [
        ImagePart(data=base64.b64encode(data).decode(), media_type="image/png"),
        TextPart(text="what is this?"),
    ]
