"""Poll traffic: the per-channel poll rate (counted at the mock vendor, per second) hands back the tasks it
has no turn for without counting them, and Ark's task list polls a channel's due tasks in one call with
the same outcomes and money as polling each alone."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from omnirouter.config import ConfigError, parse_config
from omnirouter.config.schema import ChannelConfig, TasksConfig
from omnirouter.ir.task import TaskStatus
from omnirouter.mock_upstream import MockUpstream
from omnirouter.mock_upstream.core import LoggedRequest
from omnirouter.routing import Channel
from omnirouter.tasks import TaskPoller, TaskRecord, registry_vendor
from omnirouter.tasks.pacing import ChannelPacer, poll_rate
from tests.helpers.task_bench import (
    DEADLINE,
    FIRST,
    MODEL,
    MOST,
    PER_CALL_NANO,
    PER_SECOND_NANO,
    Bench,
    channel,
    task_bench,
)

ARK_MODEL = "doubao-seedance-1-0-pro-250528"
ARK_LIST = "/api/v3/contents/generations/tasks"


# ---------------------------------------------------------------- the rate: configuration and limiter


def test_the_rate_comes_from_the_channel_else_the_config() -> None:
    assert parse_config("tasks:\n  poll_rate: 2.5\n").tasks.poll_rate == 2.5
    assert parse_config("tasks: {}\n").tasks.poll_rate is None  # uncapped by default
    with pytest.raises(ConfigError):
        parse_config("tasks:\n  poll_rate: 0\n")
    assert poll_rate({"task_poll_rate": "0.5"}, 3.0) == 0.5
    assert poll_rate({}, 3.0) == 3.0
    for garbage in ("fast", "0", "-2", "inf", "nan"):
        assert poll_rate({"task_poll_rate": garbage}, None) is None, garbage


async def test_a_call_with_no_turn_within_the_wait_is_not_made_and_takes_nothing() -> None:
    pacer = ChannelPacer(0.01, wait=0.0)  # one call per 100 s: a burst of one
    assert await pacer.admit("a", {})
    assert not await pacer.admit("a", {})  # the next turn is ~100 s off
    assert not await pacer.admit("a", {})  # a refusal took no turn: still refused, nothing queued
    assert await pacer.admit("b", {})  # every channel has its own
    assert await pacer.admit("a", {"task_poll_rate": "1000"})  # a changed rate: a fresh limiter
    assert [await pacer.admit("c", {}) for _ in range(4)] == [True, False, False, False]
    assert await ChannelPacer(None, wait=0.0).admit("a", {})  # uncapped
    assert ChannelPacer(4.0, wait=0.1).retry_in({}) == 0.25  # at least one call's interval
    assert ChannelPacer(4.0, wait=2.0).retry_in({}) == 2.0


async def test_the_poller_takes_the_configured_rate_and_waits_at_most_a_quarter_of_its_lease(
    database_url: str, mock: MockUpstream, tmp_path: Path
) -> None:
    async with task_bench(database_url, mock, tmp_path) as bench:
        assert bench.poller.pacer.default is None  # uncapped unless configured
        bench.engine.config = TasksConfig(poll_rate=2.0)
        poller = TaskPoller(bench.engine, lease=4.0, rate_wait=10.0)
        assert (poller.pacer.default, poller.pacer.wait) == (2.0, 1.0)
        assert TaskPoller(bench.engine).pacer.wait == 5.0  # the default wait (the lease is 4 × 5 s)


def _polls(mock: MockUpstream, since: float) -> list[LoggedRequest]:
    return [
        r for r in mock.requests if r.method == "GET" and r.path.startswith("/mockvideo/tasks/") and r["time"] >= since
    ]


def _busiest_second(times: list[float]) -> int:
    """The most requests in any one-second window."""
    times = sorted(times)
    return max((sum(1 for t in times[i:] if t < start + 1.0) for i, start in enumerate(times)), default=0)


async def test_the_poll_rate_caps_calls_per_second_and_turned_away_tasks_are_not_counted(
    database_url: str, mock: MockUpstream, tmp_path: Path
) -> None:
    rate, count = 10, 25
    capped = channel(mock, task_poll_rate=str(rate))
    async with task_bench(database_url, mock, tmp_path, channels=[capped], rate_wait=0.1) as bench:
        records = [await bench.create(f"rated {i}", timeline=["succeeded"]) for i in range(count)]
        began = time.time()
        bench.clock.advance(FIRST + 0.1)
        assert await bench.poller.run_once() == count
        first_round = _polls(mock, began)
        assert rate <= len(first_round) < count  # the burst went out; the rest were handed back
        now = bench.clock.now
        waiting = [r for r in [await bench.engine.load(x.id) for x in records] if r and not r.status.terminal]
        assert len(waiting) == count - len(first_round)
        for record in waiting:  # handed back: not an attempt, not an error, lease released, back shortly
            assert (record.poll_errors, record.last_error, record.lease_owner) == (0, None, None)
            assert record.next_poll_at is not None and now + 0.1 <= record.next_poll_at <= now + 0.2
            assert record.status is TaskStatus.QUEUED and record.lease_until is None
        # Run every task to its end; the vendor never sees more than the rate allows.
        for _ in range(200):
            if all(r is not None and r.status.terminal for r in [await bench.engine.load(x.id) for x in records]):
                break
            bench.clock.advance(0.5)
            await bench.poller.run_once()
        elapsed = time.time() - began
        polls = _polls(mock, began)
        assert len(polls) <= rate + rate * elapsed + 1  # a burst of one second's worth, then the rate
        assert _busiest_second([r["time"] for r in polls]) <= 2 * rate + 1
        done = [await bench.engine.load(x.id) for x in records]
        assert all(r is not None and r.status is TaskStatus.SUCCEEDED and r.poll_errors == 0 for r in done)
        money = await bench.money()
        cost = count * (5 * PER_SECOND_NANO + PER_CALL_NANO)
        assert (money["used"], money["ledger"], money["task_costs"], money["reserved"]) == (cost, cost, cost, 0)


# ---------------------------------------------------------------- batch polls (Ark's task list)


def _ark(mock: MockUpstream, **options: str) -> Channel:
    settings = {"task_poll_first": str(FIRST), "task_poll_max": str(MOST), "task_deadline": str(DEADLINE), **options}
    config = ChannelConfig(name="ark", provider="ark", base_url=mock.url, api_keys=["ark-key"], models=[MODEL],  # type: ignore[arg-type]
                           model_map={MODEL: ARK_MODEL}, options=settings, total_timeout=5.0)  # fmt: skip
    return Channel(config)


SCRIPTS: list[dict[str, Any]] = [
    {},
    {"pending_polls": 4},
    {"pending_polls": 1, "body_error": "OutputVideoSensitiveContentDetected", "message": "not allowed"},
    {"poll_faults": ["unknown"]},
    {"pending_polls": 0},
    {"pending_polls": 4},
]
COST = 5 * PER_SECOND_NANO + PER_CALL_NANO
_OK = (TaskStatus.SUCCEEDED, COST, 5.0, None, "succeeded", ["last_frame", "video"])
EXPECTED = [  # (status, cost, seconds, failure code, vendor status, stored outputs, polls before the end, errors)
    (*_OK, 2, 0),
    (*_OK, 4, 0),
    (TaskStatus.FAILED, 0, None, "OutputVideoSensitiveContentDetected", "failed", [], 1, 0),
    (*_OK, 3, 0),  # "unknown" is a status (still running), not an error
    (*_OK, 0, 0),
    (*_OK, 4, 0),
]


async def _run_scripts(bench: Bench, mock: MockUpstream, tag: str) -> list[TaskRecord]:
    records = []
    for i, directive in enumerate(SCRIPTS):
        mock.script(directive)
        records.append(await bench.create(f"{tag} {i}", seconds=5))
    for _ in range(40):
        current = [await bench.engine.load(r.id) for r in records]
        if all(r is not None and r.status.terminal for r in current):
            break
        bench.clock.advance(MOST + 0.5)  # past the longest gap: every live task is due every round
        await bench.poller.run_once()
    done = [await bench.engine.load(r.id) for r in records]
    assert all(r is not None and r.status.terminal for r in done), done
    return [r for r in done if r is not None]


def _outcome(record: TaskRecord) -> tuple[Any, ...]:
    summary = record.summary
    return (record.status, record.cost_nano, summary.seconds, summary.failure_code, summary.vendor_status,
            sorted(o.kind for o in summary.stored), record.poll_attempts, record.poll_errors)  # fmt: skip


def _ark_calls(mock: MockUpstream, since: float) -> tuple[list[LoggedRequest], list[LoggedRequest]]:
    gets = [r for r in mock.requests if r.method == "GET" and r.path.startswith(ARK_LIST) and r["time"] >= since]
    return [r for r in gets if r.path == ARK_LIST], [r for r in gets if r.path != ARK_LIST]


@pytest.mark.parametrize("batch", [True, False], ids=["batch", "single"])
async def test_a_batch_poll_is_one_call_per_round_with_the_outcomes_and_money_of_single_polls(
    database_url: str, mock: MockUpstream, tmp_path: Path, batch: bool
) -> None:
    options = {} if batch else {"task_poll_batch": "1"}  # 1: no batch polls on this channel
    began = time.time()
    async with task_bench(database_url, mock, tmp_path, channels=[_ark(mock, **options)],
                          vendor_for=registry_vendor) as bench:  # fmt: skip
        done = await _run_scripts(bench, mock, f"batch={batch}")
        assert [_outcome(r) for r in done] == EXPECTED  # the same table in both modes
        money = await bench.money()
        costs = sum(row[1] for row in EXPECTED)
        assert (money["used"], money["ledger"], money["task_costs"], money["reserved"]) == (costs, costs, costs, 0)
        assert len(money["rows"]) == len(SCRIPTS) and money["reservations"] == 0
        lists, singles = _ark_calls(mock, began)
        rounds = max(r.poll_attempts for r in done) + 1  # the last poll (the end) is not an attempt
        if batch:  # one list call a round, carrying every task still live
            assert singles == [] and len(lists) == rounds
            assert [r.query["page_size"] for r in lists] == ["6", "5", "4", "3", "2"]
        else:
            assert lists == [] and len(singles) == sum(r.poll_attempts + 1 for r in done)


async def test_a_task_the_list_lacks_is_polled_alone_and_a_failed_list_counts_for_each(
    database_url: str, mock: MockUpstream, tmp_path: Path
) -> None:
    async with task_bench(database_url, mock, tmp_path, channels=[_ark(mock)], vendor_for=registry_vendor) as bench:
        mock.script({"poll_faults": ["not_found"]})
        gone = await bench.create("missing from the list")
        kept = await bench.create("in the list")
        began = time.time()
        bench.clock.advance(FIRST + 0.1)
        assert await bench.poller.run_once() == 2
        lists, singles = _ark_calls(mock, began)
        assert len(lists) == 1 and [r.path for r in singles] == [f"{ARK_LIST}/{gone.upstream_id}"]
        after = {r.id: r for r in [await bench.engine.load(gone.id), await bench.engine.load(kept.id)] if r}
        assert all(r.poll_attempts == 1 and r.poll_errors == 0 for r in after.values())
        # A list answered with an error: every task in it counts one failed poll, none is refunded.
        mock.state.tasks[f"ark:{kept.upstream_id}"].faults.append(500)  # type: ignore[union-attr]
        began = time.time()
        bench.clock.advance(MOST + 0.5)
        assert await bench.poller.run_once() == 2
        lists, singles = _ark_calls(mock, began)
        assert len(lists) == 1 and singles == []
        for task in (gone, kept):
            record = await bench.engine.load(task.id)
            assert record is not None and not record.status.terminal
            assert (record.poll_attempts, record.poll_errors) == (2, 1) and "500" in (record.last_error or "")
        assert (await bench.money())["used"] == 0
        for task in (gone, kept):
            assert (await bench.drive(task.id)).status is TaskStatus.SUCCEEDED
