"""Two replicas' pollers on one PostgreSQL: never the same task at once, every task settled exactly once,
the ledger's sum equal to the tasks' costs and no reservation left; a replica that stops mid-claim loses
none of its tasks."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

from omnirouter.ir.task import TaskStatus
from omnirouter.mock_upstream import MockUpstream
from omnirouter.routing import ModelCatalog
from omnirouter.storage.tasks_repo import claim_due
from omnirouter.tasks import TaskPoller, TaskRecord
from tests.helpers.postgres import reset_postgres
from tests.helpers.task_bench import MOST, Bench, add_replica, channel, task_bench

TASKS = 60


def watch(poller: TaskPoller, name: str, busy: Counter[str], most: Counter[str], polls: Counter[str]) -> None:
    """Count, per task, how many pollers handle it at this moment (and the most ever seen)."""
    handle = poller._handle

    async def counted(record: TaskRecord) -> None:
        busy[record.id] += 1
        most[record.id] = max(most[record.id], busy[record.id])
        polls[name] += 1
        try:
            await asyncio.sleep(0)  # let the other replica run while this one holds the task
            await handle(record)
        finally:
            busy[record.id] -= 1

    poller._handle = counted  # type: ignore[method-assign]


async def _run(bench: Bench) -> tuple[list[TaskRecord], Counter[str], Counter[str]]:
    catalog = ModelCatalog([channel(bench.mock)])
    await add_replica(bench, "b", catalog, batch=7)
    bench.replicas["a"].poller.batch = 7
    busy: Counter[str] = Counter()
    most: Counter[str] = Counter()
    polls: Counter[str] = Counter()
    for name, replica in bench.replicas.items():
        watch(replica.poller, name, busy, most, polls)
    created = await asyncio.gather(
        *(bench.create(f"clip {i}", timeline=["running:30", "succeeded"]) for i in range(TASKS))
    )
    ids = [record.id for record in created]
    for _ in range(40):
        bench.clock.advance(MOST + 0.5)
        await asyncio.gather(*(replica.poller.run_once() for replica in bench.replicas.values()))
        records = [await bench.engine.load(task_id) for task_id in ids]
        if all(r is not None and r.status.terminal for r in records):
            break
    return [r for r in records if r is not None], most, polls


async def test_two_pollers_never_poll_one_task_at_once_and_settle_each_once(
    postgres_url: str, mock: MockUpstream, tmp_path: Path
) -> None:
    url = await reset_postgres(postgres_url)
    async with task_bench(url, mock, tmp_path) as bench:
        records, most, polls = await _run(bench)
        assert len(records) == TASKS and all(r.status is TaskStatus.SUCCEEDED for r in records)
        assert max(most.values()) == 1  # no task was ever in two pollers' hands at once
        assert polls["a"] > 0 and polls["b"] > 0  # both replicas did work
        money = await bench.money()
        per_task = {r.id: r.cost_nano for r in records}
        assert money["used"] == money["ledger"] == money["task_costs"] == sum(per_task.values()) > 0
        assert (money["reserved"], money["reservations"]) == (0, 0)
        rows = Counter(row.request_id for row in money["rows"])
        assert rows == Counter(per_task.keys())  # exactly one ledger row per task
        for record in records:
            assert bench.mock.state.tasks[record.upstream_id or ""].steps == ["running:30", "succeeded"]


async def test_a_replica_killed_after_claiming_loses_none_of_its_tasks(
    postgres_url: str, mock: MockUpstream, tmp_path: Path
) -> None:
    url = await reset_postgres(postgres_url)
    async with task_bench(url, mock, tmp_path) as bench:
        created = await asyncio.gather(*(bench.create(f"clip {i}", timeline=["succeeded"]) for i in range(20)))
        bench.clock.advance(MOST + 0.5)
        now = bench.clock.now
        async with bench.db.engine.begin() as conn:  # replica b claims half, then is killed
            claimed = await claim_due(conn, "replica-b", now, now + bench.poller.lease, 10)
        assert len(claimed) == 10
        assert await bench.poller.run_once() == 10  # a takes only the others
        bench.clock.advance(bench.poller.lease + 0.5)
        assert await bench.poller.run_once() == 10  # b's leases lapsed: a takes them
        records = [await bench.engine.load(r.id) for r in created]
        assert all(r is not None and r.status is TaskStatus.SUCCEEDED for r in records)
        money = await bench.money()
        assert money["used"] == money["ledger"] == money["task_costs"] and len(money["rows"]) == 20
        assert (money["reserved"], money["reservations"]) == (0, 0)
