"""A gateway for the media tests: channels of the given vendors on the session's mock upstream.

Each vendor's channel points at the mock the way a real channel points at the vendor: OpenAI's base
URL ends in ``/v1`` (as its SDK spells it), the others are bare hosts; rerank vendors that share the
path ``/v1/rerank`` are told apart by a path prefix on the mock (``/cohere``, ``/jina``, ``/voyage``).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgspec

from omnirouter.config import GatewayConfig
from tests.helpers.gateway_harness import CLIENT_KEY, UPSTREAM_KEY, RunningGateway, running_gateway

__all__ = ["channel", "media_gateway", "vendor_base_url"]

_BASE_PATHS = {"openai": "/v1", "cohere": "/cohere", "jina": "/jina", "voyage": "/voyage"}


def vendor_base_url(mock_url: str, provider: str) -> str:
    """Where a ``provider`` channel's ``base_url`` points on the mock."""
    return mock_url + _BASE_PATHS.get(provider, "")


def channel(mock_url: str, name: str, provider: str, models: list[str], **extra: Any) -> dict[str, Any]:
    """One channel's config on the mock (the upstream key is the harness's ``UPSTREAM_KEY``)."""
    return {
        "name": name,
        "provider": provider,
        "base_url": vendor_base_url(mock_url, provider),
        "api_keys": [UPSTREAM_KEY],
        "models": models,
        **extra,
    }


@contextlib.asynccontextmanager
async def media_gateway(db_dir: Path, channels: list[dict[str, Any]], **extra: Any) -> AsyncIterator[RunningGateway]:
    """A gateway serving ``channels`` with the harness's client key (SQLite in ``db_dir``)."""
    raw = {
        "database_url": f"sqlite:///{db_dir / 'gw.db'}",
        "usage_flush_interval": 0.05,
        "channels": channels,
        "keys": [{"name": "tester", "key": CLIENT_KEY}],
        **extra,
    }
    async with running_gateway(msgspec.convert(raw, GatewayConfig)) as running:
        yield running
