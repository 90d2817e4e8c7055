"""A gateway with one channel per OpenAI-compatible vendor (providers/vendors.py) on the mock upstream.

Each vendor's channel serves ``{provider}-chat`` (upstream ``{provider}-thinking-model``, so vendors whose
models think by choice think here) under the mock's ``/{provider}`` route.  The fixtures
(``vendor_gateway``, ``oai``, ``claude``) are offered to tests/gateway by its conftest.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import anthropic
import msgspec
import openai
import pytest
import sqlalchemy as sa

from omnirouter.config import GatewayConfig
from omnirouter.mock_upstream import MockUpstream
from omnirouter.providers import ProviderKind
from omnirouter.providers.auth import AuthStyle
from omnirouter.providers.vendors import VENDORS
from omnirouter.storage import usage_records_table
from tests.helpers.billing import query
from tests.helpers.gateway_harness import CLIENT_KEY, UPSTREAM_KEY, RunningGateway, running_gateway

KINDS = list(VENDORS)
# Vendors whose streams carry no usage (they take no stream_options): the gateway estimates it.
NO_STREAM_USAGE = {kind for kind, vendor in VENDORS.items() if not vendor.dialect.include_usage}


def vendor_base(mock_url: str, kind: ProviderKind) -> str:
    """The channel's base_url: the mock's route for ``kind`` (the vendor's own path under /{provider})."""
    return f"{mock_url}/{kind.value}{urlsplit(VENDORS[kind].base_url).path}"


def vendor_anthropic_base(mock_url: str, kind: ProviderKind) -> str:
    """An ``anthropic`` channel's base_url: the mock's route of the vendor's Anthropic-compatible base."""
    return f"{mock_url}/{kind.value}{urlsplit(VENDORS[kind].anthropic_base_url or '').path}"


def sent(mock: MockUpstream) -> dict[str, Any]:
    """The body of the last request the mock received."""
    body: dict[str, Any] = mock.requests[-1].body
    return body


async def ledger_row(gateway: RunningGateway, request_id: str) -> Any:
    """The usage row of ``request_id`` once the gateway has flushed it."""
    url = gateway.app.gateway.config.database_url
    for _ in range(200):
        rows = await query(url, sa.select(usage_records_table).where(usage_records_table.c.request_id == request_id))
        if rows:
            return rows[0]
        await asyncio.sleep(0.05)
    raise AssertionError(f"no usage row for {request_id}")


def vendor_config(mock_url: str, db: str) -> GatewayConfig:
    channels = [
        {
            "name": f"vendor-{kind.value}",
            "provider": kind.value,
            "base_url": vendor_base(mock_url, kind),
            "api_keys": [UPSTREAM_KEY],
            "models": [f"{kind.value}-chat"],
            "model_map": {f"{kind.value}-chat": f"{kind.value}-thinking-model"},
        }
        for kind in KINDS
    ]
    raw = {
        "database_url": db,
        "usage_flush_interval": 0.05,
        "channels": channels,
        "keys": [{"name": "tester", "key": CLIENT_KEY}],
        "prices": {
            "deepseek-chat": {"input": 1.0, "cached_input": 0.1, "output": 2.0},
            **{f"{kind.value}-chat": {"input": 1.0, "output": 2.0} for kind in NO_STREAM_USAGE},
        },
    }
    return msgspec.convert(raw, GatewayConfig)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
async def vendor_gateway(
    request: pytest.FixtureRequest,
    mock_upstream: MockUpstream,
    tmp_path_factory: pytest.TempPathFactory,
    gateway_postgres_url: str,
) -> AsyncIterator[RunningGateway]:
    db = (
        gateway_postgres_url if request.param == "postgresql" else f"sqlite:///{tmp_path_factory.mktemp('v') / 'gw.db'}"
    )
    async with running_gateway(vendor_config(mock_upstream.url, db)) as running:
        yield running


@contextlib.asynccontextmanager
async def openai_sdk(gateway: RunningGateway, mock: MockUpstream) -> AsyncIterator[openai.AsyncOpenAI]:
    """The openai SDK on ``gateway`` with the client key, the mock's script and request log cleared first."""
    mock.clear_script()
    mock.clear_requests()
    async with openai.AsyncOpenAI(base_url=f"{gateway.url}/v1", api_key=CLIENT_KEY, max_retries=0) as client:
        yield client


@contextlib.asynccontextmanager
async def anthropic_sdk(gateway: RunningGateway, mock: MockUpstream) -> AsyncIterator[anthropic.AsyncAnthropic]:
    """The anthropic SDK on ``gateway`` with the client key, the mock's script and request log cleared first."""
    mock.clear_script()
    mock.clear_requests()
    async with anthropic.AsyncAnthropic(base_url=gateway.url, api_key=CLIENT_KEY, max_retries=0) as client:
        yield client


@pytest.fixture
async def oai(vendor_gateway: RunningGateway, mock_upstream: MockUpstream) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai_sdk(vendor_gateway, mock_upstream) as client:
        yield client


@pytest.fixture
async def claude(
    vendor_gateway: RunningGateway, mock_upstream: MockUpstream
) -> AsyncIterator[anthropic.AsyncAnthropic]:
    async with anthropic_sdk(vendor_gateway, mock_upstream) as client:
        yield client


def assert_reached_with_vendor_auth(mock: MockUpstream, kind: ProviderKind) -> dict[str, Any]:
    """The last upstream request went to the vendor's route with its key in the vendor's header."""
    seen = mock.requests[-1]
    assert seen.provider == kind.value
    assert seen.path.startswith(f"/{kind.value}/")
    if VENDORS[kind].auth is AuthStyle.API_KEY:
        assert seen.headers["api-key"] == UPSTREAM_KEY and "authorization" not in seen.headers
    else:
        assert seen.headers["authorization"] == f"Bearer {UPSTREAM_KEY}"
    assert CLIENT_KEY not in str(seen.headers) + str(seen.body)
    body: dict[str, Any] = seen.body
    return body
