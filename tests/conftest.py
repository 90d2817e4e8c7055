"""Shared fixtures: the mock upstream, databases, and gateways in front of the mock."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import msgspec
import openai
import pytest

from omnirouter.config import GatewayConfig
from omnirouter.mock_upstream import MockUpstream
from tests.helpers.gateway_harness import CLIENT_KEY, RunningGateway, make_config, running_gateway
from tests.helpers.postgres import postgres_database, reset_postgres


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
async def fresh_gateway(
    request: pytest.FixtureRequest, mock_upstream: MockUpstream, tmp_path: Path, gateway_postgres_url: str
) -> AsyncIterator[RunningGateway]:
    """A gateway of this test's own on SQLite and, as a second run of every test using it, on PostgreSQL."""
    mock_upstream.requests.clear()
    config = make_config(mock_upstream.url, tmp_path / "gw.db")
    if request.param == "postgresql":
        config.database_url = gateway_postgres_url
    async with running_gateway(config) as running:
        yield running


@pytest.fixture
def gateway(fresh_gateway: RunningGateway) -> RunningGateway:
    """The gateway a test gets by default: its own (``fresh_gateway``). A module whose tests leave no
    state for each other overrides this with ``shared_gateway``."""
    return fresh_gateway


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
async def shared_gateway(
    request: pytest.FixtureRequest,
    mock_upstream: MockUpstream,
    tmp_path_factory: pytest.TempPathFactory,
    gateway_postgres_url: str,
) -> AsyncIterator[RunningGateway]:
    """The ``gateway`` fixture's gateway, started once per module and backend.

    For a module whose tests neither change the config nor read what another test leaves behind
    (usage rows, breaker states, keys set aside): it overrides ``gateway`` with a function-scoped
    fixture that clears the mock's request log and returns this one; a test there that would leave
    state behind asks for ``fresh_gateway`` (or ``fresh_client``) instead.
    """
    config = make_config(mock_upstream.url, tmp_path_factory.mktemp("gw") / "gw.db")
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


@pytest.fixture
async def fresh_client(fresh_gateway: RunningGateway) -> AsyncIterator[openai.AsyncOpenAI]:
    """The official OpenAI SDK pointed at a gateway of this test's own."""
    async with openai.AsyncOpenAI(
        base_url=f"{fresh_gateway.url}/v1", api_key=CLIENT_KEY, max_retries=0, timeout=20
    ) as sdk_client:
        yield sdk_client


@pytest.fixture(scope="module")
async def postgres_url() -> AsyncIterator[str]:
    """One throwaway PostgreSQL database per test module."""
    async with postgres_database() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path, postgres_url: str) -> str:
    """A URL to an empty database: a new SQLite file, or the module's PostgreSQL database emptied."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/omnirouter.db"
    return await reset_postgres(postgres_url)


@pytest.fixture
def mock(mock_upstream: MockUpstream) -> MockUpstream:
    """The session's mock upstream with no scripted replies and no logged requests."""
    mock_upstream.clear_script()
    mock_upstream.clear_requests()
    return mock_upstream


@pytest.fixture
def start(mock_upstream: MockUpstream, tmp_path: Path) -> Iterator[Any]:
    """Start a gateway with the given channels (and other config)."""
    mock_upstream.clear_script()
    mock_upstream.clear_requests()

    def make(channels: list[dict[str, Any]], **extra: Any) -> Any:
        raw = {
            "database_url": f"sqlite:///{tmp_path / 'gw.db'}",
            "usage_flush_interval": 0.05,
            "channels": channels,
            "keys": [{"name": "tester", "key": CLIENT_KEY}],
            **extra,
        }
        return running_gateway(msgspec.convert(raw, GatewayConfig))

    yield make
    mock_upstream.clear_script()
