"""Failures reach OpenAI clients as OpenAI-format errors with the right status, never a traceback."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path
from typing import Any

import aiohttp
import openai
import pytest

from omnirouter.mock_upstream import MockUpstream, directive
from tests.helpers.gateway_harness import CLIENT_KEY, UPSTREAM_KEY, RunningGateway, make_config, running_gateway
from tests.helpers.openapi_schema import validate_openai


@pytest.fixture
def gateway(shared_gateway: RunningGateway, mock_upstream: MockUpstream) -> RunningGateway:
    """One gateway per backend for the tests here that leave nothing behind: refused before any upstream
    call, or answered. The tests that make the upstream fail (which a breaker counts) take ``fresh_client``."""
    mock_upstream.requests.clear()
    return shared_gateway


async def raw_post(
    gateway: RunningGateway, body: bytes, headers: dict[str, str] | None = None, path: str = "/v1/chat/completions"
) -> tuple[int, dict[str, Any], dict[str, str]]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{gateway.url}{path}", data=body, headers=headers or {}) as response,
    ):
        payload = await response.json(content_type=None)
        return response.status, payload, {k.lower(): v for k, v in response.headers.items()}


def assert_openai_error(payload: dict[str, Any]) -> dict[str, Any]:
    error = payload["error"]
    assert set(error) >= {"message", "type", "param", "code"}
    assert isinstance(error["message"], str) and error["message"]
    assert "Traceback" not in error["message"]
    validate_openai("ErrorResponse", payload)
    return error  # type: ignore[no-any-return]


AUTH = {"authorization": f"Bearer {CLIENT_KEY}", "content-type": "application/json"}


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"{not json", "not valid JSON"),
        (b"", "empty"),
        (b"[1, 2]", "JSON object"),
        (b'{"messages": []}', "model"),
        (b'{"model": 5, "messages": []}', "model"),
        (b'{"model": "gpt-4o-mini", "stream": "yes", "messages": []}', "stream"),
    ],
)
async def test_bad_body_is_400(gateway: RunningGateway, body: bytes, fragment: str) -> None:
    status, payload, headers = await raw_post(gateway, body, AUTH)
    assert status == 400
    error = assert_openai_error(payload)
    assert error["type"] == "invalid_request_error"
    assert fragment in error["message"]
    assert headers["x-request-id"].startswith("req_")


async def test_missing_key_is_401(gateway: RunningGateway) -> None:
    status, payload, _ = await raw_post(gateway, b'{"model": "gpt-4o-mini", "messages": []}')
    assert status == 401
    assert assert_openai_error(payload)["type"] == "authentication_error"


async def test_wrong_key_is_401_via_sdk(gateway: RunningGateway) -> None:
    async with openai.AsyncOpenAI(base_url=f"{gateway.url}/v1", api_key="sk-wrong-key-123", max_retries=0) as client:
        with pytest.raises(openai.AuthenticationError) as caught:
            await client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}])
    assert caught.value.status_code == 401


async def test_unknown_model_is_404(client: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        await client.chat.completions.create(model="no-such-model", messages=[{"role": "user", "content": "x"}])
    assert caught.value.code == "model_not_found"


async def test_unknown_route_is_404_json(gateway: RunningGateway) -> None:
    status, payload, _ = await raw_post(gateway, b"{}", AUTH, path="/v1/nothing-here")
    assert status == 404
    assert_openai_error(payload)


async def test_upstream_4xx_passes_through_with_status_and_scrubbed_message(client: openai.AsyncOpenAI) -> None:
    message = f"Invalid parameter 'foo' (request made with key {UPSTREAM_KEY})"
    with pytest.raises(openai.BadRequestError) as caught:
        await client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": directive(fail=400, message=message)}],
        )
    assert caught.value.status_code == 400
    assert "Invalid parameter 'foo'" in caught.value.message
    assert UPSTREAM_KEY not in caught.value.message
    assert UPSTREAM_KEY not in json.dumps(caught.value.body)


async def test_upstream_429_stays_429(fresh_client: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.RateLimitError) as caught:
        await fresh_client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": directive(fail=429, message="slow down")}],
            stream=True,
        )
    assert caught.value.status_code == 429
    assert "slow down" in caught.value.message


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_unreachable_upstream_is_502(tmp_path: Path, mock_upstream: MockUpstream) -> None:
    config = make_config(f"http://127.0.0.1:{_free_port()}", tmp_path / "gw.db")
    async with running_gateway(config) as gateway:
        async with openai.AsyncOpenAI(base_url=f"{gateway.url}/v1", api_key=CLIENT_KEY, max_retries=0) as client:
            with pytest.raises(openai.APIStatusError) as caught:
                await client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}])
        assert caught.value.status_code == 502
        assert "unreachable" in caught.value.message


async def test_slow_upstream_is_504(tmp_path: Path, mock_upstream: MockUpstream) -> None:
    config = make_config(mock_upstream.url, tmp_path / "gw.db")
    config.channels[0].first_byte_timeout = 0.3
    async with (
        running_gateway(config) as gateway,
        openai.AsyncOpenAI(base_url=f"{gateway.url}/v1", api_key=CLIENT_KEY, max_retries=0) as client,
    ):
        for stream in (False, True):
            with pytest.raises(openai.APIStatusError) as caught:
                await client.chat.completions.create(
                    model="gpt-4o-mini",
                    messages=[{"role": "user", "content": directive(delay=2)}],
                    stream=stream,
                )
            assert caught.value.status_code == 504


async def test_garbage_from_upstream_is_502(fresh_client: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.APIStatusError) as caught:
        await fresh_client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": directive(garbage=True)}]
        )
    assert caught.value.status_code == 502


async def test_stream_cut_midway_ends_with_error_not_hang(fresh_client: openai.AsyncOpenAI) -> None:
    stream = await fresh_client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": directive(text="one two three four five six", cut_after=3)}],
        stream=True,
    )
    received: list[str] = []
    with pytest.raises(openai.APIError) as caught:
        async with asyncio.timeout(10):
            async for chunk in stream:
                if chunk.choices:
                    received.append(chunk.choices[0].delta.content or "")
    assert received, "the chunks before the cut were relayed"
    assert "ended the stream early" in str(caught.value) or "failed" in str(caught.value)


async def test_gateway_survives_bad_input_burst(gateway: RunningGateway) -> None:
    bodies = [b"\xff\xfe", b"{" * 10_000, b'{"model": null}', b'{"model": "gpt-4o-mini", "messages": 7}', b"null"]
    for body in bodies:
        status, payload, _ = await raw_post(gateway, body, AUTH)
        assert 400 <= status < 500
        assert_openai_error(payload)
    status, _, _ = await raw_post(
        gateway, json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "ok"}]}).encode(), AUTH
    )
    assert status == 200
