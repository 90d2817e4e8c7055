"""OpenAI Chat codec: stream decoding (recorded and quirky upstreams) and stream encoding."""

from __future__ import annotations

import random
import typing
from typing import Any

import orjson
import pytest
from openai.lib.streaming.chat import ChatCompletionStreamState
from openai.types.chat import ChatCompletionChunk

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
from omnirouter.protocols.openai_chat import OPENAI_CHAT
from omnirouter.protocols.sse import SSEEvent, SSEParser
from tests.helpers.fuzz import mutate
from tests.helpers.openapi_schema import validate_openai
from tests.helpers.reference import FIXTURES

FIXTURE = FIXTURES / "openai_chat_stream_tool_call_include_usage.sse"


def decode_bytes(raw: bytes, split: int = 0) -> list[StreamEvent]:
    """Run raw SSE bytes through SSEParser and a fresh decoder (optionally in ``split``-byte reads)."""
    parser, decoder = SSEParser(), OPENAI_CHAT.new_stream_decoder()
    reads = [raw[i : i + split] for i in range(0, len(raw), split)] if split else [raw]
    events: list[StreamEvent] = []
    for read in reads:
        for sse in parser.feed(read):
            events.extend(decoder.feed(sse))
    for sse in parser.finish():
        events.extend(decoder.feed(sse))
    return events + decoder.finish()


def chunks_of(raw: bytes) -> list[dict[str, Any]]:
    """The JSON chunks of an encoded stream, checking it ends with exactly one ``[DONE]``."""
    events = SSEParser().feed(raw)
    assert events[-1].data == b"[DONE]"
    assert all(e.data != b"[DONE]" for e in events[:-1])
    assert all(e.event is None for e in events)
    return [orjson.loads(e.data) for e in events[:-1]]


def request(include_usage: bool = True, model: str = "public-model") -> ChatRequest:
    return ChatRequest(
        model=model,
        messages=[Message(role="user", content=[TextPart(text="hi")])],
        stream=True,
        include_usage=include_usage,
    )


def encode_events(events: list[StreamEvent], req: ChatRequest | None = None) -> bytes:
    encoder = OPENAI_CHAT.new_stream_encoder(req or request())
    return b"".join(encoder.encode(e) for e in events) + encoder.finish()


def check_chunks(chunks: list[dict[str, Any]]) -> None:
    """Schema + SDK validation, same id/created/model, finish_reason only last per choice."""
    heads = {(c["id"], c["created"], c["model"]) for c in chunks}
    assert len(heads) == 1
    finished: set[int] = set()
    for chunk in chunks:
        validate_openai("CreateChatCompletionStreamResponse", chunk)
        ChatCompletionChunk.model_validate(chunk)
        for choice in chunk["choices"]:
            assert choice["index"] not in finished, "a chunk after finish_reason"
            if choice["finish_reason"] is not None:
                finished.add(choice["index"])


@pytest.mark.parametrize("split", [0, 1, 7, 100])
def test_decode_recorded_fixture(split: int) -> None:
    events = decode_bytes(FIXTURE.read_bytes(), split)
    assert events[0] == StreamStart(
        id="chatcmpl-ABfwERreu9s99xXsVuOWtIB2UOx62", model="gpt-4o-2024-08-06", created=1727346182
    )
    assert events[1] == ToolCallStart(index=0, id="call_4XzlGBLtUe9dy3GVNV4jhq7h", name="get_weather")
    deltas = [e for e in events if isinstance(e, ToolCallDelta)]
    assert {d.index for d in deltas} == {0}
    assert "".join(d.arguments for d in deltas) == '{"city":"New York City"}'
    assert events[-2:] == [
        ChoiceEnd(stop_reason=StopReason.TOOL_CALLS),
        UsageUpdate(usage=Usage(input_tokens=44, output_tokens=16)),
    ]
    assert not any(isinstance(e, TextDelta | StreamFailure) for e in events)


@pytest.mark.parametrize("include_usage", [True, False])
def test_reencode_recorded_fixture(include_usage: bool) -> None:
    raw = encode_events(decode_bytes(FIXTURE.read_bytes()), request(include_usage))
    chunks = chunks_of(raw)
    check_chunks(chunks)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert {c["model"] for c in chunks} == {"public-model"}
    assert chunks[0]["id"] == "chatcmpl-ABfwERreu9s99xXsVuOWtIB2UOx62"
    assert chunks[1]["choices"][0]["delta"]["tool_calls"] == [
        {
            "index": 0,
            "id": "call_4XzlGBLtUe9dy3GVNV4jhq7h",
            "type": "function",
            "function": {"name": "get_weather", "arguments": ""},
        }
    ]
    usage_chunks = [c for c in chunks if "usage" in c]
    if include_usage:
        assert usage_chunks == [chunks[-1]] and chunks[-1]["choices"] == []
        assert chunks[-1]["usage"]["prompt_tokens"] == 44 and chunks[-1]["usage"]["total_tokens"] == 60
    else:
        assert usage_chunks == []
    state = ChatCompletionStreamState()
    for chunk in chunks:
        state.handle_chunk(ChatCompletionChunk.model_validate(chunk))
    final = state.get_final_completion()
    calls = final.choices[0].message.tool_calls
    assert calls is not None
    call = calls[0]
    assert call.function.arguments == '{"city":"New York City"}'
    assert final.choices[0].finish_reason == "tool_calls"


def sse(obj: Any) -> SSEEvent:
    data = obj if isinstance(obj, bytes) else orjson.dumps(obj)
    return SSEEvent(data=data)


def chunk(delta: dict[str, Any] | None = None, finish: str | None = None, index: int = 0, **top: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"id": "c1", "object": "chat.completion.chunk", "created": 5, "model": "alias"}
    body["choices"] = [] if delta is None else [{"index": index, "delta": delta, "finish_reason": finish}]
    body.update(top)
    return body


def feed_all(items: list[Any], done: bool = True) -> list[StreamEvent]:
    decoder = OPENAI_CHAT.new_stream_decoder()
    events: list[StreamEvent] = []
    for item in items:
        events.extend(decoder.feed(sse(item)))
    if done:
        events.extend(decoder.feed(sse(b"[DONE]")))
    return events + decoder.finish()


def test_decode_llama_cpp_stream_quirks() -> None:
    events = feed_all(
        [
            chunk({"role": "assistant", "content": None}),
            chunk({"reasoning_content": "think"}),
            chunk(
                {
                    "content": "",
                    "tool_calls": [
                        {
                            "index": 0,
                            "id": "Xy12",
                            "type": "function",
                            "function": {"name": "f", "arguments": ""},
                        }
                    ],
                }
            ),
            chunk({"tool_calls": [{"index": 0, "function": {"arguments": "{}"}}]}),
            chunk({}, "length", timings={"predicted_n": 3}),
            chunk(None, usage={"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}),
        ]
    )
    assert events == [
        StreamStart(id="c1", model="alias", created=5),
        ReasoningDelta(origin="openai_chat", text="think"),
        ToolCallStart(index=0, id="Xy12", name="f"),
        ToolCallDelta(index=0, arguments="{}"),
        ChoiceEnd(stop_reason=StopReason.TOOL_CALLS),
        UsageUpdate(usage=Usage(input_tokens=3, output_tokens=4)),
    ]


def test_decode_several_calls_same_index_and_missing_ids() -> None:
    events = feed_all(
        [
            chunk({"tool_calls": [{"index": 0, "id": "a", "function": {"name": "f", "arguments": '{"x":1}'}}]}),
            chunk({"tool_calls": [{"index": 0, "id": "b", "function": {"name": "g", "arguments": "{"}}]}),
            chunk({"tool_calls": [{"index": 0, "function": {"arguments": "}"}}]}),
            chunk({"tool_calls": [{"function": {"name": "h", "arguments": {"k": 2}}}]}),
            chunk({}, "stop"),
        ]
    )
    starts = [e for e in events if isinstance(e, ToolCallStart)]
    assert [(s.index, s.id, s.name) for s in starts][:2] == [(0, "a", "f"), (1, "b", "g")]
    assert starts[2].index == 2 and starts[2].name == "h" and starts[2].id.startswith("call_")
    args = {i: "".join(e.arguments for e in events if isinstance(e, ToolCallDelta) and e.index == i) for i in range(3)}
    assert args == {0: '{"x":1}', 1: "{}", 2: '{"k":2}'}
    assert events[-1] == ChoiceEnd(stop_reason=StopReason.TOOL_CALLS)


def test_decode_reasoning_refusal_signatures_and_choices() -> None:
    events = feed_all(
        [
            chunk({"reasoning": "vllm"}),
            chunk({"thinking_blocks": [{"type": "thinking", "thinking": "", "signature": "S"}]}),
            chunk({"refusal": "no"}, index=1),
            chunk(
                {
                    "tool_calls": [
                        {
                            "index": 0,
                            "id": "c",
                            "function": {"name": "f"},
                            "extra_content": {"google": {"thought_signature": "G"}},
                        }
                    ]
                }
            ),
            chunk({}, "stop", index=1),
            chunk({}, "tool_calls"),
        ]
    )
    assert events[1:] == [
        ReasoningDelta(origin="openai_chat", text="vllm"),
        ReasoningDelta(origin="openai_chat", signature="S"),
        TextDelta(text="no", choice=1),
        ToolCallStart(index=0, id="c", name="f", signature="G", signature_origin="openai_chat"),
        ChoiceEnd(stop_reason=StopReason.REFUSAL, choice=1),
        ChoiceEnd(stop_reason=StopReason.TOOL_CALLS),
    ]


def test_decode_failures() -> None:
    bad = feed_all([b"{not json", chunk({"content": "ignored after a failure"})])
    assert len(bad) == 1 and isinstance(bad[0], StreamFailure)
    assert (bad[0].kind, bad[0].status) == (ErrorKind.UPSTREAM, 502)
    error = feed_all(
        [
            chunk({"content": "a"}),
            {"error": {"message": "slow down", "type": "rate_limit_error", "code": None}},
        ]
    )
    assert error[-1] == StreamFailure(kind=ErrorKind.RATE_LIMIT, message="slow down", status=429)
    llama = feed_all([{"error": {"code": 500, "message": "boom", "type": "server_error"}}])
    assert llama == [StreamFailure(kind=ErrorKind.UPSTREAM, message="boom", status=500)]
    cut = feed_all([chunk({"content": "a"})], done=False)
    assert isinstance(cut[-1], StreamFailure) and "ended" in cut[-1].message
    assert isinstance(feed_all([], done=False)[-1], StreamFailure)
    assert feed_all([chunk({"content": "a"})])[-1] == ChoiceEnd(stop_reason=StopReason.END)  # [DONE] without finish


def test_decoder_never_raises_on_garbage() -> None:
    rng = random.Random(7)
    pieces: list[Any] = [None, 1, "x", [], {}, [1], {"index": "a"}, {"function": 3}, {"delta": []}, True]
    seeds = [orjson.loads(e.data) for e in SSEParser().feed(FIXTURE.read_bytes()) if e.data != b"[DONE]"]
    for _ in range(2000):
        decoder = OPENAI_CHAT.new_stream_decoder()
        for seed in seeds:
            text = orjson.dumps(seed)
            mutated = mutate(orjson.loads(text), rng, pieces, 0.03)
            data = orjson.dumps(mutated) if rng.random() > 0.02 else text[: rng.randrange(len(text))]
            for event in decoder.feed(SSEEvent(data=data)):
                assert isinstance(event, typing.get_args(StreamEvent))
        decoder.finish()


def test_encoder_tool_calls_text_reasoning_and_choices() -> None:
    events: list[StreamEvent] = [
        StreamStart(id="msg_1", model="claude", created=0),
        ReasoningDelta(origin="openai_chat", text="hmm"),
        ReasoningDelta(origin="openai_chat", signature="SIG"),
        TextDelta(text="Calling."),
        ToolCallStart(index=0, id="toolu_1", name="a"),
        ToolCallDelta(index=0, arguments='{"q":'),
        ToolCallStart(
            index=0, id="toolu_2", name="b", signature="G", signature_origin="openai_chat"
        ),  # a decoder reusing an index
        ToolCallDelta(index=0, arguments="{}"),
        ToolCallDelta(index=5, arguments=""),
        TextDelta(text="second", choice=1),
        UsageUpdate(usage=Usage(input_tokens=1, output_tokens=1)),
        ChoiceEnd(stop_reason=StopReason.END),  # Anthropic end_turn after tool_use
        TextDelta(text="late"),  # dropped: choice 0 is finished
        UsageUpdate(usage=Usage(input_tokens=10, output_tokens=20, reasoning_tokens=5)),
    ]
    chunks = chunks_of(encode_events(events))
    check_chunks(chunks)
    deltas = [
        (c["choices"][0]["index"], c["choices"][0]["delta"], c["choices"][0]["finish_reason"])
        for c in chunks
        if c["choices"]
    ]
    assert deltas[:3] == [
        (0, {"role": "assistant", "content": ""}, None),
        (0, {"reasoning_content": "hmm"}, None),
        (
            0,
            {"thinking_blocks": [{"index": 0, "type": "thinking", "thinking": "hmm", "signature": "SIG"}]},
            None,
        ),
    ]
    calls = [d[1]["tool_calls"][0] for d in deltas if "tool_calls" in d[1]]
    assert [c["index"] for c in calls] == [0, 0, 1, 1]
    assert calls[2]["extra_content"] == {"google": {"thought_signature": "G"}} and calls[3] == {
        "index": 1,
        "function": {"arguments": "{}"},
    }
    assert (0, {}, "tool_calls") in deltas
    assert (1, {}, "stop") in deltas  # choice 1 closed by finish()
    assert not any(d[1].get("content") == "late" for d in deltas)
    assert chunks[-1]["usage"]["completion_tokens_details"] == {"reasoning_tokens": 5}
    assert chunks[0]["id"] == "msg_1" and chunks[0]["created"] > 0


def test_streamed_thinking_replays_losslessly_through_the_openai_sdk() -> None:
    """Anthropic-style thinking (signed, redacted, unsigned tail) → SDK accumulator → next request."""
    events: list[StreamEvent] = [
        StreamStart(id="msg_1", model="claude"),
        ReasoningDelta(origin="openai_chat", text="first "),
        ReasoningDelta(origin="openai_chat", text="block"),
        ReasoningDelta(origin="openai_chat", signature="SIG1"),
        ReasoningDelta(origin="openai_chat", redacted="ENC"),
        ReasoningDelta(origin="openai_chat", text="second"),
        ReasoningDelta(origin="openai_chat", signature="SIG2"),
        ReasoningDelta(origin="openai_chat", text="tail"),
        TextDelta(text="Answer."),
        ToolCallStart(index=0, id="toolu_1", name="f", signature="TS", signature_origin="openai_chat"),
        ToolCallDelta(index=0, arguments="{}"),
        ChoiceEnd(stop_reason=StopReason.TOOL_CALLS),
    ]
    chunks = chunks_of(encode_events(events))
    check_chunks(chunks)
    state = ChatCompletionStreamState()
    for item in chunks:
        state.handle_chunk(ChatCompletionChunk.model_validate(item))
    message = state.get_final_completion().choices[0].message.model_dump(exclude_none=True)
    replay = {"model": "m", "messages": [{"role": "user", "content": "q"}, message]}
    assistant = OPENAI_CHAT.decode_request(replay).messages[1]
    assert assistant.content == [
        ReasoningPart(origin="openai_chat", text="first block", signature="SIG1"),
        ReasoningPart(origin="openai_chat", redacted="ENC"),
        ReasoningPart(origin="openai_chat", text="second", signature="SIG2"),
        ReasoningPart(origin="openai_chat", text="tail"),
        TextPart(text="Answer."),
        ToolCallPart(id="toolu_1", name="f", arguments="{}", signature="TS", signature_origin="openai_chat"),
    ]


@pytest.mark.parametrize("via_event", [True, False])
def test_encoder_errors(via_event: bool) -> None:
    encoder = OPENAI_CHAT.new_stream_encoder(request())
    out = encoder.encode(StreamStart(id="x", model="m")) + encoder.encode(TextDelta(text="par"))
    if via_event:
        out += encoder.encode(StreamFailure(kind=ErrorKind.OVERLOADED, message="busy", status=503))
    else:
        out += encoder.error(GatewayError(ErrorKind.OVERLOADED, "busy"))
    out += encoder.finish() + encoder.encode(TextDelta(text="more"))
    events = SSEParser().feed(out)
    assert [e.data for e in events][-1] == b"[DONE]"
    error = orjson.loads(events[-2].data)
    assert error == {"error": {"message": "busy", "type": "server_error", "param": None, "code": "overloaded"}}
    validate_openai("ErrorResponse", error)
    check_chunks([orjson.loads(e.data) for e in events[:-2]])


def test_encoder_without_start_and_empty_stream() -> None:
    chunks = chunks_of(encode_events([TextDelta(text="hi")]))
    check_chunks(chunks)
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert encode_events([]) == b"data: [DONE]\n\n"
