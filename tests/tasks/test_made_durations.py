"""The seconds a vendor makes, end to end through a real gateway on the mock vendors: reserved per planned
attempt (the dearest one), shown from the create's first answer in every dialect that shows a duration,
billed once (the vendor's report, else what it makes, times the samples), the books balanced."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import openai
import pytest
import sqlalchemy as sa

from omnirouter.mock_upstream import MockUpstream
from omnirouter.storage import Database, normalize_database_url
from omnirouter.storage.tasks_repo import tasks_table
from tests.helpers.billing import assert_books_balance
from tests.helpers.gateway_harness import CLIENT_KEY
from tests.helpers.task_gateway import call, until
from tests.helpers.usage_rows import usage_rows
from tests.helpers.video_gateway import PER_CALL_NANO, PER_SECOND_NANO, mock_task, video_gateway

pytestmark = pytest.mark.filterwarnings("ignore:The Sora API:DeprecationWarning")


def sdk(url: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(api_key=CLIENT_KEY, base_url=f"{url}/v1", max_retries=0)


def cost(seconds: float) -> int:
    return int(seconds * PER_SECOND_NANO) + PER_CALL_NANO


async def task_row(db_dir: Path, task_id: str) -> Any:
    db = Database(normalize_database_url(f"sqlite:///{db_dir / 'gw.db'}"))
    try:
        async with db.engine.connect() as conn:
            return (await conn.execute(sa.select(tasks_table).where(tasks_table.c.id == task_id))).one()
    finally:
        await db.close()


async def settled(db_dir: Path, task_id: str, seconds: float) -> None:
    """The task's one usage row bills ``seconds`` and one call, and the books balance."""
    rows = [row for row in await usage_rows(db_dir / "gw.db") if row["request_id"] == task_id]
    assert len(rows) == 1 and rows[0]["status_code"] == 200
    assert (rows[0]["seconds"], rows[0]["calls"], rows[0]["cost_nano"]) == (seconds, 1, cost(seconds))
    assert (await task_row(db_dir, task_id)).cost_nano == cost(seconds)
    await assert_books_balance(f"sqlite:///{db_dir / 'gw.db'}", "tester")


@pytest.mark.parametrize(
    ("model", "asked", "made"),
    [
        ("kling-v2", 8, 10),  # Kling makes 5 or 10
        ("hailuo-02", 8, 6),  # MiniMax 6 or 10 (a tie goes to the shorter)
        ("wan-2.6", 12, 10),  # Wan 2.6 makes 5, 10 or 15
        ("sora-2", None, 4),  # nothing asked: each vendor's own default
        ("veo-3", None, 8),
        ("seedance-pro", None, 5),
    ],
)
async def test_the_first_answer_shows_reserves_and_bills_what_the_vendor_makes(
    model: str, asked: int | None, made: int, mock: MockUpstream, tmp_path: Path
) -> None:
    prompt = f"a harbour at noon on {model}, asked {asked}"
    extra: dict[str, Any] = {} if asked is None else {"seconds": str(asked)}
    async with video_gateway(mock, tmp_path) as gw, sdk(gw.url) as client:
        created = await client.videos.create(model=model, prompt=prompt, size="1280x720", **extra)
        assert created.seconds == str(made)  # before any poll: what the vendor will make
        done = await client.videos.poll(created.id, poll_interval_ms=50)
        assert done.status == "completed" and done.seconds == str(made)
    assert mock_task(mock, prompt).seconds == made  # the vendor made what was shown
    row = await task_row(tmp_path, created.id)
    assert row.reserved_nano == cost(made)  # not the asked seconds, nor the 10 s reserved when none is asked
    await settled(tmp_path, created.id, made)


async def test_the_unified_route_shows_the_made_seconds_at_create(mock: MockUpstream, tmp_path: Path) -> None:
    async with video_gateway(mock, tmp_path) as gw, aiohttp.ClientSession() as session:
        body = {"model": "kling-v2", "prompt": "a kite over dunes", "duration": 7.6}
        status, created = await call(session, "POST", f"{gw.url}/v1/video/generations", body=body)
        assert status == 200, created
        assert created["seconds"] == "10" and created["task_id"] == created["id"]

        async def finished() -> Any:
            _, got = await call(session, "GET", f"{gw.url}/v1/video/generations/{created['id']}")
            return got if got["data"]["status"] == "SUCCESS" else None

        await until(finished)
    assert (await task_row(tmp_path, created["id"])).reserved_nano == cost(10)
    await settled(tmp_path, created["id"], 10)


async def test_veo_samples_multiply_the_reservation_and_the_bill(mock: MockUpstream, tmp_path: Path) -> None:
    async with video_gateway(mock, tmp_path) as gw, aiohttp.ClientSession() as session:
        url = f"{gw.url}/v1beta/models/veo-3:predictLongRunning"
        body = {"instances": [{"prompt": "three takes of a heron"}],
                "parameters": {"durationSeconds": 7, "sampleCount": 3}}  # fmt: skip
        status, operation = await call(session, "POST", url, body=body)
        assert status == 200, operation
        task_id = operation["name"].rsplit("/", 1)[1]
        [sent] = [r for r in mock.requests if r.method == "POST" and ":predictLongRunning" in r.path]
        assert (sent.body["parameters"]["durationSeconds"], sent.body["parameters"]["sampleCount"]) == (6, 3)

        async def done() -> Any:
            _, got = await call(session, "GET", f"{gw.url}/v1beta/{operation['name']}")
            return got if got.get("done") else None

        final = await until(done)
        assert len(final["response"]["generateVideoResponse"]["generatedSamples"]) == 3
    assert (await task_row(tmp_path, task_id)).reserved_nano == cost(6 * 3)  # 7 s → 6 s (a tie: the shorter)
    await settled(tmp_path, task_id, 6 * 3)


@pytest.mark.parametrize(("kling_down", "channel", "made"), [(False, "video-kling", 10), (True, "video-openai", 12)])
async def test_the_reservation_covers_the_dearest_planned_vendor_and_the_bill_the_one_that_ran(
    kling_down: bool, channel: str, made: int, mock: MockUpstream, tmp_path: Path
) -> None:
    prompt = f"a glacier calving, kling down: {kling_down}"
    async with video_gateway(mock, tmp_path, fallbacks={"kling-v2": ["sora-2"]}) as gw, sdk(gw.url) as client:
        if kling_down:
            mock.script({"fail": 503}, times=1)  # Kling refuses the submit: the fallback to Sora takes it
        created = await client.videos.create(model="kling-v2", prompt=prompt, seconds="11")  # type: ignore[arg-type]
        assert created.seconds == str(made)
        done = await client.videos.poll(created.id, poll_interval_ms=50)
        assert done.status == "completed" and done.seconds == str(made)
    row = await task_row(tmp_path, created.id)
    assert row.channel == channel
    assert row.reserved_nano == cost(12)  # 11 s: Kling makes 10, Sora 12; the dearer is held
    assert mock_task(mock, prompt).seconds == made
    await settled(tmp_path, created.id, made)
