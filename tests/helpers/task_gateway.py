"""A gateway serving video tasks from the mock's Kling and Veo, with a fast poll schedule, two client keys
with quotas and the admin key: for the task route, admin and CLI tests."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import msgspec

from omnirouter.config import GatewayConfig
from omnirouter.mock_upstream import MockUpstream
from omnirouter.mock_upstream.tasks_wires_a import mock_secret
from tests.helpers.admin_client import ADMIN_KEY
from tests.helpers.gateway_harness import CLIENT_KEY, UPSTREAM_KEY, RunningGateway, running_gateway
from tests.helpers.postgres import reset_postgres

__all__ = [
    "ADMIN_KEY",
    "CLIENT_KEY",
    "KLING_MODEL",
    "OTHER_KEY",
    "PER_CALL_NANO",
    "PER_SECOND_NANO",
    "VEO_MODEL",
    "call",
    "task_config",
    "task_gateway",
    "task_gateway_of",
]

KLING_MODEL = "kling-v2-1"
VEO_MODEL = "veo-3.0-generate-001"
OTHER_KEY = "sk-test-client-other-0002"
PER_SECOND_NANO = 100_000_000  # 0.1 USD
PER_CALL_NANO = 50_000_000  # 0.05 USD


def task_config(mock_url: str, db_dir: Path, **tasks: Any) -> dict[str, Any]:
    """The raw config: a Kling and a Gemini channel on the mock, prices, keys with quotas, ``tasks:``."""
    price = {"per_second": 0.1, "per_call": 0.05}
    return {
        "database_url": f"sqlite:///{db_dir / 'gw.db'}",
        "usage_flush_interval": 0.05,
        "admin_key": ADMIN_KEY,
        "channels": [
            {
                "name": "kling-main",
                "provider": "kling",
                "base_url": mock_url,
                "api_keys": [f"ak1|{mock_secret('ak1')}"],
                "models": [KLING_MODEL],
            },
            {
                "name": "veo-main",
                "provider": "gemini",
                "base_url": mock_url,
                "api_keys": [UPSTREAM_KEY],
                "models": [VEO_MODEL],
            },
        ],
        "keys": [
            {"name": "tester", "key": CLIENT_KEY, "quota_usd": 10.0},
            {"name": "other", "key": OTHER_KEY, "quota_usd": 10.0},
        ],
        "prices": {KLING_MODEL: price, VEO_MODEL: price},
        "image_fetch": {"allow_private": True},  # result copies reach the mock on 127.0.0.1
        "tasks": {"poll_first": 0.05, "poll_max": 0.1, "result_store": f"local:{db_dir / 'results'}", **tasks},
    }


@contextlib.asynccontextmanager
async def task_gateway(mock: MockUpstream, db_dir: Path, **tasks: Any) -> AsyncIterator[RunningGateway]:
    """The gateway of ``task_config``, its poller claiming every 20 ms."""
    config = msgspec.convert(task_config(mock.url, db_dir, **tasks), GatewayConfig)
    async with running_gateway(config) as running:
        running.app.gateway.task_poller.interval = 0.02
        yield running


@contextlib.asynccontextmanager
async def task_gateway_of(
    raw: dict[str, Any], backend: str, postgres_url: str
) -> AsyncIterator[tuple[RunningGateway, str]]:
    """The gateway of ``raw`` (a ``task_config`` with a module's channels and prices) on ``backend``
    (``sqlite``, or ``postgresql``: ``postgres_url``'s tables dropped first), its poller and webhook sender
    claiming every 20 ms; and its database URL."""
    if backend == "postgresql":
        raw["database_url"] = await reset_postgres(postgres_url)
    async with running_gateway(msgspec.convert(raw, GatewayConfig)) as running:
        running.app.gateway.task_poller.interval = 0.02
        running.app.gateway.webhooks.interval = 0.02
        yield running, raw["database_url"]


async def call(
    session: aiohttp.ClientSession, method: str, url: str, key: str | None = CLIENT_KEY, body: Any = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:  # fmt: skip
    """One JSON call with ``key`` as a Bearer token (``headers`` may carry it otherwise)."""
    sent = {"authorization": f"Bearer {key}"} if key else {}
    sent.update(headers or {})
    async with session.request(method, url, json=body, headers=sent) as response:
        text = await response.text()
        return response.status, msgspec.json.decode(text) if text else None


async def until(check: Any, *, within: float = 10.0) -> Any:
    """Call the async ``check`` until it answers something truthy (or fail after ``within`` seconds)."""
    async with asyncio.timeout(within):
        while True:
            found = await check()
            if found:
                return found
            await asyncio.sleep(0.03)
