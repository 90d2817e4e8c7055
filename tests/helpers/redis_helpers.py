"""A real Redis for tests (127.0.0.1:6379; .ci/run starts it): each test gets its own key prefix,
and only keys under that prefix are deleted afterwards (never FLUSHALL: the server may be shared)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

REDIS_URL = "redis://127.0.0.1:6379/0"


def unique_prefix() -> str:
    return f"omnirouter-test-{uuid.uuid4().hex[:12]}:"


async def delete_prefix(client: Redis, prefix: str) -> None:
    keys = [key async for key in client.scan_iter(match=f"{prefix}*", count=1000)]
    if keys:
        await client.delete(*keys)


@contextlib.asynccontextmanager
async def redis_prefix() -> AsyncIterator[tuple[Redis, str]]:
    """A client and a fresh prefix; the prefix's keys are deleted on exit."""
    client = Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except (RedisConnectionError, OSError) as exc:
        await client.aclose()
        raise RuntimeError(f"Redis is needed at 127.0.0.1:6379 for these tests: {exc}") from exc
    prefix = unique_prefix()
    try:
        yield client, prefix
    finally:
        await delete_prefix(client, prefix)
        await client.aclose()
