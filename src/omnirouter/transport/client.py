"""The one shared upstream HTTP client of a worker, and how its failures map to gateway errors."""

from __future__ import annotations

import asyncio

import aiohttp

from omnirouter.ir import ErrorKind, GatewayError


class UpstreamClient:
    """Owns the worker's single ``aiohttp.ClientSession`` (created on start, closed on stop)."""

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(
            limit=0,
            ttl_dns_cache=300,
            keepalive_timeout=60,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            skip_auto_headers=("User-Agent",),
            auto_decompress=True,
            timeout=aiohttp.ClientTimeout(total=None),
        )

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("UpstreamClient.start() was not called")
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def classify_transport_error(exc: BaseException, channel: str) -> GatewayError:
    """A gateway error for a failure to talk to an upstream (never leaks URLs or keys)."""
    if isinstance(exc, asyncio.TimeoutError | aiohttp.ServerTimeoutError):
        return GatewayError(ErrorKind.UPSTREAM_TIMEOUT, f"upstream channel {channel!r} timed out")
    if isinstance(exc, aiohttp.ClientConnectorError):
        return GatewayError(ErrorKind.UPSTREAM_UNREACHABLE, f"upstream channel {channel!r} is unreachable")
    return GatewayError(ErrorKind.UPSTREAM, f"upstream channel {channel!r} failed: {type(exc).__name__}")


TRANSPORT_ERRORS = (aiohttp.ClientError, asyncio.TimeoutError, OSError)
