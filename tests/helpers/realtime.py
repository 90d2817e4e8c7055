"""A gateway for the realtime tests: OpenAI channels on the session's mock, priced realtime models, a
key without a quota and one with, on SQLite or a throwaway PostgreSQL database."""

from __future__ import annotations

import asyncio
import contextlib
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


def ws_url(gateway: RunningGateway, model: str) -> str:
    return f"ws://127.0.0.1:{gateway.port}/v1/realtime?model={model}"


def upstream_sessions(mock: MockUpstream) -> list[LoggedRequest]:
    """The realtime handshakes the mock received."""
    return [entry for entry in mock.requests if entry.path == "/v1/realtime"]


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
