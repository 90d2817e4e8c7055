"""Hostile upstreams: a plain answer that trickles past the total deadline, bodies and events over the size caps."""

from __future__ import annotations

import asyncio
import gc
import json
import time
from collections.abc import AsyncIterator
from types import FrameType
from typing import Any

import aiohttp
import openai
import pytest
from aiohttp import web

from omnirouter.mock_upstream import MockUpstream
from omnirouter.relay.chat import ChatOperation
from omnirouter.relay.context import RequestContext
from tests.helpers.gateway_harness import CLIENT_KEY
from tests.helpers.local_http import serving

ASK = [{"role": "user", "content": "hello"}]
AUTH = {"authorization": f"Bearer {CLIENT_KEY}"}


def channel(url: str, name: str, provider: str = "openai", **extra: Any) -> dict[str, Any]:
    base_url = f"{url}/v1" if provider == "openai" else url
    return {
        "name": name,
        "provider": provider,
        "base_url": base_url,
        "api_keys": [f"sk-{name}"],
        "models": ["m"],
        **extra,
    }


async def post_chat(url: str, directive: str, stream: bool = False) -> tuple[int, bytes, float]:
    """POST one chat request with ``directive`` as its prompt: status, body and seconds taken."""
    body = {"model": "m", "stream": stream, "messages": [{"role": "user", "content": directive}]}
    began = time.monotonic()
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=8)) as session,
        session.post(f"{url}/v1/chat/completions", json=body, headers=AUTH) as response,
    ):
        raw = await response.read()
        return response.status, raw, time.monotonic() - began


# --- the plain-call deadline -------------------------------------------------------------------------------


@pytest.mark.parametrize("fault", ["", '"fail": 500, '], ids=["answer", "error-body"])
async def test_a_trickling_plain_answer_is_cut_at_the_total_timeout(
    start: Any, mock_upstream: MockUpstream, fault: str
) -> None:
    # 20 bytes a second: every read comes well within the first-byte and idle limits, only the total can stop it.
    channels = [channel(mock_upstream.url, "slow", first_byte_timeout=5, idle_timeout=5, total_timeout=1)]
    async with start(channels) as gateway:
        status, raw, took = await post_chat(gateway.url, f'[[mock {{{fault}"trickle": 20}}]]')
    assert status == 504
    assert b"took longer than 1s in all" in raw
    assert took < 4


async def test_a_trickling_plain_answer_fails_over_to_the_next_channel(start: Any, mock_upstream: MockUpstream) -> None:
    channels = [
        channel(mock_upstream.url, "slow", priority=1, first_byte_timeout=5, total_timeout=1),
        channel(mock_upstream.url, "good"),
    ]
    async with start(channels) as gateway:
        mock_upstream.script({"trickle": 20}, times=1)
        body = {"model": "m", "messages": ASK}
        began = time.monotonic()
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=8)) as session,
            session.post(f"{gateway.url}/v1/chat/completions", json=body, headers=AUTH) as response,
        ):
            answer = await response.json()
        assert time.monotonic() - began < 4
    assert response.status == 200
    assert answer["choices"][0]["message"]["content"] == "Echo: hello"
    assert response.headers["x-omnirouter-attempts"] == "2"


# --- size caps: plain answers and error bodies ------------------------------------------------------------


async def test_a_huge_error_body_is_cut_and_still_relayed_as_the_upstream_error(
    start: Any, mock_upstream: MockUpstream
) -> None:
    async with start([channel(mock_upstream.url, "a")], max_upstream_error_bytes=64 * 1024) as gateway:
        status, raw, _ = await post_chat(gateway.url, '[[mock {"fail": 400, "body_bytes": 5000000}]]')
    assert status == 400
    assert len(raw) < 70 * 1024  # not the 5 MB the upstream sent
    assert b"Invalid request (mock)." in raw


async def test_a_huge_error_body_still_fails_over(start: Any, mock_upstream: MockUpstream) -> None:
    channels = [channel(mock_upstream.url, "big", priority=1), channel(mock_upstream.url, "good")]
    async with start(channels, max_upstream_error_bytes=1024) as gateway:
        mock_upstream.script({"fail": 503, "body_bytes": 1_000_000}, times=1)
        status, raw, _ = await post_chat(gateway.url, "hello")
    assert status == 200 and b"Echo: hello" in raw


async def test_a_plain_answer_over_the_cap_fails_the_attempt(start: Any, mock_upstream: MockUpstream) -> None:
    channels = [channel(mock_upstream.url, "big", priority=1), channel(mock_upstream.url, "good")]
    async with start(channels, max_upstream_body_bytes=100_000) as gateway:
        status, raw, _ = await post_chat(gateway.url, '[[mock {"body_bytes": 200000}]]')
        assert status == 502
        assert b"larger than 100000 bytes" in raw
        mock_upstream.script({"body_bytes": 200_000}, times=1)  # the next answer fails over
        status, raw, _ = await post_chat(gateway.url, "hello")
        assert status == 200 and b"Echo: hello" in raw
        status, raw, _ = await post_chat(gateway.url, '[[mock {"body_bytes": 90000}]]')  # under the cap
        assert status == 200 and len(raw) > 90_000


@pytest.fixture
async def chunked_upstream() -> AsyncIterator[str]:
    """An OpenAI-like upstream whose answers are chunked (no Content-Length): 300 kB of JSON whitespace."""

    async def answer(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"content-type": "application/json"})
        await response.prepare(request)
        await response.write(b'{"id":"x","object":"chat.completion","created":1,"model":"m","choices":[]')
        for _ in range(30):
            await response.write(b" " * 10_000)
        await response.write(b"}")
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_post("/v1/chat/completions", answer)
    async with serving(app) as base:
        yield base


async def test_a_chunked_answer_over_the_cap_fails_the_attempt(start: Any, chunked_upstream: str) -> None:
    async with start([channel(chunked_upstream, "chunked", max_upstream_body_bytes=100_000)]) as gateway:
        status, raw, _ = await post_chat(gateway.url, "hello")
    assert status == 502
    assert b"larger than 100000 bytes" in raw


# --- size caps: stream events -----------------------------------------------------------------------------


async def test_a_stream_event_over_the_cap_before_any_output_fails_over(
    start: Any, mock_upstream: MockUpstream
) -> None:
    channels = [
        channel(mock_upstream.url, "big", "gemini", priority=1, model_map={"m": "gemini-2.0-flash"}),
        channel(mock_upstream.url, "good"),
    ]
    async with start(channels, max_event_bytes=100_000) as gateway:
        mock_upstream.script({"body_bytes": 300_000, "chunks": 1}, times=1)  # Gemini's first event is the text
        async with openai.AsyncOpenAI(base_url=f"{gateway.url}/v1", api_key=CLIENT_KEY, max_retries=0) as client:
            raw = await client.chat.completions.with_raw_response.create(model="m", messages=ASK, stream=True)
            text = "".join([c.choices[0].delta.content or "" async for c in raw.parse() if c.choices])
    assert text == "Echo: hello"
    assert raw.headers["x-omnirouter-attempts"] == "2"


@pytest.mark.parametrize("directive", [{"body_bytes": 300_000}, {"unterminated_event_bytes": 300_000}])
async def test_a_stream_event_over_the_cap_ends_a_started_stream_with_an_error(
    start: Any, mock_upstream: MockUpstream, directive: dict[str, Any]
) -> None:
    async with start([channel(mock_upstream.url, "a", max_event_bytes=100_000)]) as gateway:
        mock_upstream.script(directive, times=1)
        async with openai.AsyncOpenAI(base_url=f"{gateway.url}/v1", api_key=CLIENT_KEY, max_retries=0) as client:
            stream = await client.chat.completions.create(model="m", messages=ASK, stream=True)
            with pytest.raises(openai.APIError) as caught:
                async with asyncio.timeout(8):
                    async for _ in stream:
                        pass
    assert "stream event larger than 100000 bytes" in str(caught.value)


# --- the mock's directives for these cases ----------------------------------------------------------------


async def test_mock_pads_and_trickles_in_the_wire_format(mock_upstream: MockUpstream) -> None:
    mock_upstream.clear_script()
    headers = {"authorization": "Bearer sk-x"}
    url = f"{mock_upstream.url}/v1/chat/completions"

    def ask(directive: str, stream: bool = False) -> dict[str, Any]:
        return {"model": "m", "stream": stream, "messages": [{"role": "user", "content": directive}]}

    async with aiohttp.ClientSession() as session:
        async with session.post(url, json=ask('[[mock {"body_bytes": 50000}]]'), headers=headers) as response:
            answer = await response.json()
        assert 50_000 <= len(answer["choices"][0]["message"]["content"]) < 50_100
        async with session.post(url, json=ask('[[mock {"fail": 503, "body_bytes": 50000}]]'), headers=headers) as r:
            error = await r.json()
        assert r.status == 503 and len(error["error"]["message"]) == 50_000
        began = time.monotonic()
        async with session.post(url, json=ask('[[mock {"text": "hi", "trickle": 1000}]]'), headers=headers) as r:
            assert r.content_length is not None
            answer = await r.json()
        assert answer["choices"][0]["message"]["content"] == "hi"
        assert time.monotonic() - began > 0.2  # ~400 bytes at 1000 bytes/s
        body = ask('[[mock {"unterminated_event_bytes": 5000}]]', stream=True)
        async with session.post(url, json=body, headers=headers) as r:
            raw = await r.read()
        first, giant = raw.split(b"\n\n")
        assert first.startswith(b"data: {") and giant == b"data: " + b"x" * 4994


# --- memory of failed requests ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("directive", "stream", "status"),
    [({"fail": 400}, False, 400), ({"garbage": True}, True, 502), ({"cut_after": 2}, True, 200)],
    ids=["plain-error", "stream-failed-before-start", "stream-cut-after-start"],
)
async def test_a_failed_request_is_freed_without_the_garbage_collector(
    start: Any, mock_upstream: MockUpstream, directive: dict[str, Any], stream: bool, status: int
) -> None:
    """The failed request's call (holding its body), context and frames go by reference counting alone.

    A reference cycle (e.g. an exception whose traceback holds a frame that holds the exception) would
    keep them, and the request's megabytes, until a collection: rare in a serving worker (gc_tuning).
    """
    prompt = f"[[mock {json.dumps(directive)}]] " + "x" * 1_000_000
    frames = ("serve", "run_attempts", "pump_stream", "run")
    async with start([channel(mock_upstream.url, "a")]) as gateway:
        await post_chat(gateway.url, prompt, stream)
        gc.collect()
        gc.disable()
        try:
            got, _, _ = await post_chat(gateway.url, prompt, stream)
            await asyncio.sleep(0.2)  # the request's task is done
            left = [
                o
                for o in gc.get_objects()
                if isinstance(o, ChatOperation | RequestContext)
                or (isinstance(o, FrameType) and o.f_code.co_name in frames)
            ]
            kinds = sorted({type(o).__name__ for o in left})
            del left
        finally:
            gc.enable()
    assert got == status
    assert kinds == []
