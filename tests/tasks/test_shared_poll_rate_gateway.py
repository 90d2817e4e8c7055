"""Two whole gateways on one database and one Redis (``redis_url``): every vendor's polls, counted per
second at the mock upstream, stay within one ``tasks.poll_rate`` between the two (plus its one-second
burst), as if one process polled; every task succeeds and the books balance."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import aiohttp

from omnirouter.mock_upstream import MockUpstream
from omnirouter.tasks.shared_rate import SharedPollRate
from tests.helpers.billing import assert_books_balance
from tests.helpers.gateway_harness import CLIENT_KEY
from tests.helpers.redis_helpers import REDIS_URL, redis_prefix
from tests.helpers.video_gateway import VENDORS, every_vendor_to_success, video_gateway
from tests.tasks.test_poll_rate_gateway import _busiest_second, _polls

RATE = 2
PER_VENDOR = 6


async def test_two_gateways_on_one_redis_keep_one_poll_rate_per_vendor(mock: MockUpstream, tmp_path: Path) -> None:
    headers = {"Authorization": f"Bearer {CLIENT_KEY}"}
    async with redis_prefix() as (client, prefix):
        shared: dict[str, Any] = {"tasks": {"poll_rate": RATE}, "redis_url": REDIS_URL, "redis_prefix": prefix}
        async with (
            video_gateway(mock, tmp_path, **shared) as one,
            video_gateway(mock, tmp_path, **shared) as two,
            aiohttp.ClientSession(headers=headers) as http,
        ):
            for gateway in (one.app.gateway, two.app.gateway):
                rate = gateway.task_poller.pacer.shared
                assert isinstance(rate, SharedPollRate) and rate.redis is gateway.shared.redis

            budgets: set[bytes] = set()  # the channels' budgets seen in Redis while the tasks ran

            async def note_budgets() -> None:
                budgets.update([key async for key in client.scan_iter(match=f"{prefix}pollrate:*")])

            began = time.time()
            async with asyncio.timeout(90):
                await every_vendor_to_success(
                    http, one.url, two.url, "shared rate", PER_VENDOR, each_round=note_budgets
                )
            elapsed = time.time() - began
            assert budgets  # the turns were taken in Redis (the keys expire once a channel is idle)
    polls = _polls(mock, began)
    assert set(polls) == {provider for provider, _ in VENDORS.values()}, sorted(polls)
    for vendor, times in polls.items():
        assert _busiest_second(times) <= 2 * RATE + 1, (vendor, sorted(t - began for t in times))
        assert len(times) <= RATE + RATE * elapsed + 1, vendor
    await assert_books_balance(f"sqlite:///{tmp_path / 'gw.db'}", "tester")
