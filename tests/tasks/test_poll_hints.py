"""``PollHints`` on SQLite and PostgreSQL with a hand-driven clock: a hint makes a live task due now and
wakes the poller; a finished or unknown task is left alone; a task another replica holds is hinted once
that replica lets go (not before, and the schedule it wrote then does not swallow the hint)."""

from __future__ import annotations

from pathlib import Path

from omnirouter.ir.task import TaskStatus
from omnirouter.mock_upstream import MockUpstream
from omnirouter.storage.tasks_repo import claim_due, move_task
from omnirouter.tasks.callbacks import PollHints
from tests.helpers.task_bench import FIRST, task_bench
from tests.helpers.task_gateway import until


async def test_hints_move_only_live_unleased_tasks_and_follow_leased_ones(
    database_url: str, mock: MockUpstream, tmp_path: Path
) -> None:
    async with task_bench(database_url, mock, tmp_path) as bench:
        pokes: list[int] = []
        hints = PollHints(bench.engine, lambda: pokes.append(1), first_wait=0.01, max_wait=0.02)
        record = await bench.create("hinted")
        now = bench.clock()
        assert record.status is TaskStatus.QUEUED and record.next_poll_at == now + FIRST

        assert await hints.hint(record.id)
        hinted = await bench.engine.load(record.id)
        assert hinted is not None and hinted.next_poll_at == now and len(pokes) == 1
        assert (hinted.status, hinted.poll_attempts, hinted.updated_at) == (record.status, 0, record.updated_at)

        assert not await hints.hint("task_unknown") and len(pokes) == 1

        async with bench.db.engine.begin() as conn:  # another replica claims it, as to poll it
            [claimed] = await claim_due(conn, "replica-b", now, now + 60, 10)
        assert claimed.id == record.id
        assert await hints.hint(record.id)  # live: it will be hinted, but not under another's lease
        held = await bench.engine.load(record.id)
        assert held is not None and held.lease_owner == "replica-b" and len(pokes) == 1
        async with bench.db.engine.begin() as conn:  # replica b's poll ends with its own schedule
            values = {"lease_owner": None, "lease_until": None, "next_poll_at": now + 600}
            assert await move_task(conn, record.id, values, owner="replica-b")

        async def hinted_again() -> bool:
            again = await bench.engine.load(record.id)
            return again is not None and again.next_poll_at == now

        await until(hinted_again)
        assert len(pokes) == 2

        finished = await bench.drive(record.id)
        assert finished.status is TaskStatus.SUCCEEDED
        money = await bench.money()
        assert not await hints.hint(record.id)
        assert await bench.engine.load(record.id) == finished and await bench.money() == money
        await hints.close()
