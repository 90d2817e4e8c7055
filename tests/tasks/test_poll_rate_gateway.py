"""``tasks.poll_rate`` through a whole gateway: tasks on every vendor channel run to success while the mock
upstream counts each vendor's polls per second, which never exceed the rate (plus its one-second burst);
Ark's polls go out as batch list calls; the books balance."""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path

import aiohttp

from omnirouter.mock_upstream import MockUpstream
from omnirouter.mock_upstream.core import LoggedRequest
from tests.helpers.billing import assert_books_balance
from tests.helpers.gateway_harness import CLIENT_KEY
from tests.helpers.video_gateway import VENDORS, every_vendor_to_success, video_gateway

RATE = 4
_ARK_LIST = "/api/v3/contents/generations/tasks"
PER_VENDOR = 4
_NOT_POLLS = (r"/content$", r":download", r"/files/retrieve")  # result downloads, and MiniMax's follow-up call


def _polls(mock: MockUpstream, since: float) -> dict[str, list[float]]:
    """The time of each poll after ``since``, by vendor (as the mock logs the vendor's wire)."""
    providers = {provider for provider, _ in VENDORS.values()}
    found: dict[str, list[float]] = {}
    for request in list(mock.requests):
        if request["time"] < since or not _is_poll(request):
            continue
        vendor = _vendor(request)
        if vendor in providers:
            found.setdefault(vendor, []).append(request["time"])
    return found


def _is_poll(request: LoggedRequest) -> bool:
    """A status poll: a GET that is no download, or the POST actions Jimeng and Tencent poll with."""
    if request.method == "GET":
        return not any(re.search(part, request.path) for part in _NOT_POLLS)
    query = request["query"]
    action = query.get("Action") if isinstance(query, dict) else None
    headers = request["headers"]
    tc_action = headers.get("x-tc-action") if isinstance(headers, dict) else None
    return action == "CVSync2AsyncGetResult" or tc_action == "DescribeHunyuanToVideoJob"


def _vendor(request: LoggedRequest) -> str:
    provider = str(request["provider"])
    return {"sora": "openai", "veo": "gemini", "wan": "dashscope", "hailuo": "minimax"}.get(provider, provider)


def _busiest_second(times: list[float]) -> int:
    times = sorted(times)
    return max((sum(1 for t in times[i:] if t < start + 1.0) for i, start in enumerate(times)), default=0)


async def test_the_configured_poll_rate_caps_each_vendors_polls_per_second(mock: MockUpstream, tmp_path: Path) -> None:
    headers = {"Authorization": f"Bearer {CLIENT_KEY}"}
    async with (
        video_gateway(mock, tmp_path, tasks={"poll_rate": RATE}) as gw,
        aiohttp.ClientSession(headers=headers) as http,
    ):
        assert gw.app.gateway.task_poller.pacer.default == RATE

        began = time.time()
        async with asyncio.timeout(60):
            await every_vendor_to_success(http, gw.url, gw.url, "rated", PER_VENDOR)
        elapsed = time.time() - began
    polls = _polls(mock, began)
    assert set(polls) == {provider for provider, _ in VENDORS.values()}, sorted(polls)
    for vendor, times in polls.items():
        assert _busiest_second(times) <= 2 * RATE + 1, (vendor, sorted(t - began for t in times))
        assert len(times) <= RATE + RATE * elapsed + 1, vendor
    lists = [r for r in mock.requests if r["time"] >= began and r.method == "GET" and r.path == _ARK_LIST]
    assert lists  # Ark's tasks due together were polled through its task list
    await assert_books_balance(f"sqlite:///{tmp_path / 'gw.db'}", "tester")
