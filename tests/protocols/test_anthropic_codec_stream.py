"""Anthropic codec: stream decoding (recorded streams) and stream encoding (checked by the official SDK)."""

from __future__ import annotations

import random
import typing
from typing import Any

import anthropic
import orjson
import pytest

from omnirouter.ir import (
    ChatRequest,
    ChoiceEnd,
    ErrorKind,
    GatewayError,
    Message,
    ReasoningDelta,
    StopReason,
    StreamEvent,
    StreamFailure,
    StreamStart,
    TextDelta,
    TextPart,
    ToolCallDelta,
    ToolCallStart,
    Usage,
    UsageUpdate,
)
from omnirouter.protocols import carry
from omnirouter.protocols.anthropic import ANTHROPIC, ping
from omnirouter.protocols.sse import SSEEvent, SSEParser
from tests.helpers.anthropic_messages import final_message, frames, raw_events
from tests.helpers.fuzz import mutate
from tests.helpers.reference import FIXTURES

TEXT = FIXTURES / "anthropic_stream_text.sse"
TOOL = FIXTURES / "anthropic_stream_tool_use.sse"
THINKING = FIXTURES / "anthropic_stream_thinking_signature_refusal.sse"


def decode_bytes(raw: bytes, split: int = 0) -> list[StreamEvent]:
    """Run raw SSE bytes through SSEParser and a fresh decoder (optionally in ``split``-byte reads)."""
    parser, decoder = SSEParser(), ANTHROPIC.new_stream_decoder()
    reads = [raw[i : i + split] for i in range(0, len(raw), split)] if split else [raw]
    events: list[StreamEvent] = []
    for read in reads:
        for sse in parser.feed(read):
            events.extend(decoder.feed(sse))
    for sse in parser.finish():
        events.extend(decoder.feed(sse))
    return events + decoder.finish()


def request(model: str = "public-model") -> ChatRequest:
    return ChatRequest(model=model, messages=[Message(role="user", content=[TextPart(text="hi")])], stream=True)


def encode_events(events: list[StreamEvent]) -> bytes:
    encoder = ANTHROPIC.new_stream_encoder(request())
    return b"".join(encoder.encode(e) for e in events) + encoder.finish()


@pytest.mark.parametrize("split", [0, 1, 7])
def test_decode_text_fixture(split: int) -> None:
    events = decode_bytes(TEXT.read_bytes(), split)
    assert events == [
        StreamStart(id="msg_4QpJur2dWWDjF6C758FbBw5vm12BaVipnK", model="claude-3-opus-latest"),
        UsageUpdate(usage=Usage(input_tokens=11, output_tokens=1)),
        TextDelta(text="Hello"),
        TextDelta(text=" there"),
        TextDelta(text="!"),
        ChoiceEnd(stop_reason=StopReason.END),
        UsageUpdate(usage=Usage(input_tokens=11, output_tokens=6)),
    ]


@pytest.mark.parametrize("split", [0, 1, 7])
def test_decode_tool_use_fixture(split: int) -> None:
    events = decode_bytes(TOOL.read_bytes(), split)
    assert events[0] == StreamStart(id="msg_019Q1hrJbZG26Fb9BQhrkHEr", model="claude-sonnet-4-20250514")
    assert ToolCallStart(index=0, id="toolu_01NRLabsLyVHZPKxbKvkfSMn", name="get_weather") in events
    deltas = [e for e in events if isinstance(e, ToolCallDelta)]
    assert {d.index for d in deltas} == {0} and len(deltas) == 4
    assert "".join(d.arguments for d in deltas) == '{"location": "Paris"}'
    assert events[-2:] == [
        ChoiceEnd(stop_reason=StopReason.TOOL_CALLS),
        UsageUpdate(usage=Usage(input_tokens=377, output_tokens=65)),  # replaced, not 1 + 65
    ]


@pytest.mark.parametrize("split", [0, 1, 7])
def test_decode_thinking_signature_refusal_fixture(split: int) -> None:
    events = decode_bytes(THINKING.read_bytes(), split)
    signature = "c3ludGhldGljLXNpZ25hdHVyZS1maXh0dXJlLWEtbm90LWEtcmVhbC1zaWduYXR1cmU="
    reasoning = [e for e in events if isinstance(e, ReasoningDelta)]
    assert "".join(r.text for r in reasoning).startswith("Simple educational question")
    assert reasoning[-1] == ReasoningDelta(signature=signature, origin="anthropic")
    assert [e for e in events if isinstance(e, TextDelta)] == [TextDelta(text="Hi")]
    assert events[-2:] == [
        ChoiceEnd(stop_reason=StopReason.REFUSAL),
        UsageUpdate(usage=Usage(input_tokens=28, output_tokens=106, reasoning_tokens=67)),
    ]


async def test_fixtures_reencoded_for_the_sdk() -> None:
    text = await final_message(encode_events(decode_bytes(TEXT.read_bytes())))
    assert text.model == "public-model" and text.id == "msg_4QpJur2dWWDjF6C758FbBw5vm12BaVipnK"
    assert [b.text for b in text.content if b.type == "text"] == ["Hello there!"]
    assert (text.usage.input_tokens, text.usage.output_tokens, text.stop_reason) == (11, 6, "end_turn")
    tool = await final_message(encode_events(decode_bytes(TOOL.read_bytes())))
    use = tool.content[1]
    assert use.type == "tool_use" and use.input == {"location": "Paris"} and tool.stop_reason == "tool_use"
    thinking = await final_message(encode_events(decode_bytes(THINKING.read_bytes())))
    block = thinking.content[0]
    assert block.type == "thinking" and block.signature.startswith("c3ludGhld")
    assert thinking.stop_reason == "refusal" and thinking.usage.output_tokens == 106


async def test_thinking_text_and_fragmented_parallel_calls() -> None:
    events: list[StreamEvent] = [
        StreamStart(id="chatcmpl-1", model="upstream-name"),
        UsageUpdate(usage=Usage(input_tokens=50, cached_tokens=30, cache_write_tokens=5)),
        ReasoningDelta(text="Let me "),
        ReasoningDelta(text="think."),
        ReasoningDelta(signature="SIG", origin="anthropic"),
        TextDelta(text="Calling three tools."),
        ToolCallStart(index=0, id="call_a", name="read"),
        ToolCallDelta(index=0, arguments='{"pa'),
        ToolCallDelta(index=0, arguments='th": "/a"}'),
        ToolCallStart(index=1, id="call_b", name="read"),
        ToolCallDelta(index=1, arguments='{"path": '),
        ToolCallStart(index=2, id="call_c", name="ls"),  # calls interleave: b is not complete yet
        ToolCallDelta(index=2, arguments="{}"),
        ToolCallDelta(index=1, arguments='"/b"}'),
        ToolCallStart(index=3, id="call_d", name="noargs"),
        ChoiceEnd(stop_reason=StopReason.END),  # upstream said STOP after tool calls
        UsageUpdate(usage=Usage(input_tokens=50, output_tokens=70, cached_tokens=30, cache_write_tokens=5)),
    ]
    raw = encode_events(events)
    data = frames(raw)
    assert data[0]["message"]["id"] == "msg_chatcmpl-1" and data[0]["message"]["model"] == "public-model"
    assert data[0]["message"]["usage"]["input_tokens"] == 15  # 50 - 30 cached - 5 written
    message = await final_message(raw)
    assert [b.type for b in message.content] == ["thinking", "text", "tool_use", "tool_use", "tool_use", "tool_use"]
    inputs = [(b.id, b.input) for b in message.content if b.type == "tool_use"]
    assert inputs == [("call_a", {"path": "/a"}), ("call_b", {"path": "/b"}), ("call_c", {}), ("call_d", {})]
    assert message.content[0].type == "thinking" and message.content[0].signature == "SIG"
    assert message.stop_reason == "tool_use"
    usage = message.usage
    assert (usage.input_tokens, usage.cache_read_input_tokens, usage.cache_creation_input_tokens) == (15, 30, 5)
    assert usage.output_tokens == 70
    kinds = [e.type for e in await raw_events(raw)]
    assert kinds[0] == "message_start" and kinds[-2:] == ["message_delta", "message_stop"]
    assert kinds.count("content_block_start") == kinds.count("content_block_stop") == 6


SEQUENTIAL: list[StreamEvent] = [
    StreamStart(id="x", model="m"),
    ToolCallStart(index=0, id="a", name="f"),
    ToolCallDelta(index=0, arguments='{"x":'),
    ToolCallDelta(index=0, arguments="1}"),
    ToolCallStart(index=1, id="b", name="g"),
    ToolCallDelta(index=5, arguments='{"y":2}'),  # a fragment for a call that never started
]


def test_sequential_calls_stream_live() -> None:
    encoder = ANTHROPIC.new_stream_encoder(request())
    encoder.encode(SEQUENTIAL[0])
    assert b'"id":"a"' in encoder.encode(SEQUENTIAL[1])
    assert b"input_json_delta" in encoder.encode(SEQUENTIAL[2])
    assert b"input_json_delta" in encoder.encode(SEQUENTIAL[3])
    second = encoder.encode(SEQUENTIAL[4])
    assert b"content_block_stop" in second and b'"id":"b"' in second  # a's arguments were complete


async def test_calls_without_start_and_late_fragments_are_not_dropped() -> None:
    message = await final_message(encode_events(SEQUENTIAL))
    uses = [(b.id, b.name, b.input) for b in message.content if b.type == "tool_use"]
    assert uses[:2] == [("a", "f", {"x": 1}), ("b", "g", {})]
    assert uses[2][1:] == ("", {"y": 2}) and uses[2][0].startswith("toolu_")
    late = encode_events(
        [
            ToolCallStart(index=0, id="a", name="f"),
            ToolCallDelta(index=0, arguments='{"x":'),
            TextDelta(text="text closes the call"),
            ToolCallDelta(index=0, arguments="1}"),
        ]
    )
    assert (await final_message(late)).content[0].input == {"x": 1}  # type: ignore[union-attr]


async def test_unsigned_foreign_and_redacted_reasoning() -> None:
    events: list[StreamEvent] = [
        StreamStart(id="r", model="m"),
        ReasoningDelta(text="deepseek thoughts", origin="openai_chat"),
        TextDelta(text="Answer"),
        ReasoningDelta(text="gemini thought"),
        ReasoningDelta(signature="R0VN", origin="gemini"),
        ReasoningDelta(redacted="OPAQUE", origin="anthropic"),
        ReasoningDelta(redacted="ENC", origin="openai_responses"),
        ReasoningDelta(signature="LONE", origin="anthropic"),
        ToolCallStart(index=0, id="c", name="f", signature="VFNJRw==", signature_origin="gemini"),
        ToolCallDelta(index=0, arguments="{}"),
        TextDelta(text="second", choice=1),  # other choices are not encoded
        ChoiceEnd(stop_reason=StopReason.TOOL_CALLS),
        TextDelta(text="after the end"),
    ]
    raw = encode_events(events)
    frames(raw)
    message = await final_message(raw)
    blocks = [b.model_dump(exclude_none=True) for b in message.content]
    assert blocks == [
        {"type": "thinking", "thinking": "deepseek thoughts", "signature": ""},
        {"type": "text", "text": "Answer"},
        {"type": "thinking", "thinking": "gemini thought", "signature": carry.wrap("gemini", "R0VN")},
        {"type": "redacted_thinking", "data": "OPAQUE"},
        {"type": "redacted_thinking", "data": carry.wrap("openai_responses", "ENC")},
        {"type": "thinking", "thinking": "", "signature": "LONE"},
        {"type": "thinking", "thinking": "", "signature": carry.wrap("gemini", "call:VFNJRw==")},
        {"type": "tool_use", "id": "c", "name": "f", "input": {}},
    ]
    body = {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "q"}, message.to_param()]}
    replay = ANTHROPIC.decode_request(
        orjson.loads(orjson.dumps(body, default=lambda m: m.model_dump(exclude_unset=True)))
    )
    call = replay.messages[1].content[-1]
    assert call.signature == "VFNJRw==" and call.signature_origin == "gemini"  # type: ignore[union-attr]


async def test_refusal_and_empty_streams() -> None:
    refusal = encode_events([TextDelta(text="I can't"), ChoiceEnd(stop_reason=StopReason.REFUSAL)])
    message = await final_message(refusal)
    assert message.stop_reason == "refusal" and message.content[0].text == "I can't"  # type: ignore[union-attr]
    empty = await final_message(encode_events([]))
    assert empty.content == [] and empty.stop_reason == "end_turn" and empty.id.startswith("msg_")
    length = await final_message(
        encode_events([ToolCallStart(index=0, id="t", name="f"), ChoiceEnd(stop_reason=StopReason.LENGTH)])
    )
    assert length.stop_reason == "max_tokens"


@pytest.mark.parametrize("via_event", [True, False])
async def test_encoder_errors(via_event: bool) -> None:
    encoder = ANTHROPIC.new_stream_encoder(request())
    out = encoder.encode(StreamStart(id="x", model="m")) + encoder.encode(TextDelta(text="par"))
    if via_event:
        out += encoder.encode(StreamFailure(kind=ErrorKind.OVERLOADED, message="busy", status=503))
    else:
        out += encoder.error(GatewayError(ErrorKind.OVERLOADED, "busy"))
    out += (
        encoder.finish() + encoder.encode(TextDelta(text="more")) + encoder.error(GatewayError(ErrorKind.INTERNAL, "x"))
    )
    last = SSEParser().feed(out)[-1]
    assert last.event == "error"
    assert orjson.loads(last.data) == {"type": "error", "error": {"type": "overloaded_error", "message": "busy"}}
    with pytest.raises(anthropic.APIStatusError) as info:
        await raw_events(out)
    assert "busy" in str(info.value)


def test_ping() -> None:
    assert ping() == b'event: ping\ndata: {"type": "ping"}\n\n'
    assert ANTHROPIC.new_stream_encoder(request()).ping() == ping()  # type: ignore[attr-defined]
    assert frames(ping()) == [{"type": "ping"}]


def _sse(payload: Any, event: str | None = None) -> SSEEvent:
    data = payload if isinstance(payload, bytes) else orjson.dumps(payload)
    return SSEEvent(data=data, event=event)


def _feed(items: list[SSEEvent]) -> list[StreamEvent]:
    decoder = ANTHROPIC.new_stream_decoder()
    out: list[StreamEvent] = []
    for item in items:
        out.extend(decoder.feed(item))
    return out + decoder.finish()


START = {"type": "message_start", "message": {"id": "msg_1", "model": "c", "usage": {"input_tokens": 3}}}


def test_decoder_failures_and_quirks() -> None:
    overloaded = _feed(
        [_sse(START), _sse({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}, "error")]
    )
    assert overloaded[-1] == StreamFailure(kind=ErrorKind.OVERLOADED, message="Overloaded", status=529)
    bad = _feed([_sse(START), _sse(b"{not json"), _sse({"type": "message_stop"})])
    assert isinstance(bad[-1], StreamFailure) and bad[-1].status == 502 and len(bad) == 3
    cut = _feed([_sse(START), _sse({"type": "content_block_start", "index": 0, "content_block": {"type": "text"}})])
    assert isinstance(cut[-1], StreamFailure) and "before it was complete" in cut[-1].message
    assert isinstance(_feed([])[-1], StreamFailure)
    quirks = _feed(
        [
            _sse(START),  # no event: lines at all
            _sse({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": "pre"}}),
            _sse(
                {
                    "type": "content_block_start",
                    "index": 1,
                    "content_block": {"type": "tool_use", "id": "t", "name": "f", "input": {"a": 1}},
                }
            ),
            _sse({"type": "content_block_stop", "index": 1}),
            _sse({"type": "content_block_start", "index": 2, "content_block": {"type": "server_tool_use", "id": "s"}}),
            _sse(
                {"type": "content_block_delta", "index": 2, "delta": {"type": "input_json_delta", "partial_json": "{}"}}
            ),
            _sse({"type": "message_delta", "delta": {}, "usage": {"output_tokens": 4, "cache_read_input_tokens": 10}}),
            _sse({"type": "message_stop"}),
        ]
    )
    assert quirks[2:] == [
        TextDelta(text="pre"),
        ToolCallStart(index=0, id="t", name="f"),
        ToolCallDelta(index=0, arguments='{"a":1}'),
        UsageUpdate(usage=Usage(input_tokens=13, output_tokens=4, cached_tokens=10)),
        ChoiceEnd(stop_reason=StopReason.TOOL_CALLS),
    ]


def test_decoder_never_raises_on_garbage() -> None:
    rng = random.Random(11)
    pieces: list[Any] = [None, 1, "x", [], {}, [1], {"type": "text"}, {"index": "a"}, True, -1]
    seeds = [orjson.loads(e.data) for f in (TEXT, TOOL, THINKING) for e in SSEParser().feed(f.read_bytes())]
    for _ in range(300):
        decoder = ANTHROPIC.new_stream_decoder()
        for seed in seeds:
            text = orjson.dumps(seed)
            mutated = mutate(orjson.loads(text), rng, pieces, 0.04)
            data = orjson.dumps(mutated) if rng.random() > 0.02 else text[: rng.randrange(len(text))]
            for event in decoder.feed(SSEEvent(data=data, event=rng.choice([None, "error", "message_start"]))):
                assert isinstance(event, typing.get_args(StreamEvent))
        decoder.finish()


def test_random_ir_sequences_give_legal_streams() -> None:
    """Any sequence of IR events (in any order) encodes to a stream the SDK's accumulator takes."""
    from anthropic.lib.streaming._messages import accumulate_event

    rng = random.Random(5)
    pool: list[StreamEvent] = [
        StreamStart(id="s", model="m"),
        TextDelta(text="t"),
        TextDelta(text=""),
        ReasoningDelta(text="r"),
        ReasoningDelta(signature="S", origin="anthropic"),
        ReasoningDelta(signature="G", origin="gemini"),
        ReasoningDelta(redacted="D", origin="anthropic"),
        ToolCallDelta(index=0, arguments='{"a":'),
        ToolCallDelta(index=0, arguments="1}"),
        ToolCallDelta(index=1, arguments="{}"),
        ToolCallDelta(index=2, arguments="["),
        ChoiceEnd(stop_reason=StopReason.END),
        UsageUpdate(usage=Usage(input_tokens=4, output_tokens=2)),
        TextDelta(text="x", choice=1),
    ]
    for _ in range(400):
        events: list[StreamEvent] = []
        for k in range(rng.randrange(12)):
            if rng.random() < 0.2:
                events.append(
                    ToolCallStart(index=rng.randrange(3), id=f"c{k}", name="f", signature=rng.choice([None, "X"]))
                )
            else:
                events.append(rng.choice(pool))
        data = frames(encode_events(events))
        assert data[0]["type"] == "message_start" and [d["type"] for d in data[-2:]] == [
            "message_delta",
            "message_stop",
        ]
        snapshot = None
        buffers: dict[int, bytes] = {}
        for item in data:
            if item["type"] != "content_block_delta" or item["delta"]["type"] != "input_json_delta":
                snapshot = accumulate_event(event=item, current_snapshot=snapshot, json_bufs={})  # type: ignore[arg-type]
            else:
                buffers[item["index"]] = buffers.get(item["index"], b"") + item["delta"]["partial_json"].encode()
        assert snapshot is not None and snapshot.stop_reason is not None


CALL_ARGS: list[list[str]] = [['{"a":', "1}"], ["{}"], ['{"b": [1,', " 2]", "}"], []]


async def test_random_interleavings_lose_no_arguments() -> None:
    """Calls, fragments, text and reasoning interleaved at random: every call arrives whole, in start order."""
    rng = random.Random(9)
    for _ in range(60):
        calls = rng.randrange(1, 5)
        queues: list[list[StreamEvent]] = []
        for c in range(calls):
            fragments = rng.choice(CALL_ARGS)
            events: list[StreamEvent] = [ToolCallStart(index=c, id=f"call_{c}", name="f")]
            events += [ToolCallDelta(index=c, arguments=f) for f in fragments]
            queues.append(events)
        queues.append([TextDelta(text="t"), ReasoningDelta(text="r"), TextDelta(text="u")])
        merged: list[StreamEvent] = []
        started = 0
        while any(queues):
            ready = [q for k, q in enumerate(queues) if q and (k <= started or k == len(queues) - 1)]
            queue = rng.choice(ready)
            event = queue.pop(0)
            if isinstance(event, ToolCallStart):
                started = event.index + 1
            merged.append(event)
        message = await final_message(encode_events(merged))
        uses = [b for b in message.content if b.type == "tool_use"]
        assert [u.id for u in uses] == [f"call_{c}" for c in range(calls)]
        for use in uses:
            joined = "".join(
                e.arguments for e in merged if isinstance(e, ToolCallDelta) and f"call_{e.index}" == use.id
            )
            assert use.input == (orjson.loads(joined) if joined else {})


def test_a_lone_signature_after_the_answer_does_not_split_it() -> None:
    """Gemini signs its last text part; an Anthropic client must still see one text block, last."""
    from omnirouter.ir import ChatRequest, ChoiceEnd, ReasoningDelta, StopReason, StreamStart, TextDelta
    from omnirouter.protocols.anthropic import ANTHROPIC
    from omnirouter.protocols.sse import SSEParser

    encoder = ANTHROPIC.new_stream_encoder(ChatRequest(model="m", messages=[]))
    out = b"".join(
        encoder.encode(event)
        for event in [
            StreamStart(id="x", model="m"),
            TextDelta(text="Echo: say"),
            ReasoningDelta(signature="R0VN", origin="gemini"),
            TextDelta(text=" hello"),
            ReasoningDelta(signature="R0VNMg", origin="gemini"),
            ChoiceEnd(stop_reason=StopReason.END),
        ]
    )
    out += encoder.finish()
    starts = [
        orjson.loads(e.data)["content_block"]["type"] for e in SSEParser().feed(out) if e.event == "content_block_start"
    ]
    assert starts == ["text"]
