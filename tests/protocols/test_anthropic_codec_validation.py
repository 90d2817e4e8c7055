"""Anthropic codec: bad client input is only ever ``GatewayError(INVALID_REQUEST)``; the pass-through adapter."""

from __future__ import annotations

import copy
import random
from typing import Any

import orjson
import pytest

from omnirouter.ir import ErrorKind, GatewayError, Usage, UsageUpdate
from omnirouter.protocols.anthropic import ANTHROPIC, ANTHROPIC_PASSTHROUGH
from omnirouter.protocols.sse import SSEEvent, SSEParser
from tests.helpers.anthropic_messages import CLAUDE_CODE_BODY
from tests.helpers.fuzz import mutate
from tests.helpers.reference import FIXTURES


def _body(**fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "x"}]}
    body.update(fields)
    return body


def _user(content: Any) -> dict[str, Any]:
    return _body(messages=[{"role": "user", "content": content}])


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"max_tokens": 1, "messages": []}, "model"),
        (_body(max_tokens=None), "max_tokens"),
        (_body(max_tokens="10"), "max_tokens"),
        (_body(max_tokens=-1), "max_tokens"),
        (_body(messages=None), "messages"),
        (_body(messages=[]), "messages"),
        (_body(messages=["hi"]), "messages.0"),
        (_body(messages=[{"role": "tool", "content": "x"}]), "messages.0.role"),
        (_body(messages=[{"role": "user"}]), "messages.0.content"),
        (_user(5), "messages.0.content"),
        (_user([{"text": "no type"}]), "messages.0.content.0"),
        (_user([{"type": "text"}]), "messages.0.content.0.text"),
        (_user([{"type": "image", "source": "x"}]), "messages.0.content.0.source"),
        (
            _user([{"type": "image", "source": {"type": "base64", "data": "x"}}]),
            "messages.0.content.0.source.media_type",
        ),
        (_user([{"type": "document", "source": {"type": "url"}}]), "messages.0.content.0.source.url"),
        (_user([{"type": "document", "source": {"type": "text", "data": 1}}]), "messages.0.content.0.source.data"),
        (_user([{"type": "tool_use", "id": "a", "name": "f", "input": []}]), "messages.0.content.0.input"),
        (_user([{"type": "tool_use", "name": "f", "input": {}}]), "messages.0.content.0.id"),
        (_user([{"type": "tool_result"}]), "messages.0.content.0.tool_use_id"),
        (_user([{"type": "tool_result", "tool_use_id": "a", "content": 3}]), "messages.0.content.0.content"),
        (_user([{"type": "tool_result", "tool_use_id": "a", "content": [1]}]), "messages.0.content.0.content.0"),
        (_user([{"type": "tool_result", "tool_use_id": "a", "is_error": "yes"}]), "messages.0.content.0.is_error"),
        (_user([{"type": "thinking", "signature": "s"}]), "messages.0.content.0.thinking"),
        (_user([{"type": "thinking", "thinking": "t", "signature": 5}]), "messages.0.content.0.signature"),
        (_user([{"type": "redacted_thinking"}]), "messages.0.content.0.data"),
        (_body(system=5), "system"),
        (_body(system=[{"type": "image"}]), "system.0"),
        (_body(temperature="hot"), "temperature"),
        (_body(top_k=1.5), "top_k"),
        (_body(stream="yes"), "stream"),
        (_body(stop_sequences="END"), "stop_sequences"),
        (_body(tools={"a": 1}), "tools"),
        (_body(tools=["x"]), "tools.0"),
        (_body(tools=[{"name": "f"}]), "tools.0.input_schema"),
        (_body(tools=[{"name": "", "input_schema": {}}]), "tools.0.name"),
        (_body(tools=[{"name": "f", "input_schema": []}]), "tools.0.input_schema"),
        (_body(tools=[{"type": 3, "name": "f"}]), "tools.0.type"),
        (_body(tool_choice="auto"), "tool_choice"),
        (_body(tool_choice={"type": "sometimes"}), "tool_choice.type"),
        (_body(tool_choice={"type": "tool"}), "tool_choice.name"),
        (_body(tool_choice={"type": "auto", "disable_parallel_tool_use": 1}), "tool_choice.disable_parallel_tool_use"),
        (_body(thinking="on"), "thinking"),
        (_body(thinking={"budget_tokens": 2000}), "thinking.type"),
        (_body(thinking={"type": "enabled"}), "thinking.budget_tokens"),
        (_body(output_config={"format": {"type": "json_object"}}), "output_config.format.type"),
        (_body(output_config={"format": {"type": "json_schema"}}), "output_config.format.schema"),
        (_body(output_config={"effort": 3}), "output_config.effort"),
        (_body(metadata="x"), "metadata"),
        (_body(metadata={"user_id": 5}), "metadata.user_id"),
    ],
)
def test_decode_request_rejects_bad_input(body: dict[str, Any], param: str) -> None:
    with pytest.raises(GatewayError) as info:
        ANTHROPIC.decode_request(body)
    assert info.value.kind is ErrorKind.INVALID_REQUEST
    assert info.value.status == 400
    assert info.value.param == param
    assert info.value.message.startswith(param)


def test_random_bodies_only_raise_invalid_request() -> None:
    rng = random.Random(3)
    pieces: list[Any] = [None, 0, -5, 1.5, "x", "", [], {}, [1], {"type": "text"}, True, {"type": "tool"}]
    raised = 0
    for _ in range(1500):
        body = mutate(copy.deepcopy(CLAUDE_CODE_BODY), rng, pieces, 0.02)
        try:
            request = ANTHROPIC.decode_request(body)
        except GatewayError as error:
            assert error.kind is ErrorKind.INVALID_REQUEST and error.message
            raised += 1
            continue
        ANTHROPIC.encode_request(request)  # whatever decodes also encodes
    assert 0 < raised < 1500
    odd: Any
    for odd in ([], "x", None, 3, {"messages": "x"}):
        with pytest.raises(GatewayError) as info:
            ANTHROPIC.decode_request(odd)
        assert info.value.kind is ErrorKind.INVALID_REQUEST


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"max_tokens": 5}, "messages"),
        ({"max_tokens": 5, "messages": []}, "messages"),
        ({"max_tokens": 5, "messages": [{"role": "tool"}]}, "messages.0.role"),
        ({"max_tokens": 5, "messages": ["x"]}, "messages.0.role"),
        ({"messages": [{"role": "user", "content": "x"}]}, "max_tokens"),
        ({"max_tokens": True, "messages": [{"role": "user", "content": "x"}]}, "max_tokens"),
    ],
)
def test_passthrough_check(body: dict[str, Any], param: str) -> None:
    with pytest.raises(GatewayError) as info:
        ANTHROPIC_PASSTHROUGH.check(body)
    assert (info.value.kind, info.value.status, info.value.param) == (ErrorKind.INVALID_REQUEST, 400, param)


def test_passthrough_prepare_and_response() -> None:
    ANTHROPIC_PASSTHROUGH.check(CLAUDE_CODE_BODY)
    prepared = ANTHROPIC_PASSTHROUGH.prepare(CLAUDE_CODE_BODY, "claude-upstream", True)
    assert orjson.loads(prepared.data) == {**CLAUDE_CODE_BODY, "model": "claude-upstream"}
    assert CLAUDE_CODE_BODY["model"] == "claude-sonnet-4-5"
    answer = {
        "id": "msg_1",
        "type": "message",
        "model": "claude-upstream",
        "content": [{"type": "text", "text": "hi"}],
        "usage": {"input_tokens": 1, "cache_read_input_tokens": 4, "output_tokens": 2},
    }
    body, usage = ANTHROPIC_PASSTHROUGH.rewrite_response(orjson.dumps(answer), "public")
    assert orjson.loads(body) == {**answer, "model": "public"}
    assert usage == Usage(input_tokens=5, output_tokens=2, cached_tokens=4)
    for bad in (b"not json", b'{"type": "message"}', b"[]"):
        with pytest.raises(GatewayError) as info:
            ANTHROPIC_PASSTHROUGH.rewrite_response(bad, "public")
        assert info.value.kind is ErrorKind.UPSTREAM


@pytest.mark.parametrize("name", ["text", "tool_use", "thinking_signature_refusal"])
def test_passthrough_stream_filter(name: str) -> None:
    raw = (FIXTURES / f"anthropic_stream_{name}.sse").read_bytes()
    parser = SSEParser()
    events = parser.feed(raw) + parser.finish()
    stream_filter = ANTHROPIC_PASSTHROUGH.new_stream_filter("public-model", False)
    out = b"".join(stream_filter.process(e) for e in events) + stream_filter.finish()
    relayed = SSEParser().feed(out)
    assert [(e.event, e.data) for e in relayed[1:]] == [(e.event, e.data) for e in events[1:]]  # unchanged
    start = orjson.loads(relayed[0].data)
    assert relayed[0].event == "message_start" and start["message"]["model"] == "public-model"
    original = orjson.loads(events[0].data)
    original["message"]["model"] = "public-model"
    assert start == original
    assert stream_filter.completed and stream_filter.failure is None
    expected = ANTHROPIC.new_stream_decoder()
    final = [u for e in events for u in expected.feed(e) if isinstance(u, UsageUpdate)]
    assert stream_filter.usage == final[-1].usage


def test_passthrough_stream_filter_errors() -> None:
    stream_filter = ANTHROPIC_PASSTHROUGH.new_stream_filter("p", True)
    frame = b'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n'
    error = SSEParser().feed(frame)[0]
    assert stream_filter.process(error) == frame and stream_filter.failure == "Overloaded"
    assert not stream_filter.completed
    garbage = ANTHROPIC_PASSTHROUGH.new_stream_filter("p", True)
    assert garbage.process(SSEEvent(data=b"{oops", event="message_start")) == b""
    assert garbage.failure is not None
    closing = stream_filter.error(GatewayError(ErrorKind.UPSTREAM_TIMEOUT, "slow"))
    assert closing == b'event: error\ndata: {"type":"error","error":{"type":"timeout_error","message":"slow"}}\n\n'
    bare = ANTHROPIC_PASSTHROUGH.new_stream_filter("p", True)
    out = bare.process(SSEEvent(data=b'{"type":"message_stop"}'))
    assert bare.completed and out == b'data: {"type":"message_stop"}\n\n'
