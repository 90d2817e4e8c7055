"""Rate limits shared by every process through Redis: the semantics of ``MemoryLimiter``, one round trip.

Per client key ``K`` (all in one cluster hash slot, ``{K}``):

* ``<prefix>rl:{K}:req`` — sorted set of the requests admitted in the last window, scored by
  start time (ms): a sliding log, refused at ``rpm`` members until the oldest leaves the window.
* ``<prefix>rl:{K}:conc`` — sorted set of leases in flight, scored by their expiry: its size is
  the concurrency count; a lease is removed at release, or expires ``lease_ttl`` (10 min) after it
  was taken, so a crashed process's leases free themselves.
* ``<prefix>rl:{K}:tok`` — hash of tokens used by completed requests per 1/60 of the window
  (1 s buckets for a minute): refused while the buckets in the window add up to ``tpm``.  A bucket
  leaves the window ``window`` after it began, so tokens count for between 59 and 60 s.

Acquire is one Lua script (atomic, one round trip) that checks all three and takes what it
needs; release is one more only when there is a concurrency slot to give back or tokens to count.
Time is the Redis server's (``TIME``), so replicas' clocks need not agree.  Needs Redis 5 or later.
Keys without limits never reach Redis.

Redis unreachable or failing: the limiter *fails open to per-process limits* — it never refuses a
request because of Redis.  It logs one warning, enforces the limits in this process alone (as
``MemoryLimiter`` does; with N replicas a key gets up to N times its limits), and tries Redis again
after ``retry_interval`` seconds (1 s timeouts, so a request pays at most that once per interval).
"""

from __future__ import annotations

import itertools
import logging
import secrets
import time

from redis.asyncio import Redis
from redis.exceptions import RedisError

from omnirouter.limits.limiter import Lease, rate_limited
from omnirouter.limits.memory import MemoryLimiter
from omnirouter.storage import KeyRecord
from omnirouter.storage.redis import redis_client

log = logging.getLogger("omnirouter.limits")

BUCKETS = 60
"""Token buckets per window."""

_FAILURES = (RedisError, OSError, TimeoutError)

_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local rpm, tpm, max_concurrent = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local window, lease_ttl, lease = tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6]
local bucket = tonumber(ARGV[7])
if max_concurrent > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
  if redis.call('ZCARD', KEYS[2]) >= max_concurrent then
    return {3, 1000}
  end
end
if rpm > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
  local count = redis.call('ZCARD', KEYS[1])
  if count >= rpm then
    local oldest = redis.call('ZRANGE', KEYS[1], count - rpm, count - rpm, 'WITHSCORES')
    return {1, tonumber(oldest[2]) + window - now}
  end
end
if tpm > 0 then
  local first = math.floor((now - window) / bucket) + 1
  local fields = redis.call('HGETALL', KEYS[3])
  local used, live = 0, {}
  for i = 1, #fields, 2 do
    local index = tonumber(fields[i])
    if index < first then
      redis.call('HDEL', KEYS[3], fields[i])
    else
      local tokens = tonumber(fields[i + 1])
      used = used + tokens
      live[#live + 1] = {index, tokens}
    end
  end
  if used >= tpm then
    table.sort(live, function(a, b) return a[1] < b[1] end)
    local wait = window
    for _, entry in ipairs(live) do
      used = used - entry[2]
      if used < tpm then
        wait = entry[1] * bucket + window - now
        break
      end
    end
    return {2, wait}
  end
end
if rpm > 0 then
  redis.call('ZADD', KEYS[1], now, lease)
  redis.call('PEXPIRE', KEYS[1], window)
end
if max_concurrent > 0 then
  redis.call('ZADD', KEYS[2], now + lease_ttl, lease)
  redis.call('PEXPIRE', KEYS[2], lease_ttl)
end
return {0, 0}
"""

_RELEASE = """
if ARGV[1] ~= '' then
  redis.call('ZREM', KEYS[1], ARGV[1])
end
local tokens = tonumber(ARGV[2])
if tokens > 0 then
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  local bucket = tonumber(ARGV[3])
  redis.call('HINCRBY', KEYS[2], string.format('%d', math.floor(now / bucket)), tokens)
  redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[4]))
end
return 0
"""

_REFUSED = {1: "requests per minute", 2: "tokens per minute", 3: "concurrent requests"}


class RedisLimiter:
    """Per-key RPM, TPM and concurrency limits shared through Redis.

    ``redis``: a URL (the limiter owns its client) or a client (owned by the caller).
    ``window`` (60 s) is for tests; ``lease_ttl`` bounds how long a crashed process's lease counts.
    """

    def __init__(
        self,
        redis: str | Redis,
        *,
        prefix: str = "omnirouter:",
        window: float = 60.0,
        lease_ttl: float = 600.0,
        retry_interval: float = 5.0,
    ) -> None:
        self._owns_client = isinstance(redis, str)
        self.redis = redis_client(redis) if isinstance(redis, str) else redis
        self.prefix = prefix
        self.window = window
        self.retry_interval = retry_interval
        self._window_ms = max(1, round(window * 1000))
        self._bucket_ms = max(1, self._window_ms // BUCKETS)
        self._lease_ttl_ms = max(1, round(lease_ttl * 1000))
        self._acquire = self.redis.register_script(_ACQUIRE)
        self._release = self.redis.register_script(_RELEASE)
        self._local = MemoryLimiter(window)
        self._instance = secrets.token_hex(6)
        self._ids = itertools.count()
        self._down_until = 0.0  # monotonic; while set, limits are this process's own

    async def start(self) -> None:
        """Check that Redis answers (only a warning if not: requests are served either way)."""
        try:
            await self.redis.ping()
        except _FAILURES as exc:
            self._failed(exc)

    async def acquire(self, key: KeyRecord) -> Lease | None:
        """Admit a request of ``key`` (``None`` when it has no limits) or raise the 429."""
        rpm, tpm, max_concurrent = key.rpm, key.tpm, key.max_concurrent
        if rpm is None and tpm is None and max_concurrent is None:
            return None
        if self._down_until and time.monotonic() < self._down_until:
            return self._local.admit(key, rpm, tpm, max_concurrent)
        lease = f"{self._instance}:{next(self._ids)}"
        base = f"{self.prefix}rl:{{{key.id}}}:"
        try:
            status, wait_ms = await self._acquire(
                keys=[base + "req", base + "conc", base + "tok"],
                args=[
                    rpm or 0,
                    tpm or 0,
                    max_concurrent or 0,
                    self._window_ms,
                    self._lease_ttl_ms,
                    lease,
                    self._bucket_ms,
                ],
            )
        except _FAILURES as exc:
            self._failed(exc)
            return self._local.admit(key, rpm, tpm, max_concurrent)
        if self._down_until:
            self._recovered()
        if status == 0:
            return Lease(key.id, lease, concurrent=max_concurrent is not None, count_tokens=tpm is not None)
        limit = {1: rpm, 2: tpm, 3: max_concurrent}[int(status)] or 0
        raise rate_limited(key, _REFUSED[int(status)], limit, int(wait_ms) / 1000)

    async def release(self, lease: Lease, tokens: int) -> None:
        """Give back the concurrency slot and count ``tokens``; never raises."""
        if not lease.token:  # taken while Redis was away
            self._local.settle(lease, tokens)
            return
        count = tokens if lease.count_tokens and tokens > 0 else 0
        if not lease.concurrent and not count:
            return
        base = f"{self.prefix}rl:{{{lease.key_id}}}:"
        try:
            await self._release(
                keys=[base + "conc", base + "tok"],
                args=[
                    lease.token if lease.concurrent else "",
                    count,
                    self._bucket_ms,
                    self._window_ms + self._bucket_ms,
                ],
            )
        except _FAILURES as exc:  # the slot frees itself after lease_ttl; the tokens go uncounted
            self._failed(exc)

    async def close(self) -> None:
        await self._local.close()
        if self._owns_client:
            await self.redis.aclose()

    def _failed(self, exc: BaseException) -> None:
        if not self._down_until:
            log.warning(
                "rate limits: Redis unavailable (%s); enforcing limits per process, retrying in %.0f s",
                exc or type(exc).__name__,
                self.retry_interval,
            )
        self._down_until = time.monotonic() + self.retry_interval

    def _recovered(self) -> None:
        self._down_until = 0.0
        log.warning("rate limits: Redis is back; limits are shared again")
