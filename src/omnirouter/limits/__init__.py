"""Per-key rate limits: requests and tokens per minute, concurrent requests.

``MemoryLimiter`` keeps them in this process; ``RedisLimiter`` shares them between processes and
replicas through Redis (``redis_url``); it (and the ``redis`` package) is imported at first use of the
name, so a deployment without Redis never loads it.  See ``docs/accounts.md``.
"""

from typing import TYPE_CHECKING

from omnirouter.limits.failures import FailureLimit
from omnirouter.limits.limiter import Lease, RateLimiter, UnlimitedLimiter, has_limits, rate_limited
from omnirouter.limits.memory import MemoryLimiter

if TYPE_CHECKING:
    from omnirouter.limits.redis import RedisLimiter

__all__ = [
    "FailureLimit",
    "Lease",
    "MemoryLimiter",
    "RateLimiter",
    "RedisLimiter",
    "UnlimitedLimiter",
    "has_limits",
    "rate_limited",
]


def __getattr__(name: str) -> object:
    if name == "RedisLimiter":
        from omnirouter.limits.redis import RedisLimiter

        return RedisLimiter
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
