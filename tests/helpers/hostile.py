"""Shared by the hostile-input tests: a gateway with one channel per upstream protocol, raw calls, error shapes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import msgspec

from omnirouter.config import GatewayConfig
from tests.helpers.admin_client import ADMIN_KEY
from tests.helpers.gateway_harness import CLIENT_KEY

MODELS = ("gpt-4o-mini", "claude-sonnet-4-5", "gemini-2.5-flash")
"""One model per upstream protocol: every inbound protocol reaches one of them by pass-through."""

CLIENT_HEADERS = {"authorization": f"Bearer {CLIENT_KEY}", "content-type": "application/json"}
HEADERS = {
    "openai_chat": CLIENT_HEADERS,
    "openai_responses": CLIENT_HEADERS,
    "anthropic": {"x-api-key": CLIENT_KEY, "anthropic-version": "2023-06-01", "content-type": "application/json"},
    "gemini": {"x-goog-api-key": CLIENT_KEY, "content-type": "application/json"},
}
"""How each protocol's clients authenticate."""
ADMIN_HEADERS = {"authorization": f"Bearer {ADMIN_KEY}", "content-type": "application/json"}


def hostile_config(mock_url: str, db: Path) -> GatewayConfig:
    """OpenAI, Anthropic and Gemini channels on the mock, one client key, the admin API on."""
    raw = {
        "database_url": f"sqlite:///{db}",
        "admin_key": ADMIN_KEY,
        "channels": [
            {
                "name": "oa",
                "provider": "openai",
                "base_url": f"{mock_url}/v1",
                "api_keys": ["k1"],
                "models": [MODELS[0]],
            },
            {"name": "an", "provider": "anthropic", "base_url": mock_url, "api_keys": ["k2"], "models": [MODELS[1]]},
            {"name": "ge", "provider": "gemini", "base_url": mock_url, "api_keys": ["k3"], "models": [MODELS[2]]},
        ],
        "keys": [{"name": "fuzz", "key": CLIENT_KEY}],
        "breaker": {"failures": 1_000_000},
    }
    return msgspec.convert(raw, GatewayConfig)


def route(protocol: str, model: str, stream: bool) -> str:
    """The path a client of ``protocol`` posts a chat request to."""
    if protocol == "gemini":
        return f"/v1beta/models/{model}:" + ("streamGenerateContent?alt=sse" if stream else "generateContent")
    return {"openai_chat": "/v1/chat/completions", "openai_responses": "/v1/responses", "anthropic": "/v1/messages"}[
        protocol
    ]


def minimal_body(protocol: str, model: str, stream: bool) -> dict[str, Any]:
    """The smallest valid chat body of ``protocol``."""
    if protocol == "gemini":
        return {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
    if protocol == "openai_responses":
        return {"model": model, "input": "hi", "stream": stream}
    if protocol == "anthropic":
        return {"model": model, "max_tokens": 16, "stream": stream, "messages": [{"role": "user", "content": "hi"}]}
    return {"model": model, "stream": stream, "messages": [{"role": "user", "content": "hi"}]}


async def post(
    session: aiohttp.ClientSession, url: str, body: Any, headers: dict[str, str] = CLIENT_HEADERS, method: str = "POST"
) -> tuple[int, Any]:
    """Send ``body`` (JSON-encoded unless bytes); the status and the parsed answer (``None`` if not JSON)."""
    data = body if isinstance(body, bytes) or body is None else msgspec.json.encode(body)
    async with session.request(method, url, data=data, headers=headers) as response:
        text = await response.read()
        try:
            parsed = msgspec.json.decode(text) if text else None
        except msgspec.DecodeError:
            parsed = None
        return response.status, parsed


def error_message(protocol: str, payload: Any) -> str:
    """The message of an error body in ``protocol``'s format (admin: ``"admin"``); fails on any other shape."""
    assert isinstance(payload, dict), payload
    error = payload.get("error")
    assert isinstance(error, dict), payload
    if protocol == "anthropic":
        assert payload.get("type") == "error" and isinstance(error.get("type"), str), payload
    elif protocol == "gemini":
        assert isinstance(error.get("code"), int) and isinstance(error.get("status"), str), payload
    else:
        assert isinstance(error.get("type"), str) and "param" in error and "code" in error, payload
    message = error.get("message")
    assert isinstance(message, str) and message and "Traceback" not in message, payload
    return message


def nested_schema(levels: int) -> dict[str, Any]:
    """A JSON schema of ``levels`` nested objects (twice as many JSON levels: object + properties)."""
    schema: dict[str, Any] = {"type": "string"}
    for _ in range(levels):
        schema = {"type": "object", "properties": {"x": schema}}
    return schema
