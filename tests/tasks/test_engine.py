"""The task engine on SQLite and PostgreSQL with a hand-driven clock, against the mock video vendor:
write before you call, the poll schedule and its classification, results kept, money exactly once,
the reconciler, idempotent create."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import select

from omnirouter.ir import GatewayError, Usage
from omnirouter.ir.task import TaskState, TaskStatus
from omnirouter.mock_upstream import MockUpstream
from omnirouter.mock_upstream.media_tasks import VideoTask, file_bytes
from omnirouter.protocols.tasks.mock_video import MOCK_VIDEO
from omnirouter.routing import ModelCatalog, plan
from omnirouter.storage.accounts_models import reservations_table
from omnirouter.storage.tasks_repo import claim_due
from omnirouter.tasks import TaskSummary, external_id
from omnirouter.usage import recover_reservations
from tests.helpers.task_bench import (
    DEADLINE,
    FIRST,
    KEY,
    MOST,
    PER_CALL_NANO,
    PER_SECOND_NANO,
    budget,
    channel,
    request,
    task_bench,
)

RESERVED = 5 * PER_SECOND_NANO + PER_CALL_NANO  # the 5 s the mock vendor makes for request(), and one call


def vendor_task(mock: MockUpstream, upstream_id: str | None) -> VideoTask:
    task = mock.state.tasks[upstream_id or ""]
    assert isinstance(task, VideoTask)
    return task


async def test_begin_writes_the_row_and_its_reservation_in_one_transaction(
    database_url: str, mock: MockUpstream, tmp_path: Path
) -> None:
    async with task_bench(database_url, mock, tmp_path) as bench:
        record = await bench.engine.begin(KEY, "test", request("a cat"), budget())
        assert record.status is TaskStatus.PENDING and record.upstream_id is None
        assert record.id.startswith("task_") and record.reserved_nano == RESERVED
        async with bench.db.engine.connect() as conn:
            held = (await conn.execute(select(reservations_table))).one()
        assert (held.request_id, held.holder, held.amount_nano) == (record.id, "task", RESERVED)
        money = await bench.money()
        assert (money["reserved"], money["used"]) == (RESERVED, 0)
        assert not [r for r in mock.requests if r.path.startswith("/mockvideo")]  # nothing sent yet


async def test_a_key_without_quota_for_the_task_gets_429_and_no_row(
    database_url: str, mock: MockUpstream, tmp_path: Path
) -> None:
    async with task_bench(database_url, mock, tmp_path, quota_nano=RESERVED - 1) as bench:
        with pytest.raises(GatewayError) as caught:
            await bench.create()
        assert caught.value.status == 429 and caught.value.code == "insufficient_quota"
        assert await bench.engine.list(key_id=KEY.id) == []
        money = await bench.money()
        assert (money["reserved"], money["reservations"]) == (0, 0)


async def test_a_task_runs_to_success_keeps_its_results_and_is_charged_once(
    database_url: str, mock: MockUpstream, tmp_path: Path
) -> None:
    async with task_bench(database_url, mock, tmp_path) as bench:
        record = await bench.create(seconds=5)
        assert record.status is TaskStatus.QUEUED and record.upstream_id is not None
        assert record.next_poll_at == pytest.approx(bench.clock.now + FIRST)
        submitted = next(r for r in mock.requests if r.path == "/mockvideo/tasks").body
        assert submitted["external_id"] == external_id(record.id) == f"omni-{record.id}"
        bench.clock.advance(FIRST - 0.01)
        assert await bench.poller.run_once() == 0  # not due yet
        done = await bench.drive(record.id)
        assert done.status is TaskStatus.SUCCEEDED and done.progress == 100
        assert vendor_task(mock, record.upstream_id).steps == ["queued", "running:50", "succeeded"]
        stored = {o.kind: o for o in done.summary.stored}
        assert await bench.stored(stored["video"].name) == file_bytes(done.upstream_id or "", "video")
        assert await bench.stored(stored["thumbnail"].name) == file_bytes(done.upstream_id or "", "thumbnail")
        cost = 5 * PER_SECOND_NANO + PER_CALL_NANO
        assert done.cost_nano == cost and done.summary.seconds == 5.0
        money = await bench.money()
        assert (money["used"], money["reserved"], money["reservations"]) == (cost, 0, 0)
        (row,) = money["rows"]
        assert (row.request_id, row.cost_nano, row.seconds, row.calls, row.status_code) == (done.id, cost, 5.0, 1, 200)
        # A late poll's settle (another replica, a sweep) finds the task finished and changes nothing.
        assert (
            await bench.engine.end(record, TaskStatus.SUCCEEDED, TaskSummary(), usage=Usage(seconds=9, calls=1)) is None
        )
        assert (await bench.money())["used"] == cost
        view = done.view(lambda task, output: f"https://gw/v1/videos/{task.id}/content?variant={output.kind}")
        assert view.status is TaskStatus.SUCCEEDED and view.seconds == 5.0
        assert view.outputs[0].url.startswith("https://gw/v1/videos/task_")


async def test_transient_poll_errors_are_counted_never_refunded(
    database_url: str, mock: MockUpstream, tmp_path: Path
) -> None:
    timeline = ["500", "429:30", "not_found", "error200", "unknown", "running:70", "succeeded"]
    async with task_bench(database_url, mock, tmp_path) as bench:
        record = await bench.create(timeline=timeline)
        errors_seen = []
        for step in timeline[:5]:
            bench.clock.advance(MOST + 0.5 if step != "not_found" else 31)
            assert await bench.poller.run_once() == 1, step
            current = await bench.engine.load(record.id)
            assert current is not None and not current.status.terminal
            errors_seen.append(current.poll_errors)
            if step.startswith("429"):  # Retry-After: 30 beats the 4-second cap
                assert current.next_poll_at is not None and current.next_poll_at - bench.clock.now >= 30
                assert "429" in (current.last_error or "")
        assert errors_seen == [1, 2, 3, 4, 4]  # "unknown" is a status (still running), not an error
        assert (await bench.money())["reserved"] == RESERVED
        done = await bench.drive(record.id)
        assert done.status is TaskStatus.SUCCEEDED and done.poll_errors == 4
        assert (await bench.money())["used"] == 5 * PER_SECOND_NANO + PER_CALL_NANO
        assert "sk-mock" not in (done.last_error or "") + str(done.summary)


async def test_a_poll_that_outlasts_the_http_timeout_is_tried_again_not_logged_as_a_bug(
    database_url: str, mock: MockUpstream, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with task_bench(database_url, mock, tmp_path) as bench:
        bench.engine.http_timeout = 0.3
        record = await bench.create(timeline=["slow:2", "succeeded"])
        bench.clock.advance(MOST + 0.5)
        with caplog.at_level("ERROR", logger="omnirouter.tasks"):
            assert await bench.poller.run_once() == 1
        assert not caplog.records, [r.getMessage() for r in caplog.records]  # no "poll step failed" traceback
        current = await bench.engine.load(record.id)
        assert current is not None and not current.status.terminal
        assert current.poll_errors == 1 and "poll timed out" in (current.last_error or "")
        assert current.lease_owner is None  # handed back at once, not left for its lease to lapse
        done = await bench.drive(record.id)
        assert done.status is TaskStatus.SUCCEEDED
        assert (await bench.money())["used"] == 5 * PER_SECOND_NANO + PER_CALL_NANO


async def test_a_vendor_failure_refunds_and_a_failed_result_download_retries(
    database_url: str, mock: MockUpstream, tmp_path: Path
) -> None:
    async with task_bench(database_url, mock, tmp_path) as bench:
        failed = await bench.drive((await bench.create("no", timeline=["running:10", "failed"])).id)
        assert failed.status is TaskStatus.FAILED and failed.summary.failure_code == "content_policy"
        flaky = await bench.create("yes", timeline=["succeeded"], file_failures=1)
        bench.clock.advance(FIRST + 0.1)
        await bench.poller.run_once()  # the vendor says succeeded; our copy fails: still running
        again = await bench.engine.load(flaky.id)
        assert again is not None and again.status is not TaskStatus.SUCCEEDED and again.poll_errors == 1
        done = await bench.drive(flaky.id)
        assert done.status is TaskStatus.SUCCEEDED
        money = await bench.money()
        assert money["used"] == 5 * PER_SECOND_NANO + PER_CALL_NANO  # only the second task
        assert (money["reserved"], money["reservations"]) == (0, 0)
        by_id = {row.request_id: row for row in money["rows"]}
        assert (by_id[failed.id].cost_nano, by_id[failed.id].error_kind) == (0, "task_failed")


async def test_the_deadline_refunds_exactly_once_and_a_late_poll_changes_nothing(
    database_url: str, mock: MockUpstream, tmp_path: Path
) -> None:
    async with task_bench(database_url, mock, tmp_path) as bench:
        record = await bench.create(timeline=["running:5"])
        bench.clock.advance(FIRST + 0.1)
        await bench.poller.run_once()
        stale = await bench.engine.load(record.id)  # what a slow replica read before the deadline
        assert stale is not None and stale.status is TaskStatus.RUNNING
        bench.clock.advance(DEADLINE)
        assert await bench.poller.run_once() == 1
        ended = await bench.engine.load(record.id)
        assert ended is not None and ended.status is TaskStatus.FAILED
        assert ended.summary.failure_code == "deadline_exceeded"
        assert (
            await bench.engine.end(stale, TaskStatus.SUCCEEDED, TaskSummary(), usage=Usage(seconds=5, calls=1)) is None
        )
        channel = bench.engine.channel("mv")
        assert channel is not None
        await bench.poller._apply(stale, TaskState(status=TaskStatus.RUNNING, progress=90), MOCK_VIDEO, channel)
        after = await bench.engine.load(record.id)
        assert after is not None and after.status is TaskStatus.FAILED and after.progress == ended.progress
        money = await bench.money()
        assert (money["used"], money["reserved"], money["reservations"], len(money["rows"])) == (0, 0, 0, 1)


async def test_a_crash_between_insert_and_submit_is_found_by_external_id(
    database_url: str, mock: MockUpstream, tmp_path: Path
) -> None:
    async with task_bench(database_url, mock, tmp_path) as bench:
        record = await bench.engine.begin(KEY, "test", request("lost answer"), budget())
        # The vendor got the submit, its answer was lost with the process.
        body = {"model": "vid-1", "prompt": "lost answer", "seconds": 5, "external_id": external_id(record.id)}
        async with bench.client.session.post(f"{mock.url}/mockvideo/tasks", json=body,
                                             headers={"authorization": "Bearer sk-mock"}) as response:  # fmt: skip
            upstream_id = (await response.json())["id"]
        bench.clock.advance(1.0)
        assert await bench.poller.run_once() == 0  # the submit's lease is still live
        bench.clock.advance(1.5)
        assert await bench.poller.run_once() == 1
        found = await bench.engine.load(record.id)
        assert found is not None and (found.status, found.upstream_id) == (TaskStatus.QUEUED, upstream_id)
        done = await bench.drive(record.id)
        assert done.status is TaskStatus.SUCCEEDED
        money = await bench.money()
        assert (money["used"], money["reserved"], len(money["rows"])) == (5 * PER_SECOND_NANO + PER_CALL_NANO, 0, 1)


async def test_a_crash_before_the_vendor_got_the_task_is_refunded(
    database_url: str, mock: MockUpstream, tmp_path: Path
) -> None:
    async with task_bench(database_url, mock, tmp_path) as bench:
        record = await bench.engine.begin(KEY, "test", request("never sent"), budget())
        bench.clock.advance(2.5)
        assert await bench.poller.run_once() == 1
        ended = await bench.engine.load(record.id)
        assert ended is not None and ended.status is TaskStatus.FAILED
        assert ended.summary.failure_code == "submit_unconfirmed"
        money = await bench.money()
        assert (money["used"], money["reserved"], money["reservations"]) == (0, 0, 0)


async def test_idempotent_create(database_url: str, mock: MockUpstream, tmp_path: Path) -> None:
    async with task_bench(database_url, mock, tmp_path) as bench:
        engine = bench.engine
        first = await engine.create(KEY, "test", request("a"), budget(), idempotency_key="k1", digest="d1")
        again = await engine.create(KEY, "test", request("a"), budget(), idempotency_key="k1", digest="d1")
        assert again.id == first.id and again.upstream_id == first.upstream_id
        with pytest.raises(GatewayError) as caught:
            await engine.create(KEY, "test", request("b"), budget(), idempotency_key="k1", digest="d2")
        assert (caught.value.status, caught.value.code) == (409, "idempotency_key_reused")
        # A retry while the first create is still submitting waits for it and gets its task.
        pending = await engine.begin(KEY, "test", request("c"), budget(), idempotency_key="k2", digest="d3")
        retry = asyncio.create_task(
            engine.create(KEY, "test", request("c"), budget(), idempotency_key="k2", digest="d3")
        )
        await asyncio.sleep(0.1)
        assert not retry.done()
        submitted = await engine.submit(pending, engine.plan("vid-1", pending.kind))
        waited = await retry
        assert waited.id == pending.id and waited.upstream_id == submitted.upstream_id is not None
        submits = [r for r in mock.requests if r.path == "/mockvideo/tasks" and r.method == "POST"]
        assert len(submits) == 2
        money = await bench.money()
        assert (money["reservations"], money["reserved"]) == (2, 2 * RESERVED)


async def test_a_dead_pollers_task_is_picked_up_when_its_lease_lapses(
    database_url: str, mock: MockUpstream, tmp_path: Path
) -> None:
    async with task_bench(database_url, mock, tmp_path) as bench:
        record = await bench.create()
        bench.clock.advance(FIRST + 0.1)
        now = bench.clock.now
        async with bench.db.engine.begin() as conn:  # replica "dead" claims it, then dies
            assert len(await claim_due(conn, "dead", now, now + 20.0, 10)) == 1
        assert await bench.poller.run_once() == 0
        bench.clock.advance(20.5)
        assert await bench.poller.run_once() == 1
        polled = await bench.engine.load(record.id)
        assert polled is not None and polled.poll_attempts == 1 and polled.lease_owner is None
        assert (await bench.drive(record.id)).status is TaskStatus.SUCCEEDED


async def test_cancel_refunds_and_a_task_of_another_key_is_not_found(
    database_url: str, mock: MockUpstream, tmp_path: Path
) -> None:
    async with task_bench(database_url, mock, tmp_path) as bench:
        record = await bench.create(timeline=["running:5"])
        assert await bench.engine.get(record.id, key_id=KEY.id + 1) is None
        assert await bench.engine.cancel(record.id, key_id=KEY.id + 1) is None
        cancelled = await bench.engine.cancel(record.id, key_id=KEY.id)
        assert cancelled is not None and cancelled.status is TaskStatus.CANCELLED
        bench.clock.advance(MOST + 1)
        assert await bench.poller.run_once() == 0  # finished tasks are never claimed
        money = await bench.money()
        assert (money["used"], money["reserved"], money["reservations"]) == (0, 0, 0)
        assert [t.id for t in await bench.engine.list(key_id=KEY.id)] == [record.id]


async def test_a_submit_refused_retryably_moves_to_the_next_channel_with_the_same_external_id(
    database_url: str, mock: MockUpstream, tmp_path: Path
) -> None:
    async with task_bench(database_url, mock, tmp_path) as bench:
        catalog = ModelCatalog([channel(mock, "first", priority=1), channel(mock, "second")])
        bench.engine.catalog = lambda: catalog
        mock.script({"fail": 503}, times=1)
        record = await bench.engine.create(
            KEY, "test", request("x"), budget(), attempts=plan("vid-1", catalog.channels)
        )
        assert record.status is TaskStatus.QUEUED and record.channel == "second"
        submits = [r.body for r in mock.requests if r.path == "/mockvideo/tasks"]
        assert [s["external_id"] for s in submits] == [external_id(record.id)] * 2


async def test_a_submit_that_fails_for_good_is_refunded_and_raised(
    database_url: str, mock: MockUpstream, tmp_path: Path
) -> None:
    async with task_bench(database_url, mock, tmp_path) as bench:
        with pytest.raises(GatewayError) as caught:
            await bench.create("")  # the codec refuses it: nothing is sent
        assert (caught.value.status, caught.value.param) == (400, "prompt")
        mock.script({"fail": 500}, times=10)
        with pytest.raises(GatewayError) as upstream:
            await bench.create("the vendor is down")
        assert upstream.value.status >= 500
        assert not [r for r in mock.requests if r.path == "/mockvideo/tasks" and r.body.get("prompt") == ""]
        tasks = await bench.engine.list(key_id=KEY.id)
        assert [t.status for t in tasks] == [TaskStatus.FAILED, TaskStatus.FAILED]
        money = await bench.money()
        assert (money["used"], money["reserved"], money["reservations"], len(money["rows"])) == (0, 0, 0, 2)


async def test_recovery_at_start_leaves_task_reservations_alone(
    database_url: str, mock: MockUpstream, tmp_path: Path
) -> None:
    async with task_bench(database_url, mock, tmp_path) as bench:
        record = await bench.engine.begin(KEY, "test", request("a"), budget())
        assert await recover_reservations(bench.db) == 0
        money = await bench.money()
        assert (money["reservations"], money["reserved"], money["used"]) == (1, record.reserved_nano, 0)
