"""Model listings in each protocol's own shape."""

from __future__ import annotations

from typing import Any

_EPOCH_ISO = "2024-01-01T00:00:00Z"
GEMINI_METHODS = ["generateContent", "streamGenerateContent", "countTokens"]


def openai_model(name: str) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": 0, "owned_by": "omnirouter"}


def openai_models(names: list[str]) -> dict[str, Any]:
    """``GET /v1/models`` for OpenAI clients."""
    return {"object": "list", "data": [openai_model(n) for n in names]}


def anthropic_model(name: str) -> dict[str, Any]:
    return {"type": "model", "id": name, "display_name": name, "created_at": _EPOCH_ISO}


def anthropic_models(names: list[str]) -> dict[str, Any]:
    """``GET /v1/models`` for Anthropic clients (they send ``anthropic-version``)."""
    return {
        "data": [anthropic_model(n) for n in names],
        "has_more": False,
        "first_id": names[0] if names else None,
        "last_id": names[-1] if names else None,
    }


def gemini_model(name: str) -> dict[str, Any]:
    """One Gemini ``Model`` resource."""
    return {
        "name": f"models/{name}",
        "baseModelId": name,
        "version": "001",
        "displayName": name,
        "description": f"{name} served by omnirouter",
        "supportedGenerationMethods": GEMINI_METHODS,
    }


def gemini_models(names: list[str]) -> dict[str, Any]:
    """``GET /v1beta/models`` for Gemini clients."""
    return {"models": [gemini_model(n) for n in names]}
