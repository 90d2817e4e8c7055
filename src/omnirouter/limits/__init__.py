"""Per-key rate limits: requests and tokens per minute, concurrent requests.

``MemoryLimiter`` keeps them in this process; ``RedisLimiter`` shares them between processes and
replicas through Redis (``redis_url``).  See ``docs/accounts.md``.
"""

from omnirouter.limits.failures import FailureLimit
from omnirouter.limits.limiter import Lease, RateLimiter, UnlimitedLimiter, has_limits, rate_limited
from omnirouter.limits.memory import MemoryLimiter
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
