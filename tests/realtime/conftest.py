"""The realtime tests' shared gateway: started once per backend for the whole package (tests/realtime),
each test taking keys of its own (``rt.key()``) so that it sums only its own ledger."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from omnirouter.mock_upstream import MockUpstream
from tests.helpers.realtime import SharedRealtime, shared_realtime_gateway


@pytest.fixture(scope="package", params=["sqlite", "postgresql"])
async def rt(
    request: pytest.FixtureRequest, mock_upstream: MockUpstream, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[SharedRealtime]:
    """The shared realtime gateway on SQLite and, as a second run of every test using it, PostgreSQL."""
    async with shared_realtime_gateway(mock_upstream, request.param, tmp_path_factory.mktemp("rt")) as shared:
        yield shared
