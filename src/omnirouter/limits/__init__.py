"""Per-key rate limits: requests and tokens per minute, concurrent requests."""

from omnirouter.limits.limiter import Lease, RateLimiter, UnlimitedLimiter

__all__ = ["Lease", "RateLimiter", "UnlimitedLimiter"]
