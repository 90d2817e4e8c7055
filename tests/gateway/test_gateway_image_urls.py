"""Image URL schemes through every inbound protocol: only http(s) and data: reach an upstream.

A Gemini upstream takes images inline, so the gateway fetches http(s) URLs under its fetch policy;
any other scheme must be refused (400, in the client's protocol) before the upstream sees anything.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import msgspec
import pytest

from omnirouter.config import GatewayConfig
from omnirouter.mock_upstream import MockUpstream
from tests.helpers.gateway_harness import CLIENT_KEY, RunningGateway, running_gateway

GEMINI_MODEL = "gem-img"
OPENAI_MODEL = "gpt-img"
PNG_B64 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
BAD_URLS = [
    "file:///etc/passwd",
    "FILE:///etc/passwd",
    "ftp://example.com/cat.png",
    "gopher://127.0.0.1:70/_x",
    "javascript:alert(1)",
    "/etc/passwd.png",
]
PROTOCOLS = ["openai_chat", "openai_responses", "anthropic", "gemini"]


@pytest.fixture(scope="module")
async def served(
    mock_upstream: MockUpstream, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RunningGateway]:
    """One Gemini and one OpenAI channel on the mock; the image fetch policy at its defaults.

    One gateway for the module: no test here changes the config or reads usage rows, and the refused
    requests never reach an upstream (nothing for a breaker to count)."""
    config = msgspec.convert(
        {
            "database_url": f"sqlite:///{tmp_path_factory.mktemp('img') / 'gw.db'}",
            "channels": [
                {
                    "name": "ge",
                    "provider": "gemini",
                    "base_url": mock_upstream.url,
                    "api_keys": ["k-ge"],
                    "models": [GEMINI_MODEL],
                },
                {
                    "name": "oa",
                    "provider": "openai",
                    "base_url": f"{mock_upstream.url}/v1",
                    "api_keys": ["k-oa"],
                    "models": [OPENAI_MODEL],
                },
            ],
            "keys": [{"name": "tester", "key": CLIENT_KEY}],
        },
        GatewayConfig,
    )
    async with running_gateway(config) as running:
        yield running


@pytest.fixture
def gateway(served: RunningGateway, mock_upstream: MockUpstream) -> RunningGateway:
    """The module's gateway, with the mock's request log emptied for this test."""
    mock_upstream.requests.clear()
    return served


def request_for(protocol: str, model: str, url: str) -> tuple[str, dict[str, str], dict[str, Any]]:
    """``(path, headers, body)`` of a one-turn request with text and an image by URL."""
    body: dict[str, Any]
    if protocol == "openai_chat":
        image: dict[str, Any] = {"type": "image_url", "image_url": {"url": url}}
        messages = [{"role": "user", "content": [{"type": "text", "text": "what is it?"}, image]}]
        return "/v1/chat/completions", {"Authorization": f"Bearer {CLIENT_KEY}"}, {"model": model, "messages": messages}
    if protocol == "openai_responses":
        content = [{"type": "input_text", "text": "what is it?"}, {"type": "input_image", "image_url": url}]
        body = {"model": model, "input": [{"role": "user", "content": content}]}
        return "/v1/responses", {"Authorization": f"Bearer {CLIENT_KEY}"}, body
    if protocol == "anthropic":
        block = {"type": "image", "source": {"type": "url", "url": url}}
        body = {
            "model": model,
            "max_tokens": 16,
            "messages": [{"role": "user", "content": [{"type": "text", "text": "what is it?"}, block]}],
        }
        return "/v1/messages", {"x-api-key": CLIENT_KEY, "anthropic-version": "2023-06-01"}, body
    parts = [{"text": "what is it?"}, {"fileData": {"mimeType": "image/png", "fileUri": url}}]
    body = {"contents": [{"role": "user", "parts": parts}]}
    return f"/v1beta/models/{model}:generateContent", {"x-goog-api-key": CLIENT_KEY}, body


def error_message(protocol: str, body: dict[str, Any]) -> str:
    """The error message, checking the body has the protocol's error shape."""
    if protocol == "anthropic":
        assert body["type"] == "error" and body["error"]["type"] == "invalid_request_error", body
    elif protocol == "gemini":
        assert body["error"]["status"] == "INVALID_ARGUMENT", body
    else:
        assert body["error"]["type"] == "invalid_request_error", body
    message: str = body["error"]["message"]
    return message


async def post(gateway: RunningGateway, protocol: str, model: str, url: str) -> tuple[int, dict[str, Any]]:
    path, headers, body = request_for(protocol, model, url)
    async with aiohttp.ClientSession() as session, session.post(gateway.url + path, json=body, headers=headers) as r:
        return r.status, await r.json()


@pytest.mark.parametrize("url", BAD_URLS)
@pytest.mark.parametrize("model", [GEMINI_MODEL, OPENAI_MODEL])
@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_non_http_image_url_is_refused_before_the_upstream(
    gateway: RunningGateway, mock_upstream: MockUpstream, protocol: str, model: str, url: str
) -> None:
    status, body = await post(gateway, protocol, model, url)
    assert status == 400, body
    assert "image URL" in error_message(protocol, body)
    assert mock_upstream.requests == [], [r.path for r in mock_upstream.requests]


@pytest.mark.parametrize("protocol", ["openai_chat", "openai_responses", "anthropic"])
async def test_upper_case_scheme_still_meets_the_fetch_policy(
    gateway: RunningGateway, mock_upstream: MockUpstream, protocol: str
) -> None:
    """``HTTP://`` to a loopback host is a URL the gateway would fetch: the private-address policy refuses it.

    (A Gemini client's ``fileData`` to a Gemini upstream is relayed as written and fetched by Gemini, not here.)
    """
    status, body = await post(gateway, protocol, GEMINI_MODEL, f"HTTP://127.0.0.1:{gateway.port}/health")
    assert status == 400, body
    assert "private or reserved address" in error_message(protocol, body)
    assert mock_upstream.requests == []


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_data_uri_image_reaches_gemini_inline(
    gateway: RunningGateway, mock_upstream: MockUpstream, protocol: str
) -> None:
    if protocol == "gemini":
        path, headers, request = request_for(protocol, GEMINI_MODEL, "unused")
        request["contents"][0]["parts"][1] = {"inlineData": {"mimeType": "image/png", "data": PNG_B64}}
        async with (
            aiohttp.ClientSession() as session,
            session.post(gateway.url + path, json=request, headers=headers) as response,
        ):
            status = response.status
    else:
        status, _ = await post(gateway, protocol, GEMINI_MODEL, f"data:image/png;base64,{PNG_B64}")
    assert status == 200
    sent = mock_upstream.requests[-1].body["contents"][0]["parts"]
    assert {"inlineData": {"mimeType": "image/png", "data": PNG_B64}} in sent


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_https_image_url_reaches_an_openai_upstream(
    gateway: RunningGateway, mock_upstream: MockUpstream, protocol: str
) -> None:
    """OpenAI upstreams fetch image URLs themselves: an http(s) URL goes through, its scheme lower-cased
    where the gateway re-encodes the request (a same-protocol body is relayed as the client wrote it)."""
    status, body = await post(gateway, protocol, OPENAI_MODEL, "HTTPS://example.com/cat.png")
    assert status == 200, body
    sent = str(mock_upstream.requests[-1].body)
    expected = "HTTPS://example.com/cat.png" if protocol == "openai_chat" else "https://example.com/cat.png"
    assert expected in sent
