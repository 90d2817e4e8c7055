"""Model listings of each provider; ``GET /v1/models`` is shared, so it dispatches on the auth header."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from omnirouter.mock_upstream import anthropic_messages, gemini, openai_chat
from omnirouter.mock_upstream.core import Exchange, begin, json_response

OPENAI_MODELS = ("gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini", "gpt-5", "gpt-5-mini", "o3", "o4-mini")
ANTHROPIC_MODELS = ("claude-opus-4-7", "claude-sonnet-4-6", "claude-haiku-4-5")
GEMINI_MODELS = ("gemini-2.5-pro", "gemini-2.5-flash", "gemini-2.5-flash-lite", "gemini-3-pro-preview")
_CREATED = 1_700_000_000


def _openai(model: str) -> dict[str, Any]:
    return {"id": model, "object": "model", "created": _CREATED, "owned_by": "mock"}


def _anthropic(model: str) -> dict[str, Any]:
    display = model.replace("-", " ").title()
    return {"type": "model", "id": model, "display_name": display, "created_at": "2025-01-01T00:00:00Z"}


def _gemini(model: str) -> dict[str, Any]:
    model = model.removeprefix("models/")
    return {
        "name": f"models/{model}",
        "version": "001",
        "displayName": model.replace("-", " ").title(),
        "description": "Mock model",
        "inputTokenLimit": 1_048_576,
        "outputTokenLimit": 65_536,
        "supportedGenerationMethods": ["generateContent", "countTokens", "streamGenerateContent"],
        "temperature": 1.0,
        "topP": 0.95,
        "topK": 64,
        "maxTemperature": 2.0,
        "thinking": True,
    }


def _provider(request: web.Request) -> str:
    headers = request.headers
    if "x-goog-api-key" in headers or "key" in request.query:
        return "gemini"
    if "anthropic-version" in headers or "x-api-key" in headers:
        return "anthropic"
    return "openai"


async def list_models(request: web.Request) -> web.StreamResponse:
    """``GET /v1/models`` (OpenAI, Anthropic or Gemini v1 by header) and ``GET /v1beta/models``."""
    provider = "gemini" if request.path.startswith("/v1beta/") else _provider(request)
    if provider == "gemini":
        ex = await begin(request, gemini.WIRE)
        if not isinstance(ex, Exchange):
            return ex
        return json_response({"models": [_gemini(m) for m in GEMINI_MODELS]})
    if provider == "anthropic":
        ex = await begin(request, anthropic_messages.WIRE)
        if not isinstance(ex, Exchange):
            return ex
        data = [_anthropic(m) for m in ANTHROPIC_MODELS]
        return json_response({"data": data, "has_more": False, "first_id": data[0]["id"], "last_id": data[-1]["id"]})
    ex = await begin(request, openai_chat.WIRE)
    if not isinstance(ex, Exchange):
        return ex
    return json_response({"object": "list", "data": [_openai(m) for m in OPENAI_MODELS]})


async def not_found(request: web.Request) -> web.StreamResponse:
    """Any other path: logged, then 404 in the format the auth header suggests."""
    provider = "gemini" if request.path.startswith("/v1beta/") else _provider(request)
    wire = {"gemini": gemini.WIRE, "anthropic": anthropic_messages.WIRE}.get(provider, openai_chat.WIRE)
    ex = await begin(request, wire)
    if not isinstance(ex, Exchange) and ex.status != 400:
        return ex
    return wire.error(404, f"Invalid URL ({request.method} {request.path})", code=None)


async def get_model(request: web.Request) -> web.StreamResponse:
    """``GET /v1/models/{name}`` and ``GET /v1beta/models/{name}``: any name is served."""
    name = request.match_info["name"]
    provider = "gemini" if request.path.startswith("/v1beta/") else _provider(request)
    wire = {"gemini": gemini.WIRE, "anthropic": anthropic_messages.WIRE}.get(provider, openai_chat.WIRE)
    ex = await begin(request, wire)
    if not isinstance(ex, Exchange):
        return ex
    if provider == "gemini":
        return json_response(_gemini(name))
    if provider == "anthropic":
        return json_response(_anthropic(name))
    return json_response(_openai(name))
