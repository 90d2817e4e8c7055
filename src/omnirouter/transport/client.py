"""The one shared upstream HTTP client of a worker, and how its failures map to gateway errors."""

from __future__ import annotations

import asyncio
from typing import TypeAlias

import aiohttp

from omnirouter.ir import ErrorKind, GatewayError
from omnirouter.transport.h1_client import H1Client
from omnirouter.transport.h1_conn import ConnectFailed, H1Error, H1Response

Session: TypeAlias = aiohttp.ClientSession
"""The worker's upstream HTTP session, as layers above transport name it (they never import aiohttp)."""

UpstreamResponse: TypeAlias = aiohttp.ClientResponse
"""An open upstream answer, as layers above transport name it."""

ChatResponse: TypeAlias = H1Response
"""An open answer to a chat call (``UpstreamClient.chat``'s), as layers above transport name it."""


def call_timeouts(connect: float, first_byte: float) -> tuple[aiohttp.ClientTimeout, aiohttp.ClientTimeout]:
    """A channel's aiohttp timeouts, built once per channel: ``(streamed, plain)``.

    aiohttp times connecting, and for plain calls the upstream's silences (sock_read: to the
    headers, then between reads); a stream's first-byte, idle and total limits are the relay's,
    on one timer per stream.  Per call, an asyncio.timeout() scope costs ~9 µs, aiohttp's
    sock_read ~3 µs and its total timer ~6 µs (benchmark machine).
    """
    streamed = aiohttp.ClientTimeout(total=None, sock_connect=connect)
    plain = aiohttp.ClientTimeout(total=None, sock_connect=connect, sock_read=first_byte)
    return streamed, plain


class UpstreamClient:
    """Owns the worker's single ``aiohttp.ClientSession`` and its chat client (``H1Client``, the chat calls'
    lean HTTP/1.1 client), created on start, closed on stop."""

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None
        self._chat: H1Client | None = None

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
        self._chat = H1Client(keepalive=60.0)

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("UpstreamClient.start() was not called")
        return self._session

    @property
    def chat(self) -> H1Client:
        """The client of chat calls (open_upstream's)."""
        if self._chat is None:
            raise RuntimeError("UpstreamClient.start() was not called")
        return self._chat

    async def close(self) -> None:
        if self._chat is not None:
            await self._chat.close()
            self._chat = None
        if self._session is not None:
            await self._session.close()
            self._session = None


def classify_transport_error(exc: BaseException, channel: str) -> GatewayError:
    """A gateway error for a failure to talk to an upstream (never leaks URLs or keys)."""
    if isinstance(exc, asyncio.TimeoutError | aiohttp.ServerTimeoutError):
        return GatewayError(ErrorKind.UPSTREAM_TIMEOUT, f"upstream channel {channel!r} timed out")
    if isinstance(exc, aiohttp.ClientConnectorError | ConnectFailed):
        return GatewayError(ErrorKind.UPSTREAM_UNREACHABLE, f"upstream channel {channel!r} is unreachable")
    return GatewayError(ErrorKind.UPSTREAM, f"upstream channel {channel!r} failed: {type(exc).__name__}")


TRANSPORT_ERRORS = (aiohttp.ClientError, H1Error, asyncio.TimeoutError, OSError)
