"""The rate limiter interface the request path calls (backends: in-memory, Redis)."""

from __future__ import annotations

from typing import Protocol

from omnirouter.storage import KeyRecord


class Lease:
    """A request admitted under a key's limits; released when the request ends."""

    __slots__ = ("key_id", "token")

    def __init__(self, key_id: int, token: str = "") -> None:
        self.key_id = key_id
        self.token = token


class RateLimiter(Protocol):
    """Admits or refuses requests of a key (``GatewayError(RATE_LIMIT)`` with ``retry_after``)."""

    async def acquire(self, key: KeyRecord) -> Lease | None: ...

    async def release(self, lease: Lease, tokens: int) -> None: ...

    async def close(self) -> None: ...


class UnlimitedLimiter:
    """Admits everything (a placeholder until a backend is configured)."""

    async def acquire(self, key: KeyRecord) -> Lease | None:
        return None

    async def release(self, lease: Lease, tokens: int) -> None:
        return None

    async def close(self) -> None:
        return None
