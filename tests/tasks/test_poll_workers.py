"""Pollers apart from the request-serving processes: ``omnirouter serve`` with ``tasks.run_pollers: false``
takes creates but never polls (its tasks stay untouched past their due time), and one ``omnirouter tasks
work`` process, started beside it, finishes them — billed once each, the books summed.  A vendor callback
that reaches the gateway still leads the worker to poll at once (the hint is written to the database).
Real processes, the official ``openai`` SDK, on SQLite and PostgreSQL; a SIGTERM stops the worker cleanly.
"""

from __future__ import annotations

import signal
import time
import uuid
from pathlib import Path
from typing import Any

import openai
import pytest
import yaml

from omnirouter.mock_upstream import MockUpstream
from omnirouter.mock_upstream.tasks_video import VideoTask
from tests.helpers.processes import free_port
from tests.helpers.task_gateway import CLIENT_KEY, KLING_MODEL, PER_CALL_NANO, PER_SECOND_NANO
from tests.helpers.task_processes import GatewayProcess, WorkerProcess, books, task_rows, wait_until, write_config
from tests.helpers.video_gateway import made

pytestmark = pytest.mark.filterwarnings("ignore:The Sora API:DeprecationWarning")

QUOTA_NANO = 10 * 10**9
KLING_COST = 5 * PER_SECOND_NANO + PER_CALL_NANO  # Kling's default 5 s, as its answer reports it
TASKS = 3
HOUR = 3600.0


def vendor_tasks(mock: MockUpstream, marker: str) -> list[VideoTask]:
    found = {id(t): t for t in mock.state.tasks.values() if isinstance(t, VideoTask) and marker in t.prompt}
    return list(found.values())


async def _all_overdue(url: str, by: float) -> bool:
    rows = await task_rows(url)
    return len(rows) == TASKS and all(row.next_poll_at < time.time() - by for row in rows)


async def _all_ended(url: str, count: int) -> bool:
    rows = await task_rows(url)
    return len(rows) == count and all(row.status in ("succeeded", "failed", "cancelled") for row in rows)


def _check_books(rows: list[Any], key: Any) -> None:
    assert [row.status for row in rows] == ["succeeded"] * len(rows), [(r.status, r.last_error) for r in rows]
    assert sorted(entry.request_id for entry in key.ledger) == sorted(row.id for row in rows)  # one row each
    assert all(row.cost_nano == KLING_COST for row in rows)
    assert sum(entry.cost_nano for entry in key.ledger) == KLING_COST * len(rows)
    assert key.balance_nano == QUOTA_NANO - KLING_COST * len(rows)
    assert key.reserved_nano == 0
    assert key.reservations == []


async def test_a_gateway_without_pollers_leaves_tasks_alone_and_a_worker_finishes_them(
    mock: MockUpstream, tmp_path: Path, database_url: str
) -> None:
    marker = uuid.uuid4().hex[:8]
    config = write_config(mock.url, tmp_path, database_url, run_pollers=False)  # polls due 50 ms after submit
    gateway, worker = GatewayProcess(config), WorkerProcess(config)
    try:
        await gateway.start()
        async with openai.AsyncOpenAI(base_url=f"{gateway.url}/v1", api_key=CLIENT_KEY, max_retries=0) as client:
            ids = [(await client.videos.create(model=KLING_MODEL, prompt=f"apart {i} {marker}")).id
                   for i in range(TASKS)]  # fmt: skip
            # Every task due for a second (20 of the gateway's claim intervals): nothing polled them.
            await wait_until(lambda: _all_overdue(database_url, by=1.0), within=30)
            rows = await task_rows(database_url)
            assert [row.status for row in rows] == ["queued"] * TASKS
            assert [(row.poll_attempts, row.lease_owner) for row in rows] == [(0, None)] * TASKS
            assert [task.polled_at for task in vendor_tasks(mock, marker)] == [[]] * TASKS
            assert [(await client.videos.retrieve(id)).status for id in ids] == ["queued"] * TASKS

            await worker.start()
            await wait_until(lambda: _all_ended(database_url, TASKS), within=60)
            at_vendor = {str(task.info.get("external")): task for task in vendor_tasks(mock, marker)}
            for video_id in ids:
                video = await client.videos.retrieve(video_id)
                assert video.status == "completed", video
                content = await client.videos.download_content(video_id)
                assert content.read() == made(at_vendor[f"omni-{video_id}"])  # the vendor's bytes, kept
        assert all(task.polled_at for task in vendor_tasks(mock, marker))  # the worker did poll the vendor
        assert await worker.stop(signal.SIGTERM) == 0
    finally:
        await worker.stop(signal.SIGKILL)
        await gateway.stop()
    assert "task worker stopped" in worker.output, worker.output
    for process in (gateway, worker):
        assert "Traceback" not in process.output, process.output
    _check_books(await task_rows(database_url), await books(database_url, "tester"))


async def test_a_vendor_callback_at_a_gateway_without_pollers_makes_the_worker_poll_at_once(
    mock: MockUpstream, tmp_path: Path, database_url: str
) -> None:
    """Polls an hour apart: a task only finishes in this test's time if Kling's callbacks, received by the
    gateway, make the worker poll."""
    marker = uuid.uuid4().hex[:8]
    port = free_port()
    config = write_config(mock.url, tmp_path, database_url, run_pollers=False, poll_first=HOUR, poll_max=HOUR,
                          deadline=4 * HOUR)  # fmt: skip
    raw = yaml.safe_load(config.read_text())
    raw["public_url"] = f"http://127.0.0.1:{port}"
    config.write_text(yaml.safe_dump(raw))
    gateway, worker = GatewayProcess(config, port=port), WorkerProcess(config)
    try:
        await gateway.start()
        await worker.start()
        async with openai.AsyncOpenAI(base_url=f"{gateway.url}/v1", api_key=CLIENT_KEY, max_retries=0) as client:
            video = await client.videos.create(model=KLING_MODEL, prompt=f"called back {marker}")
            await wait_until(lambda: _all_ended(database_url, 1), within=60)
            assert (await client.videos.retrieve(video.id)).status == "completed"
        (task,) = vendor_tasks(mock, marker)
        assert task.callback is not None and task.callback.startswith(gateway.url)
        assert 1 <= len(task.polled_at) <= 4  # one poll per callback at most (queued, running, succeeded)
    finally:
        await worker.stop()
        await gateway.stop()
    for process in (gateway, worker):
        assert "Traceback" not in process.output, process.output
    _check_books(await task_rows(database_url), await books(database_url, "tester"))
