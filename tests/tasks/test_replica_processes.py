"""Two gateway processes on one PostgreSQL polling 2,000 video tasks at the mock's Kling: never two polls
of one task in flight at once (the mock counts them), every task settled exactly once (one ledger row
each, the key's books summed), and none lost when one replica is killed with SIGKILL mid-way: the
survivor finishes its tasks once their leases lapse."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter
from pathlib import Path

import aiohttp
import pytest
import sqlalchemy as sa

from omnirouter.mock_upstream import MockUpstream
from omnirouter.mock_upstream.tasks_video import VideoTask
from omnirouter.storage.tasks_repo import tasks_table
from tests.helpers.billing import query
from tests.helpers.postgres import reset_postgres
from tests.helpers.task_gateway import CLIENT_KEY, KLING_MODEL, PER_CALL_NANO, PER_SECOND_NANO
from tests.helpers.task_processes import GatewayProcess, books, count_tasks, task_rows, wait_until, write_config

TASKS = 2_000
QUOTA_NANO = 5000 * 10**9
KLING_COST = 5 * PER_SECOND_NANO + PER_CALL_NANO
# Polls held 10 ms at the mock (overlapping polls would show); leases of 8 s (2 s poll timeout).
DIRECTIVE = '[[mock {"poll_delay": 0.01, "pending_polls": 1}]]'


async def _create(session: aiohttp.ClientSession, url: str, prompt: str) -> str:
    body = {"model": KLING_MODEL, "prompt": prompt}
    async with session.post(f"{url}/v1/videos", json=body, headers={"authorization": f"Bearer {CLIENT_KEY}"}) as r:
        answer = await r.json()
        assert r.status == 200, answer
        return str(answer["id"])


async def test_two_replica_processes_settle_2000_tasks_once_and_lose_none_to_a_sigkill(
    mock: MockUpstream, tmp_path: Path, postgres_url: str
) -> None:
    url = await reset_postgres(postgres_url)
    config = write_config(mock.url, tmp_path, url, quota_usd=5000.0, http_timeout=2.0, poll_first=0.2, poll_max=1.0)
    survivor, victim = GatewayProcess(config), GatewayProcess(config)
    try:
        await asyncio.gather(survivor.start(), victim.start())
        targets = itertools.cycle([survivor.url, victim.url])
        gate = asyncio.Semaphore(32)
        async with aiohttp.ClientSession() as session:

            async def create(i: int, target: str) -> str:
                async with gate:
                    return await _create(session, target, f"replica task {i} {DIRECTIVE}")

            ids = await asyncio.gather(*(create(i, next(targets)) for i in range(TASKS)))
        assert len(set(ids)) == TASKS
        await wait_until(lambda: _at_least(url, TASKS // 4), within=60)
        assert victim.process is not None
        dead_owner = f"replica-{victim.process.pid}-"
        # Killed while it holds leases (on a loaded machine it may be between claims at any one moment).
        await wait_until(lambda: _leases_of(url, dead_owner), within=30, every=0.02)
        victim.kill()
        killed_at = time.time()
        assert await victim.died() == -9
        orphans = [
            row.id for row in await task_rows(url) if (row.lease_owner or "").startswith(dead_owner)
        ]  # leased to the dead process: only its leases lapsing frees them
        await wait_until(lambda: _at_least(url, TASKS), within=90, every=0.5)
    finally:
        await asyncio.gather(survivor.stop(), victim.stop())
    assert "Traceback" not in survivor.output, survivor.output[-4000:]

    rows = {row.id: row for row in await task_rows(url)}
    assert set(rows) == set(ids)
    assert Counter(row.status for row in rows.values()) == {"succeeded": TASKS}
    assert orphans, "the killed replica held no lease: nothing was taken over"
    assert all(rows[task_id].finished_at > killed_at for task_id in orphans)
    vendor = [t for t in {id(t): t for t in mock.state.tasks.values() if isinstance(t, VideoTask)}.values()
              if t.prompt.startswith("replica task ")]  # fmt: skip
    assert len(vendor) == TASKS  # each submitted once
    assert max(t.most_in_flight for t in vendor) == 1  # never two polls of one task at once
    key = await books(url, "tester")
    assert Counter(entry.request_id for entry in key.ledger) == Counter(ids)  # one ledger row per task
    assert all(entry.cost_nano == KLING_COST for entry in key.ledger)
    assert key.used_nano == TASKS * KLING_COST == sum(entry.cost_nano for entry in key.ledger)
    assert key.balance_nano == QUOTA_NANO - TASKS * KLING_COST
    assert key.reserved_nano == 0 and key.reservations == []


async def _at_least(url: str, count: int) -> bool:
    return await count_tasks(url, "succeeded") >= count


async def _leases_of(url: str, owner: str) -> bool:
    """Whether ``owner`` holds a live lease (one count query: it is asked every 20 ms)."""
    table = tasks_table
    live = (table.c.lease_owner.startswith(owner)) & (table.c.lease_until > time.time())
    (row,) = await query(url, sa.select(sa.func.count()).select_from(table).where(live))
    return int(row[0]) > 0


pytestmark = pytest.mark.filterwarnings("ignore:The Sora API:DeprecationWarning")
