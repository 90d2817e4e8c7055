"""A worker's shared state, built from its config (see the package docs)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from omnirouter.cluster.breakers import BreakerSync
from omnirouter.cluster.bus import Bus
from omnirouter.cluster.notify import ChangeCallback, ChangeNotifier
from omnirouter.config import GatewayConfig
from omnirouter.limits import MemoryLimiter, RateLimiter
from omnirouter.routing import Channel
from omnirouter.storage.redis import redis_client

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["ChangeCallback", "SharedState"]


class SharedState:
    """A worker's Redis client (if configured), bus, rate limiter, breaker mirror and change notifier.

    Built without I/O; ``start`` connects (a Redis that is down only logs warnings), ``close``
    disconnects.  ``channels`` returns the worker's current channels (breaker messages name them).
    """

    def __init__(self, config: GatewayConfig, channels: Callable[[], Iterable[Channel]]) -> None:
        url = config.redis_url
        self.redis: Redis | None = redis_client(url) if url else None
        self.bus = Bus(self.redis, url, config.redis_prefix)
        self.limiter: RateLimiter = MemoryLimiter()
        if self.redis is not None:  # the ``redis`` package is imported only here, with a Redis configured
            from omnirouter.limits.redis import RedisLimiter

            self.limiter = RedisLimiter(self.redis, prefix=config.redis_prefix)
        self.notifier = ChangeNotifier(self.bus)
        self.breakers = BreakerSync(self.bus, channels)

    async def start(self, channels: Iterable[Channel]) -> None:
        """Connect, and mirror the breakers of ``channels``."""
        await self.limiter.start()
        self.breakers.attach(channels)
        await self.bus.start()

    async def close(self) -> None:
        """Stop listening and disconnect (the gateway closes the limiter)."""
        await self.bus.close()
        await self.breakers.close()
        if self.redis is not None:
            await self.redis.aclose()
