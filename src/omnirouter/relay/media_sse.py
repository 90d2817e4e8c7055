"""Media answers streamed as SSE (``stream=true`` transcriptions): the call is opened, and when the
upstream answers ``text/event-stream`` its events are relayed to the client as they come by
``pump_stream`` (first-byte, idle and total limits; keep-alives; failing over until the first client
byte) through the upstream codec's ``StreamFilter``, which also reads the usage.  Any other answer (an
upstream that ignores ``stream``, as OpenAI does for whisper-1) is read whole and served as a plain one.

``MediaOperation`` calls this for an ``UpstreamCall`` marked ``stream``; nothing else of it changes.
"""

from __future__ import annotations

import asyncio
from typing import Any, NamedTuple, Protocol, runtime_checkable

from omnirouter.protocols.base import StreamFilter
from omnirouter.protocols.media.base import Answer, MediaUpstream, Target, UpstreamCall
from omnirouter.relay.operation import Exchange
from omnirouter.relay.stream_pump import KeepAlive, pump_stream
from omnirouter.routing import Channel
from omnirouter.transport import (
    AttemptFailure,
    MediaResponse,
    UpstreamClient,
    classify_transport_error,
    open_call,
    read_answer,
)

__all__ = ["OpenStream", "StreamingUpstream", "open_media_stream", "relay_media_stream"]

_KEEPALIVE = b": keep-alive\n\n"
_SSE_HEADERS = [(b"content-type", b"text/event-stream; charset=utf-8"), (b"cache-control", b"no-cache")]


@runtime_checkable
class StreamingUpstream(Protocol):
    """An upstream codec whose calls may be answered as SSE: it gives the filter relaying the events."""

    def stream_filter(self, request: Any, target: Target) -> StreamFilter: ...


class OpenStream(NamedTuple):
    """An upstream SSE answer, open, and the filter that relays it."""

    response: MediaResponse
    relay: StreamFilter


async def open_media_stream(
    client: UpstreamClient,
    channel: Channel,
    call: UpstreamCall,
    key: str,
    upstream: MediaUpstream[Any, Any],
    request: Any,
    target: Target,
) -> OpenStream | Answer:
    """Make ``call``; its headers must come within the channel's first-byte limit.  An SSE answer is
    returned open with its filter, any other is read whole (at most ``max_body_bytes``)."""
    try:
        async with asyncio.timeout(min(channel.first_byte_timeout, channel.total_timeout)):
            response = await open_call(client, channel, call, key, upstream.decode_error)
    except TimeoutError as exc:
        raise AttemptFailure(classify_transport_error(exc, channel.name), retryable=True) from None
    headers = {name.lower(): value for name, value in response.headers.items()}
    if headers.get("content-type", "").startswith("text/event-stream") and isinstance(upstream, StreamingUpstream):
        return OpenStream(response, upstream.stream_filter(request, target))
    body = await read_answer(response, channel)
    return Answer(response.status, headers, body)


async def relay_media_stream(opened: OpenStream, exchange: Exchange, channel: Channel, keepalive: float) -> None:
    """Relay an open SSE answer to the client (an SSE comment after ``keepalive`` seconds of silence);
    ``AttemptFailure`` only before the first client byte."""
    ctx = exchange.ctx
    headers = [*_SSE_HEADERS, *exchange.headers, (b"x-omnirouter-attempts", str(ctx.attempts).encode())]
    await pump_stream(
        opened.response,
        opened.relay,
        ctx,
        channel,
        exchange.send,
        exchange.receive,
        headers,
        KeepAlive(_KEEPALIVE, keepalive),
    )
