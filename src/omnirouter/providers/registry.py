"""What each provider kind is beyond its protocol: where it lives, how it takes its upstream key, which
capabilities it serves at which paths.  Providers are data: an OpenAI-compatible vendor is one
entry of a few lines, not new code.

An endpoint path is a template under the channel's ``base_url`` (written as the provider's own SDK
spells it: OpenAI's includes ``/v1``, Anthropic's and Gemini's are bare hosts); ``{model}`` is the
upstream model name, URL-quoted.  ``stream_path``, when set, is the streamed form.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final
from urllib.parse import quote

import msgspec

from omnirouter.protocols.base import ProtocolName
from omnirouter.providers.auth import AuthStyle, auth_headers
from omnirouter.providers.capabilities import Capability, capability_of
from omnirouter.providers.kinds import ProviderKind

__all__ = ["IMAGE_URL_PROTOCOLS", "PROVIDERS", "Endpoint", "ProviderSpec", "provider_spec"]


class Endpoint(msgspec.Struct, frozen=True):
    """Where one capability is served, under the channel's base URL."""

    path: str
    stream_path: str | None = None

    def url(self, base_url: str, model: str, stream: bool) -> str:
        """The full URL for ``model`` (streamed or not)."""
        path = self.stream_path if stream and self.stream_path is not None else self.path
        if "{model}" in path:
            path = path.replace("{model}", quote(model, safe=""))
        return base_url + path


class ProviderSpec(msgspec.Struct, frozen=True, kw_only=True):
    """How to reach one kind of upstream.

    ``protocol`` is the chat protocol its channels speak unless a model says otherwise (an OpenAI
    channel's ``responses_models``); ``default_base_url`` is the provider's public API.
    """

    kind: ProviderKind
    protocol: ProtocolName
    default_base_url: str
    auth: AuthStyle
    endpoints: Mapping[Capability, Endpoint]
    fixed_headers: Mapping[str, str] = msgspec.field(default_factory=dict)

    @property
    def capabilities(self) -> frozenset[Capability]:
        """What this provider serves."""
        return frozenset(self.endpoints)

    def auth_headers(self, key: str) -> dict[str, str]:
        """The headers that carry an upstream key."""
        return auth_headers(self.auth, key)

    def endpoint_url(self, protocol: ProtocolName, base_url: str, model: str, stream: bool) -> str:
        """The URL of a chat call in ``protocol`` under ``base_url``."""
        return self.endpoints[capability_of(protocol)].url(base_url, model, stream)


PROVIDERS: Final[dict[ProviderKind, ProviderSpec]] = {
    ProviderKind.OPENAI: ProviderSpec(
        kind=ProviderKind.OPENAI,
        protocol=ProtocolName.OPENAI_CHAT,
        default_base_url="https://api.openai.com/v1",
        auth=AuthStyle.BEARER,
        endpoints={
            Capability.CHAT: Endpoint("/chat/completions"),
            Capability.RESPONSES: Endpoint("/responses"),
        },
    ),
    ProviderKind.ANTHROPIC: ProviderSpec(
        kind=ProviderKind.ANTHROPIC,
        protocol=ProtocolName.ANTHROPIC,
        default_base_url="https://api.anthropic.com",
        auth=AuthStyle.X_API_KEY,
        endpoints={Capability.MESSAGES: Endpoint("/v1/messages")},
        fixed_headers={"anthropic-version": "2023-06-01"},
    ),
    ProviderKind.GEMINI: ProviderSpec(
        kind=ProviderKind.GEMINI,
        protocol=ProtocolName.GEMINI,
        default_base_url="https://generativelanguage.googleapis.com",
        auth=AuthStyle.X_GOOG_API_KEY,
        endpoints={
            Capability.GENERATE_CONTENT: Endpoint(
                "/v1beta/models/{model}:generateContent", "/v1beta/models/{model}:streamGenerateContent?alt=sse"
            )
        },
    ),
}

# Protocols whose upstreams fetch image URLs themselves; for the others the gateway inlines them.
IMAGE_URL_PROTOCOLS: Final = frozenset(
    {ProtocolName.OPENAI_CHAT, ProtocolName.OPENAI_RESPONSES, ProtocolName.ANTHROPIC}
)


def provider_spec(kind: ProviderKind) -> ProviderSpec:
    """The spec registered for ``kind``."""
    return PROVIDERS[kind]
