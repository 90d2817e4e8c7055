"""Which providers serve OpenAI's Realtime API over WebSocket, where, and in which generation.

``path`` is appended to a channel's chat base (``Channel.chat_base_url``: the ``base_url`` for OpenAI,
``<resource>/openai`` for Azure, ``<resource>/openai/v1`` for Azure v1); ``{model}`` is the upstream
model (Azure's deployment) and ``{api_version}`` the channel's ``options.api_version`` (else the
vendor's default).  ``generations`` are the event sets the endpoint speaks: OpenAI both (GA, and beta
with the ``OpenAI-Beta: realtime=v1`` header); Azure's deployment URL with a dated ``api-version`` the
preview (beta) protocol; Azure's v1 URL the GA protocol (learn.microsoft.com/azure/foundry/openai/how-to/
realtime-audio-websockets: "(Preview version only) an api-version query string parameter", GA
``wss://<resource>.openai.azure.com/openai/v1/realtime?model=<deployment>``; both take the key in the
``api-key`` header, the channel's auth style).  The mock upstream serves the same routes from this table.
"""

from __future__ import annotations

import enum
from typing import Final
from urllib.parse import quote

import msgspec

from omnirouter.providers.kinds import ProviderKind

__all__ = ["REALTIME", "RealtimeGeneration", "RealtimeWire", "realtime_wire"]


class RealtimeGeneration(enum.StrEnum):
    """The two event sets of the Realtime API (docs/realtime.md)."""

    GA = "ga"
    BETA = "beta"


class RealtimeWire(msgspec.Struct, frozen=True, kw_only=True):
    """Where a provider's realtime socket is and which generations it speaks."""

    path: str
    generations: frozenset[RealtimeGeneration]

    def url(self, chat_base: str, upstream_model: str, api_version: str | None) -> str:
        """The socket's ``ws(s)://`` URL under ``chat_base`` (``http(s)`` turned into ``ws(s)``)."""
        base = chat_base.rstrip("/")
        if base.startswith("https://"):
            base = "wss://" + base[len("https://") :]
        elif base.startswith("http://"):
            base = "ws://" + base[len("http://") :]
        path = self.path.replace("{model}", quote(upstream_model, safe=""))
        return base + path.replace("{api_version}", quote(api_version or "", safe=""))


_BOTH = frozenset(RealtimeGeneration)

REALTIME: Final[dict[ProviderKind, RealtimeWire]] = {
    ProviderKind.OPENAI: RealtimeWire(path="/realtime?model={model}", generations=_BOTH),
    ProviderKind.AZURE: RealtimeWire(
        path="/realtime?api-version={api_version}&deployment={model}",
        generations=frozenset({RealtimeGeneration.BETA}),
    ),
    ProviderKind.AZURE_V1: RealtimeWire(path="/realtime?model={model}", generations=frozenset({RealtimeGeneration.GA})),
}


def realtime_wire(kind: ProviderKind) -> RealtimeWire | None:
    """The realtime endpoint of providers of ``kind`` (``None``: they serve no realtime)."""
    return REALTIME.get(kind)
