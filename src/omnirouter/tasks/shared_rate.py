"""A channel's poll rate as one budget shared by every gateway process, through Redis (GCRA).

Per channel ``C`` and rate ``r`` (calls a second), one key ``<prefix>pollrate:{C}:r`` holds its
*theoretical arrival time* (TAT, µs of the Redis server's clock, so replicas' clocks need not agree): the
Generic Cell Rate Algorithm, a token bucket kept as one number.  With burst ``b`` (``max(1, r)``: one
second's worth, at least one call — the bucket ``aiolimiter`` keeps per process), the ``k``-th call in
line may go ``(k - b) / r`` seconds from now: ``b`` at once, then one every ``1/r`` s.  A channel
reloaded with another rate starts a fresh budget (as the per-process limiters do).

``take`` is one Lua script (atomic, one round trip): it reserves the next turn when that turn comes
within ``wait`` seconds and answers how long to wait for it, or takes nothing and answers that the turn is
further off.  The key expires when the bucket is full again, so idle channels leave nothing behind.  Redis
failures are the caller's to handle (``ChannelPacer`` falls back to its per-process limiters).

Not ``limits.RedisLimiter``: that is a per-minute sliding log per client key that admits or refuses at
once (a 429); a poll needs a per-second bucket that can book a turn a little ahead and say when.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["SharedPollRate"]

_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval, burst, wait = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then
  tat = now
end
local delay = tat + interval - burst * interval - now
if delay > wait then
  return -1
end
if delay < 0 then
  delay = 0
end
local next_tat = math.ceil(tat + interval)
redis.call('SET', KEYS[1], string.format('%d', next_tat), 'PX', math.ceil((next_tat - now) / 1000) + 1)
return math.ceil(delay)
"""


class SharedPollRate:
    """Poll turns of each channel, shared through ``redis`` (a client owned by the caller) under ``prefix``."""

    def __init__(self, redis: Redis, prefix: str = "omnirouter:") -> None:
        self.redis = redis
        self.prefix = prefix
        self._take = redis.register_script(_TAKE)

    def key(self, channel: str, rate: float) -> str:
        """The Redis key of a channel's budget at ``rate``."""
        return f"{self.prefix}pollrate:{{{channel}}}:{rate!r}"

    async def take(self, channel: str, rate: float, wait: float) -> float | None:
        """Reserve the next call of ``channel`` at ``rate`` calls a second: the seconds until its turn (at
        most ``wait``), or None when the turn is further off (nothing is reserved then).  Raises what the
        Redis client raises."""
        interval = 1_000_000 / rate
        burst = max(1.0, rate)
        answer = await self._take(
            keys=[self.key(channel, rate)], args=[repr(interval), repr(burst), repr(wait * 1_000_000)]
        )
        delay = int(answer)
        return None if delay < 0 else delay / 1_000_000
