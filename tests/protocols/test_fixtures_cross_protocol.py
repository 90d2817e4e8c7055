"""The recorded real streams, re-encoded for every client protocol: what matters survives.

Each recorded upstream stream (``tests/reference_data/streams``) goes through ``SSEParser`` and its own
protocol's stream decoder into IR events, then through the stream encoder of every protocol (its own
included), as the gateway does for a client of that protocol. The client's bytes are then

1. read by that protocol's official SDK (and, for OpenAI, validated against the OpenAPI description),
   and the SDK's accumulated answer is replayed as the client's next turn (``decode_request``): this is
   where signatures must come back with their value and origin (``protocols/carry.py``);
2. decoded again with that protocol's stream decoder.

What must survive every hop: the answer text, the reasoning text, the tool calls (name and arguments,
compared parsed), the stop class, the final usage and the public model name.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
from google.genai import types as gtypes
from openai.lib.streaming.chat import ChatCompletionStreamState
from openai.types.chat import ChatCompletionChunk

from omnirouter.ir import (
    ChatRequest,
    ChoiceEnd,
    Message,
    ReasoningDelta,
    ReasoningPart,
    StopReason,
    StreamEvent,
    StreamFailure,
    StreamStart,
    TextDelta,
    TextPart,
    ToolCallDelta,
    ToolCallPart,
    ToolCallStart,
    Usage,
    UsageUpdate,
)
from omnirouter.protocols.base import ProtocolName
from omnirouter.protocols.registry import CODECS
from omnirouter.protocols.sse import SSEParser
from tests.helpers.anthropic_messages import final_message, frames
from tests.helpers.gemini_sdk import Served, sdk_client
from tests.helpers.openai_responses import check_stream, sdk_final
from tests.helpers.openapi_schema import validate_openai
from tests.helpers.reference import FIXTURES

PUBLIC_MODEL = "public-model"
TARGETS = [p.value for p in ProtocolName]

# (where, value, origin): where is "reasoning" or "call:<tool name>".
Signature = tuple[str, str, str | None]


def _gemini_call_signature() -> str:
    raw = (FIXTURES / "gemini_stream_sse_functioncall_thoughtsignature.sse").read_text()
    chunk = json.loads(raw.strip().removeprefix("data:"))
    signature: str = chunk["candidates"][0]["content"]["parts"][0]["thoughtSignature"]
    return signature


@dataclass(frozen=True)
class Recorded:
    """A fixture and what its stream says, written out by hand from the file."""

    file: str
    protocol: str
    model: str
    text: str = ""
    reasoning: str = ""
    calls: list[tuple[str, Any]] = field(default_factory=list)
    stop: StopReason = StopReason.END
    usage: Usage = field(default_factory=Usage)
    signatures: list[Signature] = field(default_factory=list)


RECORDED = [
    Recorded(
        file="anthropic_stream_text.sse",
        protocol="anthropic",
        model="claude-3-opus-latest",
        text="Hello there!",
        usage=Usage(input_tokens=11, output_tokens=6),
    ),
    Recorded(
        file="anthropic_stream_tool_use.sse",
        protocol="anthropic",
        model="claude-sonnet-4-20250514",
        text="I'll check the current weather in Paris for you.",
        calls=[("get_weather", {"location": "Paris"})],
        stop=StopReason.TOOL_CALLS,
        usage=Usage(input_tokens=377, output_tokens=65),
    ),
    Recorded(
        file="anthropic_stream_thinking_signature_refusal.sse",
        protocol="anthropic",
        model="claude-fable-5",
        text="Hi",
        reasoning=(
            "Simple educational question about what a solar eclipse is. This is benign general knowledge"
            ' — definitions are fine. Also the user called me "claudius" — I\'m Claude. Minor correction or'
            " just roll with it politely."
        ),
        stop=StopReason.REFUSAL,
        usage=Usage(input_tokens=28, output_tokens=106, reasoning_tokens=67),
        signatures=[("reasoning", "c3ludGhldGljLXNpZ25hdHVyZS1maXh0dXJlLWEtbm90LWEtcmVhbC1zaWduYXR1cmU=", "anthropic")],
    ),
    Recorded(
        file="openai_chat_stream_tool_call_include_usage.sse",
        protocol="openai_chat",
        model="gpt-4o-2024-08-06",
        calls=[("get_weather", {"city": "New York City"})],
        stop=StopReason.TOOL_CALLS,
        usage=Usage(input_tokens=44, output_tokens=16),
    ),
    Recorded(
        file="gemini_stream_sse_functioncall_thoughtsignature.sse",
        protocol="gemini",
        model="gemini-2.5-flash",
        calls=[("getWeather", {"location": "Tokyo"})],
        stop=StopReason.TOOL_CALLS,
        usage=Usage(input_tokens=83, output_tokens=118, reasoning_tokens=104),
        signatures=[("call:getWeather", _gemini_call_signature(), "gemini")],
    ),
]

# Each protocol's own word for the stop, as its client sees it (Responses: the final status).
WIRE_STOP: dict[str, dict[StopReason, str]] = {
    "openai_chat": {StopReason.END: "stop", StopReason.TOOL_CALLS: "tool_calls", StopReason.REFUSAL: "stop"},
    "openai_responses": {
        StopReason.END: "completed",
        StopReason.TOOL_CALLS: "completed",
        StopReason.REFUSAL: "completed",
    },
    "anthropic": {StopReason.END: "end_turn", StopReason.TOOL_CALLS: "tool_use", StopReason.REFUSAL: "refusal"},
    "gemini": {StopReason.END: "STOP", StopReason.TOOL_CALLS: "STOP", StopReason.REFUSAL: "SAFETY"},
}


def expected_stop(target: str, stop: StopReason) -> StopReason:
    """The stop class a target's stream decoder reads back.

    Tool calls stay tool calls everywhere. A refusal is ``refusal`` for Anthropic and ``SAFETY``
    (content filter) for Gemini; OpenAI streams have no refusal marker the encoder could still use
    once the stop reason arrives (the text is already streamed as output): Chat ends with ``stop``
    (REFUSAL's finish reason, docs/protocols/openai_chat.md) and Responses ``completed`` with the
    text as ``output_text`` (docs/protocols/openai_responses.md: "Refusals in streams are sent as
    output_text").
    """
    if stop is StopReason.REFUSAL:
        return {
            "anthropic": StopReason.REFUSAL,
            "gemini": StopReason.CONTENT_FILTER,
            "openai_chat": StopReason.END,
            "openai_responses": StopReason.END,
        }[target]
    return stop


def expected_usage(target: str, usage: Usage) -> Usage:
    """Every target carries input, output, cached and reasoning counts; Gemini has no cache-write count."""
    if target == "gemini":
        return Usage(
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cached_tokens=usage.cached_tokens,
            reasoning_tokens=usage.reasoning_tokens,
        )
    return usage


# ---------------------------------------------------------------- IR side


def decode_stream(protocol: str, raw: bytes) -> list[StreamEvent]:
    parser, decoder = SSEParser(), CODECS[ProtocolName(protocol)].new_stream_decoder()
    events: list[StreamEvent] = []
    for sse in parser.feed(raw) + parser.finish():
        events.extend(decoder.feed(sse))
    return events + decoder.finish()


def encode_stream(protocol: str, events: list[StreamEvent]) -> bytes:
    request = ChatRequest(model=PUBLIC_MODEL, messages=[], include_usage=True)
    encoder = CODECS[ProtocolName(protocol)].new_stream_encoder(request)
    return b"".join(encoder.encode(event) for event in events) + encoder.finish()


@dataclass
class Outcome:
    """What a stream of IR events says, in comparable form."""

    model: str = ""
    text: str = ""
    reasoning: str = ""
    calls: list[tuple[str, Any]] = field(default_factory=list)
    stop: StopReason | None = None
    usage: Usage | None = None
    signatures: list[Signature] = field(default_factory=list)


def outcome(events: list[StreamEvent]) -> Outcome:
    assert not [e for e in events if isinstance(e, StreamFailure)]
    assert isinstance(events[0], StreamStart)
    result = Outcome(model=events[0].model)
    names: dict[int, str] = {}
    arguments: dict[int, list[str]] = {}
    ends = 0
    for event in events:
        if isinstance(event, TextDelta):
            result.text += event.text
        elif isinstance(event, ReasoningDelta):
            result.reasoning += event.text
            if event.signature is not None:
                result.signatures.append(("reasoning", event.signature, event.origin))
        elif isinstance(event, ToolCallStart):
            names[event.index] = event.name
            arguments.setdefault(event.index, [])
            if event.signature is not None:
                result.signatures.append((f"call:{event.name}", event.signature, event.signature_origin))
        elif isinstance(event, ToolCallDelta):
            arguments.setdefault(event.index, []).append(event.arguments)
        elif isinstance(event, ChoiceEnd):
            ends += 1
            result.stop = event.stop_reason
        elif isinstance(event, UsageUpdate):
            result.usage = event.usage
    assert ends == 1
    result.calls = [(names[i], json.loads("".join(arguments[i]) or "{}")) for i in sorted(names)]
    return result


def replayed(message: Message) -> Outcome:
    """The assistant turn a client sent back, in comparable form."""
    result = Outcome()
    for part in message.content:
        if isinstance(part, TextPart):
            result.text += part.text
        elif isinstance(part, ReasoningPart):
            result.reasoning += part.text
            if part.signature is not None:
                result.signatures.append(("reasoning", part.signature, part.origin))
        elif isinstance(part, ToolCallPart):
            result.calls.append((part.name, json.loads(part.arguments)))
            if part.signature is not None:
                result.signatures.append((f"call:{part.name}", part.signature, part.signature_origin))
    return result


# ---------------------------------------------------------------- client side (official SDKs)


@dataclass
class ClientView:
    """What the client's SDK accumulated, and the assistant turn its next request decodes to."""

    model: str
    text: str
    reasoning: str
    calls: list[tuple[str, Any]]
    stop: str
    usage: tuple[int, int, int, int]  # input (incl. cached), output (incl. reasoning), cached, reasoning
    replay: Message


def _chat_client(raw: bytes) -> ClientView:
    events = SSEParser().feed(raw)
    assert events[-1].data == b"[DONE]"
    state = ChatCompletionStreamState()
    for event in events[:-1]:
        chunk = orjson.loads(event.data)
        validate_openai("CreateChatCompletionStreamResponse", chunk)
        state.handle_chunk(ChatCompletionChunk.model_validate(chunk))
    final = state.get_final_completion()
    choice = final.choices[0]
    message = choice.message.model_dump(exclude_none=True)
    calls = message.get("tool_calls", [])
    body = {
        "model": "m",
        "messages": [
            {"role": "user", "content": "q"},
            message,
            *[{"role": "tool", "tool_call_id": c["id"], "content": "ok"} for c in calls],
        ],
    }
    usage = final.usage
    assert usage is not None and usage.prompt_tokens_details and usage.completion_tokens_details
    return ClientView(
        model=final.model,
        text=message.get("content") or "",
        reasoning=message.get("reasoning_content", ""),
        calls=[(c["function"]["name"], json.loads(c["function"]["arguments"])) for c in calls],
        stop=choice.finish_reason,
        usage=(
            usage.prompt_tokens,
            usage.completion_tokens,
            usage.prompt_tokens_details.cached_tokens or 0,
            usage.completion_tokens_details.reasoning_tokens or 0,
        ),
        replay=CODECS[ProtocolName.OPENAI_CHAT].decode_request(body).messages[1],
    )


async def _responses_client(raw: bytes) -> ClientView:
    check_stream(raw)
    _, final = await sdk_final(raw)
    items = [item.model_dump(exclude_none=True) for item in final.output]
    calls = [i for i in items if i["type"] == "function_call"]
    body = {
        "model": "m",
        "input": [
            {"role": "user", "content": "q"},
            *items,
            *[{"type": "function_call_output", "call_id": c["call_id"], "output": "ok"} for c in calls],
        ],
    }
    usage = final.usage
    assert usage is not None
    return ClientView(
        model=final.model,
        text=final.output_text,
        reasoning="".join(s["text"] for i in items if i["type"] == "reasoning" for s in i["summary"]),
        calls=[(c["name"], json.loads(c["arguments"])) for c in calls],
        stop=final.status or "",
        usage=(
            usage.input_tokens,
            usage.output_tokens,
            usage.input_tokens_details.cached_tokens,
            usage.output_tokens_details.reasoning_tokens,
        ),
        replay=CODECS[ProtocolName.OPENAI_RESPONSES].decode_request(body).messages[1],
    )


async def _anthropic_client(raw: bytes) -> ClientView:
    frames(raw)  # event names, block order and indexes
    message = await final_message(raw)
    blocks = [block.model_dump(exclude_none=True) for block in message.content]
    for block in blocks:
        block.pop("citations", None)
    calls = [b for b in blocks if b["type"] == "tool_use"]
    answer: list[dict[str, Any]] = [{"type": "tool_result", "tool_use_id": c["id"], "content": "ok"} for c in calls]
    body = {
        "model": "m",
        "max_tokens": 100,
        "messages": [
            {"role": "user", "content": "q"},
            {"role": "assistant", "content": blocks},
            {"role": "user", "content": answer or "thanks"},
        ],
    }
    usage = message.usage
    cache_read, cache_write = usage.cache_read_input_tokens or 0, usage.cache_creation_input_tokens or 0
    return ClientView(
        model=message.model,
        text="".join(b["text"] for b in blocks if b["type"] == "text"),
        reasoning="".join(b["thinking"] for b in blocks if b["type"] == "thinking"),
        calls=[(c["name"], c["input"]) for c in calls],
        stop=message.stop_reason or "",
        usage=(
            usage.input_tokens + cache_read + cache_write,
            usage.output_tokens,
            cache_read,
            usage.output_tokens_details.thinking_tokens if usage.output_tokens_details else 0,
        ),
        replay=CODECS[ProtocolName.ANTHROPIC].decode_request(body).messages[1],
    )


async def _gemini_client(raw: bytes) -> ClientView:
    for event in SSEParser().feed(raw):
        gtypes.GenerateContentResponse.model_validate(orjson.loads(event.data))
    follow_up = encode_stream("gemini", [TextDelta(text="ok"), ChoiceEnd(stop_reason=StopReason.END)])
    served = Served(raw, follow_up)
    client = sdk_client(served)
    question = gtypes.Content(role="user", parts=[gtypes.Part(text="q")])
    chunks = [c async for c in await client.aio.models.generate_content_stream(model=PUBLIC_MODEL, contents=question)]
    parts = [p for c in chunks for cand in c.candidates or [] if cand.content for p in cand.content.parts or []]
    calls = [p.function_call for p in parts if p.function_call]
    answers = [
        gtypes.Part(function_response=gtypes.FunctionResponse(id=c.id, name=c.name, response={"result": "ok"}))
        for c in calls
    ]
    history = [question, gtypes.Content(role="model", parts=parts), gtypes.Content(role="user", parts=answers)]
    if not answers:
        history[-1] = gtypes.Content(role="user", parts=[gtypes.Part(text="thanks")])
    async for _ in await client.aio.models.generate_content_stream(model=PUBLIC_MODEL, contents=history):
        pass
    replay = CODECS[ProtocolName.GEMINI].decode_request(served.requests[1]["body"])
    finish = [cand.finish_reason for c in chunks for cand in c.candidates or [] if cand.finish_reason]
    assert len(finish) == 1 and chunks[-1].usage_metadata is not None
    meta = chunks[-1].usage_metadata
    thoughts = meta.thoughts_token_count or 0
    return ClientView(
        model=chunks[-1].model_version or "",
        text="".join(p.text or "" for p in parts if not p.thought),
        reasoning="".join(p.text or "" for p in parts if p.thought),
        calls=[(c.name or "", c.args) for c in calls],
        stop=finish[0].value if finish[0] is not None else "",
        usage=(
            meta.prompt_token_count or 0,
            (meta.candidates_token_count or 0) + thoughts,
            meta.cached_content_token_count or 0,
            thoughts,
        ),
        replay=next(m for m in replay.messages if m.role == "assistant"),
    )


async def client_view(target: str, raw: bytes) -> ClientView:
    if target == "openai_chat":
        return _chat_client(raw)
    if target == "openai_responses":
        return await _responses_client(raw)
    if target == "anthropic":
        return await _anthropic_client(raw)
    return await _gemini_client(raw)


def as_replayed(target: str, signature: Signature) -> Signature:
    """A signature as the client sends it back: the google-genai SDK re-encodes Gemini's own bytes URL-safe."""
    where, value, origin = signature
    if target == "gemini" and origin == "gemini":
        return where, value.replace("+", "-").replace("/", "_"), origin
    return signature


def still_carried(target: str, original: str, decoded: str) -> bool:
    """Whether an opaque value read back by a target's stream decoder still holds a foreign signature."""
    if target == "gemini":
        return original in base64.b64decode(decoded).decode()
    return original in decoded


# ---------------------------------------------------------------- the tests


@pytest.mark.parametrize("recorded", RECORDED, ids=[r.file.removesuffix(".sse") for r in RECORDED])
def test_fixture_decodes_to_what_it_says(recorded: Recorded) -> None:
    source = outcome(decode_stream(recorded.protocol, (FIXTURES / recorded.file).read_bytes()))
    assert source == Outcome(
        model=recorded.model,
        text=recorded.text,
        reasoning=recorded.reasoning,
        calls=recorded.calls,
        stop=recorded.stop,
        usage=recorded.usage,
        signatures=recorded.signatures,
    )


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("recorded", RECORDED, ids=[r.file.removesuffix(".sse") for r in RECORDED])
async def test_fixture_reencoded_for_every_client(recorded: Recorded, target: str) -> None:
    events = decode_stream(recorded.protocol, (FIXTURES / recorded.file).read_bytes())
    raw = encode_stream(target, events)
    stop = expected_stop(target, recorded.stop)
    usage = expected_usage(target, recorded.usage)

    # The client's SDK reads the stream; its next turn gives back what it got, signatures included.
    view = await client_view(target, raw)
    assert view.model == PUBLIC_MODEL
    assert (view.text, view.reasoning, view.calls) == (recorded.text, recorded.reasoning, recorded.calls)
    assert view.stop == WIRE_STOP[target][recorded.stop]
    assert view.usage == (usage.input_tokens, usage.output_tokens, usage.cached_tokens, usage.reasoning_tokens)
    back = replayed(view.replay)
    assert (back.text, back.reasoning, back.calls) == (recorded.text, recorded.reasoning, recorded.calls)
    assert back.signatures == [as_replayed(target, s) for s in recorded.signatures]

    # The same bytes through the target's own stream decoder.
    decoded = outcome(decode_stream(target, raw))
    assert decoded.model == PUBLIC_MODEL
    assert (decoded.text, decoded.reasoning, decoded.calls) == (recorded.text, recorded.reasoning, recorded.calls)
    assert decoded.stop is stop
    assert decoded.usage == usage
    if target in ("openai_chat", "openai_responses"):
        # These decoders read carried values back (they share the code that reads a client's turn).
        assert decoded.signatures == recorded.signatures
    else:
        # Anthropic and Gemini stream decoders read upstream data: every value is taken as their own,
        # a foreign one still wrapped (``omr1.<origin>.…``) around the original.
        assert len(decoded.signatures) == len(recorded.signatures)
        for (where, value, origin), (o_where, o_value, o_origin) in zip(
            decoded.signatures, recorded.signatures, strict=True
        ):
            if o_origin == target:
                assert (where, value, origin) == (o_where, o_value, o_origin)
            else:
                assert origin == target and value != o_value and still_carried(target, o_value, value)
