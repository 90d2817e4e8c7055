"""A parameter a vendor rejects (docs/vendors.md "Bad input"): the vendor's 400, in its own error shape from the
mock (GLM, MiniMax, DashScope; OpenAI's for SenseNova), reaches the client in the client's protocol with the
vendor's message, after exactly one upstream request although a second channel of the same vendor serves the
model; upstream secrets are masked and nothing is charged.  MiniMax's failure inside an HTTP 200 answer
(``base_resp``) is the same 400.  (Sampling values outside a vendor's range never reach it: the gateway moves
them into the range, tests/gateway/test_vendor_thinking.py.)"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anthropic
import msgspec
import openai
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types as gtypes

from omnirouter.config import GatewayConfig
from omnirouter.mock_upstream import MockUpstream
from omnirouter.providers import ProviderKind
from tests.helpers.gateway_harness import CLIENT_KEY, UPSTREAM_KEY, RunningGateway, running_gateway
from tests.helpers.vendor_gateway import ledger_row, vendor_base

# Vendors with an error shape of their own (GLM, MiniMax, DashScope) and one with OpenAI's (SenseNova).
BAD = (ProviderKind.MINIMAX, ProviderKind.DASHSCOPE, ProviderKind.SENSENOVA, ProviderKind.ZHIPU)
PRICE = {"input": 1.0, "output": 2.0}


def config(mock_url: str, db: str) -> GatewayConfig:
    channels = [
        {
            "name": f"{kind.value}-{side}",
            "provider": kind.value,
            "base_url": vendor_base(mock_url, kind),
            "api_keys": [UPSTREAM_KEY],
            "models": [f"{kind.value}-chat"],
            "model_map": {f"{kind.value}-chat": f"{kind.value}-model"},
        }
        for kind in BAD
        for side in ("a", "b")  # a second channel of the vendor: a rejected parameter must not go there either
    ]
    raw = {
        "database_url": db,
        "usage_flush_interval": 0.05,
        "channels": channels,
        "keys": [{"name": "tester", "key": CLIENT_KEY}],
        "prices": {f"{kind.value}-chat": PRICE for kind in BAD},
    }
    return msgspec.convert(raw, GatewayConfig)


@pytest.fixture(scope="module")
async def gateway(
    mock_upstream: MockUpstream, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RunningGateway]:
    db = f"sqlite:///{tmp_path_factory.mktemp('bad') / 'gw.db'}"
    async with running_gateway(config(mock_upstream.url, db)) as running:
        yield running


Failure = tuple[int, str, str]  # (status the client saw, its error message, the request id)


async def via_openai(gateway: RunningGateway, model: str, text: str, params: dict[str, Any]) -> Failure:
    async with openai.AsyncOpenAI(base_url=f"{gateway.url}/v1", api_key=CLIENT_KEY, max_retries=0) as client:
        with pytest.raises(openai.BadRequestError) as caught:
            await client.chat.completions.create(model=model, messages=[{"role": "user", "content": text}], **params)
    error = caught.value
    return error.status_code, error.message, error.response.headers["x-request-id"]


async def via_anthropic(gateway: RunningGateway, model: str, text: str, params: dict[str, Any]) -> Failure:
    async with anthropic.AsyncAnthropic(base_url=gateway.url, api_key=CLIENT_KEY, max_retries=0) as client:
        with pytest.raises(anthropic.BadRequestError) as caught:
            await client.messages.create(
                model=model, max_tokens=100, messages=[{"role": "user", "content": text}], extra_body=params
            )
    error = caught.value
    body = error.body if isinstance(error.body, dict) else {}
    assert body.get("type") == "error" and body["error"]["type"] == "invalid_request_error"  # Anthropic's shape
    return error.status_code, body["error"]["message"], error.response.headers["x-request-id"]


async def via_gemini(gateway: RunningGateway, model: str, text: str, params: dict[str, Any]) -> Failure:
    client = genai.Client(api_key=CLIENT_KEY, http_options=gtypes.HttpOptions(base_url=gateway.url))
    config = gtypes.GenerateContentConfig(**params)  # temperature / top_p: the same names in the SDK
    try:
        with pytest.raises(genai_errors.ClientError) as caught:
            await client.aio.models.generate_content(model=model, contents=text, config=config)
    finally:
        await client.aio.aclose()
    error = caught.value
    assert error.status == "INVALID_ARGUMENT"  # Gemini's shape
    headers = {name.lower(): value for name, value in error.response.headers.items()}
    return error.code, error.message or "", headers["x-request-id"]


Client = Callable[[RunningGateway, str, str, dict[str, Any]], Awaitable[Failure]]
CLIENTS: dict[str, Client] = {"openai": via_openai, "anthropic": via_anthropic, "gemini": via_gemini}


def upstream_requests(mock: MockUpstream, kind: ProviderKind) -> int:
    return sum(1 for seen in mock.requests if seen.provider == kind.value)


async def assert_not_charged(gateway: RunningGateway, request_id: str) -> None:
    row = await ledger_row(gateway, request_id)
    assert (row.status_code, row.cost_nano, row.input_tokens, row.output_tokens) == (400, 0, 0, 0)
    assert row.attempts == 1


@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize("kind", BAD, ids=str)
async def test_a_vendor_400_naming_the_upstream_key_reaches_the_client_masked(
    gateway: RunningGateway, mock_upstream: MockUpstream, kind: ProviderKind, client: str
) -> None:
    mock_upstream.clear_requests()
    said = f"parameter rejected for key {UPSTREAM_KEY}"
    text = f"[[mock {json.dumps({'fail': 400, 'message': said})}]] hi"
    status, message, request_id = await CLIENTS[client](gateway, f"{kind.value}-chat", text, {})
    assert status == 400 and "parameter rejected for key" in message
    assert UPSTREAM_KEY not in message and CLIENT_KEY not in message
    assert upstream_requests(mock_upstream, kind) == 1
    await assert_not_charged(gateway, request_id)


@pytest.mark.parametrize("client", CLIENTS)
async def test_minimax_base_resp_in_a_200_answer_is_the_vendor_400(
    gateway: RunningGateway, mock_upstream: MockUpstream, client: str
) -> None:
    mock_upstream.clear_requests()
    said = f"invalid params, tool result's tool id not found; key {UPSTREAM_KEY}"
    text = f"[[mock {json.dumps({'body_error': 2013, 'message': said})}]] hi"
    status, message, request_id = await CLIENTS[client](gateway, "minimax-chat", text, {})
    assert status == 400
    assert "invalid params, tool result's tool id not found" in message and "(2013)" in message
    assert UPSTREAM_KEY not in message
    assert upstream_requests(mock_upstream, ProviderKind.MINIMAX) == 1
    await assert_not_charged(gateway, request_id)
