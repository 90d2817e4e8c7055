"""Gemini pass-through adapter: checks, body preparation, response rewrite, SSE and JSON-array stream filters."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest

from omnirouter.ir import ErrorKind, GatewayError, Usage
from omnirouter.protocols.base import PassthroughAdapter, StreamFilter
from omnirouter.protocols.gemini import GEMINI, GEMINI_JSON_ARRAY, GEMINI_PASSTHROUGH, GeminiCodec
from omnirouter.protocols.sse import SSEParser
from tests.helpers.gemini_sdk import stream_through_sdk
from tests.helpers.reference import FIXTURES

FIXTURE = FIXTURES / "gemini_stream_sse_functioncall_thoughtsignature.sse"


def chunk(text: str, finish: str | None = None, prompt: int = 5, out: int = 1) -> bytes:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": [{"text": text}]}, "index": 0}
    if finish:
        candidate["finishReason"] = finish
    body = {
        "candidates": [candidate],
        "usageMetadata": {"promptTokenCount": prompt, "candidatesTokenCount": out, "totalTokenCount": prompt + out},
        "modelVersion": "gemini-2.5-flash-001",
        "responseId": "rid",
    }
    return b"data: " + orjson.dumps(body) + b"\r\n\r\n"


def relay(stream: StreamFilter, raw: bytes) -> bytes:
    parser = SSEParser()
    out = b"".join(stream.process(e) for e in parser.feed(raw))
    return out + b"".join(stream.process(e) for e in parser.finish()) + stream.finish()


def test_codec_instances_carry_their_adapter() -> None:
    assert isinstance(GEMINI, GeminiCodec) and isinstance(GEMINI_JSON_ARRAY, GeminiCodec)
    assert GEMINI.passthrough is GEMINI_PASSTHROUGH
    adapters: list[PassthroughAdapter | None] = [GEMINI.passthrough, GEMINI_JSON_ARRAY.passthrough]
    assert all(a is not None for a in adapters) and adapters[0] is not adapters[1]


def test_check_and_prepare() -> None:
    body = {"model": "public", "contents": [{"role": "user", "parts": [{"text": "hi"}]}], "generationConfig": {}}
    GEMINI_PASSTHROUGH.check(body)
    prepared = GEMINI_PASSTHROUGH.prepare(body, "gemini-2.5-flash", True)
    assert orjson.loads(prepared.data) == {"contents": body["contents"], "generationConfig": {}}
    assert prepared.client_wants_usage and body["model"] == "public"
    bad_bodies: list[dict[str, Any]] = [
        {},
        {"contents": []},
        {"contents": ["x"]},
        {"contents": [{"role": "user"}]},
        {"contents": [{"parts": []}]},
    ]
    for bad in bad_bodies:
        with pytest.raises(GatewayError) as raised:
            GEMINI_PASSTHROUGH.check(bad)
        assert raised.value.kind is ErrorKind.INVALID_REQUEST


def test_rewrite_response() -> None:
    raw = json.dumps(
        {
            "candidates": [{"content": {"role": "model", "parts": [{"text": "hi"}]}, "finishReason": "STOP"}],
            "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 1, "thoughtsTokenCount": 2},
            "modelVersion": "gemini-2.5-flash-001",
        }
    ).encode()
    body, usage = GEMINI_PASSTHROUGH.rewrite_response(raw, "public")
    assert orjson.loads(body)["modelVersion"] == "public"
    assert usage == Usage(input_tokens=3, output_tokens=3, reasoning_tokens=2)
    blocked, _ = GEMINI_PASSTHROUGH.rewrite_response(b'{"promptFeedback": {"blockReason": "OTHER"}}', "public")
    assert orjson.loads(blocked)["modelVersion"] == "public"
    for bad in (b"not json", b"[1]", b'{"foo": 1}'):
        with pytest.raises(GatewayError) as raised:
            GEMINI_PASSTHROUGH.rewrite_response(bad, "public")
        assert raised.value.kind is ErrorKind.UPSTREAM


async def test_sse_filter_renames_and_captures_usage() -> None:
    stream = GEMINI_PASSTHROUGH.new_stream_filter("public", True)
    parser = SSEParser()
    first = b"".join(stream.process(e) for e in parser.feed(chunk("Hel", out=1)))
    assert first.startswith(b"data: ") and b'"modelVersion":"public"' in first and first.endswith(b"\r\n\r\n")
    assert stream.usage == Usage(input_tokens=5, output_tokens=1) and not stream.completed
    rest = b"".join(stream.process(e) for e in parser.feed(chunk("lo", "STOP", out=2)))
    assert stream.completed and stream.failure is None
    assert stream.usage == Usage(input_tokens=5, output_tokens=2)
    chunks = await stream_through_sdk(first + rest + stream.finish())
    assert "".join(c.text or "" for c in chunks) == "Hello" and {c.model_version for c in chunks} == {"public"}


def test_fixture_through_filter() -> None:
    stream = GEMINI_PASSTHROUGH.new_stream_filter("public", True)
    out = relay(stream, FIXTURE.read_bytes())
    data = orjson.loads(SSEParser().feed(out)[0].data)
    assert data["modelVersion"] == "public" and data["candidates"][0]["content"]["parts"][0]["thoughtSignature"]
    assert stream.completed and stream.usage == Usage(input_tokens=83, output_tokens=118, reasoning_tokens=104)


def test_json_array_filter() -> None:
    stream = GEMINI_JSON_ARRAY.passthrough.new_stream_filter("public", True)  # type: ignore[union-attr]
    out = relay(stream, chunk("a") + chunk("b") + chunk("", "MAX_TOKENS", out=2))
    assert out.startswith(b"[{") and out.count(b",\r\n{") == 2 and out.endswith(b"]")
    items = json.loads(out)
    assert [i["modelVersion"] for i in items] == ["public"] * 3 and stream.completed
    empty = GEMINI_JSON_ARRAY.passthrough.new_stream_filter("public", True)  # type: ignore[union-attr]
    assert json.loads(empty.finish()) == []


def test_blocked_prompt_completes_and_errors_fail() -> None:
    blocked = GEMINI_PASSTHROUGH.new_stream_filter("public", True)
    relay(blocked, b'data: {"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": {"promptTokenCount": 9}}\n\n')
    assert blocked.completed and blocked.usage == Usage(input_tokens=9)

    failing = GEMINI_PASSTHROUGH.new_stream_filter("public", True)
    error = b'data: {"error": {"code": 503, "message": "overloaded", "status": "UNAVAILABLE"}}\r\n\r\n'
    out = relay(failing, chunk("x") + error)
    assert failing.failure == "overloaded" and failing.completed
    assert out.endswith(error)

    garbage = GEMINI_PASSTHROUGH.new_stream_filter("public", True)
    relay(garbage, b'data: {"candidates": [ "finishReason" not json\r\n\r\n')
    assert garbage.failure is not None and not garbage.completed

    cut = GEMINI_JSON_ARRAY.passthrough.new_stream_filter("public", True)  # type: ignore[union-attr]
    body = b"".join(cut.process(e) for e in SSEParser().feed(chunk("x")))
    closing = cut.error(GatewayError(ErrorKind.UPSTREAM, "upstream ended early"))
    items = json.loads(body + closing)
    assert items[-1] == {"error": {"code": 502, "message": "upstream ended early", "status": "UNAVAILABLE"}}


def test_args_named_like_ending_keys_do_not_confuse_the_filter() -> None:
    body = {
        "candidates": [{"content": {"parts": [{"functionCall": {"name": "f", "args": {"finishReason": "x"}}}]}}],
        "modelVersion": "m",
    }
    stream = GEMINI_PASSTHROUGH.new_stream_filter("public", True)
    relay(stream, b"data: " + orjson.dumps(body) + b"\n\n")
    assert not stream.completed
