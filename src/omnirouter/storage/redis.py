"""Redis clients tuned for the gateway: short timeouts, so an outage costs a request little.

At the bottom with the database, so that both ``limits`` (the Redis limiter) and ``cluster`` (bus,
breaker mirror, change notices) build their clients here.  The ``redis`` package (~14 MB) is imported
only when a client is built: a deployment without ``redis_url`` never loads it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from redis.asyncio import Redis

COMMAND_TIMEOUT = 1.0
"""Seconds a Redis command (connect, or send and answer) may take before it counts as a failure."""


def redis_client(url: str) -> Redis:
    """A client for commands: 1 s connect and command timeouts, one immediate retry (a stale connection)."""
    from redis.asyncio import Redis
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff

    return Redis.from_url(
        url,
        socket_connect_timeout=COMMAND_TIMEOUT,
        socket_timeout=COMMAND_TIMEOUT,
        retry=Retry(NoBackoff(), 1),
    )


def subscriber_client(url: str, name: str | None = None) -> Redis:
    """A client for one long-lived subscription (``CLIENT SETNAME name``): no silent reconnects (the
    caller resyncs after one), a PING every 15 s of silence to notice a dead connection."""
    from redis.asyncio import Redis
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff

    return Redis.from_url(
        url,
        client_name=name,
        socket_connect_timeout=COMMAND_TIMEOUT,
        socket_keepalive=True,
        health_check_interval=15,
        retry=Retry(NoBackoff(), 0),
    )


def redis_failures(client: object | None) -> tuple[type[Exception], ...]:
    """What a call through ``client`` raises when Redis is away or failing (``RedisError``, ``OSError``,
    ``TimeoutError``); without a client, what remains of that list (``redis`` stays unimported)."""
    if client is None:
        return (OSError, TimeoutError)
    from redis.exceptions import RedisError

    return (RedisError, OSError, TimeoutError)
