"""The mock upstream's scripting, control endpoints, request log and runners."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from omnirouter.mock_upstream import DirectiveError, MockUpstream, parse_directive
from omnirouter.mock_upstream.directives import extract
from omnirouter.mock_upstream.tokens import count_input, split_arguments, split_n, split_words

OPENAI = {"Authorization": "Bearer sk-x"}


@pytest.fixture
async def mock() -> AsyncIterator[MockUpstream]:
    async with MockUpstream() as m:
        yield m


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


def chat(text: str, stream: bool = False) -> dict[str, Any]:
    return {"model": "m", "messages": [{"role": "user", "content": text}], "stream": stream}


async def ask(session: aiohttp.ClientSession, mock: MockUpstream, text: str) -> tuple[int, Any]:
    async with session.post(mock.url + "/v1/chat/completions", json=chat(text), headers=OPENAI) as r:
        return r.status, await r.json()


def test_extract_directive() -> None:
    directive, rest = extract('Hi [[mock {"text": "a ]] b", "tool_calls": [{"name": "f"}]} ]] there')
    assert directive is not None and directive.text == "a ]] b" and directive.tool_calls[0].name == "f"
    assert rest == "Hi  there"
    assert extract("no directive") == (None, "no directive")
    for bad in ("[[mock {nope}]]", '[[mock {"text": "x"}', '[[mock {"txt": "x"}]]', '[[mock {"fail": 200}]]'):
        with pytest.raises(DirectiveError):
            extract(bad)
    with pytest.raises(DirectiveError):
        parse_directive({"delay": "slow"})
    with pytest.raises(DirectiveError):
        parse_directive({"hold_after": -1})


def test_token_helpers() -> None:
    assert split_words("Echo: hello  world ") == ["Echo:", " hello", "  world "]
    assert "".join(split_n("abcdefgh", 3)) == "abcdefgh" and len(split_n("abcdefgh", 3)) == 3
    assert len(split_arguments('{"city": "Paris"}')) == 4 and split_arguments("{}") == ["{}"]
    body = [{"role": "user", "content": "abcd", "id": "ignored-id"}]
    assert count_input(body) == 2


async def test_request_log_over_http(mock: MockUpstream, session: aiohttp.ClientSession) -> None:
    await ask(session, mock, "hello")
    async with session.get(mock.url + "/_mock/requests") as r:
        log = await r.json()
    assert len(log) == 1 and log == mock.requests
    entry = log[0]
    assert entry["method"] == "POST" and entry["path"] == "/v1/chat/completions" and entry["provider"] == "openai"
    logged = mock.requests[0]
    assert logged.body == entry["body"] and logged.headers["authorization"] == "Bearer sk-x"
    assert logged.method == "POST" and logged.provider == "openai" and logged.time == entry["time"]
    assert entry["headers"]["authorization"] == "Bearer sk-x" and entry["body"]["messages"][0]["content"] == "hello"
    assert isinstance(entry["time"], float) and entry["query"] == {}
    async with session.get(mock.url + "/_mock/requests?provider=gemini") as r:
        assert await r.json() == []
    async with session.delete(mock.url + "/_mock/requests") as r:
        assert (await r.json())["cleared"] == 1
    assert mock.requests == []


async def test_script_queue_over_http(mock: MockUpstream, session: aiohttp.ClientSession) -> None:
    body = {"directive": {"text": "scripted"}, "times": 2}
    async with session.post(mock.url + "/_mock/script", json=body) as r:
        assert r.status == 200
    async with session.get(mock.url + "/_mock/script") as r:
        assert await r.json() == [body]
    replies = [(await ask(session, mock, '[[mock {"text": "inline"}]]'))[1] for _ in range(3)]
    texts = [r["choices"][0]["message"]["content"] for r in replies]
    assert texts == ["scripted", "scripted", "inline"]
    async with session.post(mock.url + "/_mock/script", json={"directive": {"fail": 500}, "times": 5}) as r:
        assert r.status == 200
    async with session.delete(mock.url + "/_mock/script") as r:
        assert r.status == 200
    status, _ = await ask(session, mock, "ok")
    assert status == 200
    async with session.post(mock.url + "/_mock/script", json={"directive": {"bogus": 1}}) as r:
        assert r.status == 400 and "bogus" in (await r.json())["error"]


async def test_script_in_process_applies_to_any_provider(mock: MockUpstream, session: aiohttp.ClientSession) -> None:
    mock.script({"fail": 429, "retry_after": 1}, times=1)
    mock.script({"text": "second"})
    headers = {"x-api-key": "k", "anthropic-version": "2023-06-01"}
    body = {"model": "c", "max_tokens": 10, "messages": [{"role": "user", "content": "x"}]}
    async with session.post(mock.url + "/v1/messages", json=body, headers=headers) as r:
        assert r.status == 429 and r.headers["retry-after"] == "1"
        assert (await r.json())["error"]["type"] == "rate_limit_error"
    url = mock.url + "/v1beta/models/gemini-2.0-flash:generateContent?key=k"
    async with session.post(url, json={"contents": [{"parts": [{"text": "x"}]}]}) as r:
        assert (await r.json())["candidates"][0]["content"]["parts"][0]["text"] == "second"
    with pytest.raises(ValueError):
        mock.script({"unknown": True})


async def test_bad_inline_directive_is_a_provider_error(mock: MockUpstream, session: aiohttp.ClientSession) -> None:
    status, body = await ask(session, mock, '[[mock {"text": }]]')
    assert status == 400 and "directive" in body["error"]["message"]


async def test_delay_and_chunk_delay(mock: MockUpstream, session: aiohttp.ClientSession) -> None:
    start = time.monotonic()
    status, _ = await ask(session, mock, '[[mock {"delay": 0.2}]]')
    assert status == 200 and time.monotonic() - start >= 0.2
    arrivals: list[float] = []
    body = chat('[[mock {"text": "a b c d", "chunk_delay": 0.05}]]', stream=True)
    async with session.post(mock.url + "/v1/chat/completions", json=body, headers=OPENAI) as r:
        async for _ in r.content.iter_any():
            arrivals.append(time.monotonic())
    assert len(arrivals) >= 4 and arrivals[-1] - arrivals[0] >= 0.2


async def test_hold_after_waits_for_the_release(mock: MockUpstream, session: aiohttp.ClientSession) -> None:
    body = chat('[[mock {"text": "a b c d", "hold_after": 1}]]', stream=True)
    async with session.post(mock.url + "/v1/chat/completions", json=body, headers=OPENAI) as r:
        async with asyncio.timeout(10):
            first = await r.content.readuntil(b"\n\n")
        assert b'"role":"assistant"' in first
        async with session.post(mock.url + "/_mock/release") as released:
            assert await released.json() == {"released": 1}  # it was held when its first event arrived
        rest = await r.content.read()
    assert rest.count(b"data: ") == 6 and rest.endswith(b"data: [DONE]\n\n")
    assert mock.release() == 0  # nothing held any more


async def test_cut_after_aborts_without_terminator(mock: MockUpstream, session: aiohttp.ClientSession) -> None:
    body = chat('[[mock {"text": "a b c d", "cut_after": 2}]]', stream=True)
    received = b""
    with pytest.raises(aiohttp.ClientPayloadError):
        async with session.post(mock.url + "/v1/chat/completions", json=body, headers=OPENAI) as r:
            async for data in r.content.iter_any():
                received += data
    assert received.count(b"data: ") == 2 and b"[DONE]" not in received


async def test_head_root_and_health(mock: MockUpstream, session: aiohttp.ClientSession) -> None:
    async with session.head(mock.url + "/") as r:
        assert r.status == 200
    async with session.get(mock.url + "/_mock/health") as r:
        assert await r.json() == {"ok": True}


async def test_many_concurrent_requests(mock: MockUpstream, session: aiohttp.ClientSession) -> None:
    results = await asyncio.gather(*(ask(session, mock, f"n{i}") for i in range(50)))
    assert all(status == 200 for status, _ in results)
    assert {r["choices"][0]["message"]["content"] for _, r in results} == {f"Echo: n{i}" for i in range(50)}


async def test_serve_cli_prints_address() -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    code = "from omnirouter.mock_upstream import serve; serve('127.0.0.1', 0)"
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, env=env)
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(asyncio.to_thread(proc.stdout.readline), 10)).decode()
        assert "listening on http://127.0.0.1:" in line
        url = line.split()[-1]
        async with aiohttp.ClientSession() as s, s.get(url + "/_mock/health") as r:
            assert r.status == 200
    finally:
        proc.terminate()
        proc.wait(5)
        if proc.stdout is not None:
            proc.stdout.close()


async def test_unknown_paths_are_logged_and_404(mock: MockUpstream, session: aiohttp.ClientSession) -> None:
    async with session.post(mock.url + "/v1/batches", json={"input": "x"}, headers=OPENAI) as r:
        assert r.status == 404 and "Invalid URL" in (await r.json())["error"]["message"]
    assert mock.requests[-1].path == "/v1/batches" and mock.requests[-1].body == {"input": "x"}
