"""The rate limiter interface the request path calls (backends: in-memory, Redis)."""

from __future__ import annotations

import math
from typing import Protocol

from omnirouter.ir import ErrorKind, GatewayError
from omnirouter.storage import KeyRecord


class Lease:
    """A request admitted under a key's limits; released when the request ends.

    ``token`` identifies the lease in a shared backend ("" for one held in memory);
    ``concurrent`` says the request holds a concurrency slot, ``count_tokens`` that its tokens
    count against a tokens-per-minute limit (so release knows what there is to undo or record).
    """

    __slots__ = ("concurrent", "count_tokens", "key_id", "token")

    def __init__(self, key_id: int, token: str = "", *, concurrent: bool = False, count_tokens: bool = False) -> None:
        self.key_id = key_id
        self.token = token
        self.concurrent = concurrent
        self.count_tokens = count_tokens


class RateLimiter(Protocol):
    """Admits or refuses requests of a key (``GatewayError(RATE_LIMIT)`` with ``retry_after``)."""

    async def start(self) -> None: ...

    async def acquire(self, key: KeyRecord) -> Lease | None: ...

    async def release(self, lease: Lease, tokens: int) -> None: ...

    async def close(self) -> None: ...


def has_limits(key: KeyRecord) -> bool:
    """Whether any rate limit applies to ``key``."""
    return key.rpm is not None or key.tpm is not None or key.max_concurrent is not None


def rate_limited(key: KeyRecord, what: str, limit: int, wait: float) -> GatewayError:
    """The 429 for ``key`` over its ``limit`` of ``what``; ``Retry-After`` is ``wait`` rounded up, at least 1 s."""
    seconds = max(1, math.ceil(wait))
    return GatewayError(
        ErrorKind.RATE_LIMIT,
        f"Rate limit reached for this API key: {limit} {what}. Try again in {seconds}s.",
        code="rate_limit_exceeded",
        retry_after=float(seconds),
    )


class UnlimitedLimiter:
    """Admits everything."""

    async def start(self) -> None:
        return None

    async def acquire(self, key: KeyRecord) -> Lease | None:
        return None

    async def release(self, lease: Lease, tokens: int) -> None:
        return None

    async def close(self) -> None:
        return None
