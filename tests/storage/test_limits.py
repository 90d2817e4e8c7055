"""Rate limiters, in memory and through a real Redis: RPM sliding windows, concurrency, TPM, fail-open."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from omnirouter.ir import ErrorKind, GatewayError
from omnirouter.limits import Lease, MemoryLimiter, RateLimiter, RedisLimiter
from omnirouter.storage import KeyRecord
from tests.helpers.redis_helpers import REDIS_URL, redis_prefix

WINDOW = 1.0

Factory = Callable[..., RateLimiter]


def key(key_id: int = 1, **limits: Any) -> KeyRecord:
    return KeyRecord(key_id, f"key-{key_id}", f"hash-{key_id}", **limits)


@pytest.fixture
async def redis_env() -> AsyncIterator[tuple[Redis, str]]:
    async with redis_prefix() as env:
        yield env


@pytest.fixture(params=["memory", "redis"])
async def make(request: pytest.FixtureRequest) -> AsyncIterator[Factory]:
    """Build limiters of one backend (Redis ones share a fresh prefix); closed at the end."""
    made: list[RateLimiter] = []
    async with redis_prefix() as (_, prefix):

        def factory(**options: Any) -> RateLimiter:
            options.setdefault("window", WINDOW)
            limiter: RateLimiter
            if request.param == "memory":
                limiter = MemoryLimiter(**options)
            else:
                limiter = RedisLimiter(REDIS_URL, prefix=prefix, **options)
            made.append(limiter)
            return limiter

        try:
            yield factory
        finally:
            for limiter in made:
                await limiter.close()


async def refused(limiter: RateLimiter, record: KeyRecord) -> GatewayError:
    with pytest.raises(GatewayError) as caught:
        await limiter.acquire(record)
    error = caught.value
    assert error.kind is ErrorKind.RATE_LIMIT and error.status == 429
    assert error.code == "rate_limit_exceeded"
    return error


async def test_keys_without_limits_take_the_fast_path(make: Factory) -> None:
    limiter = make()
    assert await limiter.acquire(key()) is None
    if isinstance(limiter, MemoryLimiter):
        assert limiter._keys == {}
    else:
        assert isinstance(limiter, RedisLimiter)
        probe = Redis.from_url(REDIS_URL)
        try:
            assert [k async for k in probe.scan_iter(match=f"{limiter.prefix}*")] == []
        finally:
            await probe.aclose()


async def test_rpm_refuses_with_retry_after_and_the_window_slides(make: Factory) -> None:
    limiter = make()
    record = key(rpm=3)
    await limiter.acquire(record)
    await limiter.acquire(record)
    await asyncio.sleep(0.5)
    await limiter.acquire(record)  # three in the window: two at t=0, one at t=0.5
    error = await refused(limiter, record)
    assert error.retry_after == 1.0  # the oldest leaves within a second: rounded up, at least 1
    assert "3 requests per minute" in error.message
    for _ in range(3):  # refused requests do not count
        await refused(limiter, record)
    assert await limiter.acquire(key(2, rpm=3)) is not None  # other keys are not affected
    await asyncio.sleep(0.6)  # t=1.1: the two of t=0 left the window, the one of t=0.5 is still in it
    await limiter.acquire(record)
    await limiter.acquire(record)
    await refused(limiter, record)


async def test_concurrency_limit_and_release(make: Factory) -> None:
    limiter = make()
    record = key(max_concurrent=2)
    first = await limiter.acquire(record)
    second = await limiter.acquire(record)
    assert first is not None and second is not None
    error = await refused(limiter, record)
    assert error.retry_after == 1.0 and "2 concurrent requests" in error.message
    await limiter.release(first, 10)
    third = await limiter.acquire(record)
    assert third is not None
    await refused(limiter, record)
    await limiter.release(second, 0)
    await limiter.release(third, 0)
    leases = [await limiter.acquire(record), await limiter.acquire(record)]
    assert all(isinstance(lease, Lease) for lease in leases)


async def test_tpm_counts_the_tokens_of_completed_requests(make: Factory) -> None:
    limiter = make()
    record = key(tpm=100)
    first = await limiter.acquire(record)
    assert first is not None
    second = await limiter.acquire(record)  # in flight together: nothing is known of their tokens yet
    assert second is not None
    await limiter.release(first, 60)
    third = await limiter.acquire(record)  # 60 < 100
    assert third is not None
    await limiter.release(second, 50)  # 110: over the limit
    error = await refused(limiter, record)
    assert error.retry_after == 1.0 and "100 tokens per minute" in error.message
    await limiter.release(third, 5)
    await asyncio.sleep(WINDOW + 0.1)
    assert await limiter.acquire(record) is not None


async def test_all_limits_together(make: Factory) -> None:
    limiter = make()
    record = key(rpm=5, tpm=1000, max_concurrent=1)
    lease = await limiter.acquire(record)
    assert lease is not None
    assert "concurrent" in (await refused(limiter, record)).message
    await limiter.release(lease, 2000)
    assert "tokens per minute" in (await refused(limiter, record)).message


def test_memory_retry_after_is_when_the_window_frees_a_slot() -> None:
    now = [0.0]
    limiter = MemoryLimiter(window=60.0, clock=lambda: now[0])

    def acquire(record: KeyRecord) -> Lease:
        return limiter.admit(record, record.rpm, record.tpm, record.max_concurrent)

    per_minute = key(1, rpm=2)
    acquire(per_minute)
    now[0] = 10.0
    acquire(per_minute)
    now[0] = 20.5
    with pytest.raises(GatewayError) as caught:
        acquire(per_minute)
    assert caught.value.retry_after == 40.0  # the request of t=0 leaves at t=60
    now[0] = 60.0
    acquire(per_minute)  # it left

    tokens = key(2, tpm=100)
    limiter.settle(acquire(tokens), 70)
    now[0] = 70.0
    limiter.settle(acquire(tokens), 40)  # 110 tokens in the window
    now[0] = 71.0
    with pytest.raises(GatewayError) as caught:
        acquire(tokens)
    assert "100 tokens per minute" in caught.value.message
    assert caught.value.retry_after == 49.0  # below 100 once the 70 tokens of t=60 leave, at t=120
    now[0] = 120.0
    acquire(tokens)


async def test_redis_limits_are_shared_between_limiters(redis_env: tuple[Redis, str]) -> None:
    _, prefix = redis_env
    one = RedisLimiter(REDIS_URL, prefix=prefix, window=WINDOW)
    two = RedisLimiter(REDIS_URL, prefix=prefix, window=WINDOW)
    try:
        record = key(rpm=4, max_concurrent=3)
        leases = [await one.acquire(record), await two.acquire(record), await one.acquire(record)]
        await refused(two, record)  # three in flight, though each limiter holds fewer
        lease = leases[0]
        assert lease is not None
        await one.release(lease, 0)
        assert await two.acquire(record) is not None
        await refused(one, record)  # four requests in the window
    finally:
        await one.close()
        await two.close()


async def test_redis_lease_of_a_crashed_process_expires(redis_env: tuple[Redis, str]) -> None:
    _, prefix = redis_env
    crashed = RedisLimiter(REDIS_URL, prefix=prefix, window=WINDOW, lease_ttl=0.3)
    survivor = RedisLimiter(REDIS_URL, prefix=prefix, window=WINDOW, lease_ttl=0.3)
    try:
        record = key(max_concurrent=1)
        assert await crashed.acquire(record) is not None  # never released
        await refused(survivor, record)
        await asyncio.sleep(0.4)
        assert await survivor.acquire(record) is not None
    finally:
        await crashed.close()
        await survivor.close()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_redis_down_fails_open_to_per_process_limits(caplog: pytest.LogCaptureFixture) -> None:
    limiter = RedisLimiter(f"redis://127.0.0.1:{closed_port()}/0", window=WINDOW, retry_interval=60)
    caplog.set_level(logging.WARNING, logger="omnirouter.limits")
    try:
        await limiter.start()  # no exception: only a warning
        record = key(rpm=2, max_concurrent=5)
        first = await limiter.acquire(record)
        assert first is not None and first.token == ""  # a lease of the local fallback
        assert await limiter.acquire(record) is not None
        await refused(limiter, record)  # the limits still hold, per process
        await limiter.release(first, 3)
        assert await limiter.acquire(key(2)) is None
    finally:
        await limiter.close()
    warnings = [r for r in caplog.records if "Redis unavailable" in r.getMessage()]
    assert len(warnings) == 1  # once per outage, not once per request


async def test_redis_comes_back_after_retry_interval(
    redis_env: tuple[Redis, str], caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, prefix = redis_env
    limiter = RedisLimiter(REDIS_URL, prefix=prefix, window=WINDOW, retry_interval=0.2)
    caplog.set_level(logging.WARNING, logger="omnirouter.limits")
    real = limiter._acquire

    async def broken(**kwargs: Any) -> Any:
        raise RedisConnectionError("connection refused")

    try:
        record = key(rpm=10, max_concurrent=10)
        monkeypatch.setattr(limiter, "_acquire", broken)
        local = await limiter.acquire(record)
        assert local is not None and local.token == ""
        monkeypatch.setattr(limiter, "_acquire", real)
        assert (await limiter.acquire(record) or Lease(0, "x")).token == ""  # still within retry_interval
        await asyncio.sleep(0.25)
        shared = await limiter.acquire(record)
        assert shared is not None and shared.token != ""
        await limiter.release(local, 0)
        await limiter.release(shared, 0)
    finally:
        await limiter.close()
    messages = [r.getMessage() for r in caplog.records]
    assert any("Redis unavailable" in m for m in messages) and any("Redis is back" in m for m in messages)
