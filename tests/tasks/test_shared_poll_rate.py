"""One poll rate shared by every replica through a real Redis: two pollers on one database make at most the
rate (after a one-second burst) at the mock vendor between them; a Redis that fails mid-way (a real
``redis-server`` killed) turns pacing per process, logged once, and every task still finishes with exact
money; a Redis back again is shared again."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from omnirouter.ir.task import TaskStatus
from omnirouter.mock_upstream import MockUpstream
from omnirouter.mock_upstream.core import LoggedRequest
from omnirouter.routing import ModelCatalog
from omnirouter.storage.redis import redis_client
from omnirouter.tasks import TaskRecord
from omnirouter.tasks.pacing import ChannelPacer
from omnirouter.tasks.shared_rate import SharedPollRate
from tests.helpers.postgres import reset_postgres
from tests.helpers.processes import free_port
from tests.helpers.redis_helpers import REDIS_URL, PrivateRedis, private_redis, redis_prefix
from tests.helpers.task_bench import PER_CALL_NANO, PER_SECOND_NANO, Bench, add_replica, channel, task_bench

COST = 5 * PER_SECOND_NANO + PER_CALL_NANO


@pytest.fixture
async def shared() -> AsyncIterator[tuple[Redis, str]]:
    """A client of the test Redis and a key prefix of this test's own."""
    async with redis_prefix() as env:
        yield env


# ---------------------------------------------------------------- the budget in Redis


async def test_a_turn_is_reserved_only_within_the_wait_and_replicas_share_it(shared: tuple[Redis, str]) -> None:
    client, prefix = shared
    one, other = SharedPollRate(redis_client(REDIS_URL), prefix), SharedPollRate(redis_client(REDIS_URL), prefix)
    try:
        assert await one.take("mv", 0.5, wait=0.0) == 0.0  # a burst of one call, then one every 2 s
        assert await other.take("mv", 0.5, wait=0.0) is None  # the other process sees the same budget
        assert await one.take("mv", 0.5, wait=0.0) is None  # a refusal reserved nothing
        second = await other.take("mv", 0.5, wait=5.0)  # within the wait: reserved, with its delay
        assert second is not None and 0.0 < second <= 2.0
        third = await one.take("mv", 0.5, wait=5.0)
        assert third is not None and 2.0 < third <= 4.0  # in line behind the second
        assert await one.take("other", 0.5, wait=0.0) == 0.0  # every channel has its own budget
        assert [await one.take("fast", 5.0, wait=0.0) == 0.0 for _ in range(6)].count(True) in (5, 6)  # burst 5
        ttl = await client.pttl(one.key("mv", 0.5))
        assert 0 < ttl <= 6_001  # gone once the bucket is full again: idle channels leave nothing behind
    finally:
        await one.redis.aclose()
        await other.redis.aclose()


async def test_two_pacers_on_one_redis_share_the_rate(shared: tuple[Redis, str]) -> None:
    _, prefix = shared
    clients = [redis_client(REDIS_URL), redis_client(REDIS_URL)]
    a, b = (ChannelPacer(0.01, wait=0.0, shared=SharedPollRate(c, prefix)) for c in clients)
    try:
        assert await a.admit("mv", {})
        assert not await b.admit("mv", {})  # per process, b would have had its own burst
        assert await b.admit("mv", {"task_poll_rate": "1000"})  # the rate is the channel's current one
        assert await ChannelPacer(None, wait=0.0, shared=a.shared).admit("mv", {})  # uncapped: Redis not asked
    finally:
        for client in clients:
            await client.aclose()


async def test_turns_woken_late_by_a_stalled_process_are_given_up_not_sent_together(
    shared: tuple[Redis, str],
) -> None:
    _, prefix = shared
    client = redis_client(REDIS_URL)
    pacer = ChannelPacer(4.0, wait=1.0, shared=SharedPollRate(client, prefix))
    try:
        burst = [await pacer.admit("mv", {}) for _ in range(4)]  # one second's worth at once
        assert burst == [True] * 4
        booked = [asyncio.create_task(pacer.admit("mv", {})) for _ in range(3)]  # turns 0.25 s apart, ahead
        await asyncio.sleep(0.05)  # the three are booked in Redis and sleeping
        time.sleep(1.2)  # the process stalls past all three turns (and more than one interval)
        assert await asyncio.gather(*booked) == [False] * 3  # given up: they would reach the vendor together
        on_time = await pacer.admit("mv", {})  # the bucket refilled meanwhile: a turn now is on time
        assert on_time
    finally:
        await client.aclose()


async def test_redis_down_paces_per_process_logs_once_and_is_shared_again_when_back(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="omnirouter.tasks")
    with private_redis() as server:
        client = redis_client(server.url)
        pacer = ChannelPacer(0.01, wait=0.0, shared=SharedPollRate(client), retry_interval=0.2)
        try:
            assert await pacer.admit("mv", {})
            assert await client.exists("omnirouter:pollrate:{mv}:0.01") == 1  # the turn was taken in Redis
            server.stop()
            assert await pacer.admit("mv", {})  # the process's own limiter: a fresh burst of one
            assert not await pacer.admit("mv", {})  # ... and its rate still holds
            assert not await pacer.admit("mv", {})
            server.start()  # an empty Redis on the same port
            await asyncio.sleep(0.25)  # past retry_interval
            assert await pacer.admit("mv", {})  # shared again: Redis's fresh budget
            assert await client.exists("omnirouter:pollrate:{mv}:0.01") == 1
        finally:
            await client.aclose()
    messages = [r.getMessage() for r in caplog.records]
    assert sum("Redis unavailable" in m for m in messages) == 1  # once per outage, not once per poll
    assert sum("Redis is back" in m for m in messages) == 1
    assert all("Traceback" not in m for m in messages)


async def test_a_redis_never_reached_falls_back_without_raising(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="omnirouter.tasks")
    client = redis_client(f"redis://127.0.0.1:{free_port()}/0")
    pacer = ChannelPacer(0.01, wait=0.0, shared=SharedPollRate(client), retry_interval=60)
    try:
        assert [await pacer.admit("mv", {}) for _ in range(3)] == [True, False, False]
    finally:
        await client.aclose()
    assert sum("Redis unavailable" in r.getMessage() for r in caplog.records) == 1


# ---------------------------------------------------------------- two replicas at the mock vendor


def _polls(mock: MockUpstream, since: float) -> list[LoggedRequest]:
    return [
        r for r in mock.requests if r.method == "GET" and r.path.startswith("/mockvideo/tasks/") and r["time"] >= since
    ]


def _busiest_second(times: list[float]) -> int:
    """The most requests in any one-second window."""
    times = sorted(times)
    return max((sum(1 for t in times[i:] if t < start + 1.0) for i, start in enumerate(times)), default=0)


async def _run_both(bench: Bench, records: list[TaskRecord], rounds: int = 400) -> list[TaskRecord]:
    """Advance the clock and let both replicas claim and poll at once, until every task is finished."""
    for _ in range(rounds):
        current = [await bench.engine.load(r.id) for r in records]
        if all(r is not None and r.status.terminal for r in current):
            break
        bench.clock.advance(0.5)
        await asyncio.gather(*(replica.poller.run_once() for replica in bench.replicas.values()))
    done = [await bench.engine.load(r.id) for r in records]
    return [r for r in done if r is not None]


async def _check_money(bench: Bench, done: list[TaskRecord], count: int) -> None:
    assert len(done) == count
    assert all(r.status is TaskStatus.SUCCEEDED and r.poll_errors == 0 for r in done), done
    money = await bench.money()
    cost = count * COST
    assert (money["used"], money["ledger"], money["task_costs"], money["reserved"]) == (cost, cost, cost, 0)
    assert money["reservations"] == 0 and len(money["rows"]) == count


async def test_two_replicas_sharing_redis_make_at_most_the_rate_between_them(
    postgres_url: str, mock: MockUpstream, tmp_path: Path, shared: tuple[Redis, str]
) -> None:
    _, prefix = shared
    rate, count = 5, 30
    clients = [redis_client(REDIS_URL), redis_client(REDIS_URL)]  # one connection pool per "process"
    url = await reset_postgres(postgres_url)
    try:
        async with task_bench(url, mock, tmp_path, channels=[channel(mock, task_poll_rate=str(rate))],
                              rate_wait=0.1, shared_rate=SharedPollRate(clients[0], prefix)) as bench:  # fmt: skip
            await add_replica(bench, "b", ModelCatalog([channel(mock, task_poll_rate=str(rate))]), rate_wait=0.1,
                              shared_rate=SharedPollRate(clients[1], prefix))  # fmt: skip
            records = [await bench.create(f"shared {i}", timeline=["succeeded"]) for i in range(count)]
            began = time.time()
            done = await _run_both(bench, records)
            elapsed = time.time() - began
            polls = _polls(mock, began)
            # One budget between the two: a burst of one second's worth, then the rate (per process, each
            # replica would have had its own burst and rate: about twice as many).
            assert count <= len(polls) <= rate + rate * elapsed + 1
            assert _busiest_second([r["time"] for r in polls]) <= 2 * rate + 1
            owners = {r.lease_owner for r in [await bench.engine.load(x.id) for x in records]}
            assert owners == {None}  # every lease released: handed-back tasks were not left claimed
            await _check_money(bench, done, count)
    finally:
        for client in clients:
            await client.aclose()


async def test_redis_killed_mid_way_pacing_falls_back_and_every_task_still_finishes(
    postgres_url: str, mock: MockUpstream, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="omnirouter.tasks")
    rate, count = 5, 20
    server = PrivateRedis()
    server.start()
    clients = [redis_client(server.url), redis_client(server.url)]
    url = await reset_postgres(postgres_url)
    try:
        async with task_bench(url, mock, tmp_path, channels=[channel(mock, task_poll_rate=str(rate))],
                              rate_wait=0.1, shared_rate=SharedPollRate(clients[0])) as bench:  # fmt: skip
            await add_replica(bench, "b", ModelCatalog([channel(mock, task_poll_rate=str(rate))]), rate_wait=0.1,
                              shared_rate=SharedPollRate(clients[1]))  # fmt: skip
            records = [await bench.create(f"outage {i}", timeline=["running", "succeeded"]) for i in range(count)]
            began = time.time()
            bench.clock.advance(1.1)
            await asyncio.gather(*(replica.poller.run_once() for replica in bench.replicas.values()))
            assert len(_polls(mock, began)) >= 1
            assert await clients[0].exists("omnirouter:pollrate:{mv}:5.0") == 1  # paced through Redis so far
            server.stop()  # Redis dies mid-way
            done = await _run_both(bench, records)
            elapsed = time.time() - began
            polls = _polls(mock, began)
            assert len(polls) <= 2 * (rate + rate * elapsed + 1)  # each replica still keeps the rate
            await _check_money(bench, done, count)
    finally:
        server.stop()
        for client in clients:
            await client.aclose()
    warnings = [r.getMessage() for r in caplog.records if "Redis unavailable" in r.getMessage()]
    assert len(warnings) == 2  # once per replica, not once per poll
