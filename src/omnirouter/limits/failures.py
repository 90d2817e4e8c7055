"""A cap on failed attempts per client key (e.g. guessing redemption codes): ``limit`` per ``window`` seconds.

Without Redis each process keeps a sliding log per key (exact).  With Redis (``redis_url``) every process
and replica shares one fixed window per key, ``<prefix>fail:<name>:{K}`` (a counter that expires ``window``
seconds after the first failure in it), so a key cannot multiply its attempts by the number of workers.
Redis failing falls back to this process's own log (one warning), like the rate limiter.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from typing import TYPE_CHECKING

from omnirouter.storage.redis import redis_failures

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["FailureLimit"]

log = logging.getLogger("omnirouter.limits")


class FailureLimit:
    """At most ``limit`` failures per key in ``window`` seconds; ``retry_after`` says when a key may try again."""

    def __init__(
        self, name: str, limit: int, window: float, redis: Redis | None = None, prefix: str = "omnirouter:"
    ) -> None:
        self.name = name
        self.limit = limit
        self.window = window
        self._redis = redis
        self._failures = redis_failures(redis)
        self._prefix = prefix
        self._log: dict[int, deque[float]] = {}
        self._warned = False

    def _key(self, key_id: int) -> str:
        return f"{self._prefix}fail:{self.name}:{{{key_id}}}"

    def _fallback(self, exc: BaseException) -> None:
        if not self._warned:
            log.warning("failure limit %s: Redis unavailable (%s); counting in this process", self.name, exc)
            self._warned = True

    def _local_wait(self, key_id: int, now: float) -> float | None:
        times = self._log.get(key_id)
        if times is None:
            return None
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times:
            del self._log[key_id]
            return None
        return times[0] + self.window - now if len(times) >= self.limit else None

    async def retry_after(self, key_id: int) -> float | None:
        """Seconds until ``key_id`` may try again, or ``None`` when it may now."""
        if self._redis is not None:
            try:
                async with self._redis.pipeline(transaction=False) as pipe:
                    pipe.get(self._key(key_id))
                    pipe.pttl(self._key(key_id))
                    count, ttl = await pipe.execute()
            except self._failures as exc:
                self._fallback(exc)
            else:
                self._warned = False
                if count is not None and int(count) >= self.limit:
                    return max(ttl, 1000) / 1000 if ttl and ttl > 0 else self.window
                return None
        return self._local_wait(key_id, time.monotonic())

    async def failed(self, key_id: int) -> None:
        """Count one failure of ``key_id``."""
        if self._redis is not None:
            try:
                async with self._redis.pipeline(transaction=True) as pipe:
                    pipe.set(self._key(key_id), 0, px=int(self.window * 1000), nx=True)
                    pipe.incr(self._key(key_id))
                    await pipe.execute()
                return
            except self._failures as exc:
                self._fallback(exc)
        now = time.monotonic()
        self._local_wait(key_id, now)  # drops what left the window
        self._log.setdefault(key_id, deque()).append(now)
