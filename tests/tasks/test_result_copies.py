"""Result copies go through ``transport.result_copy.copy_url`` with the gateway's address policy and the
``tasks.result_max_bytes`` cap: a copy refused for good fails the task and refunds it (nothing of it stays
in the store), and the channel's key reaches the vendor's file host but never another origin it redirects
to.  Against the mock video vendor on a real database, with the bench's hand-driven clock."""

from __future__ import annotations

from pathlib import Path

from omnirouter.config.schema import ImageFetchConfig, TasksConfig
from omnirouter.ir.task import TaskStatus
from omnirouter.mock_upstream import MockUpstream
from omnirouter.mock_upstream.media_tasks import VideoTask, file_bytes
from omnirouter.storage.blobs import BlobNotFound
from omnirouter.tasks import TaskRecord
from tests.helpers.task_bench import PER_CALL_NANO, PER_SECOND_NANO, Bench, task_bench


def vendor_task(mock: MockUpstream, upstream_id: str | None) -> VideoTask:
    task = mock.state.tasks[upstream_id or ""]
    assert isinstance(task, VideoTask)
    return task


async def assert_refunded(bench: Bench, done: TaskRecord) -> None:
    """Failed for good with ``result_refused``, nothing charged or held, nothing stored."""
    assert done.status is TaskStatus.FAILED and done.summary.failure_code == "result_refused"
    assert "could not be kept" in (done.summary.failure or "") and "127.0.0.1" not in (done.summary.failure or "")
    assert done.summary.stored == [] and done.cost_nano == 0
    money = await bench.money()
    assert (money["used"], money["reserved"], money["reservations"], money["ledger"]) == (0, 0, 0, 0)
    (row,) = money["rows"]
    assert (row.request_id, row.error_kind, row.seconds, row.calls) == (done.id, "result_refused", 0, 0)
    for kind in ("video", "thumbnail"):
        try:
            await bench.results.stat(f"{done.id}/{kind}")
        except BlobNotFound:
            continue
        raise AssertionError(f"{kind} of a refused task is still stored")


async def test_a_result_on_a_private_address_the_policy_refuses_fails_and_refunds(
    database_url: str, mock: MockUpstream, tmp_path: Path
) -> None:
    async with task_bench(database_url, mock, tmp_path, fetch_policy=ImageFetchConfig()) as bench:
        record = await bench.create("private", timeline=["succeeded"])
        done = await bench.drive(record.id)
        await assert_refunded(bench, done)
        assert vendor_task(mock, record.upstream_id).file_auth == []  # never fetched at all


async def test_an_allowed_host_reaches_the_mock_even_when_private_addresses_are_refused(
    database_url: str, mock: MockUpstream, tmp_path: Path
) -> None:
    policy = ImageFetchConfig(allow_hosts=["127.0.0.1"])
    async with task_bench(database_url, mock, tmp_path, fetch_policy=policy) as bench:
        done = await bench.drive((await bench.create("allowed", timeline=["succeeded"])).id)
        assert done.status is TaskStatus.SUCCEEDED
        assert (await bench.money())["used"] == 5 * PER_SECOND_NANO + PER_CALL_NANO


async def test_an_oversized_result_fails_and_refunds_and_keeps_no_part_of_it(
    database_url: str, mock: MockUpstream, tmp_path: Path
) -> None:
    video_size = len(file_bytes("mv-00000000", "video"))
    cap = TasksConfig(result_max_bytes=video_size - 1)  # one byte short of the video
    async with task_bench(database_url, mock, tmp_path, tasks_config=cap) as bench:
        done = await bench.drive((await bench.create("too big", timeline=["succeeded"])).id)
        await assert_refunded(bench, done)


async def test_the_channel_key_goes_to_the_vendor_file_host_and_not_past_a_redirect_to_another_origin(
    database_url: str, mock: MockUpstream, tmp_path: Path
) -> None:
    async with task_bench(database_url, mock, tmp_path) as bench:
        direct = await bench.create("keyed", timeline=["succeeded"], files_need_key=True)
        moved = await bench.create("redirected", timeline=["succeeded"], files_need_key=True, file_redirect=True)
        for record in (direct, moved):
            done = await bench.drive(record.id)
            assert done.status is TaskStatus.SUCCEEDED, done.summary.failure
            stored = {o.kind: o for o in done.summary.stored}
            assert await bench.stored(stored["video"].name) == file_bytes(done.upstream_id or "", "video")
            assert stored["video"].mime == "video/mp4"
        assert vendor_task(mock, direct.upstream_id).file_auth == ["Bearer sk-mock", "Bearer sk-mock"]
        # Each file: first asked of the vendor's origin with the key, then of the redirect's origin without it.
        assert vendor_task(mock, moved.upstream_id).file_auth == ["Bearer sk-mock", None, "Bearer sk-mock", None]


async def test_a_result_url_answering_403_or_404_is_tried_again_at_the_next_poll(
    database_url: str, mock: MockUpstream, tmp_path: Path
) -> None:
    async with task_bench(database_url, mock, tmp_path) as bench:
        for status in (403, 404):
            record = await bench.create(f"not yet {status}", timeline=["succeeded"], file_failures=1,
                                        file_failure_status=status)  # fmt: skip
            bench.clock.advance(5)
            await bench.poller.run_once()
            again = await bench.engine.load(record.id)
            assert again is not None and not again.status.terminal and again.poll_errors == 1
            assert f"HTTP {status}" in (again.last_error or "")
            done = await bench.drive(record.id)
            assert done.status is TaskStatus.SUCCEEDED
            assert await bench.stored(f"{done.id}/video") == file_bytes(done.upstream_id or "", "video")
