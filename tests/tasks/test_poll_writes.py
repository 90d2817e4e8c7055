"""``tasks.poll_writes.PollWrites``: polls finishing together are written in one transaction, and each write
is still the compare-and-set it was alone — only a live task leased to the writer moves, and a status move
gets its webhook event only where it moved.  On SQLite and PostgreSQL, through the real task engine."""

from __future__ import annotations

import asyncio
from pathlib import Path

import msgspec
import sqlalchemy as sa

from omnirouter.mock_upstream import MockUpstream
from omnirouter.storage.tasks_repo import claim_due, tasks_table
from omnirouter.storage.webhooks_repo import task_webhooks_table
from omnirouter.tasks import TaskRecord
from omnirouter.tasks.poll_writes import PollWrites
from tests.helpers.task_bench import FIRST, KEY, budget, request, task_bench

OWNER = "replica-me"


async def _tasks(bench, count: int) -> list[TaskRecord]:  # type: ignore[no-untyped-def]
    """``count`` queued tasks (half with a webhook URL), all claimed by ``OWNER``."""
    made = []
    for i in range(count):
        hook = "https://client.example/hook" if i % 2 else None
        task = msgspec.structs.replace(request(f"batched {i}", timeline=["running:50"]), callback_url=hook)
        made.append(await bench.engine.create(KEY, "test", task, budget()))
    bench.clock.advance(FIRST + 0.1)
    now = bench.clock()
    async with bench.db.engine.begin() as conn:
        rows = await claim_due(conn, OWNER, now, now + 60, count)
    assert len(rows) == count
    return [TaskRecord.of(row) for row in rows]


async def test_writes_queued_together_commit_in_one_transaction_and_stay_compare_and_set(
    database_url: str, mock: MockUpstream, tmp_path: Path
) -> None:
    async with task_bench(database_url, mock, tmp_path) as bench:
        records = await _tasks(bench, 12)
        assert {record.status.value for record in records} == {"queued"}
        mine, stolen = records[:10], records[10:]
        async with bench.db.engine.begin() as conn:  # another poller took these meanwhile
            await conn.execute(sa.update(tasks_table).where(tasks_table.c.id.in_([r.id for r in stolen]))
                               .values(lease_owner="replica-other"))  # fmt: skip
        now = bench.clock()
        writes = PollWrites(bench.db)

        def values(record: TaskRecord, status: str) -> dict[str, object]:
            return {"status": status, "poll_attempts": record.poll_attempts + 1, "next_poll_at": now + 7,
                    "lease_owner": None, "lease_until": None, "updated_at": now}  # fmt: skip

        moving = [*mine[:5], *stolen]  # status moves (queued -> running): row by row, with their events
        staying = mine[5:]  # only the schedule: one executemany
        await asyncio.gather(
            *(writes.write(r, values(r, "running"), owner=OWNER, announce=True, now=now) for r in moving),
            *(writes.write(r, {**values(r, "queued"), "last_error": "e"}, owner=OWNER) for r in staying),
            *(writes.write(r, values(r, "queued"), owner=OWNER) for r in stolen),
        )
        assert writes.batches == 1
        await writes.close()

        async with bench.db.engine.connect() as conn:
            rows = {row.id: row for row in (await conn.execute(sa.select(tasks_table))).all()}
            events = (await conn.execute(sa.select(task_webhooks_table))).all()
        for record in mine:
            row = rows[record.id]
            assert (row.status, row.poll_attempts, row.next_poll_at, row.lease_owner) == (
                "running" if record in moving else "queued",
                1,
                now + 7,
                None,
            )
            assert row.last_error == ("e" if record in staying else None)
        for record in stolen:  # not leased to the writer: untouched
            row = rows[record.id]
            assert (row.status, row.poll_attempts, row.lease_owner) == ("queued", 0, "replica-other")
        announced = [r.id for r in mine[:5] if r.callback_url]  # the creates announced task.queued before
        assert sorted(e.task_id for e in events if e.event_type == "task.running") == sorted(announced)


async def test_a_failing_batch_fails_every_write_in_it_and_the_next_batch_runs(
    database_url: str, mock: MockUpstream, tmp_path: Path
) -> None:
    async with task_bench(database_url, mock, tmp_path) as bench:
        first, second = await _tasks(bench, 2)
        writes = PollWrites(bench.db)
        outcomes = await asyncio.gather(
            writes.write(first, {"no_such_column": 1}, owner=OWNER),
            writes.write(second, {"poll_attempts": 1}, owner=OWNER),
            return_exceptions=True,
        )
        assert all(isinstance(outcome, Exception) for outcome in outcomes)  # one transaction: all or nothing
        await writes.write(second, {"poll_attempts": 3}, owner=OWNER)
        assert writes.batches == 1
        again = await bench.engine.load(second.id)
        assert again is not None and again.poll_attempts == 3
