"""OpenAI Responses codec: the client stream encoder (checked by the official SDK and the spec) and the decoder."""

from __future__ import annotations

from typing import Any

import httpx2
import orjson
import pytest

from omnirouter.ir import (
    ChatRequest,
    ChoiceEnd,
    ErrorKind,
    GatewayError,
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
from omnirouter.protocols.openai_responses import OPENAI_RESPONSES
from omnirouter.protocols.sse import SSEEvent, SSEParser
from tests.helpers.openai_responses import check_stream, codex_body, rich_request, sdk_final, sdk_stream

R = "openai_responses"


def request(**overrides: Any) -> ChatRequest:
    fields: dict[str, Any] = {
        "model": "public-model",
        "messages": [Message(role="user", content=[TextPart(text="hi")])],
        "stream": True,
        "source_protocol": R,
    }
    fields.update(overrides)
    return ChatRequest(**fields)


def encode(events: list[StreamEvent], req: ChatRequest | None = None, *, error: GatewayError | None = None) -> bytes:
    encoder = OPENAI_RESPONSES.new_stream_encoder(req or request())
    raw = b"".join(encoder.encode(e) for e in events)
    return raw + (encoder.error(error) if error is not None else encoder.finish())


def decode_raw(raw: bytes, split: int = 0) -> list[StreamEvent]:
    parser, decoder = SSEParser(), OPENAI_RESPONSES.new_stream_decoder()
    reads = [raw[i : i + split] for i in range(0, len(raw), split)] if split else [raw]
    out: list[StreamEvent] = []
    for read in reads:
        for event in parser.feed(read):
            out.extend(decoder.feed(event))
    for event in parser.finish():
        out.extend(decoder.feed(event))
    return out + decoder.finish()


START = StreamStart(id="chatcmpl-x", model="upstream-alias", created=1_700_000_000)
USAGE = Usage(input_tokens=30, output_tokens=12, cached_tokens=8, reasoning_tokens=4)


async def test_text_stream() -> None:
    events = [
        START,
        TextDelta(text="Hel"),
        TextDelta(text="lo "),
        TextDelta(text="world"),
        ChoiceEnd(stop_reason=StopReason.END),
    ]
    raw = encode([*events, UsageUpdate(usage=USAGE)])
    payloads = check_stream(raw)
    assert [p["type"] for p in payloads] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    kinds, final = await sdk_final(raw)
    assert kinds[-1] == "response.completed"
    assert final.output_text == "Hello world" and final.status == "completed" and final.model == "public-model"
    assert (
        final.usage is not None
        and final.usage.input_tokens == 30
        and final.usage.output_tokens_details.reasoning_tokens == 4
    )
    assert final.id.startswith("resp_") and final.id != "chatcmpl-x"


async def test_reasoning_then_text_stream() -> None:
    events: list[StreamEvent] = [
        START,
        ReasoningDelta(text="Think"),
        ReasoningDelta(text="ing."),
        ReasoningDelta(signature="gAAAAenc", origin=R),
        TextDelta(text="Answer."),
        ChoiceEnd(stop_reason=StopReason.END),
    ]
    raw = encode(events)
    payloads = check_stream(raw)
    reasoning_kinds = [p["type"] for p in payloads if p.get("output_index") == 0]
    assert reasoning_kinds == [
        "response.output_item.added",
        "response.reasoning_summary_part.added",
        "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.done",
        "response.reasoning_summary_part.done",
        "response.output_item.done",
    ]
    _, final = await sdk_final(raw)
    item = final.output[0]
    assert item.type == "reasoning" and item.encrypted_content == "gAAAAenc"
    assert [s.text for s in item.summary] == ["Thinking."]
    assert final.output_text == "Answer."
    # A reasoning block that is never signed is closed by the text that follows.
    raw = encode([ReasoningDelta(text="hmm"), TextDelta(text="ok"), ReasoningDelta(text="more")])
    payloads = check_stream(raw)
    assert [o["type"] for o in payloads[-1]["response"]["output"]] == ["reasoning", "message", "reasoning"]


async def test_several_tool_calls_with_fragmented_arguments() -> None:
    events: list[StreamEvent] = [
        START,
        ToolCallStart(index=0, id="call_a", name="get_weather"),
        ToolCallDelta(index=0, arguments='{"ci'),
        ToolCallDelta(index=0, arguments='ty": "Paris"}'),
        ToolCallStart(index=1, id="call_b", name="get_weather"),
        ToolCallDelta(index=1, arguments='{"city":'),
        ToolCallStart(index=2, id="call_c", name="noop"),
        ToolCallDelta(index=1, arguments=' "Oslo"}'),
        ChoiceEnd(stop_reason=StopReason.TOOL_CALLS),
        UsageUpdate(usage=USAGE),
    ]
    raw = encode(events)
    payloads = check_stream(raw)
    deltas = [
        (p["output_index"], p["delta"]) for p in payloads if p["type"] == "response.function_call_arguments.delta"
    ]
    assert deltas == [(0, '{"ci'), (0, 'ty": "Paris"}'), (1, '{"city":'), (1, ' "Oslo"}'), (2, "{}")]
    kinds, final = await sdk_final(raw)
    calls = [(o.call_id, o.name, o.arguments) for o in final.output if o.type == "function_call"]
    assert calls == [
        ("call_a", "get_weather", '{"city": "Paris"}'),
        ("call_b", "get_weather", '{"city": "Oslo"}'),
        ("call_c", "noop", "{}"),
    ]
    assert final.status == "completed" and kinds.count("response.function_call_arguments.done") == 3


async def test_text_then_tool_call_and_late_text() -> None:
    events: list[StreamEvent] = [
        START,
        TextDelta(text="Let me check."),
        ToolCallStart(index=0, id="call_1", name="lookup"),
        ToolCallDelta(index=0, arguments='{"q": 1}'),
        TextDelta(text=" Done."),
        ChoiceEnd(stop_reason=StopReason.END),
    ]
    raw = encode(events)
    payloads = check_stream(raw)
    final = payloads[-1]["response"]
    assert [o["type"] for o in final["output"]] == ["message", "function_call", "message"]
    _, parsed = await sdk_final(raw)
    assert parsed.output_text == "Let me check. Done."
    assert [o.arguments for o in parsed.output if o.type == "function_call"] == ['{"q": 1}']


async def test_lazy_start_and_finish_without_choice_end() -> None:
    _, final = await sdk_final(check_raw := encode([TextDelta(text="x")]))
    check_stream(check_raw)
    assert final.output_text == "x"
    empty = encode([])
    payloads = check_stream(empty)
    assert [p["type"] for p in payloads] == ["response.created", "response.in_progress", "response.completed"]
    _, final = await sdk_final(empty)
    assert final.output == []


async def test_length_stop_is_incomplete() -> None:
    raw = encode([START, TextDelta(text="cut"), ChoiceEnd(stop_reason=StopReason.LENGTH), UsageUpdate(usage=USAGE)])
    payloads = check_stream(raw)
    final = payloads[-1]
    assert final["type"] == "response.incomplete"
    assert final["response"]["incomplete_details"] == {"reason": "max_output_tokens"}
    assert final["response"]["output"][0]["status"] == "incomplete"
    assert final["response"]["usage"]["output_tokens"] == 12
    kinds: list[str] = []
    with pytest.raises(RuntimeError, match=r"response\.completed"):
        await sdk_stream(raw, kinds)
    assert kinds[-1] == "response.incomplete", "the SDK reads the whole stream (as with OpenAI's own)"


@pytest.mark.parametrize("via_event", [False, True])
async def test_error_mid_stream_ends_the_stream(via_event: bool) -> None:
    events: list[StreamEvent] = [START, TextDelta(text="partial"), ToolCallStart(index=0, id="c", name="f")]
    if via_event:
        raw = encode([*events, StreamFailure(kind=ErrorKind.RATE_LIMIT, message="slow down", status=429)])
    else:
        raw = encode(events, error=GatewayError(ErrorKind.UPSTREAM_TIMEOUT, "upstream timed out"))
    payloads = check_stream(raw)
    assert [p["type"] for p in payloads][-2:] == ["error", "response.failed"]
    failed = payloads[-1]["response"]
    assert failed["status"] == "failed"
    assert failed["error"]["code"] == ("rate_limit_exceeded" if via_event else "server_error")
    assert [o["status"] for o in failed["output"]] == ["completed", "incomplete"]
    kinds: list[str] = []
    with pytest.raises(RuntimeError, match=r"response\.completed"):
        await sdk_stream(raw, kinds)
    assert kinds[-2:] == ["error", "response.failed"]
    encoder = OPENAI_RESPONSES.new_stream_encoder(request())
    assert encoder.encode(TextDelta(text="x")) and encoder.error(GatewayError(ErrorKind.INTERNAL, "boom"))
    assert encoder.finish() == b"" and encoder.encode(TextDelta(text="y")) == b""


def test_response_id_is_exposed_and_stable() -> None:
    encoder = OPENAI_RESPONSES.new_stream_encoder(request())
    raw = encoder.encode(StreamStart(id="resp_upstream1", model="m")) + encoder.encode(TextDelta(text="x"))
    raw += encoder.finish()
    assert encoder.response_id == "resp_upstream1"
    assert {p["response"]["id"] for p in check_stream(raw) if "response" in p} == {"resp_upstream1"}
    other = OPENAI_RESPONSES.new_stream_encoder(request())
    other.encode(StreamStart(id="msg_01abc", model="m"))
    assert other.response_id.startswith("resp_")


async def test_cross_origin_signatures_survive_a_streamed_turn() -> None:
    """What a client accumulates from the stream and replays decodes to the original parts."""
    events: list[StreamEvent] = [
        START,
        ReasoningDelta(text="Anthropic thinking."),
        ReasoningDelta(signature="sig-anthropic", origin="anthropic"),
        ReasoningDelta(redacted="REDACTED", origin="anthropic"),
        TextDelta(text="Calling."),
        ToolCallStart(index=0, id="call_g", name="f", signature="Z2VtaW5p", signature_origin="gemini"),
        ToolCallDelta(index=0, arguments='{"a":1}'),
        ChoiceEnd(stop_reason=StopReason.TOOL_CALLS),
    ]
    raw = encode(events)
    check_stream(raw)
    _, final = await sdk_final(raw)
    items = [o.model_dump(exclude_none=True) for o in final.output]
    replay = OPENAI_RESPONSES.decode_request({"model": "m", "input": [{"role": "user", "content": "q"}, *items]})
    assert replay.messages[1].content == [
        ReasoningPart(text="Anthropic thinking.", signature="sig-anthropic", origin="anthropic"),
        ReasoningPart(redacted="REDACTED", origin="anthropic"),
        TextPart(text="Calling."),
        ToolCallPart(id="call_g", name="f", arguments='{"a":1}', signature="Z2VtaW5p", signature_origin="gemini"),
    ]


def test_namespace_calls_are_split_back_for_the_client() -> None:
    req = OPENAI_RESPONSES.decode_request(
        {
            "model": "public-model",
            "input": "x",
            "stream": True,
            "tools": [
                {
                    "type": "namespace",
                    "name": "mcp__gh__",
                    "description": "d",
                    "tools": [{"type": "function", "name": "search"}],
                }
            ],
        }
    )
    raw = encode([ToolCallStart(index=0, id="c1", name="mcp__gh__search"), ToolCallDelta(index=0, arguments="{}")], req)
    final = check_stream(raw)[-1]["response"]
    assert final["output"][0]["namespace"] == "mcp__gh__" and final["output"][0]["name"] == "search"


def test_encoder_output_decodes_to_the_same_events() -> None:
    events: list[StreamEvent] = [
        ReasoningDelta(text="a"),
        ReasoningDelta(signature="own", origin=R),
        TextDelta(text="hi"),
        ToolCallStart(index=0, id="call_1", name="f", signature="g", signature_origin="gemini"),
        ToolCallDelta(index=0, arguments='{"x":1}'),
        ToolCallStart(index=1, id="call_2", name="g"),
        ToolCallDelta(index=1, arguments="{}"),
        ChoiceEnd(stop_reason=StopReason.TOOL_CALLS),
        UsageUpdate(usage=USAGE),
    ]
    decoded = decode_raw(encode([START, *events]), split=7)
    assert isinstance(decoded[0], StreamStart) and decoded[0].model == "public-model"
    assert decoded[1:] == [*events[:-2], events[-1], events[-2]]


# --- the decoder ---------------------------------------------------------------------------------


def sse(kind: str, **fields: Any) -> SSEEvent:
    return SSEEvent(event=kind, data=orjson.dumps({"type": kind, **fields}))


def feed(events: list[SSEEvent], *, finish: bool = True) -> list[StreamEvent]:
    decoder = OPENAI_RESPONSES.new_stream_decoder()
    out: list[StreamEvent] = []
    for event in events:
        out.extend(decoder.feed(event))
    return out + (decoder.finish() if finish else [])


CREATED = sse("response.created", response={"id": "resp_1", "model": "gpt-5", "created_at": 5, "output": []})


def test_decode_done_only_items_and_failures() -> None:
    message = {"id": "m1", "type": "message", "content": [{"type": "output_text", "text": "whole"}]}
    call = {"id": "fc1", "type": "function_call", "call_id": "c1", "name": "f", "arguments": '{"a":2}'}
    completed = sse(
        "response.completed", response={"status": "completed", "usage": {"input_tokens": 1, "output_tokens": 2}}
    )
    events = feed(
        [
            CREATED,
            sse("response.output_item.done", output_index=0, item=message),
            sse("response.output_item.added", output_index=1, item={**call, "arguments": ""}),
            sse("response.output_item.done", output_index=1, item=call),
            completed,
        ]
    )
    assert events == [
        StreamStart(id="resp_1", model="gpt-5", created=5),
        TextDelta(text="whole"),
        ToolCallStart(index=0, id="c1", name="f"),
        ToolCallDelta(index=0, arguments='{"a":2}'),
        UsageUpdate(usage=Usage(input_tokens=1, output_tokens=2)),
        ChoiceEnd(stop_reason=StopReason.TOOL_CALLS),
    ]
    failed = feed(
        [CREATED, sse("response.failed", response={"error": {"code": "rate_limit_exceeded", "message": "slow"}})]
    )
    assert failed[-1] == StreamFailure(kind=ErrorKind.RATE_LIMIT, message="slow", status=429)
    error = feed([sse("error", code="server_error", message="boom", param=None)])
    assert isinstance(error[0], StreamStart) and error[1] == StreamFailure(
        kind=ErrorKind.UPSTREAM, message="boom", status=502
    )
    cut = feed([CREATED, sse("response.output_text.delta", item_id="m", delta="x")])
    assert isinstance(cut[-1], StreamFailure) and "response.completed" in cut[-1].message
    garbage = feed([CREATED, SSEEvent(data=b"{not json")])
    assert isinstance(garbage[-1], StreamFailure) and len([e for e in garbage if isinstance(e, StreamFailure)]) == 1
    odd = feed([CREATED, sse("response.output_item.added", output_index=0, item=None), SSEEvent(data=b"[1]")])
    assert isinstance(odd[-1], StreamFailure)


# --- against the mock upstream -------------------------------------------------------------------

DIRECTIVE = {
    "text": "Checking both.",
    "reasoning": "need two lookups",
    "tool_calls": [{"name": "get_weather", "arguments": {"city": "Oslo"}}, {"name": "noop", "arguments": {}}],
}


@pytest.fixture
async def mock() -> Any:
    from omnirouter.mock_upstream import MockUpstream

    async with MockUpstream() as upstream:
        yield upstream


async def post(mock: Any, body: dict[str, Any]) -> tuple[int, bytes]:
    """POST to the mock's ``/v1/responses``; a connection cut mid-body keeps what arrived."""
    chunks: list[bytes] = []
    async with (
        httpx2.AsyncClient(timeout=10) as http,
        http.stream(
            "POST", mock.url + "/v1/responses", json=body, headers={"Authorization": "Bearer sk-test"}
        ) as reply,
    ):
        try:
            async for chunk in reply.aiter_raw():
                chunks.append(chunk)
        except httpx2.RemoteProtocolError:
            pass
        return reply.status_code, b"".join(chunks)


def mock_request(directive: dict[str, Any], *, stream: bool = True) -> ChatRequest:
    text = f"go [[mock {orjson.dumps(directive).decode()}]]"
    from omnirouter.ir import ReasoningConfig, ToolDef

    return ChatRequest(
        model="gpt-5",
        messages=[
            Message(role="system", content=[TextPart(text="Be brief.")]),
            Message(role="user", content=[TextPart(text=text)]),
        ],
        stream=stream,
        tools=[ToolDef(name="get_weather", parameters={"type": "object"}), ToolDef(name="noop")],
        reasoning=ReasoningConfig(effort="low", include_thoughts=True),
        source_protocol="anthropic",
    )


async def test_mock_upstream_stream_decodes(mock: Any) -> None:
    body = OPENAI_RESPONSES.encode_request(mock_request(DIRECTIVE))
    assert body["include"] == ["reasoning.encrypted_content"] and body["reasoning"] == {
        "effort": "low",
        "summary": "auto",
    }
    status, raw = await post(mock, body)
    assert status == 200
    events = decode_raw(raw, split=50)
    assert isinstance(events[0], StreamStart) and events[0].id.startswith("resp_") and events[0].model == "gpt-5"
    reasoning = [e for e in events if isinstance(e, ReasoningDelta)]
    assert "".join(e.text for e in reasoning) == DIRECTIVE["reasoning"]
    assert reasoning[-1].signature and reasoning[-1].origin == R
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "Checking both."
    starts = [e for e in events if isinstance(e, ToolCallStart)]
    assert [(s.index, s.name) for s in starts] == [(0, "get_weather"), (1, "noop")]
    args = ["".join(d.arguments for d in events if isinstance(d, ToolCallDelta) and d.index == i) for i in (0, 1)]
    assert [orjson.loads(a) for a in args] == [{"city": "Oslo"}, {}]
    assert isinstance(events[-2], UsageUpdate) and events[-2].usage.reasoning_tokens > 0
    assert events[-1] == ChoiceEnd(stop_reason=StopReason.TOOL_CALLS)
    # Re-encoded for a Responses client, the SDK accepts it.
    _, final = await sdk_final(encode(events))
    assert final.output_text == "Checking both." and len([o for o in final.output if o.type == "function_call"]) == 2


async def test_mock_upstream_accepts_encoded_requests_and_answers_decode(mock: Any) -> None:
    for ir in (rich_request(stream=False), OPENAI_RESPONSES.decode_request({**codex_body(), "stream": False})):
        status, raw = await post(mock, OPENAI_RESPONSES.encode_request(ir))
        assert status == 200, raw
        decoded = OPENAI_RESPONSES.decode_response(orjson.loads(raw))
        assert decoded.choices[0].stop_reason is StopReason.END and decoded.usage is not None
    status, raw = await post(mock, OPENAI_RESPONSES.encode_request(mock_request(DIRECTIVE, stream=False)))
    decoded = OPENAI_RESPONSES.decode_response(orjson.loads(raw))
    kinds = [type(p).__name__ for p in decoded.choices[0].content]
    assert kinds == ["ReasoningPart", "TextPart", "ToolCallPart", "ToolCallPart"]
    assert decoded.choices[0].stop_reason is StopReason.TOOL_CALLS


@pytest.mark.parametrize(
    ("directive", "expected"),
    [
        ({"finish": "length"}, ChoiceEnd(stop_reason=StopReason.LENGTH)),
        ({"block": True}, ChoiceEnd(stop_reason=StopReason.CONTENT_FILTER)),
        ({"error_after": 3, "fail": 429}, StreamFailure),
        ({"garbage": True}, StreamFailure),
        ({"cut_after": 4}, StreamFailure),
    ],
)
async def test_mock_upstream_stream_endings(mock: Any, directive: dict[str, Any], expected: Any) -> None:
    body = OPENAI_RESPONSES.encode_request(mock_request({"text": "one two three four", **directive}))
    _, raw = await post(mock, body)
    events = decode_raw(raw)
    assert isinstance(events[0], StreamStart)
    if expected is StreamFailure:
        assert isinstance(events[-1], StreamFailure)
        assert sum(isinstance(e, StreamFailure) for e in events) == 1
    else:
        assert events[-1] == expected


async def test_passthrough_stream_filter_over_mock(mock: Any) -> None:
    from omnirouter.protocols.openai_responses import OPENAI_RESPONSES_PASSTHROUGH as PASS

    body = {"model": "gpt-5", "input": f"go [[mock {orjson.dumps(DIRECTIVE).decode()}]]", "stream": True}
    PASS.check(body)
    prepared = PASS.prepare(body, "upstream-model", True)
    _, raw = await post(mock, orjson.loads(prepared.data))
    stream_filter = PASS.new_stream_filter("public-model", prepared.client_wants_usage)
    out = b"".join(stream_filter.process(e) for e in SSEParser().feed(raw)) + stream_filter.finish()
    assert stream_filter.completed and stream_filter.failure is None
    assert stream_filter.usage is not None and stream_filter.usage.output_tokens > 0
    assert b"upstream-model" not in out
    payloads = [orjson.loads(e.data) for e in SSEParser().feed(out)]
    assert {p["response"]["model"] for p in payloads if "response" in p} == {"public-model"}
    _, final = await sdk_final(out)
    assert final.model == "public-model" and final.output_text == "Checking both."
    # A failure the gateway reports itself ends the stream with error + response.failed.
    tail = stream_filter.error(GatewayError(ErrorKind.UPSTREAM, "lost upstream"))
    assert [orjson.loads(e.data)["type"] for e in SSEParser().feed(tail)] == ["error", "response.failed"]
    failing = PASS.new_stream_filter("public-model", True)
    _, raw = await post(mock, {**body, "input": '[[mock {"error_after": 2}]]'})
    for event in SSEParser().feed(raw):
        failing.process(event)
    assert failing.failure and not failing.completed


def test_decoder_never_raises_on_junk() -> None:
    import random

    rng = random.Random(11)
    raw = encode(
        [
            START,
            ReasoningDelta(text="a"),
            TextDelta(text="b"),
            ToolCallStart(index=0, id="c", name="f"),
            ChoiceEnd(stop_reason=StopReason.END),
        ]
    )
    events = SSEParser().feed(raw)
    junk: list[Any] = [None, 1, "x", [], {}, {"type": None}, {"id": 5}, [1, 2]]
    for _ in range(300):
        decoder = OPENAI_RESPONSES.new_stream_decoder()
        out: list[StreamEvent] = []
        for event in events:
            payload = orjson.loads(event.data)
            if rng.random() < 0.3:
                key = rng.choice(list(payload))
                payload[key] = rng.choice(junk)
            out.extend(decoder.feed(SSEEvent(event=event.event, data=orjson.dumps(payload))))
        out.extend(decoder.finish())
        assert isinstance(out[0], StreamStart)
        assert sum(isinstance(e, StreamFailure | ChoiceEnd) for e in out) == 1
        assert isinstance(out[-1], StreamFailure | ChoiceEnd | UsageUpdate)
        body = orjson.loads(events[-1].data)["response"]
        if rng.random() < 0.5:
            body[rng.choice(list(body))] = rng.choice(junk)
        try:
            OPENAI_RESPONSES.decode_response(body)
        except GatewayError as error:
            assert error.kind is ErrorKind.UPSTREAM


def test_signature_inside_an_answer_does_not_split_the_message() -> None:
    """Gemini signs text parts mid-answer: the answer stays one message item, the signature follows it."""
    from omnirouter.ir import ChatRequest, ChoiceEnd, ReasoningDelta, StopReason, StreamStart, TextDelta
    from omnirouter.protocols.openai_responses import OPENAI_RESPONSES
    from omnirouter.protocols.sse import SSEParser

    encoder = OPENAI_RESPONSES.new_stream_encoder(ChatRequest(model="m", messages=[]))
    out = b"".join(
        encoder.encode(event)
        for event in [
            StreamStart(id="x", model="m"),
            TextDelta(text="Echo: my"),
            ReasoningDelta(signature="R0VN", origin="gemini"),
            TextDelta(text=" name"),
            ChoiceEnd(stop_reason=StopReason.END),
        ]
    )
    out += encoder.finish()
    events = [orjson.loads(e.data) for e in SSEParser().feed(out)]
    done = [e["item"] for e in events if e["type"] == "response.output_item.done"]
    assert [item["type"] for item in done] == ["message", "reasoning"]
    assert done[0]["content"][0]["text"] == "Echo: my name"
    assert events[-1]["type"] == "response.completed"
    assert [i["type"] for i in events[-1]["response"]["output"]] == ["message", "reasoning"]
