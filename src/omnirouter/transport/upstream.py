"""Open one upstream call and turn its failures into classified attempt failures.

Transport sits below routing: it reads a channel and an attempt through the two small structural
types below (``routing.Channel`` and ``routing.Attempt`` satisfy them), so it never imports routing
and the hot path calls the very same attributes and methods as before.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Protocol

import aiohttp
from multidict import CIMultiDictProxy
from yarl import URL

from omnirouter.config.secrets import scrub
from omnirouter.ir import ErrorKind, GatewayError
from omnirouter.protocols.base import Codec, ProtocolName
from omnirouter.transport.client import TRANSPORT_ERRORS, classify_transport_error
from omnirouter.transport.h1_client import H1Client
from omnirouter.transport.h1_conn import H1Response


class UpstreamChannel(Protocol):
    """What a call reads of its channel: endpoint, headers, timeouts, size limits, secrets."""

    name: str
    timeout: aiohttp.ClientTimeout
    plain_timeout: aiohttp.ClientTimeout
    idle_timeout: float
    max_body_bytes: int
    max_error_bytes: int

    def url(self, protocol: ProtocolName, upstream_model: str, stream: bool) -> URL: ...

    def headers(self, api_key: str) -> CIMultiDictProxy[str]: ...

    def secrets(self) -> tuple[str, ...]: ...


class UpstreamAttempt(Protocol):
    """What a call reads of its attempt: the channel, and the protocol and model the upstream knows."""

    @property
    def channel(self) -> UpstreamChannel: ...

    @property
    def protocol(self) -> ProtocolName: ...

    @property
    def upstream_model(self) -> str: ...


class BodyReader(Protocol):
    """An answer's body as read here (aiohttp's ``StreamReader``, or the chat client's answer itself)."""

    async def readany(self) -> bytes: ...


class AnswerHeaders(Protocol):
    def get(self, key: str, /) -> str | None: ...


class Answer(Protocol):
    """An open upstream answer as ``read_answer`` and ``refused`` use it: aiohttp's or the chat client's."""

    @property
    def status(self) -> int: ...

    @property
    def headers(self) -> AnswerHeaders: ...

    @property
    def content(self) -> BodyReader: ...

    @property
    def content_length(self) -> int | None: ...

    def release(self) -> Any: ...

    def close(self) -> None: ...


RETRYABLE_STATUSES = frozenset({401, 403, 408, 409, 429, 500, 502, 503, 504, 529})


class AttemptFailure(Exception):
    """One attempt failed before anything reached the client; ``retryable`` says whether to go on.

    ``upstream_status`` is the upstream's HTTP status when it answered with an error.
    """

    def __init__(self, error: GatewayError, retryable: bool, upstream_status: int | None = None) -> None:
        super().__init__(error.message)
        # The error outlives the attempt (the client may get it): not the frames it was raised through,
        # which hold the attempt's data (and may hold the error: a cycle only the garbage collector frees).
        error.__traceback__ = error.__context__ = None
        self.error = error
        self.retryable = retryable
        self.upstream_status = upstream_status


def overran(channel: str, total: float) -> AttemptFailure:
    """The failure of an attempt that outlasted its channel's total time limit (the next channel is tried)."""
    error = GatewayError(ErrorKind.UPSTREAM_TIMEOUT, f"upstream channel {channel!r} took longer than {total:g}s in all")
    return AttemptFailure(error, retryable=True)


def scrubbed(error: GatewayError, attempt: UpstreamAttempt) -> GatewayError:
    """``error`` with the channel's secrets masked from its message."""
    error.message = scrub(error.message, attempt.channel.secrets())
    return error


def _retry_after(response: Answer) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def too_large(channel: UpstreamChannel, what: str, limit: int) -> AttemptFailure:
    """The failure of an attempt whose upstream sent more than the gateway buffers."""
    error = GatewayError(ErrorKind.UPSTREAM, f"upstream channel {channel.name!r} sent {what} larger than {limit} bytes")
    return AttemptFailure(error, retryable=True)


async def read_at_most(content: BodyReader, limit: int) -> tuple[bytes, bool]:
    """What ``content`` has up to its end, cut at ``limit`` bytes; and whether there was more (then read no more)."""
    parts: list[bytes] = []
    size = 0
    while chunk := await content.readany():
        size += len(chunk)
        parts.append(chunk)
        if size > limit:
            return b"".join(parts)[:limit], True
    return parts[0] if len(parts) == 1 else b"".join(parts), False


async def read_answer(response: Answer, channel: UpstreamChannel) -> bytes:
    """A 2xx plain answer whole, at most the channel's ``max_body_bytes`` (else the attempt fails).

    The response is released when read to its end, else closed (nothing more is read).
    """
    limit = channel.max_body_bytes
    try:
        length = response.content_length  # declared up front: refuse before reading (compressed bodies only grow)
        if length is not None and length > limit:
            raise too_large(channel, "an answer", limit)
        body, cut = await read_at_most(response.content, limit)
        if cut:
            raise too_large(channel, "an answer", limit)
    except TRANSPORT_ERRORS as exc:
        response.close()
        exc.__traceback__ = None  # aiohttp's reader keeps exc: with its traceback (this frame), a cycle
        raise AttemptFailure(classify_transport_error(exc, channel.name), retryable=True) from None
    except BaseException:
        response.close()
        raise
    response.release()
    return body


async def open_upstream(
    client: H1Client, attempt: UpstreamAttempt, key: str, body: bytes, stream: bool, codec: Codec
) -> H1Response:
    """POST ``body`` to the attempt's channel with ``key`` (the chat client); a 2xx response is returned
    open, else it raises.

    Plain calls are timed by the client (connecting, and every silence of the upstream up to the
    channel's first-byte limit: the ``sock_connect`` and ``sock_read`` of the channel's timeouts); for
    streams, only connecting: the caller bounds the wait (for both, the whole call, error body
    included).  Of an error body, at most the channel's ``max_error_bytes`` are read.
    """
    channel = attempt.channel
    url = channel.url(attempt.protocol, attempt.upstream_model, stream)
    timeout = channel.timeout if stream else channel.plain_timeout
    try:
        response = await client.post(url, channel.headers(key), body, timeout.sock_connect, timeout.sock_read)
    except TRANSPORT_ERRORS as exc:
        raise AttemptFailure(classify_transport_error(exc, channel.name), retryable=True) from None
    if response.status < 400:
        return response
    raise await refused(response, channel, codec.decode_error)


async def refused(
    response: Answer, channel: UpstreamChannel, decode_error: Callable[[int, bytes], GatewayError]
) -> AttemptFailure:
    """The failure of a call the upstream answered with an error status (the response is released).

    Of the error body, at most the channel's ``max_error_bytes`` are read, within its idle limit; the
    message is scrubbed of the channel's secrets; ``Retry-After`` is kept.
    """
    cut = True
    try:  # at most max_error_bytes of it: enough for any real error message, and decoded as such
        async with asyncio.timeout(channel.idle_timeout):
            raw, cut = await read_at_most(response.content, channel.max_error_bytes)
    except (*TRANSPORT_ERRORS, TimeoutError) as exc:
        exc.__traceback__ = None  # aiohttp's reader may keep exc: with its traceback (this frame), a cycle
        raw = b""
    finally:
        if cut:
            response.close()  # read no more of it
        else:
            response.release()
    error = decode_error(response.status, raw)
    error.message = scrub(error.message, channel.secrets())
    if error.retry_after is None:
        error.retry_after = _retry_after(response)
    status = response.status
    return AttemptFailure(error, retryable=status in RETRYABLE_STATUSES or status >= 500, upstream_status=status)


async def post_whole(
    session: aiohttp.ClientSession,
    url: str,
    body: bytes,
    headers: CIMultiDictProxy[str],
    limits: aiohttp.ClientTimeout,
    deadline: float,
) -> tuple[int, bytes]:
    """POST ``body`` and read the whole answer, whatever its status, within ``deadline`` seconds.

    For operator probes (never the request path): connect (and total) limits are ``limits``.
    """
    async with asyncio.timeout(deadline):
        async with session.post(url, data=body, headers=headers, timeout=limits) as response:
            return response.status, await response.read()
