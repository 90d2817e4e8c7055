"""What each provider kind is beyond its protocol: paths, auth headers, fixed headers.

Providers are data: adding an OpenAI-compatible vendor is a new entry, not new code.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final
from urllib.parse import quote

import msgspec

from omnirouter.protocols.base import ProtocolName
from omnirouter.providers.kinds import ProviderKind


def _bearer(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


def _anthropic_auth(key: str) -> dict[str, str]:
    return {"x-api-key": key}


def _gemini_auth(key: str) -> dict[str, str]:
    return {"x-goog-api-key": key}


def _openai_chat_path(base_url: str, model: str, stream: bool) -> str:
    return f"{base_url}/chat/completions"


def _openai_responses_path(base_url: str, model: str, stream: bool) -> str:
    return f"{base_url}/responses"


def _anthropic_path(base_url: str, model: str, stream: bool) -> str:
    return f"{base_url}/v1/messages"


def _gemini_path(base_url: str, model: str, stream: bool) -> str:
    method = "streamGenerateContent?alt=sse" if stream else "generateContent"
    return f"{base_url}/v1beta/models/{quote(model, safe='')}:{method}"


ENDPOINTS: Final[dict[ProtocolName, Callable[[str, str, bool], str]]] = {
    ProtocolName.OPENAI_CHAT: _openai_chat_path,
    ProtocolName.OPENAI_RESPONSES: _openai_responses_path,
    ProtocolName.ANTHROPIC: _anthropic_path,
    ProtocolName.GEMINI: _gemini_path,
}

# Protocols whose upstreams fetch image URLs themselves; for the others the gateway inlines them.
IMAGE_URL_PROTOCOLS: Final = frozenset(
    {ProtocolName.OPENAI_CHAT, ProtocolName.OPENAI_RESPONSES, ProtocolName.ANTHROPIC}
)


def endpoint_url(protocol: ProtocolName, base_url: str, model: str, stream: bool) -> str:
    """The URL of a generation call in ``protocol`` under ``base_url``."""
    return ENDPOINTS[protocol](base_url, model, stream)


class ProviderSpec(msgspec.Struct, frozen=True, kw_only=True):
    """How to reach one kind of upstream: its default protocol, auth and fixed headers."""

    kind: ProviderKind
    protocol: ProtocolName
    auth_headers: Callable[[str], dict[str, str]]
    fixed_headers: dict[str, str] = msgspec.field(default_factory=dict)


PROVIDERS: Final[dict[ProviderKind, ProviderSpec]] = {
    ProviderKind.OPENAI: ProviderSpec(
        kind=ProviderKind.OPENAI,
        protocol=ProtocolName.OPENAI_CHAT,
        auth_headers=_bearer,
    ),
    ProviderKind.ANTHROPIC: ProviderSpec(
        kind=ProviderKind.ANTHROPIC,
        protocol=ProtocolName.ANTHROPIC,
        auth_headers=_anthropic_auth,
        fixed_headers={"anthropic-version": "2023-06-01"},
    ),
    ProviderKind.GEMINI: ProviderSpec(
        kind=ProviderKind.GEMINI,
        protocol=ProtocolName.GEMINI,
        auth_headers=_gemini_auth,
    ),
}


def provider_spec(kind: ProviderKind) -> ProviderSpec:
    """The spec registered for ``kind``."""
    return PROVIDERS[kind]
