"""A task on a real gateway reaches ``GET /metrics`` and the request log once, when it ends: its ledger row
(written by the task engine in the transaction that ends it) counted like a request's."""

from __future__ import annotations

from pathlib import Path

import openai
import pytest

from omnirouter.mock_upstream import MockUpstream
from tests.helpers.gateway_harness import CLIENT_KEY
from tests.helpers.metrics import ledger, scrape, value
from tests.helpers.video_gateway import video_gateway

pytestmark = pytest.mark.filterwarnings("ignore:The Sora API:DeprecationWarning")


async def test_a_finished_task_is_counted_once_with_its_cost(mock: MockUpstream, tmp_path: Path) -> None:
    async with video_gateway(mock, tmp_path) as gw:
        async with openai.AsyncOpenAI(api_key=CLIENT_KEY, base_url=f"{gw.url}/v1", max_retries=0) as client:
            video = await client.videos.create_and_poll(
                model="sora-2", prompt="a harbour at dawn", seconds="8", size="1280x720", poll_interval_ms=50
            )
        assert video.status == "completed", video.error
        [row] = await ledger(gw, {video.id})
        samples = await scrape(gw, key=None)
    assert row["cost_nano"] > 0 and row["status_code"] == 200
    labels = {"protocol": row["inbound_protocol"], "model": "sora-2", "channel": row["channel"], "status": "200"}
    assert value(samples, "omnirouter_requests_total", **labels) == 1
    assert sum(v for (name, _), v in samples.items() if name == "omnirouter_requests_total") == 1  # once
    assert round(value(samples, "omnirouter_cost_usd_total", model="sora-2") * 1e9) == row["cost_nano"]
    assert value(samples, "omnirouter_request_duration_seconds_count", protocol=row["inbound_protocol"],
                 model="sora-2") == 1  # fmt: skip
    assert all(value(samples, "omnirouter_tasks", state=state) == 0 for state in ("pending", "queued", "running"))
