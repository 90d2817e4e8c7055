"""Gemini codec: stream decoding (recorded, mock and quirky upstreams) and stream encoding (SSE and JSON array)."""

from __future__ import annotations

import json
import random
from typing import Any

import aiohttp
import msgspec
import orjson

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
from omnirouter.mock_upstream import MockUpstream
from omnirouter.protocols.gemini import GEMINI, GEMINI_JSON_ARRAY
from omnirouter.protocols.sse import SSEParser
from tests.helpers.reference import FIXTURES

FIXTURE = FIXTURES / "gemini_stream_sse_functioncall_thoughtsignature.sse"


def decode_bytes(raw: bytes, split: int = 0) -> list[StreamEvent]:
    """Run raw SSE bytes through SSEParser and a fresh decoder (optionally in ``split``-byte reads)."""
    parser, decoder = SSEParser(), GEMINI.new_stream_decoder()
    reads = [raw[i : i + split] for i in range(0, len(raw), split)] if split else [raw]
    events: list[StreamEvent] = []
    for read in reads:
        for sse in parser.feed(read):
            events.extend(decoder.feed(sse))
    for sse in parser.finish():
        events.extend(decoder.feed(sse))
    return events + decoder.finish()


def without_ids(events: list[StreamEvent]) -> list[StreamEvent]:
    """Events with generated call ids and start times blanked out."""
    out: list[StreamEvent] = []
    for event in events:
        if isinstance(event, ToolCallStart):
            event = msgspec.structs.replace(event, id="")
        elif isinstance(event, StreamStart):
            event = msgspec.structs.replace(event, created=0)
        out.append(event)
    return out


def sse(*chunks: dict[str, Any]) -> bytes:
    return b"".join(b"data: " + orjson.dumps(c) + b"\r\n\r\n" for c in chunks)


def chunk(parts: list[dict[str, Any]], finish: str | None = None, **top: Any) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
    if finish is not None:
        candidate["finishReason"] = finish
    return {"candidates": [candidate], "modelVersion": "gemini-2.5-flash", "responseId": "rid", **top}


def test_recorded_fixture_whole_and_byte_by_byte() -> None:
    raw = FIXTURE.read_bytes()
    whole = decode_bytes(raw)
    assert without_ids(decode_bytes(raw, split=1)) == without_ids(whole)
    start, call, delta, usage, end = whole
    assert isinstance(start, StreamStart) and (start.id, start.model) == ("qpc2afWVFJK4vr0Pq6WiyAU", "gemini-2.5-flash")
    recorded = json.loads(raw.split(b"data: ", 1)[1])
    signature = recorded["candidates"][0]["content"]["parts"][0]["thoughtSignature"]
    assert isinstance(call, ToolCallStart) and (call.index, call.name) == (0, "getWeather")
    assert call.signature == signature and call.signature_origin == "gemini" and call.id.startswith("call_")
    assert delta == ToolCallDelta(index=0, arguments='{"location":"Tokyo"}')
    assert usage == UsageUpdate(usage=Usage(input_tokens=83, output_tokens=118, reasoning_tokens=104))
    assert end == ChoiceEnd(stop_reason=StopReason.TOOL_CALLS)


def test_thoughts_text_signature_and_late_stop() -> None:
    raw = sse(
        chunk([{"text": "Pondering", "thought": True}], usageMetadata={"promptTokenCount": 5, "thoughtsTokenCount": 3}),
        chunk([{"text": "Hi "}], usageMetadata={"promptTokenCount": 5, "thoughtsTokenCount": 3}),
        chunk([{"text": "there", "thoughtSignature": "U0lH"}]),
        chunk([{"functionCall": {"id": "fc1", "name": "f", "args": {"a": 1}}}, {"functionCall": {"name": "g"}}]),
        chunk(
            [{"text": ""}],
            "STOP",
            usageMetadata={"promptTokenCount": 5, "candidatesTokenCount": 4, "thoughtsTokenCount": 3},
        ),
    )
    events = decode_bytes(raw)
    assert events[1:] == [
        ReasoningDelta(text="Pondering", origin="gemini"),
        UsageUpdate(usage=Usage(input_tokens=5, output_tokens=3, reasoning_tokens=3)),
        TextDelta(text="Hi "),
        ReasoningDelta(signature="U0lH", origin="gemini"),
        TextDelta(text="there"),
        ToolCallStart(index=0, id="fc1", name="f"),
        ToolCallDelta(index=0, arguments='{"a":1}'),
        ToolCallStart(index=1, id=events[8].id, name="g"),  # type: ignore[union-attr]
        ToolCallDelta(index=1, arguments="{}"),
        UsageUpdate(usage=Usage(input_tokens=5, output_tokens=7, reasoning_tokens=3)),
        ChoiceEnd(stop_reason=StopReason.TOOL_CALLS),
    ]


def test_blocked_prompt_and_safety() -> None:
    blocked = {"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}, "usageMetadata": {"promptTokenCount": 4}}
    events = decode_bytes(sse(blocked))
    assert events[1:] == [
        UsageUpdate(usage=Usage(input_tokens=4)),
        ChoiceEnd(stop_reason=StopReason.CONTENT_FILTER),
    ]
    assert decode_bytes(sse({"candidates": [], "promptFeedback": {"blockReason": "OTHER"}}))[1:] == [
        ChoiceEnd(stop_reason=StopReason.CONTENT_FILTER)
    ]
    safety = {"candidates": [{"finishReason": "SAFETY", "index": 0, "safetyRatings": []}]}
    assert decode_bytes(sse(safety))[1:] == [ChoiceEnd(stop_reason=StopReason.CONTENT_FILTER)]


def test_multiple_candidates() -> None:
    raw = sse(
        {
            "candidates": [
                {"content": {"parts": [{"text": "a"}]}, "index": 0},
                {"content": {"parts": [{"text": "b"}]}, "index": 1},
            ]
        },
        {"candidates": [{"finishReason": "STOP", "index": 0}, {"finishReason": "MAX_TOKENS", "index": 1}]},
    )
    assert decode_bytes(raw)[1:] == [
        TextDelta(text="a"),
        TextDelta(text="b", choice=1),
        ChoiceEnd(stop_reason=StopReason.END),
        ChoiceEnd(stop_reason=StopReason.LENGTH, choice=1),
    ]


def test_failures() -> None:
    error = {"error": {"code": 429, "message": "Resource exhausted", "status": "RESOURCE_EXHAUSTED"}}
    events = decode_bytes(sse(chunk([{"text": "x"}]), error, chunk([{"text": "ignored"}], "STOP")))
    assert events[-1] == StreamFailure(kind=ErrorKind.RATE_LIMIT, message="Resource exhausted", status=429)
    assert TextDelta(text="ignored") not in events
    garbage = decode_bytes(b'data: {"candidates": [ this is not json\r\n\r\n')
    assert len(garbage) == 1 and isinstance(garbage[0], StreamFailure) and garbage[0].kind is ErrorKind.UPSTREAM
    cut = decode_bytes(sse(chunk([{"text": "never finished"}])))
    assert isinstance(cut[-1], StreamFailure) and "before it was complete" in cut[-1].message
    assert isinstance(decode_bytes(b"")[-1], StreamFailure)
    assert isinstance(decode_bytes(b"data: [1, 2]\n\n")[-1], StreamFailure)


def test_decoder_never_raises_on_random_chunks() -> None:
    rng = random.Random(7)
    values: list[Any] = [None, 1, "x", [], {}, [1], {"parts": 3}, {"text": 5}, True]
    for _ in range(300):
        body: dict[str, Any] = chunk([{"text": "a"}, {"functionCall": {"name": "f", "args": {}}}], "STOP")
        target = body["candidates"][0]
        key = rng.choice(["content", "finishReason", "index"])
        target[key] = rng.choice(values)
        body[rng.choice(["usageMetadata", "modelVersion", "promptFeedback"])] = rng.choice(values)
        events = decode_bytes(sse(body), split=rng.randint(0, 40))
        assert isinstance(events[0], StreamStart | StreamFailure)


async def test_decodes_mock_upstream_stream(mock_upstream: MockUpstream) -> None:
    directive = {
        "text": "two calls",
        "reasoning": "think first",
        "tool_calls": [{"name": "a", "arguments": {"x": 1}}, {"name": "b", "arguments": {}}],
    }
    body = {"contents": [{"role": "user", "parts": [{"text": f"go [[mock {json.dumps(directive)}]]"}]}]}
    url = f"{mock_upstream.url}/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    async with aiohttp.ClientSession() as session, session.post(url, json=body, headers={"x-goog-api-key": "k"}) as r:
        raw = await r.read()
    events = decode_bytes(raw, split=17)
    assert "".join(e.text for e in events if isinstance(e, ReasoningDelta)) == "think first"
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "two calls"
    starts = [e for e in events if isinstance(e, ToolCallStart)]
    assert [(s.index, s.name, s.signature is not None) for s in starts] == [(0, "a", True), (1, "b", False)]
    assert events[-1] == ChoiceEnd(stop_reason=StopReason.TOOL_CALLS)
    usages = [e for e in events if isinstance(e, UsageUpdate)]
    assert usages[-1].usage.reasoning_tokens > 0


def request() -> ChatRequest:
    return ChatRequest(model="public", messages=[Message(role="user", content=[TextPart(text="hi")])], stream=True)


EVENTS: list[StreamEvent] = [
    StreamStart(id="r1", model="m"),
    TextDelta(text="Hello"),
    ToolCallStart(index=0, id="call_1", name="f"),
    ToolCallDelta(index=0, arguments='{"k": "v"}'),
    ChoiceEnd(stop_reason=StopReason.TOOL_CALLS),
    UsageUpdate(usage=Usage(input_tokens=3, output_tokens=2)),
]


def test_json_array_stream_is_incremental() -> None:
    encoder = GEMINI_JSON_ARRAY.new_stream_encoder(request())
    pieces = [encoder.encode(e) for e in EVENTS] + [encoder.finish()]
    pieces = [p for p in pieces if p]
    assert (
        pieces[0].startswith(b"[{") and all(p.startswith(b",\r\n{") for p in pieces[1:-1]) and pieces[-1].endswith(b"]")
    )
    items = json.loads(b"".join(pieces))
    sse_items = [json.loads(e.data) for e in SSEParser().feed(encode_sse(EVENTS))]
    assert items == sse_items
    assert items[-1]["candidates"][0]["finishReason"] == "STOP" and items[-1]["usageMetadata"]["promptTokenCount"] == 3
    failing = GEMINI_JSON_ARRAY.new_stream_encoder(request())
    out = failing.error(GatewayError(ErrorKind.RATE_LIMIT, "slow down"))
    assert json.loads(out) == [{"error": {"code": 429, "message": "slow down", "status": "RESOURCE_EXHAUSTED"}}]
    assert failing.finish() == b"" and failing.encode(TextDelta(text="late")) == b""


def encode_sse(events: list[StreamEvent]) -> bytes:
    encoder = GEMINI.new_stream_encoder(request())
    return b"".join(encoder.encode(e) for e in events) + encoder.finish()


def test_encoder_tolerates_any_event_order() -> None:
    empty = [json.loads(e.data) for e in SSEParser().feed(encode_sse([]))]
    assert empty == [
        {
            "candidates": [{"content": {"role": "model", "parts": [{"text": ""}]}, "finishReason": "STOP", "index": 0}],
            "modelVersion": "public",
            "responseId": empty[0]["responseId"],
        }
    ]
    odd = encode_sse(
        [
            ToolCallDelta(index=3, arguments='{"orphan": true}'),
            TextDelta(text="after", choice=1),
            ReasoningDelta(signature="c2ln", origin="gemini"),
            ChoiceEnd(stop_reason=StopReason.LENGTH, choice=1),
            TextDelta(text="dropped", choice=1),
            StreamStart(id="late", model="x"),
        ]
    )
    items = [json.loads(e.data) for e in SSEParser().feed(odd)]
    assert len({i["responseId"] for i in items}) == 1
    assert all(
        p != {"text": "dropped"} for i in items for c in i["candidates"] for p in c.get("content", {}).get("parts", [])
    )
    last = items[-1]["candidates"]
    assert [(c["index"], c["finishReason"]) for c in last] == [(0, "STOP"), (1, "MAX_TOKENS")]
    assert last[0]["content"]["parts"] == [{"text": "", "thoughtSignature": "c2ln"}]
    calls = [
        p["functionCall"]
        for i in items
        for c in i["candidates"]
        for p in c.get("content", {}).get("parts", [])
        if "functionCall" in p
    ]
    assert calls == [{"id": calls[0]["id"], "name": "", "args": {"orphan": True}}]


def test_stream_failure_event_ends_the_stream() -> None:
    encoder = GEMINI.new_stream_encoder(request())
    out = encoder.encode(StreamFailure(kind=ErrorKind.UPSTREAM_TIMEOUT, message="slow", status=504))
    assert SSEParser().feed(out)[0].data == b'{"error":{"code":504,"message":"slow","status":"DEADLINE_EXCEEDED"}}'
    assert encoder.finish() == b""
