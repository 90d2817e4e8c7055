"""Shared fixtures: the mock upstream and a running gateway in front of it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import openai
import pytest

from omnirouter.mock_upstream import MockUpstream
from tests.gateway_harness import CLIENT_KEY, RunningGateway, make_config, running_gateway


@pytest.fixture(scope="session")
async def mock_upstream() -> AsyncIterator[MockUpstream]:
    async with MockUpstream() as mock:
        yield mock


@pytest.fixture
async def gateway(mock_upstream: MockUpstream, tmp_path: Path) -> AsyncIterator[RunningGateway]:
    mock_upstream.requests.clear()
    async with running_gateway(make_config(mock_upstream.url, tmp_path / "gw.db")) as running:
        yield running


@pytest.fixture
async def client(gateway: RunningGateway) -> AsyncIterator[openai.AsyncOpenAI]:
    """The official OpenAI SDK pointed at the gateway with a valid client key."""
    async with openai.AsyncOpenAI(
        base_url=f"{gateway.url}/v1", api_key=CLIENT_KEY, max_retries=0, timeout=20
    ) as sdk_client:
        yield sdk_client
