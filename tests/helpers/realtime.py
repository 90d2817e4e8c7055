"""Gateways for the realtime tests: OpenAI and Azure channels on the session's mock, priced realtime
models, keys without a quota and with one, on SQLite or a throwaway PostgreSQL database.

``shared_realtime_gateway`` is the gateway many tests share (``SharedRealtime.key`` hands each test keys
of its own, so each test sums its own ledger); ``realtime_gateway`` starts one with a test's own settings.
``user_text`` and ``until_response_done`` are the SDK tests' conversation steps."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgspec
import sqlalchemy as sa

from omnirouter.config import GatewayConfig
from omnirouter.mock_upstream import LoggedRequest, MockUpstream
from omnirouter.storage import usage_records_table
from tests.helpers.billing import query
from tests.helpers.gateway_harness import UPSTREAM_KEY, RunningGateway, running_gateway
from tests.helpers.postgres import postgres_database

RICH = "sk-realtime-unlimited-01"
POOR = "sk-realtime-quota-02"
GA_MODEL = "gpt-realtime"
GA_UPSTREAM = "gpt-realtime-2025-08-28"
BETA_MODEL = "gpt-4o-realtime-preview"
# USD per 1M tokens: one token costs price × 1000 nano-USD
PRICE = {"input": 4.0, "cached_input": 0.4, "output": 16.0, "audio_input": 32.0, "audio_output": 64.0}
RESPONSE_TOKENS = 1000  # each response is reserved for 1000 input + 1000 output tokens at the dearest prices
# every input token at the dearest input price (audio), every output token at the dearest output price;
# billing's bound of the (empty) request body adds one input token
RESERVATION_NANO = (RESPONSE_TOKENS + 1) * 32 * 1000 + RESPONSE_TOKENS * 64 * 1000  # 96,032,000


FALLBACK_MODEL = "gpt-realtime-fallback"  # served by a dead channel, a refusing one, then rt-main
AZURE_BETA_MODEL = "azure-realtime-preview"  # on the Azure deployment URL only (preview: beta events)
AZURE_GA_MODEL = "azure-realtime"  # on Azure v1 only (GA events)
AZURE_ANY_MODEL = "azure-realtime-any"  # on both: the client's generation picks the channel
AZURE_KEYS_MODEL = "azure-realtime-keys"  # on rt-azure-keys, whose first upstream key Azure refuses
AZURE_DEPLOYMENTS = {  # channel → public model → deployment
    "rt-azure": {AZURE_BETA_MODEL: "rt-preview-deployment", AZURE_ANY_MODEL: "any-preview-deployment"},
    "rt-azure-v1": {AZURE_GA_MODEL: "rt-ga-deployment", AZURE_ANY_MODEL: "any-ga-deployment"},
    "rt-azure-keys": {AZURE_KEYS_MODEL: "keys-deployment"},
}
REFUSED_AZURE_KEY = "bad-azure-key-0001"  # the mock refuses keys starting with "bad"
AZURE_API_VERSION = "2025-04-01-preview"
QUOTAS_USD = {"rich": None, "poor": 0.15, "tiny": 0.01}  # the shared gateway's keys, by kind
KEYS_PER_KIND = 60


def channel(mock: MockUpstream, name: str, priority: int = 0, base_url: str | None = None) -> dict[str, Any]:
    """An OpenAI channel serving both realtime models (the GA one mapped to a dated name)."""
    return {
        "name": name,
        "provider": "openai",
        "base_url": base_url or f"{mock.url}/v1",
        "api_keys": [UPSTREAM_KEY],
        "models": [GA_MODEL, BETA_MODEL],
        "model_map": {GA_MODEL: GA_UPSTREAM},
        "priority": priority,
    }


@contextlib.asynccontextmanager
async def database(backend: str, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh database URL of ``backend`` (``sqlite`` or ``postgresql``)."""
    if backend == "postgresql":
        async with postgres_database() as url:
            yield url
    else:
        yield f"sqlite:///{tmp_path / 'realtime.db'}"


@contextlib.asynccontextmanager
async def realtime_gateway(
    mock: MockUpstream, url: str, channels: list[dict[str, Any]] | None = None, quota_usd: float = 1.0, **realtime: Any
) -> AsyncIterator[RunningGateway]:
    """A gateway on ``url`` with the realtime test channels, prices and keys (``realtime``: its settings)."""
    raw: dict[str, Any] = {
        "database_url": url,
        "usage_flush_interval": 0.05,
        "channels": channels or [channel(mock, "rt-main")],
        "keys": [{"name": "rich", "key": RICH}, {"name": "poor", "key": POOR, "quota_usd": quota_usd}],
        "prices": {GA_MODEL: PRICE, BETA_MODEL: PRICE},
        "realtime": {"response_input_tokens": RESPONSE_TOKENS, "response_output_tokens": RESPONSE_TOKENS, **realtime},
    }
    async with running_gateway(msgspec.convert(raw, GatewayConfig)) as running:
        yield running


def _azure_channel(
    mock: MockUpstream, name: str, provider: str, keys: tuple[str, ...] = (UPSTREAM_KEY,)
) -> dict[str, Any]:
    deployments = AZURE_DEPLOYMENTS[name]
    return {
        "name": name,
        "provider": provider,
        "base_url": f"{mock.url}/{provider}",
        "api_keys": list(keys),
        "options": {"api_version": AZURE_API_VERSION},
        "models": list(deployments),
        "model_map": deployments,
    }


def _shared_config(mock: MockUpstream, url: str) -> dict[str, Any]:
    main = channel(mock, "rt-main", priority=10)
    main["models"] = [GA_MODEL, BETA_MODEL, FALLBACK_MODEL]
    main["model_map"] = {GA_MODEL: GA_UPSTREAM, FALLBACK_MODEL: GA_UPSTREAM}
    fallback = {"models": [FALLBACK_MODEL], "model_map": {FALLBACK_MODEL: GA_UPSTREAM}}
    down = {**channel(mock, "rt-down", priority=30, base_url="http://127.0.0.1:9/v1"), **fallback}  # nothing listens
    refusing = {**channel(mock, "rt-refusing", priority=20), **fallback}
    keys: list[dict[str, Any]] = []
    for kind, quota in QUOTAS_USD.items():
        for n in range(KEYS_PER_KIND):
            key: dict[str, Any] = {"name": f"{kind}-{n:02d}", "key": f"sk-realtime-{kind}-{n:02d}"}
            if quota is not None:
                key["quota_usd"] = quota
            keys.append(key)
    models = (GA_MODEL, BETA_MODEL, FALLBACK_MODEL, AZURE_BETA_MODEL, AZURE_GA_MODEL, AZURE_ANY_MODEL, AZURE_KEYS_MODEL)
    tokens = {"response_input_tokens": RESPONSE_TOKENS, "response_output_tokens": RESPONSE_TOKENS}
    return {
        "database_url": url,
        "usage_flush_interval": 0.05,
        "channels": [
            main,
            down,
            refusing,
            _azure_channel(mock, "rt-azure", "azure"),
            _azure_channel(mock, "rt-azure-v1", "azure-v1"),
            _azure_channel(mock, "rt-azure-keys", "azure", (REFUSED_AZURE_KEY, UPSTREAM_KEY)),
        ],
        "keys": keys,
        "prices": dict.fromkeys(models, PRICE),
        "realtime": {**tokens, "max_frame_bytes": 16384},
    }


class Key(msgspec.Struct, frozen=True):
    """A client key of the shared gateway: its name (in the ledger) and its secret."""

    name: str
    secret: str


class SharedRealtime:
    """The shared realtime gateway, its database URL, and keys no other test has used."""

    def __init__(self, gateway: RunningGateway, url: str) -> None:
        self.gateway = gateway
        self.url = url
        self._next = {kind: itertools.count() for kind in QUOTAS_USD}

    def key(self, kind: str = "rich") -> Key:
        """A fresh key of ``kind`` (``rich``: no quota; ``poor``: $0.15; ``tiny``: $0.01)."""
        n = next(self._next[kind])
        assert n < KEYS_PER_KIND, f"the shared realtime gateway has only {KEYS_PER_KIND} {kind} keys"
        return Key(f"{kind}-{n:02d}", f"sk-realtime-{kind}-{n:02d}")


@contextlib.asynccontextmanager
async def shared_realtime_gateway(mock: MockUpstream, backend: str, tmp_path: Path) -> AsyncIterator[SharedRealtime]:
    """The gateway the realtime tests share, on a fresh database of ``backend``: channels ``rt-main``
    (OpenAI, GA and beta models), ``rt-down`` / ``rt-refusing`` / ``rt-main`` for ``FALLBACK_MODEL``,
    ``rt-azure`` (deployment URL), ``rt-azure-v1`` and ``rt-azure-keys`` (its first upstream key refused);
    ``max_frame_bytes`` 16384."""
    async with database(backend, tmp_path) as url:
        config = msgspec.convert(_shared_config(mock, url), GatewayConfig)
        async with running_gateway(config) as running:
            yield SharedRealtime(running, url)


def ws_url(gateway: RunningGateway, model: str) -> str:
    return f"ws://127.0.0.1:{gateway.port}/v1/realtime?model={model}"


def upstream_sessions(mock: MockUpstream, path: str = "/v1/realtime") -> list[LoggedRequest]:
    """The realtime handshakes the mock received on ``path`` (OpenAI's, or Azure's)."""
    return [entry for entry in mock.requests if entry.path == path]


def expected_cost_nano(usage: dict[str, Any]) -> int:
    """What one ``response.done`` usage costs at ``PRICE`` (cached tokens at ``cached_input``, whatever
    their modality; uncached audio at the audio prices; the rest text)."""
    details_in = usage["input_token_details"]
    cached = details_in["cached_tokens"]
    cached_audio = details_in["cached_tokens_details"]["audio_tokens"]
    audio_in = details_in["audio_tokens"] - cached_audio
    text_in = usage["input_tokens"] - audio_in - cached
    audio_out = usage["output_token_details"]["audio_tokens"]
    text_out = usage["output_tokens"] - audio_out
    tenths = text_in * 40 + cached * 4 + audio_in * 320 + text_out * 160 + audio_out * 640  # USD/1M × 10
    return tenths * 100


async def session_rows(url: str, key_name: str, count: int) -> list[Any]:
    """The key's usage rows, oldest first, once there are ``count`` of them (the recorder writes in batches)."""
    stmt = sa.select(usage_records_table).where(usage_records_table.c.key_name == key_name)
    for _ in range(200):
        rows = await query(url, stmt.order_by(usage_records_table.c.id))
        if len(rows) >= count:
            return rows
        await asyncio.sleep(0.05)
    return rows


def user_text(text: str) -> dict[str, Any]:
    """A user message item for ``conversation.item.create``."""
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


async def until_response_done(connection: Any) -> list[Any]:
    """The SDK connection's events up to and with ``response.done``."""
    events = []
    async for event in connection:
        events.append(event)
        if event.type == "response.done":
            return events
    raise AssertionError("the session ended before response.done")
