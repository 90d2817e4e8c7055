"""Shared fixtures: the mock upstream and a running gateway in front of it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import openai
import pytest

from omnirouter.mock_upstream import MockUpstream
from tests.gateway_harness import CLIENT_KEY, RunningGateway, make_config, running_gateway
from tests.test_storage import postgres_database


@pytest.fixture(scope="session")
async def mock_upstream() -> AsyncIterator[MockUpstream]:
    async with MockUpstream() as mock:
        yield mock


@pytest.fixture(scope="session")
async def gateway_postgres_url() -> AsyncIterator[str]:
    """One throwaway PostgreSQL database for the session's gateways (dropped at the end)."""
    async with postgres_database() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
async def gateway(
    request: pytest.FixtureRequest, mock_upstream: MockUpstream, tmp_path: Path, gateway_postgres_url: str
) -> AsyncIterator[RunningGateway]:
    """A gateway on SQLite and, as a second run of every test using it, on PostgreSQL."""
    mock_upstream.requests.clear()
    config = make_config(mock_upstream.url, tmp_path / "gw.db")
    if request.param == "postgresql":
        config.database_url = gateway_postgres_url
    async with running_gateway(config) as running:
        yield running


@pytest.fixture
async def client(gateway: RunningGateway) -> AsyncIterator[openai.AsyncOpenAI]:
    """The official OpenAI SDK pointed at the gateway with a valid client key."""
    async with openai.AsyncOpenAI(
        base_url=f"{gateway.url}/v1", api_key=CLIENT_KEY, max_retries=0, timeout=20
    ) as sdk_client:
        yield sdk_client
