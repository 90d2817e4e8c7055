"""Open one upstream call and turn its failures into classified attempt failures."""

from __future__ import annotations

import asyncio

import aiohttp

from omnirouter.ir import GatewayError
from omnirouter.protocols.base import Codec
from omnirouter.relay.secrets import scrub
from omnirouter.routing import Attempt
from omnirouter.transport import TRANSPORT_ERRORS, classify_transport_error

RETRYABLE_STATUSES = frozenset({401, 403, 408, 409, 429, 500, 502, 503, 504, 529})


class AttemptFailure(Exception):
    """One attempt failed before anything reached the client; ``retryable`` says whether to go on.

    ``upstream_status`` is the upstream's HTTP status when it answered with an error.
    """

    def __init__(self, error: GatewayError, retryable: bool, upstream_status: int | None = None) -> None:
        super().__init__(error.message)
        self.error = error
        self.retryable = retryable
        self.upstream_status = upstream_status


def scrubbed(error: GatewayError, attempt: Attempt) -> GatewayError:
    """``error`` with the channel's secrets masked from its message."""
    error.message = scrub(error.message, attempt.channel.secrets())
    return error


def _retry_after(response: aiohttp.ClientResponse) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


async def open_upstream(
    session: aiohttp.ClientSession, attempt: Attempt, key: str, body: bytes, stream: bool, codec: Codec
) -> aiohttp.ClientResponse:
    """POST ``body`` to the attempt's channel with ``key``; a 2xx response is returned open, else it raises.

    Plain calls are timed by aiohttp (connecting, and every silence of the upstream up to the
    channel's first-byte limit); for streams, only connecting: the caller bounds the wait.
    """
    channel = attempt.channel
    url = channel.url(attempt.protocol, attempt.upstream_model, stream)
    timeout = channel.timeout if stream else channel.plain_timeout
    try:
        response = await session.post(url, data=body, headers=channel.headers(key), timeout=timeout)
    except TRANSPORT_ERRORS as exc:
        raise AttemptFailure(classify_transport_error(exc, channel.name), retryable=True) from None
    if response.status < 400:
        return response
    try:
        async with asyncio.timeout(channel.idle_timeout):
            raw = await response.read()
    except (*TRANSPORT_ERRORS, TimeoutError):
        raw = b""
    finally:
        response.release()
    error = scrubbed(codec.decode_error(response.status, raw), attempt)
    if error.retry_after is None:
        error.retry_after = _retry_after(response)
    status = response.status
    raise AttemptFailure(error, retryable=status in RETRYABLE_STATUSES or status >= 500, upstream_status=status)
