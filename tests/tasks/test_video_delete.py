"""``DELETE /v1/videos/{id}`` through the official ``openai`` SDK (``videos.delete``): OpenAI's answer, then
the video is gone for its key (404 on retrieve, content, a signed URL, remix and a second delete; left out
of the list) while its row stays for the ledger and the admin (``/admin/tasks`` shows its deleted time).
An unfinished video is cancelled and refunded first."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import openai
import pytest

from omnirouter.mock_upstream import MockUpstream
from omnirouter.storage.blobs import BlobNotFound
from tests.helpers.admin_client import ADMIN_KEY
from tests.helpers.billing import assert_books_balance
from tests.helpers.gateway_harness import CLIENT_KEY, RunningGateway
from tests.helpers.usage_rows import usage_rows
from tests.helpers.video_gateway import PER_CALL_NANO, PER_SECOND_NANO, video_gateway

pytestmark = pytest.mark.filterwarnings("ignore:The Sora API:DeprecationWarning")


async def get(gw: RunningGateway, path_or_url: str, key: str | None) -> tuple[int, Any]:
    url = path_or_url if path_or_url.startswith("http") else gw.url + path_or_url
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    async with aiohttp.ClientSession() as http, http.get(url, headers=headers) as response:
        return response.status, await response.json(content_type=None)


def sdk(gw: RunningGateway) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(api_key=CLIENT_KEY, base_url=f"{gw.url}/v1", max_retries=0)


async def test_a_deleted_video_is_gone_for_its_key_and_kept_for_the_ledger_and_admin(
    mock: MockUpstream, tmp_path: Path
) -> None:
    async with video_gateway(mock, tmp_path, admin_key=ADMIN_KEY) as gw, sdk(gw) as client:
        kept = await client.videos.create_and_poll(model="sora-2", prompt="a heron stands", seconds="4",
                                                   size="1280x720", poll_interval_ms=50)  # fmt: skip
        video = await client.videos.create_and_poll(model="sora-2", prompt="a heron flies", seconds="4",
                                                    size="1280x720", poll_interval_ms=50)  # fmt: skip
        assert (kept.status, video.status) == ("completed", "completed")
        _, unified = await get(gw, f"/v1/video/generations/{video.id}", CLIENT_KEY)
        signed = unified["data"]["result_url"]
        record = await gw.app.gateway.tasks.get(video.id)
        assert record is not None and record.summary.stored
        names = [stored.name for stored in record.summary.stored]

        deleted = await client.videos.delete(video.id)
        assert (deleted.id, deleted.object, deleted.deleted) == (video.id, "video.deleted", True)

        with pytest.raises(openai.NotFoundError):
            await client.videos.retrieve(video.id)
        with pytest.raises(openai.NotFoundError):
            await client.videos.download_content(video.id)
        with pytest.raises(openai.NotFoundError):
            await client.videos.remix(video.id, prompt="a heron lands")
        with pytest.raises(openai.NotFoundError) as again:
            await client.videos.delete(video.id)
        assert again.value.status_code == 404
        listed = [v.id async for v in client.videos.list()]
        assert listed == [kept.id]
        page = await client.videos.list(after=video.id, order="desc")  # a cursor of a deleted video still works
        assert [v.id for v in page.data] == [kept.id]
        status, body = await get(gw, signed, None)
        assert status == 404 and body["error"]["type"] == "not_found_error"
        status, body = await get(gw, f"/v1/video/generations/{video.id}", CLIENT_KEY)
        assert status == 404
        for name in names:
            with pytest.raises(BlobNotFound):
                await gw.app.gateway.results.stat(name)

        status, shown = await get(gw, f"/admin/tasks/{video.id}", ADMIN_KEY)
        assert status == 200 and shown["status"] == "succeeded" and shown["deleted_at"] is not None
        status, page_ = await get(gw, "/admin/tasks", ADMIN_KEY)
        by_id = {task["id"]: task for task in page_["data"]}
        assert by_id[video.id]["deleted_at"] == shown["deleted_at"] and by_id[kept.id]["deleted_at"] is None
    cost = 4 * PER_SECOND_NANO + PER_CALL_NANO
    rows = {row["request_id"]: row for row in await usage_rows(tmp_path / "gw.db")}
    assert (rows[video.id]["cost_nano"], rows[kept.id]["cost_nano"]) == (cost, cost)  # billed once each
    key, _ = await assert_books_balance(f"sqlite:///{tmp_path / 'gw.db'}", "tester")
    assert key.used_nano == 2 * cost


async def test_deleting_an_unfinished_video_cancels_and_refunds_it(mock: MockUpstream, tmp_path: Path) -> None:
    slow = {"poll_first": 600, "poll_max": 600}  # nobody polls: the video stays queued
    async with video_gateway(mock, tmp_path, tasks=slow, admin_key=ADMIN_KEY) as gw, sdk(gw) as client:
        video = await client.videos.create(model="sora-2", prompt="a slow tide", seconds="8", size="1280x720")
        assert video.status == "queued"
        deleted = await client.videos.delete(video.id)
        assert deleted.deleted is True and deleted.id == video.id
        with pytest.raises(openai.NotFoundError):
            await client.videos.retrieve(video.id)
        status, shown = await get(gw, f"/admin/tasks/{video.id}", ADMIN_KEY)
        assert status == 200 and shown["status"] == "cancelled" and shown["deleted_at"] is not None
        assert shown["cost_usd"] == 0
    [row] = [row for row in await usage_rows(tmp_path / "gw.db") if row["request_id"] == video.id]
    assert row["cost_nano"] == 0 and row["error_kind"] == "task_cancelled"
    key, _ = await assert_books_balance(f"sqlite:///{tmp_path / 'gw.db'}", "tester")
    assert (key.used_nano, key.reserved_nano) == (0, 0)
