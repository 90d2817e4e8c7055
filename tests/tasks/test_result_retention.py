"""``tasks.result_retention_days`` on a running gateway: the sweep starts with the poller, and once it has
run past a task's retention the content routes answer 404 in each dialect's shape (OpenAI's content route,
by key and by signed URL; Gemini's file download) while the task and its ledger entry stay."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import aiohttp
import openai
import pytest

from omnirouter.mock_upstream import MockUpstream
from omnirouter.protocols.tasks.veo_native import file_name
from tests.helpers.billing import assert_books_balance
from tests.helpers.gateway_harness import CLIENT_KEY, RunningGateway
from tests.helpers.usage_rows import usage_rows
from tests.helpers.video_gateway import PER_CALL_NANO, PER_SECOND_NANO, made, mock_task, video_gateway

pytestmark = pytest.mark.filterwarnings("ignore:The Sora API:DeprecationWarning")
DAY = 86_400.0


async def get(gw: RunningGateway, path_or_url: str, **headers: str) -> tuple[int, Any]:
    url = path_or_url if path_or_url.startswith("http") else gw.url + path_or_url
    async with aiohttp.ClientSession() as http, http.get(url, headers=headers) as response:
        raw = await response.read()
        return response.status, (await response.json(content_type=None)) if raw.startswith(b"{") else raw


async def test_swept_results_answer_404_in_each_dialect_while_the_task_and_its_ledger_stay(
    mock: MockUpstream, tmp_path: Path
) -> None:
    async with (
        video_gateway(mock, tmp_path, tasks={"result_retention_days": 7}) as gw,
        openai.AsyncOpenAI(api_key=CLIENT_KEY, base_url=f"{gw.url}/v1", max_retries=0) as client,
    ):
        sweep = gw.app.gateway.retention
        assert sweep is not None and sweep.days == 7
        video = await client.videos.create_and_poll(model="veo-3", prompt="a glacier calves", seconds="8",
                                                    size="1280x720", poll_interval_ms=50)  # fmt: skip
        assert video.status == "completed"
        expected = made(mock_task(mock, "a glacier calves"))
        assert (await client.videos.download_content(video.id)).content == expected
        _, unified = await get(gw, f"/v1/video/generations/{video.id}", Authorization=f"Bearer {CLIENT_KEY}")
        signed = unified["data"]["result_url"]
        gemini = f"/v1beta/files/{file_name(video.id, 0)}:download?alt=media"
        assert await get(gw, signed) == (200, expected)
        assert await get(gw, gemini, **{"x-goog-api-key": CLIENT_KEY}) == (200, expected)

        sweep.clock = lambda: time.time() + 6 * DAY  # within the retention: nothing goes
        assert await sweep.run_once() == 0
        assert (await client.videos.download_content(video.id)).content == expected
        sweep.clock = lambda: time.time() + 7 * DAY + 5
        assert await sweep.run_once() >= 1

        with pytest.raises(openai.NotFoundError) as caught:
            await client.videos.download_content(video.id)
        assert caught.value.status_code == 404
        status, body = await get(gw, signed)
        assert status == 404 and body["error"]["type"] == "not_found_error" and body["error"]["param"] == "variant"
        status, body = await get(gw, gemini, **{"x-goog-api-key": CLIENT_KEY})
        assert status == 404 and body["error"]["status"] == "NOT_FOUND" and body["error"]["code"] == 404
        # The task is still there, completed, and still billed once.
        again = await client.videos.retrieve(video.id)
        assert again.status == "completed" and again.id == video.id
    cost = 8 * PER_SECOND_NANO + PER_CALL_NANO
    rows = [row for row in await usage_rows(tmp_path / "gw.db") if row["request_id"] == video.id]
    assert [row["cost_nano"] for row in rows] == [cost]
    key, _ = await assert_books_balance(f"sqlite:///{tmp_path / 'gw.db'}", "tester")
    assert key.used_nano == cost


async def test_without_a_retention_nothing_sweeps(mock: MockUpstream, tmp_path: Path) -> None:
    async with video_gateway(mock, tmp_path) as gw:
        assert gw.app.gateway.retention is None
